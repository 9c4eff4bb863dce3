"""What the Design page shows, as plain functions of the design (and of the plugin's live state,
`live.json`): one search (its table and the areas the tree keeps come from the same matches), the
floors and areas of the tree, and the Markdown of a room's zones, keypads, shade groups and green
modes, of time clocks and of what changed between revisions. Every name goes through `escape.md`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from telegraf_lutron.design import Area, Design, Input, Keypad, Timeclock, Zone
from telegraf_lutron.webui import rest
from telegraf_lutron.webui.escape import md

SEARCH_COLUMNS = ["Kind", "Name", "Where", "Details"]


# --- search ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DesignSearch:
    rows: pd.DataFrame  # Kind, Name, Where, Details: one row per area, zone, keypad or button found
    area_keys: frozenset[int]  # the areas holding something found (the tree shows only these)


def _hit(needle: str, *texts: str) -> bool:
    return any(needle in t.casefold() for t in texts)


def search_design(design: Design, needle: str) -> DesignSearch:
    """Everything whose text contains `needle` (any case): areas by name, zones by name or output
    type, keypads by name, device name or device type, buttons by engraving."""
    n = needle.strip().casefold()
    rows: list[dict[str, Any]] = []
    keys: set[int] = set()
    for a in design.areas:
        if _hit(n, a.name):
            rows.append(
                {
                    "Kind": "area",
                    "Name": a.name,
                    "Where": " › ".join(design.area_path(a.key)[:-1]),
                    "Details": f"IID {a.iid}",
                }
            )
            keys.add(a.key)
    for z in design.zones:
        if _hit(n, z.name, z.output_type) or n == z.kind:
            rows.append(
                {
                    "Kind": "zone",
                    "Name": z.name,
                    "Where": f"{z.floor} › {z.area}",
                    "Details": f"IID {z.id} · {z.kind} · {z.output_type} · {watts_text(z, unit=' W')}",
                }
            )
            keys.add(z.area_key)
    for k in design.keypads:
        if _hit(n, k.name, k.device_name, k.device_type):
            rows.append(
                {
                    "Kind": "keypad",
                    "Name": k.name,
                    "Where": f"{k.floor} › {k.area}",
                    "Details": f"IID {k.id} · {k.device_type} · {len(k.buttons)} buttons",
                }
            )
            keys.add(k.area_key)
        for b in k.buttons:
            if b.engraving and _hit(n, b.engraving):
                led = f" · LED {b.led_component}" if b.led_component is not None else ""
                rows.append(
                    {
                        "Kind": "button",
                        "Name": b.engraving,
                        "Where": f"{k.floor} › {k.area} › {k.name}",
                        "Details": f"button {b.component}{led}",
                    }
                )
                keys.add(k.area_key)
    return DesignSearch(pd.DataFrame(rows, columns=SEARCH_COLUMNS), frozenset(keys))


# --- the tree -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FloorSection:
    floor: str
    areas: tuple[Area, ...]  # the areas shown: with zones or keypads (and found, when searching)
    rooms: int  # rooms on the floor (containers not counted)
    zones: int
    keypads: int

    @property
    def label(self) -> str:
        """The expander label (Markdown)."""
        return f"{md(self.floor)} — {self.rooms} rooms, {self.zones} zones, {self.keypads} keypads"


@dataclass(frozen=True, slots=True)
class Tree:
    sections: tuple[FloorSection, ...]
    zones: Mapping[int, Sequence[Zone]]  # area key -> its zones
    keypads: Mapping[int, Sequence[Keypad]]  # area key -> its keypads


def tree(design: Design, only: frozenset[int] | None = None) -> Tree:
    """Floors in design order with the areas that hold zones or keypads (of those, only the keys
    in `only` when given); floors with nothing to show are left out (e.g. the root area)."""
    zones: dict[int, list[Zone]] = defaultdict(list)
    for z in design.zones:
        zones[z.area_key].append(z)
    keypads: dict[int, list[Keypad]] = defaultdict(list)
    for k in design.keypads:
        keypads[k.area_key].append(k)
    floors: dict[str, list[Area]] = defaultdict(list)  # design order: parents before children
    for a in design.areas:
        floors[a.floor].append(a)
    sections = []
    for floor, areas in floors.items():
        shown = [a for a in areas if (zones.get(a.key) or keypads.get(a.key))]
        if only is not None:
            shown = [a for a in shown if a.key in only]
        if shown:
            sections.append(
                FloorSection(
                    floor,
                    tuple(shown),
                    rooms=sum(1 for a in areas if not a.is_container),
                    zones=sum(len(zones.get(a.key, ())) for a in areas),
                    keypads=sum(len(keypads.get(a.key, ())) for a in areas),
                )
            )
    return Tree(tuple(sections), dict(zones), dict(keypads))


@dataclass(frozen=True, slots=True)
class Live:
    """The plugin's live state (`data.live_state`), indexed the way the tree looks things up."""

    inputs: Mapping[tuple[int, int], Mapping[str, Any]]  # (device id, component) -> input
    shades: Mapping[int, Mapping[str, Any]]  # shade group id -> its state
    green: Mapping[int, Mapping[str, Any]]  # green mode id -> its step
    batteries: Mapping[int, int]  # device id -> battery status
    tilts: Mapping[int, float]  # zone id -> tilt %
    timeclocks: Mapping[int, Mapping[str, Any]]  # time clock id -> mode, events

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> Live:
        return cls(
            inputs={(r["device_id"], r["component"]): r for r in doc.get("inputs", [])},
            shades={g["id"]: g for g in doc.get("shade_groups", [])},
            green={g["id"]: g for g in doc.get("green_modes", [])},
            batteries={b["device_id"]: b["status"] for b in doc.get("batteries", [])},
            tilts={int(k): v for k, v in dict(doc.get("tilts", {})).items()},
            timeclocks={c["id"]: c for c in doc.get("timeclocks", [])},
        )


