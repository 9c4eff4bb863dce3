"""Design: the house as the processor's design describes it, and how the design changed."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pandas as pd
import streamlit as st

from telegraf_lutron.design import Area, Design, Keypad, Zone
from telegraf_lutron.webui import common, data, rest
from telegraf_lutron.webui.common import md

OPEN_FIRST_FLOOR = 60  # zones: a bigger house starts with every floor closed (lighter to draw)

ctx = common.page("Design", needs_db=False)
info = data.design_info(ctx.settings.cache_dir)
if not info.ok or info.design is None:
    common.show_no_design(info)
    st.stop()
design: Design = info.design

# Levels now come from the history when it is there; the design page works without it.
levels: dict[str, float | None] = {}
if ctx.db.ok:
    snap = data.snapshot(ctx.dsn, ctx.tz)
    if not snap.stale:
        levels = {str(i): lv for i, lv in zip(snap.zones["id"], snap.zones["level_pct"], strict=True)}
    else:
        st.caption("Levels now: no recent data in the history.")
else:
    st.caption("Levels now: the history database is not available.")

# The rest of the house now (inputs, shades, time clocks, ...) comes from the plugin's live state.
live = data.live_state(ctx.settings.cache_dir) or {}
live_inputs = {(r["device_id"], r["component"]): r for r in live.get("inputs", [])}
live_shades = {g["id"]: g for g in live.get("shade_groups", [])}
live_green = {g["id"]: g for g in live.get("green_modes", [])}
live_batteries = {b["device_id"]: b["status"] for b in live.get("batteries", [])}
live_tilts = {int(k): v for k, v in dict(live.get("tilts", {})).items()}

p = design.project
no_watts = sum(1 for z in design.zones if not z.rated_watts)
exported = f"{p.export:%a %d %b %Y %H:%M}" if p.export else "unknown"
st.markdown(
    f"**{md(p.name)}** · revision **{md(info.revision or p.revision)}** · exported {exported} (processor time)  \n"
    f"{md(p.product_type or 'RadioRA 2 / other')} · designer version {md(p.app_version or '?')}"
)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Rooms", f"{len(design.rooms)}", border=True)
c2.metric("Zones", f"{len(design.zones)}", border=True)
c3.metric("Zones without wattage", f"{no_watts}", border=True, help="Their energy is unknown")
c4.metric("Keypads", f"{len(design.keypads)}", border=True)
common.wattage_note(info)


# --- search ---------------------------------------------------------------------------------------


def search_rows(design: Design, needle: str) -> pd.DataFrame:
    """Everything whose name matches: areas, zones, keypads, buttons (by engraving)."""
    n = needle.casefold()
    rows: list[dict[str, Any]] = []
    for a in design.areas:
        if n in a.name.casefold():
            rows.append(
                {"Kind": "area", "Name": a.name, "Where": " › ".join(a.path[:-1]), "Details": f"IID {a.iid}"}
            )
    for z in design.zones:
        if n in z.name.casefold() or n in z.output_type.casefold():
            rows.append(
                {
                    "Kind": "zone",
                    "Name": z.name,
                    "Where": f"{z.floor} › {z.area}",
                    "Details": f"IID {z.id} · {z.output_type} · {z.rated_watts:g} W",
                }
            )
    for k in design.keypads:
        if n in k.name.casefold() or n in k.device_name.casefold() or n in k.device_type.casefold():
            rows.append(
                {
                    "Kind": "keypad",
                    "Name": k.name,
                    "Where": f"{k.floor} › {k.area}",
                    "Details": f"IID {k.id} · {k.device_type} · {len(k.buttons)} buttons",
                }
            )
        for b in k.buttons:
            if b.engraving and n in b.engraving.casefold():
                led = f" · LED {b.led_component}" if b.led_component is not None else ""
                rows.append(
                    {
                        "Kind": "button",
                        "Name": b.engraving,
                        "Where": f"{k.floor} › {k.area} › {k.name}",
                        "Details": f"button {b.component}{led}",
                    }
                )
    return pd.DataFrame(rows, columns=["Kind", "Name", "Where", "Details"])


needle = st.text_input("Search the design", key="design_query", placeholder="zone, room, keypad or engraving")
matches: set[int] | None = None  # area keys to show; None: all
if needle.strip():
    found = search_rows(design, needle.strip())
    st.markdown(f"**{len(found)} matches**")
    if len(found):
        st.dataframe(found, hide_index=True, width="stretch", key="design_matches")
    hit = needle.strip().casefold()
    matches = {a.key for a in design.areas if hit in a.name.casefold()}
    matches |= {
        z.area_key for z in design.zones if hit in z.name.casefold() or hit in z.output_type.casefold()
    }
    matches |= {
        k.area_key
        for k in design.keypads
        if hit in k.name.casefold()
        or hit in k.device_type.casefold()
        or any(hit in b.engraving.casefold() for b in k.buttons)
    }


# --- the tree -------------------------------------------------------------------------------------


def zone_table(zones: list[Zone]) -> str:
    lines = ["| Zone | Type | Rated W | Level now |", "|---|---|--:|--:|"]
    for z in zones:
        level = levels.get(str(z.id))
        level_text = "–" if level is None or pd.isna(level) else f"{level:.0f} %"
        if z.id in live_tilts:
            level_text += f", tilt {live_tilts[z.id]:.0f} %"
        watts = f"{z.rated_watts:g}" if z.rated_watts else "unknown"
        lines.append(f"| {md(z.name)} | {md(z.output_type)} | {watts} | {level_text} |")
    return "\n".join(lines)


def keypad_list(keypads: list[Keypad]) -> str:
    """One paragraph per keypad: its name and type, then its buttons on wrapping lines."""
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
        body = "  ".join(buttons) if buttons else "no buttons"
        if k.unpaired_leds:
            body += f"  LEDs without a button: {', '.join(str(c) for c in k.unpaired_leds)}"
        inputs = [i for i in design.inputs if i.device == k.id]
        if inputs:
            states = [
                f"`{i.component}` {i.kind}: **{rest.input_state(live_inputs.get((k.id, i.component), {'input': i.kind}))}**"
                for i in inputs
            ]
            body += "  \nInputs now: " + " · ".join(states)
        if k.id in live_batteries:
            body += f"  \nBattery: **{rest.BATTERY.get(live_batteries[k.id], '?')}**"
        paragraphs.append(f"{head}  \n{body}")
    return "\n\n".join(paragraphs)


zones_by_area: dict[int, list[Zone]] = defaultdict(list)
for z in design.zones:
    zones_by_area[z.area_key].append(z)
keypads_by_area: dict[int, list[Keypad]] = defaultdict(list)
for k in design.keypads:
    keypads_by_area[k.area_key].append(k)
floors: dict[str, list[Area]] = defaultdict(list)  # design order: parents before children
for a in design.areas:
    floors[a.floor].append(a)

st.subheader("Floors and areas")
first = True
for floor, areas in floors.items():
    shown = [a for a in areas if (zones_by_area[a.key] or keypads_by_area[a.key])]
    if matches is not None:
        shown = [a for a in shown if a.key in matches]
    if not shown:
        continue  # e.g. the root area, which only holds the floors
    n_zones = sum(len(zones_by_area[a.key]) for a in areas)
    n_keypads = sum(len(keypads_by_area[a.key]) for a in areas)
    rooms = sum(1 for a in areas if not a.is_container)
    with st.expander(
        f"{md(floor)} — {rooms} rooms, {n_zones} zones, {n_keypads} keypads",
        expanded=(first and len(design.zones) <= OPEN_FIRST_FLOOR) or matches is not None,
    ):
        first = False
        for a in shown:
            depth = max(0, len(a.path) - 2)
            st.markdown(f"{'#' * min(4 + depth, 6)} {md(a.name)}")
            where = " › ".join(a.path)
            st.caption(f"{md(where)} · IID {a.iid}" if a.iid else f"{md(where)} · container")
            zone_col, keypad_col = st.columns([11, 10])
            if zones_by_area[a.key]:
                zone_col.markdown(zone_table(zones_by_area[a.key]))
            if keypads_by_area[a.key]:
                keypad_col.markdown(keypad_list(keypads_by_area[a.key]))
            extras = [
                f"Shade group **{md(g.name)}** (IID {g.id}): "
                + (
                    f"{live_shades[g.id]['level']:.0f} % open"
                    if live_shades.get(g.id, {}).get("level") is not None
                    else "level unknown"
                )
                for g in design.shade_groups
                if g.area_key == a.key
            ]
            extras += [
                f"Green mode (IID {g.id}): **{md(live_green[g.id].get('step_name') or live_green[g.id]['step'])}**"
                if live_green.get(g.id, {}).get("step") is not None
                else f"Green mode (IID {g.id}): step unknown"
                for g in design.green_modes
                if g.area_key == a.key
            ]
            if extras:
                st.markdown("  \n".join(extras))

# --- time clocks and system variables --------------------------------------------------------------

if design.timeclocks:
    st.subheader("Time clocks")
    live_clocks = {c["id"]: c for c in live.get("timeclocks", [])}
    for t in design.timeclocks:
        clock = live_clocks.get(t.id) or {
            "events": [
                {"number": e.number, "name": e.name, "kind": e.kind, "time": e.time, "offset": e.offset}
                for e in t.events
            ]
        }
        mode = clock.get("mode_name") or (
            f"mode {clock['mode']}" if clock.get("mode") is not None else "unknown"
        )
        runs = int(clock.get("events_run") or 0)
        with st.expander(
            f"{md(t.name)} (IID {t.id}) — mode {md(mode)}, {len(t.events)} events, {runs} runs seen"
        ):
            events = rest.timeclock_events(clock)
            if len(events):
                st.dataframe(events, hide_index=True, width="stretch", key=f"timeclock_{t.id}")
            else:
                st.caption("No events in the design.")
if live.get("sysvars"):
    st.subheader("System variables")
    st.dataframe(
        pd.DataFrame(
            [
                {"Variable": v["name"], "IID": v["id"], "State": v.get("state_name") or v.get("state")}
                for v in live["sysvars"]
            ]
        ),
        hide_index=True,
        width="stretch",
        key="design_sysvars",
    )
if not live:
    st.caption("Live state of inputs, shades and time clocks: the plugin has not written live.json yet.")

# --- revisions ------------------------------------------------------------------------------------


def changes(diff: dict[str, Any] | None) -> str:
    if not diff:
        return "first cached revision"
    parts = []
    for what in ("zones", "keypads"):
        added, removed, renamed = (
            len(diff.get(f"{what}_{k}") or []) for k in ("added", "removed", "renamed")
        )
        if added or removed or renamed:
            parts.append(f"{what}: +{added} −{removed} ~{renamed}")
    return "; ".join(parts) or "no zone or keypad changes"


st.subheader("Revision history")
entries = list(reversed(info.entries))
if not entries:
    st.caption("The cache has no history file (history.json) yet.")
else:
    history = pd.DataFrame(
        [
            {
                "Revision": e.revision,
                "Exported": e.export.replace("T", " ") if e.export else "",
                "Cached": pd.Timestamp(e.stored_at).tz_convert(ctx.tz).strftime("%Y-%m-%d %H:%M")
                if e.stored_at
                else "",
                "Project": e.project,
                "Zones": e.zones,
                "Keypads": e.keypads,
                "Changes": changes(e.diff),
            }
            for e in entries
        ]
    )
    st.dataframe(history, hide_index=True, width="stretch", key="design_history")
    for e in entries:
        if not e.diff:
            continue
        d = e.diff
        with st.expander(f"What changed in {e.revision} (from {d.get('old_revision', '?')})"):
            lines = []
            for what in ("zones", "keypads"):
                for item in d.get(f"{what}_added") or []:
                    lines.append(f"- {what[:-1]} added: **{md(item['name'])}** (IID {item['id']})")
                for item in d.get(f"{what}_removed") or []:
                    lines.append(f"- {what[:-1]} removed: **{md(item['name'])}** (IID {item['id']})")
                for item in d.get(f"{what}_renamed") or []:
                    lines.append(
                        f"- {what[:-1]} renamed: {md(item['old'])} → **{md(item['new'])}** (IID {item['id']})"
                    )
            st.markdown("\n".join(lines) or "No zone or keypad changes (other parts of the design changed).")
