"""What the owner says about zones: `[[zone]]` overrides of wattage and kind, and the template for them.

A real export leaves `Wattage` at 0 for many outputs (80 of 190 in one HomeWorks QS house) and knows
nothing of what a relay drives. The owner completes it in the plugin's TOML:

    [[zone]]
    id = 27                          # an Integration ID, or:
    # name = "Kitchen/Pendant*"      # a glob over "<area name>/<zone name>"
    watts = 60                       # rated watts at 100 %
    kind = "light"                   # optional: light, fan, shade, motor, contact, load
    # speed_watts = [0, 15, 30, 45, 60]   # fans: off, low, medium, medium-high, high

Entries apply in file order, each setting only what it gives, so a later entry wins. A zone whose
kind becomes a shade, motor or contact draws nothing unless an entry gives it watts. An entry that
matches no zone is reported (one warning each) and otherwise harmless. `apply_overrides` returns the
design the plugin measures; the design cache keeps the processor's own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from fnmatch import translate

from telegraf_lutron.design import FAN_SPEED_STEPS, KINDS, POWER_KINDS, Design, Zone

__all__ = [
    "KINDS",
    "WATTAGE_KINDS",
    "ZoneOverride",
    "apply_overrides",
    "missing_wattage",
    "wattage_template",
    "zone_path",
]

# Kinds whose missing wattage matters (`check`, the UI): the ones that draw power.
WATTAGE_KINDS = ("light", "fan", "load")
SPEED_NAMES = ("off", "low", "medium", "medium-high", "high")
assert len(SPEED_NAMES) == len(FAN_SPEED_STEPS)


def zone_path(zone: Zone) -> str:
    """What a `name` glob is matched against: `<area name>/<zone name>`."""
    return f"{zone.area}/{zone.name}"


@dataclass(frozen=True, slots=True)
class ZoneOverride:
    """One `[[zone]]` entry (already validated by `config.py`)."""

    number: int  # its position among the [[zone]] entries, from 1, for messages
    id: int | None = None
    name: str | None = None  # a glob (fnmatch: * ? [...]) over zone_path(), case-sensitive
    watts: float | None = None
    kind: str | None = None
    speed_watts: tuple[float, ...] | None = None

    @property
    def label(self) -> str:
        """How the entry names its zones, as written: `id = 27` or `name = "Kitchen/*"`."""
        return f"id = {self.id}" if self.id is not None else f'name = "{self.name}"'

    def _pattern(self) -> re.Pattern[str] | None:
        return re.compile(translate(self.name), re.DOTALL) if self.name is not None else None


def apply_overrides(design: Design, overrides: Sequence[ZoneOverride]) -> tuple[Design, list[ZoneOverride]]:
    """The design with every override applied, and the entries that matched no zone."""
    if not overrides:
        return design, []
    patterns = [(o, o._pattern()) for o in overrides]
    matched: set[int] = set()
    zones: list[Zone] = []
    for zone in design.zones:
        path = zone_path(zone)
        kind, watts, speeds = zone.kind, None, zone.speed_watts
        touched = False
        for o, pattern in patterns:
            if o.id is not None:
                if o.id != zone.id:
                    continue
            elif pattern is None or pattern.match(path) is None:
                continue
            matched.add(o.number)
            touched = True
            if o.kind is not None:
                kind = o.kind
            if o.watts is not None:
                watts = o.watts
            if o.speed_watts is not None:
                speeds = o.speed_watts
        if not touched:
            zones.append(zone)
            continue
        if watts is None:
            # A zone made a shade, motor or contact draws nothing unless an entry gives it watts.
            watts = zone.rated_watts if kind in POWER_KINDS else 0.0
        zones.append(replace(zone, kind=kind, rated_watts=float(watts), speed_watts=tuple(speeds)))
    unmatched = [o for o in overrides if o.number not in matched]
    return replace(design, zones=tuple(zones)), unmatched


def unmatched_message(o: ZoneOverride) -> str:
    return (
        f"[[zone]] #{o.number} ({o.label}) matches no zone in the design; "
        'check the id, or the "<area>/<zone>" names (telegraf-lutron design wattage lists them)'
    )


def missing_wattage(zones: Iterable[Zone]) -> dict[str, tuple[int, int]]:
    """Per kind that draws power (light, fan, load): (zones without wattage, zones)."""
    counts = {k: [0, 0] for k in WATTAGE_KINDS}
    for z in zones:
        if z.kind in counts:
            counts[z.kind][1] += 1
            if not z.wattage_known and not z.pulsed:
                counts[z.kind][0] += 1
    return {k: (v[0], v[1]) for k, v in counts.items()}


def missing_summary(zones: Iterable[Zone]) -> str:
    """`3 of 40 lights, 1 of 3 fans and 0 of 0 loads` style text."""
    counts = missing_wattage(zones)
    parts = [f"{counts[k][0]} of {counts[k][1]} {k}s" for k in WATTAGE_KINDS]
    return f"{parts[0]}, {parts[1]} and {parts[2]}"


def _comment(text: str) -> str:
    return " ".join(text.split())  # one line, whatever the design holds


def _watts(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _entry(zone: Zone, *, commented: bool) -> list[str]:
    where = _comment(zone_path(zone))
    about = f"{zone.output_type or 'no OutputType'}, {zone.kind}"
    if zone.floor and zone.floor != zone.area:
        about = f"{zone.floor}, {about}"
    if zone.wattage_known:
        about += f", {_watts(zone.rated_watts)} W now"
    lines = [f"[[zone]]  # {where} ({_comment(about)})", f"id = {zone.id}"]
    lines.append(f"watts = {_watts(zone.rated_watts)}")
    lines.append(f'kind = "{zone.kind}"')
    if zone.kind == "fan" and zone.has_speeds:
        speeds = zone.speed_watts or tuple(zone.rated_watts * s / 100.0 for s in FAN_SPEED_STEPS)
        values = ", ".join(_watts(w) for w in speeds)
        lines.append(f"# speed_watts = [{values}]  # {', '.join(SPEED_NAMES)}; instead of watts x level")
    if commented:
        lines = [line if line.startswith("#") else f"# {line}" for line in lines]
    return [*lines, ""]


def wattage_template(design: Design) -> str:
    """`[[zone]]` entries for every zone that draws power: those without wattage first and ready to
    fill in, then those with a wattage, commented out (uncomment one to change it)."""
    power = [z for z in design.zones if z.draws_power and not z.pulsed]
    missing = [z for z in power if not z.wattage_known]
    known = [z for z in power if z.wattage_known]
    others = len(design.zones) - len(power)
    project = _comment(design.project.name or "(unnamed project)")
    head = [
        f"# [[zone]] entries for {project}, design revision {design.project.revision}.",
        "# Paste them into the plugin's TOML (e.g. /etc/telegraf/lutron.toml) and set watts to the",
        "# rated watts at 100 %; they apply in file order (a later entry wins) when the plugin starts,",
        '# so restart it (or reload Telegraf). A glob works too: name = "<area>/<zone*>".',
        f"# {len(missing)} of {len(power)} zones that draw power have no wattage"
        f" ({missing_summary(design.zones)} without).",
    ]
    if others:
        head.append(
            f"# {others} shades, motors and contacts draw nothing and are not listed; an entry with"
            " watts (and kind) counts one."
        )
    lines = [*head, ""]
    if missing:
        lines.append("# --- no wattage in the design: fill in watts ---")
        lines.append("")
        for z in missing:
            lines += _entry(z, commented=False)
    if known:
        lines.append("# --- wattage known: uncomment an entry to change it ---")
        lines.append("")
        for z in known:
            lines += _entry(z, commented=True)
    return "\n".join(lines).rstrip("\n") + "\n"


def kinds_of(zones: Iterable[Zone]) -> dict[str, int]:
    """How many zones of each kind, in `KINDS` order (kinds with none are left out)."""
    counts = dict.fromkeys(KINDS, 0)
    for z in zones:
        counts[z.kind] = counts.get(z.kind, 0) + 1
    return {k: n for k, n in counts.items() if n}