NO_LIVE = Live.of({})


def area_heading(design: Design, area: Area) -> str:
    """A Markdown heading for `area`, one level deeper per level of nesting."""
    depth = max(0, len(design.area_path(area.key)) - 2)
    return f"{'#' * min(4 + depth, 6)} {md(area.name)}"


def area_caption(design: Design, area: Area) -> str:
    where = md(" › ".join(design.area_path(area.key)))
    return f"{where} · IID {area.iid}" if area.iid else f"{where} · container"


@dataclass(frozen=True, slots=True)
class ZoneKind:
    """A zone's kind and rated watts as the plugin uses them (`data.effective_zones`)."""

    kind: str
    rated_watts: float | None
    draws_power: bool


def zone_kinds(effective: pd.DataFrame) -> dict[str, ZoneKind]:
    """Zone id -> `ZoneKind`, from `data.effective_zones`."""
    return {
        str(zid): ZoneKind(str(kind), None if pd.isna(rated) else float(rated), bool(draws))
        for zid, kind, rated, draws in zip(
            effective["zone_id"],
            effective["kind"],
            effective["rated_watts"],
            effective["draws_power"],
            strict=True,
        )
    }


def _kind_of(z: Zone, kinds: Mapping[str, ZoneKind]) -> ZoneKind:
    return kinds.get(str(z.id)) or ZoneKind(z.kind, z.rated_watts, z.draws_power)


def watts_text(z: Zone, kinds: Mapping[str, ZoneKind] = {}, unit: str = "") -> str:
    """Rated watts as the plugin uses them: a number, "unknown" (it draws power but has no
    wattage) or "none" (a shade, motor or contact, which draws nothing)."""
    k = _kind_of(z, kinds)
    if k.rated_watts:
        return f"{k.rated_watts:g}{unit}"
    return "unknown" if k.draws_power else "none"


def zone_table(
    zones: Iterable[Zone],
    levels: Mapping[str, float | None],
    live: Live = NO_LIVE,
    kinds: Mapping[str, ZoneKind] = {},
) -> str:
    """A Markdown table of `zones`: name, kind, type, rated watts (from `kinds`: the plugin's, with
    its [[zone]] entries applied; else the design's), level now (from `levels`, by zone id; with
    the tilt from `live`)."""
    lines = ["| Zone | Kind | Type | Rated W | Level now |", "|---|---|---|--:|--:|"]
    for z in zones:
        level = levels.get(str(z.id))
        level_text = "–" if level is None or pd.isna(level) else f"{level:.0f} %"
        if z.id in live.tilts:
            level_text += f", tilt {live.tilts[z.id]:.0f} %"
        kind = _kind_of(z, kinds).kind
        lines.append(
            f"| {md(z.name)} | {kind} | {md(z.output_type)} | {watts_text(z, kinds)} | {level_text} |"
        )
    return "\n".join(lines)


