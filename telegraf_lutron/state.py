"""The live model of the house: levels, LEDs, buttons and occupancy, and energy integrated exactly.

Pure logic: events in (from the session), numbers out (for the metrics); time is passed in, so
tests can move it. Energy is integrated between events: a zone's power is constant between two
level reports, so joules = watts x seconds exactly, whatever the reporting interval.

Power by kind (`zone_watts`): a light or load draws `rated watts x level / 100` when dimmable and
`rated watts` when on; a ceiling fan's level is a speed step, so it draws its `speed_watts` for that
step when the owner gave them and `rated watts x level / 100` otherwise (an on/off fan: rated when
on); shades, motors and contacts draw their rated watts while above 0, which is 0 W unless an
override gave them watts. Zones whose wattage is unknown draw 0 W and say so in `rated_watts`.

A pulsed contact closure (CCO_PULSED) answers 100 forever: it is never "on" (level 0, 0 W) and
each report above 0 counts one pulse. A moving shade's `~OUTPUT,<id>,32,2,<level>` position report
(docs/protocol.md §5.1) updates its level like `~OUTPUT,<id>,1`.

Counts follow the kinds: lights on, fans on and shades open (level > 0) per area and house, and the
number of lights; loads count in watts and energy only.

Causes (docs/protocol.md §11): each zone's level has a cause, the `~OUTPUT,<id>,29,<code>` reported
after the change that set it, `unknown` until one arrives or when none arrives within `CAUSE_WAIT`
of the change. Energy is integrated per cause like the rest; the energy drawn while a change waits
for its cause is held and credited to the cause that arrives (or `unknown`), so every counter only
goes up. A `keypad` change remembers the button pressed at most `CAUSE_WAIT` before it, a
`timeclock` change the time clock event run at most `CAUSE_WAIT` before it.

Energy in empty rooms: the energy of a sensor area's lights (kind light) while its occupancy group's
last report was unoccupied; unknown or never reported is not unoccupied, areas without sensors
never add.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telegraf_lutron import protocol as p
from telegraf_lutron.design import Design, Zone, speed_step
from telegraf_lutron.files import atomic_write, private_dir
from telegraf_lutron.rest import RestOfHouse

log = logging.getLogger(__name__)

ENERGY_FILE_VERSION = 1
CAUSE_WAIT = 1.0  # seconds a change waits for its `~OUTPUT,<id>,29` line (docs/protocol.md §11)
UNKNOWN = "unknown"


@dataclass(slots=True)
class ButtonCounts:
    presses: float = 0.0
    releases: float = 0.0
    holds: float = 0.0
    multitaps: float = 0.0


def zone_watts(zone: Zone, level: float | None) -> float:
    """Power drawn by `zone` at `level` (None = not known yet: 0)."""
    if level is None or zone.pulsed:
        return 0.0
    if zone.kind == "fan" and zone.speed_watts:
        return zone.speed_watts[speed_step(level)]
    if level <= 0.0 or zone.rated_watts <= 0.0:
        return 0.0
    if zone.kind in ("light", "load", "fan") and (zone.dimmable or zone.has_speeds):
        return zone.rated_watts * min(level, 100.0) / 100.0
    return zone.rated_watts


@dataclass(slots=True)
class Counts:
    """Power and what is on, for an area or the house."""

    watts: float = 0.0
    lights_on: int = 0
    fans_on: int = 0
    shades_open: int = 0
    lights: int = 0  # lights in total

    def add(self, kind: str, level: float | None, watts: float) -> None:
        self.watts += watts
        on = bool(level and level > 0)
        if kind == "light":
            self.lights += 1
            self.lights_on += on
        elif kind == "fan":
            self.fans_on += on
        elif kind == "shade":
            self.shades_open += on


@dataclass(frozen=True, slots=True)
class Cause:
    """What set a zone's current level: the cause, and the keypad button (keypad id, component) or
    time clock event (time clock id, event index) behind it when known."""

    name: str = UNKNOWN
    keypad: tuple[int, int] | None = None
    timeclock: tuple[int, int] | None = None


@dataclass
class _ZoneLive:
    level: float | None = None
    watts: float = 0.0
    since: float = 0.0  # time of the last integration step
    on_since_wall: float | None = None
    cause: Cause = field(default_factory=Cause)
    pending_since: float | None = None  # a change waiting for its cause line: when it happened
    pending_joules: float = 0.0  # energy drawn since then, credited when the cause is known


@dataclass
class HouseState:
    """Everything known about the house now. Call `apply(event, now)` for each processor event
    (in arrival order) and `advance(now)` before reading energy totals."""

    design: Design
    now: float = 0.0
    zones: dict[int, _ZoneLive] = field(default_factory=dict)
    zone_energy: dict[int, float] = field(default_factory=dict)  # joules, persisted
    area_energy: dict[int, float] = field(default_factory=dict)  # joules, by area key, persisted
    total_energy: float = 0.0  # joules, persisted
    leds: dict[tuple[int, int], int] = field(default_factory=dict)
    buttons: dict[tuple[int, int], ButtonCounts] = field(default_factory=dict)
    occupancy: dict[int, bool | None] = field(default_factory=dict)
    rest: RestOfHouse = field(init=False)  # inputs, time clocks, sysvars, shades, batteries (rest.py)
    # Events about zones, components or areas the design does not list: counted, never stored
    # per key, so a hostile or broken processor cannot grow memory or the counters file.
    unknown_events: int = 0
    pulses: dict[int, float] = field(default_factory=dict)  # pulsed contact closures, persisted
    cause_energy: dict[str, float] = field(default_factory=dict)  # joules by cause, persisted
    unoccupied_energy: dict[int, float] = field(default_factory=dict)  # joules by area key, persisted
    unoccupied_total: float = 0.0  # joules, persisted
    sensor_lights: dict[int, tuple[int, ...]] = field(init=False)  # sensor area key -> its lights
    _last_press: tuple[int, int, float] | None = field(default=None, init=False)  # keypad, button, when
    _last_run: tuple[int, int, float] | None = field(default=None, init=False)  # clock, event, when

    def __post_init__(self) -> None:
        self.rest = RestOfHouse(self.design)
        self.set_design(self.design, self.now)

    # --- design --------------------------------------------------------------------------

    def set_design(self, design: Design, now: float) -> None:
        """Switch to a new design revision; zones that still exist keep their state and energy."""
        self.advance(now)
        self.design = design
        self.rest.set_design(design)
        self.zones = {z.id: self.zones.get(z.id, _ZoneLive(since=now)) for z in design.zones}
        for zid, live in self.zones.items():
            zone = design.zone(zid)
            assert zone is not None
            if zone.pulsed:
                live.level, live.on_since_wall = 0.0, None  # never on, whatever it answers
                self.pulses.setdefault(zid, 0.0)
            live.watts = zone_watts(zone, live.level)
            self.zone_energy.setdefault(zid, 0.0)
        for area in design.areas:
            self.area_energy.setdefault(area.key, 0.0)
        for name in p.CAUSE_NAMES:
            self.cause_energy.setdefault(name, 0.0)
        sensor_areas = {a.key for a in design.occupancy_areas}
        self.sensor_lights = {key: () for key in sorted(sensor_areas)}
        for zone in design.zones:
            if zone.kind == "light" and zone.area_key in sensor_areas:
                self.sensor_lights[zone.area_key] += (zone.id,)
        for key in sensor_areas:
            self.unoccupied_energy.setdefault(key, 0.0)
        self.leds = {k: v for k, v in self.leds.items() if self._known_led(k)}
        self.buttons = {k: v for k, v in self.buttons.items() if self._known_button(k)}
        self.occupancy = {k: v for k, v in self.occupancy.items() if self._known_room(k)}

    def _known_led(self, key: tuple[int, int]) -> bool:
        keypad = self.design.keypad(key[0])
        return keypad is not None and key[1] in keypad.leds

    def _known_button(self, key: tuple[int, int]) -> bool:
        """A button or contact input (CCI) the design lists on that keypad."""
        keypad = self.design.keypad(key[0])
        if keypad is None:
            return False
        return key[1] in keypad.ccis or any(b.component == key[1] for b in keypad.buttons)

    def _known_room(self, area_iid: int) -> bool:
        area = self.design.area(area_iid) if area_iid > 0 else None
        return area is not None and not area.is_container

    # --- events --------------------------------------------------------------------------

    def apply(self, event: p.Event, now: float, wall: float | None = None) -> bool:
        """Update from one event; True when something observable changed."""
        rest = self.rest.apply(event, wall)  # contact inputs and sensors are not buttons
        if rest and isinstance(event, p.TimeclockReport) and event.action == p.TIMECLOCK_RUN_EVENT:
            self._last_run = (event.clock, int(event.values[0]), now)
        if isinstance(event, p.OutputTilt) and event.lift is not None:
            rest = self.set_level(event.zone, event.lift, now, wall) or bool(rest)
        if rest is not None:
            return rest
        if isinstance(event, p.OutputLevel):
            if event.zone not in self.zones:
                self.unknown_events += 1
                return False
            return self.set_level(event.zone, event.level, now, wall)
        if isinstance(event, p.OutputSource):
            return self.set_cause(event.zone, event.cause, now)
        if isinstance(event, p.OutputReport):
            position = shade_position(event)  # continues the movement its level line started
            return position is not None and self.set_level(event.zone, position, now, wall, new_change=False)
        if isinstance(event, p.LedState):
            key = (event.device, event.led)
            if not self._known_led(key):
                self.unknown_events += 1
                return False
            if self.leds.get(key) == event.state:
                return False
            self.leds[key] = event.state
        elif isinstance(event, p.ButtonEvent):
            key = (event.device, event.component)
            if not self._known_button(key):
                self.unknown_events += 1
                return False
            counts = self.buttons.get(key)
            if counts is None:
                counts = self.buttons[key] = ButtonCounts()
            if event.action == p.ButtonAction.PRESS:
                counts.presses += 1
                self._last_press = (event.device, event.component, now)
            elif event.action == p.ButtonAction.RELEASE:
                counts.releases += 1
            elif event.action == p.ButtonAction.HOLD:
                counts.holds += 1
            elif event.action == p.ButtonAction.MULTITAP:
                counts.multitaps += 1
            else:
                return False
        elif isinstance(event, p.OccupancyState):
            if not self._known_room(event.group):
                self.unknown_events += 1
                return False
            if self.occupancy.get(event.group, "unset") == event.occupied:
                return False
            for zone_id in self.sensor_lights.get(event.group, ()):
                self._integrate(zone_id, self.zones[zone_id], now)  # under the old occupancy
            self.occupancy[event.group] = event.occupied
        else:
            return False
        return True

    def set_level(
        self, zone_id: int, level: float, now: float, wall: float | None = None, *, new_change: bool = True
    ) -> bool:
        """A level report. `new_change` False: a moving shade's position, which keeps its cause."""
        live = self.zones.get(zone_id)
        zone = self.design.zone(zone_id)
        if live is None or zone is None:
            return False
        if zone.pulsed:
            if level <= 0:
                return False
            self.pulses[zone_id] = self.pulses.get(zone_id, 0.0) + 1  # each report above 0: a pulse
            return True
        if live.level == level:
            return False
        self._integrate(zone_id, live, now)
        for other in self.sensor_lights.get(zone.area_key, ()):
            if other != zone_id:  # the area's unoccupied counter is exact at this instant too
                self._integrate(other, self.zones[other], now)
        if new_change:
            if live.pending_since is not None:
                self._settle(live, Cause())  # a new change before the cause line: none will come
            live.cause, live.pending_since, live.pending_joules = Cause(), now, 0.0
        was_on = bool(live.level)
        live.level = level
        live.watts = zone_watts(zone, level)
        if level > 0 and not was_on:
            live.on_since_wall = wall
        elif level <= 0:
            live.on_since_wall = None
        return True

    def set_cause(self, zone_id: int, cause: str, now: float) -> bool:
        """The cause line of a zone's change; True when it settled a change waiting for it."""
        live = self.zones.get(zone_id)
        if live is None or live.pending_since is None:
            return False  # no change waiting (a repeated level, or the wait is over)
        self._integrate(zone_id, live, now)  # settles as unknown when the wait is over
        changed_at = live.pending_since
        if changed_at is None:
            return False
        keypad = timeclock = None
        if cause == "keypad" and self._last_press is not None:
            device, component, at = self._last_press
            if 0.0 <= changed_at - at <= CAUSE_WAIT:
                keypad = (device, component)
        elif cause == "timeclock" and self._last_run is not None:
            clock, number, at = self._last_run
            if 0.0 <= changed_at - at <= CAUSE_WAIT:
                timeclock = (clock, number)
        self._settle(live, Cause(cause, keypad, timeclock))
        return True

    def _settle(self, live: _ZoneLive, cause: Cause) -> None:
        """The cause of a waiting change is known: credit the energy held for it."""
        live.cause = cause
        live.pending_since = None
        if live.pending_joules > 0:
            self.cause_energy[cause.name] = self.cause_energy.get(cause.name, 0.0) + live.pending_joules
        live.pending_joules = 0.0

    def cause(self, zone_id: int) -> Cause:
        """The cause of the zone's current level (`unknown` while its change waits for it)."""
        live = self.zones.get(zone_id)
        return Cause() if live is None else live.cause

    def cause_pending(self, zone_id: int) -> bool:
        live = self.zones.get(zone_id)
        return live is not None and live.pending_since is not None

    # --- energy --------------------------------------------------------------------------

    def _integrate(self, zone_id: int, live: _ZoneLive, now: float) -> None:
        if live.pending_since is not None and now > live.pending_since + CAUSE_WAIT:
            self._integrate_span(zone_id, live, live.pending_since + CAUSE_WAIT)
            self._settle(live, Cause())  # no cause line within CAUSE_WAIT
        self._integrate_span(zone_id, live, now)

    def _integrate_span(self, zone_id: int, live: _ZoneLive, now: float) -> None:
        dt = now - live.since
        live.since = now
        if dt <= 0 or live.watts <= 0:
            return
        joules = live.watts * dt
        self.zone_energy[zone_id] = self.zone_energy.get(zone_id, 0.0) + joules
        zone = self.design.zone(zone_id)
        if zone is not None:
            self.area_energy[zone.area_key] = self.area_energy.get(zone.area_key, 0.0) + joules
            if (
                zone.kind == "light"
                and zone.area_key in self.sensor_lights
                and self.occupancy.get(zone.area_key) is False
            ):
                self.unoccupied_energy[zone.area_key] = (
                    self.unoccupied_energy.get(zone.area_key, 0.0) + joules
                )
                self.unoccupied_total += joules
        if live.pending_since is not None:
            live.pending_joules += joules
        else:
            self.cause_energy[live.cause.name] = self.cause_energy.get(live.cause.name, 0.0) + joules
        self.total_energy += joules

    def advance(self, now: float) -> None:
        """Integrate every zone's energy up to `now`."""
        for zid, live in self.zones.items():
            self._integrate(zid, live, now)
        self.now = max(self.now, now)

    # --- derived numbers -----------------------------------------------------------------

    def level(self, zone_id: int) -> float | None:
        live = self.zones.get(zone_id)
        return None if live is None else live.level

    def watts(self, zone_id: int) -> float:
        live = self.zones.get(zone_id)
        return 0.0 if live is None else live.watts

    def unoccupied_watts(self, area_key: int) -> float:
        """Watts of a sensor area's lights counted as unoccupied now (0 unless it reported unoccupied)."""
        if self.occupancy.get(area_key) is not False:
            return 0.0
        return sum(self.zones[z].watts for z in self.sensor_lights.get(area_key, ()))

    def lights_on_by_cause(self) -> dict[str, int]:
        """Lights on, by the cause of their current level (every cause, 0 included)."""
        counts = dict.fromkeys(p.CAUSE_NAMES, 0)
        for zone in self.design.zones:
            live = self.zones[zone.id]
            if zone.kind == "light" and live.level and live.level > 0:
                counts[live.cause.name] = counts.get(live.cause.name, 0) + 1
        return counts

    def area_totals(self) -> dict[int, Counts]:
        """Per area key: its power and what is on."""
        totals: dict[int, Counts] = {a.key: Counts() for a in self.design.areas}
        for zone in self.design.zones:
            live = self.zones[zone.id]
            counts = totals.get(zone.area_key)
            if counts is None:
                counts = totals[zone.area_key] = Counts()
            counts.add(zone.kind, live.level, live.watts)
        return totals

    def counts(self, zone_ids: Iterable[int]) -> Counts:
        """Power and what is on among these zones."""
        counts = Counts()
        for zid in zone_ids:
            zone, live = self.design.zone(zid), self.zones.get(zid)
            if zone is not None and live is not None:
                counts.add(zone.kind, live.level, live.watts)
        return counts

    def system_totals(self) -> Counts:
        """The house's power and what is on."""
        counts = Counts()
        for zone in self.design.zones:
            live = self.zones[zone.id]
            counts.add(zone.kind, live.level, live.watts)
        return counts

    # --- persistence ---------------------------------------------------------------------

    def counters_document(self) -> dict[str, Any]:
        return {
            "version": ENERGY_FILE_VERSION,
            "guid": self.design.project.guid,
            "total_joules": self.total_energy,
            "zones": {str(k): v for k, v in self.zone_energy.items()},
            "areas": {str(k): v for k, v in self.area_energy.items()},
            "buttons": {
                f"{d}:{c}": [b.presses, b.releases, b.holds, b.multitaps]
                for (d, c), b in self.buttons.items()
            },
            "rest": self.rest.counters_document(),
            "pulses": {str(k): v for k, v in self.pulses.items()},
            "causes": self._causes_to_save(),
            "unoccupied": {str(k): v for k, v in self.unoccupied_energy.items()},
            "unoccupied_total_joules": self.unoccupied_total,
        }

    def _causes_to_save(self) -> dict[str, float]:
        """Energy by cause, with the energy of changes still waiting for their cause as `unknown`:
        after a restart their cause never comes."""
        causes = dict(self.cause_energy)
        held = sum(live.pending_joules for live in self.zones.values())
        causes[UNKNOWN] = causes.get(UNKNOWN, 0.0) + held
        return causes

    def load_counters(self, doc: dict[str, Any]) -> None:
        """Restore persisted counters (raises ValueError/TypeError/KeyError on a malformed doc).

        Only zones, areas and buttons of the design in use are kept: a file grown by events for
        things that do not exist (an older version stored them) shrinks at the next save.
        """
        if doc.get("version") != ENERGY_FILE_VERSION:
            raise ValueError(f"unknown counters file version {doc.get('version')!r}")
        total = float(doc["total_joules"])
        zones = {int(k): float(v) for k, v in dict(doc["zones"]).items()}
        areas = {int(k): float(v) for k, v in dict(doc["areas"]).items()}
        buttons: dict[tuple[int, int], ButtonCounts] = {}
        for key, values in dict(doc.get("buttons", {})).items():
            device, component = (int(x) for x in key.split(":"))
            buttons[(device, component)] = ButtonCounts(*(float(v) for v in values))
        pulses = {int(k): float(v) for k, v in dict(doc.get("pulses", {})).items()}
        causes = {str(k): float(v) for k, v in dict(doc.get("causes", {})).items()}
        unoccupied = {int(k): float(v) for k, v in dict(doc.get("unoccupied", {})).items()}
        unoccupied_total = float(doc.get("unoccupied_total_joules", 0.0))
        values = (total, unoccupied_total, *zones.values(), *areas.values(), *pulses.values())
        if any(v < 0 or v != v for v in (*values, *causes.values(), *unoccupied.values())):
            raise ValueError("negative or NaN counter")
        area_keys = {a.key for a in self.design.areas}
        zones = {k: v for k, v in zones.items() if k in self.zones}
        areas = {k: v for k, v in areas.items() if k in area_keys}
        buttons = {k: v for k, v in buttons.items() if self._known_button(k)}
        pulses = {k: v for k, v in pulses.items() if k in self.zones}
        causes = {k: v for k, v in causes.items() if k in p.CAUSE_NAMES}
        unoccupied = {k: v for k, v in unoccupied.items() if k in self.sensor_lights}
        self.rest.load_counters(dict(doc.get("rest", {})))
        self.total_energy = total
        self.zone_energy.update(zones)
        self.area_energy.update(areas)
        self.buttons.update(buttons)
        self.pulses.update(pulses)
        self.cause_energy.update(causes)
        self.unoccupied_energy.update(unoccupied)
        self.unoccupied_total = unoccupied_total