def keypad_list(keypads: Iterable[Keypad], inputs: Sequence[Input] = (), live: Live = NO_LIVE) -> str:
    """One paragraph per keypad: its name and type, then its buttons on wrapping lines, the state
    now of its `inputs` (contact closures, sensors) and its battery (from `live`)."""
    paragraphs = []
    for k in keypads:
        device = f" ({md(k.device_name)})" if k.device_name and k.device_name != k.name else ""
        head = f"**{md(k.name)}**{device} · {md(k.device_type)} · IID {k.id}"
        buttons = []
        for b in k.buttons:
            label = md(b.engraving) if b.engraving else f"*{md(b.name)}*"
            led = f" · LED {b.led_component}" if b.led_component is not None else ""
            # No-break spaces: a line may wrap between buttons, never inside one.
            buttons.append(f"`{b.component}` {label}{led}".replace(" ", "\u00a0"))
        body = "  ".join(buttons) if buttons else "no buttons"
        if k.unpaired_leds:
            body += f"  LEDs without a button: {', '.join(str(c) for c in k.unpaired_leds)}"
        mine = [i for i in inputs if i.device == k.id]
        if mine:
            states = [
                f"`{i.component}` {md(i.kind)}: "
                f"**{md(rest.input_state(dict(live.inputs.get((k.id, i.component), {'input': i.kind}))))}**"
                for i in mine
            ]
            body += "  \nInputs now: " + " · ".join(states)
        if k.id in live.batteries:
            body += f"  \nBattery: **{md(rest.BATTERY.get(live.batteries[k.id], '?'))}**"
        paragraphs.append(f"{head}  \n{body}")
    return "\n\n".join(paragraphs)


def area_extras(design: Design, area_key: int, live: Live = NO_LIVE) -> str:
    """Markdown lines for the area's shade groups (how open now) and green mode (its step now)."""
    lines = []
    for g in design.shade_groups:
        if g.area_key == area_key:
            level = live.shades.get(g.id, {}).get("level")
            state = f"{level:.0f} % open" if level is not None else "level unknown"
            lines.append(f"Shade group **{md(g.name)}** (IID {g.id}): {state}")
    for m in design.green_modes:
        if m.area_key == area_key:
            now = live.green.get(m.id, {})
            step = now.get("step")
            lines.append(
                f"Green mode (IID {m.id}): **{md(now.get('step_name') or step)}**"
                if step is not None
                else f"Green mode (IID {m.id}): step unknown"
            )
    return "  \n".join(lines)


# --- time clocks ----------------------------------------------------------------------------------


def timeclock(clock: Timeclock, live: Live = NO_LIVE) -> tuple[str, Mapping[str, Any]]:
    """(expander label, state for `rest.timeclock_events`) of a time clock: the live state when the
    plugin has one, else the design's events."""
    state: Mapping[str, Any] = live.timeclocks.get(clock.id) or {
        "events": [
            {"number": e.number, "name": e.name, "kind": e.kind, "time": e.time, "offset": e.offset}
            for e in clock.events
        ]
    }
    mode = state.get("mode_name") or (f"mode {state['mode']}" if state.get("mode") is not None else "unknown")
    runs = int(state.get("events_run") or 0)
    label = (
        f"{md(clock.name)} (IID {clock.id}) — mode {md(mode)}, {len(clock.events)} events, {runs} runs seen"
    )
    return label, state


# --- revisions ------------------------------------------------------------------------------------


def changes_label(revision: str, diff: Mapping[str, Any]) -> str:
    """The expander label (Markdown) of one revision's changes."""
    return f"What changed in {md(revision)} (from {md(diff.get('old_revision', '?'))})"


def changes(diff: Mapping[str, Any]) -> str:
    """What changed in a revision, as a Markdown list of zones and keypads added, removed, renamed."""
    lines = []
    for what in ("zones", "keypads"):
        kind = what[:-1]
        for item in diff.get(f"{what}_added") or []:
            lines.append(f"- {kind} added: **{md(item['name'])}** (IID {md(item['id'])})")
        for item in diff.get(f"{what}_removed") or []:
            lines.append(f"- {kind} removed: **{md(item['name'])}** (IID {md(item['id'])})")
        for item in diff.get(f"{what}_renamed") or []:
            lines.append(
                f"- {kind} renamed: {md(item['old'])} → **{md(item['new'])}** (IID {md(item['id'])})"
            )
    return "\n".join(lines) or "No zone or keypad changes (other parts of the design changed)."