class CounterStore:
    """Energy and button counters in `cache_dir/counters.json`, written atomically, so a plugin
    restart continues them. A corrupt file means starting from 0 with a warning, never a crash."""

    def __init__(self, cache_dir: Path) -> None:
        self.path = Path(cache_dir) / "counters.json"

    def load_into(self, state: HouseState) -> bool:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return False
        except OSError as exc:
            log.warning("cannot read %s (%s): energy counters start from 0", self.path, exc.strerror)
            return False
        try:
            state.load_counters(json.loads(raw))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning(
                "ignoring corrupt counters file %s (%s): energy counters start from 0", self.path, exc
            )
            return False
        return True

    def save(self, state: HouseState) -> None:
        self.write(state.counters_document())

    def write(self, doc: dict[str, Any]) -> None:
        private_dir(self.path.parent)
        atomic_write(self.path, json.dumps(doc, separators=(",", ":")).encode())


def shade_position(event: p.OutputReport) -> float | None:
    """The level in a moving shade's `~OUTPUT,<id>,32,2,<level>` report, or None for other reports."""
    if event.action != 32 or len(event.fields) < 4:
        return None
    try:
        level = float(event.fields[3])
    except ValueError:
        return None
    return level if 0.0 <= level <= 100.0 else None  # also rejects NaN


def zones_to_query(design: Design) -> Iterable[int]:
    """Zones whose level the full state read asks for: all but pulsed contact closures (they answer
    100 forever, which would read as a pulse)."""
    return (z.id for z in design.zones if not z.pulsed)


def leds_to_query(design: Design) -> Iterable[tuple[int, int]]:
    """Every (keypad, LED component) the design lists, paired or not."""
    for keypad in design.keypads:
        for led in keypad.leds:
            yield keypad.id, led
