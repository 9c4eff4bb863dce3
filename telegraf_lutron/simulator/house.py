"""The simulated house: zone levels, LED states, occupancy, system variables, contact inputs and
motion sensors, time clocks, shade groups and blind tilt, green modes and batteries, with no I/O.

Every change returns the report lines a real processor would send to monitoring sessions, as
`Event`s tagged with their monitoring type; the server decides who receives them. Each level change
says what made it (`~OUTPUT,<id>,29,<source>`, docs/protocol.md §11), and the house keeps its own
account of energy by that cause and in vacant rooms (`EnergyAccount`, in the simulator's stats).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from telegraf_lutron.design import FAN_SPEED_STEPS, Design, Keypad, Zone, speed_step
from telegraf_lutron.simulator.stats import SOURCE_CAUSES, EnergyAccount, SimulatorStats

# Monitoring types (docs/protocol.md §2).
MON_BUTTON = 3
MON_LED = 4
MON_ZONE = 5
MON_OCCUPANCY = 6
MON_TIMECLOCK = 9
MON_SYSVAR = 10
MON_SHADE_GROUP = 23

# `~OUTPUT,<id>,29,<source>` codes (docs/protocol.md §5.1).
SOURCE_UNKNOWN = 0
SOURCE_INTEGRATION = 6
SOURCE_KEYPAD = 8
SOURCE_OCCUPANCY = 10
SOURCE_TIMECLOCK = 16
SOURCE_LOCAL = 24

OCCUPIED = 3
UNOCCUPIED = 4
OCCUPANCY_UNKNOWN = 255

# Button actions (docs/protocol.md §5.2).
PRESS = 3
RELEASE = 4
HOLD = 5
MULTITAP = 6
HOLD_RELEASE = 32
BUTTON_ACTIONS = frozenset({PRESS, RELEASE, HOLD, MULTITAP, HOLD_RELEASE})

ON_LEVEL = 100.0  # what a keypad button turns its zones on to
SHADE_TRAVEL = 10.0  # seconds a shade takes from closed to open
SHADE_REPORT_STEP = 10.0  # a moving shade reports its position every this many percent

# Battery status as `~DEVICE,<id>,1,22,...` reports it (docs/protocol.md §5.2).
BATTERY_GOOD = 2
BATTERY_LOW = 3
BATTERY_MISSING = 4
SHADE_TYPES = frozenset({"SYSTEM_SHADE", "SIVOIA_QED", "MOTOR", "VENETIAN_BLIND", "SHEER_BLIND"})


@dataclass(frozen=True, slots=True)
class Event:
    """Report lines for sessions monitoring `monitor`; `delay` > 0: sent that many seconds later,
    and then only if `due` (when given) says so: it makes the change the lines report, or returns
    False when they no longer hold (a shade sent elsewhere meanwhile)."""

    monitor: int
    lines: tuple[str, ...]
    delay: float = 0.0
    due: Callable[[], bool] | None = field(default=None, compare=False)


def format_level(level: float) -> str:
    return f"{level:.2f}"


class House:
    """State of every zone, LED, occupancy area and system variable of one design."""

    def __init__(
        self,
        design: Design,
        *,
        system: str = "HWQS",
        sysvars: Mapping[int, int] | None = None,
        shade_travel: float = SHADE_TRAVEL,
        account: EnergyAccount | None = None,
    ):
        self.account = account if account is not None else EnergyAccount(SimulatorStats())
        self.system = system
        self.shade_travel = shade_travel
        self._moves: dict[int, int] = {}  # per shade: which movement is the current one
        self.positions: dict[int, float] = {}  # per shade: where it is (its level once it stops)
        self.levels: dict[int, float] = {}
        self.leds: dict[tuple[int, int], int] = {}
        self.occupancy: dict[int, int] = {}
        self.sysvars: dict[int, int] = dict(sysvars or {})
        self.inputs: dict[tuple[int, int], int] = {}  # PRESS (closed / occupied) or RELEASE (open / vacant)
        self.clock_modes: dict[int, int] = {}
        self.events_enabled: dict[tuple[int, int], bool] = {}
        self.shade_groups: dict[int, float] = {}
        self.tilts: dict[int, float] = {}
        self.green_steps: dict[int, int] = {}
        self.batteries: dict[int, int] = {}
        self._design = design
        self._load(design, keep=False)

    @property
    def design(self) -> Design:
        return self._design

    def replace_design(self, design: Design) -> None:
        """Switch to a new design, keeping the state of zones, LEDs and areas that still exist."""
        self._design = design
        self._load(design, keep=True)

    def _load(self, design: Design, *, keep: bool) -> None:
        old_levels, old_leds, old_occ = (self.levels, self.leds, self.occupancy) if keep else ({}, {}, {})
        # A pulsed contact closure answers 100 forever (openHAB documents it for RA2).
        self.levels = {z.id: ON_LEVEL if z.pulsed else old_levels.get(z.id, 0.0) for z in design.zones}
        self.positions = {z.id: self.levels[z.id] for z in design.zones if z.kind == "shade"}
        self.leds = {}
        self._buttons: dict[int, frozenset[int]] = {}
        self._button_zones: dict[tuple[int, int], tuple[int, ...]] = {}
        zones_by_area: dict[int, list[int]] = {}
        for z in design.zones:
            zones_by_area.setdefault(z.area_key, []).append(z.id)
        for kp in design.keypads:
            for led in self._led_components(kp):
                self.leds[(kp.id, led)] = old_leds.get((kp.id, led), 0)
            self._buttons[kp.id] = frozenset(b.component for b in kp.buttons) | frozenset(kp.ccis)
            # Keep it deterministic: the keypad's LED buttons share its room's zones round-robin.
            lit = [b for b in kp.buttons if b.led_component is not None]
            area_zones = sorted(zones_by_area.get(kp.area_key, []))
            for i, b in enumerate(lit):
                self._button_zones[(kp.id, b.component)] = tuple(area_zones[i :: len(lit)])
        self._rooms = {a.iid: a for a in design.rooms}
        self.occupancy = {
            a.iid: old_occ.get(a.iid, UNOCCUPIED if a.occupancy_group else OCCUPANCY_UNKNOWN)
            for a in design.rooms
        }
        self.inputs = {
            (i.device, i.component): self.inputs.get((i.device, i.component), RELEASE) for i in design.inputs
        }
        self._sensors: dict[int, list[tuple[int, int]]] = {}
        for sensor in design.inputs:
            if sensor.kind == "motion":
                self._sensors.setdefault(sensor.area_key, []).append((sensor.device, sensor.component))
        self.clock_modes = {t.id: self.clock_modes.get(t.id, 1) for t in design.timeclocks}
        self.events_enabled = {
            (t.id, e.number): self.events_enabled.get((t.id, e.number), True)
            for t in design.timeclocks
            for e in t.events
        }
        self.shade_groups = {g.id: self.shade_groups.get(g.id, 0.0) for g in design.shade_groups}
        self._group_zones = {
            g.id: tuple(
                z.id for z in design.zones if z.area_key == g.area_key and z.output_type in SHADE_TYPES
            )
            for g in design.shade_groups
        }
        self.tilts = {z.id: self.tilts.get(z.id, 50.0) for z in design.tilt_zones}
        self.green_steps = {g.id: self.green_steps.get(g.id, 1) for g in design.green_modes}
        self.batteries = {k.id: self.batteries.get(k.id, BATTERY_GOOD) for k in design.battery_devices}
        self._area_lights: dict[int, tuple[int, ...]] = {}
        for z in design.zones:
            if z.kind == "light":
                self._area_lights[z.area_key] = (*self._area_lights.get(z.area_key, ()), z.id)
        vacant = (iid for iid, state in self.occupancy.items() if state == UNOCCUPIED)
        self.account.set_design(design, self.levels, vacant)

    @staticmethod
    def _led_components(kp: Keypad) -> list[int]:
        leds = dict.fromkeys(kp.leds)
        for b in kp.buttons:
            if b.led_component is not None:
                leds.setdefault(b.led_component)
        return list(leds)

    # -- lookups --------------------------------------------------------------------------------

    def zone(self, zone_id: int) -> Zone | None:
        return self._design.zone(zone_id)

    def keypad(self, keypad_id: int) -> Keypad | None:
        return self._design.keypad(keypad_id)

    def has_led(self, keypad_id: int, component: int) -> bool:
        return (keypad_id, component) in self.leds

    def has_button(self, keypad_id: int, component: int) -> bool:
        return component in self._buttons.get(keypad_id, ())

    def is_input(self, keypad_id: int, component: int) -> bool:
        return (keypad_id, component) in self.inputs

    def has_room(self, area_iid: int) -> bool:
        return area_iid in self._rooms

    def button_zones(self, keypad_id: int, component: int) -> tuple[int, ...]:
        return self._button_zones.get((keypad_id, component), ())

    # -- changes ----------------------------------------------------------------------------------

    def set_level(self, zone_id: int, level: float, source: int) -> list[Event]:
        """Set a zone and report it, as the processor always does.

        On/off zones snap to 0 or 100 and ceiling fans to their speed steps (0, 25, 50, 75, 100);
        shades take any position and report it while they move (`~OUTPUT,<id>,32,2,<level>`, each
        10 %, `shade_travel` seconds from closed to open) after reporting their target. A pulsed
        contact closure stays at 100: any level above 0 pulses it, and the pulse is all it reports.
        """
        zone = self._design.zone(zone_id)
        if zone is None:
            raise KeyError(f"no zone with integration id {zone_id}")
        level = round(min(100.0, max(0.0, level)), 2)
        if zone.pulsed:
            return self.pulse(zone_id, source) if level > 0 else []
        if zone.has_speeds:
            level = FAN_SPEED_STEPS[speed_step(level)]
        elif not zone.dimmable and zone.kind != "shade":
            level = ON_LEVEL if level > 0 else 0.0
        self.levels[zone_id] = level
        self.account.level(zone_id, level, SOURCE_CAUSES.get(source, "unknown"))
        lvl = format_level(level)
        lines = (
            f"~OUTPUT,{zone_id},1,{lvl}",
            f"~OUTPUT,{zone_id},29,{source}",
            f"~OUTPUT,{zone_id},30,1,{lvl}",
        )
        events = [Event(MON_ZONE, lines)]
        if zone.kind == "shade":
            events += self._movement(zone_id, self.positions.get(zone_id, 0.0), level)
        return events

    def pulse(self, zone_id: int, source: int) -> list[Event]:
        """A pulsed contact closure closes briefly: it reports 100 (as it always answers) and no 0."""
        self.levels[zone_id] = ON_LEVEL
        return [
            Event(
                MON_ZONE, (f"~OUTPUT,{zone_id},1,{format_level(ON_LEVEL)}", f"~OUTPUT,{zone_id},29,{source}")
            )
        ]

    def _movement(self, zone_id: int, start: float, target: float) -> list[Event]:
        """Position reports of a shade travelling from `start` to `target`, each at its time."""
        move = self._moves.get(zone_id, 0) + 1
        self._moves[zone_id] = move  # a newer command for this shade silences this movement
        distance = target - start
        steps = math.ceil(abs(distance) / SHADE_REPORT_STEP)

        def reached(position: float) -> Callable[[], bool]:
            def due() -> bool:
                if self._moves.get(zone_id) != move:
                    return False
                self.positions[zone_id] = position
                return True

            return due

        events = []
        for i in range(1, steps + 1):
            position = target if i == steps else round(start + distance * i / steps, 2)
            delay = self.shade_travel * abs(distance) / 100.0 * i / steps
            events.append(
                Event(
                    MON_ZONE,
                    (f"~OUTPUT,{zone_id},32,2,{format_level(position)}",),
                    delay=max(delay, 0.001),
                    due=reached(position),
                )
            )
        return events

    def set_led(self, keypad_id: int, component: int, state: int) -> list[Event]:
        if (keypad_id, component) not in self.leds:
            raise KeyError(f"keypad {keypad_id} has no LED {component}")
        if self.system == "RA2" and state in (2, 3):
            state = 1  # RA2 keypads show the flash states as on
        self.leds[(keypad_id, component)] = state
        return [Event(MON_LED, (f"~DEVICE,{keypad_id},{component},9,{state}",))]

    def button(self, keypad_id: int, component: int, action: int) -> list[Event]:
        """A button action: the event, and on the acting edge the button's zones and LED toggle.
        On a contact input or sensor, 3 closes and 4 opens it."""
        if self.is_input(keypad_id, component) and action in (PRESS, RELEASE):
            return self.set_input(keypad_id, component, action == PRESS)
        if not self.has_button(keypad_id, component):
            raise KeyError(f"keypad {keypad_id} has no button {component}")
        events = [Event(MON_BUTTON, (f"~DEVICE,{keypad_id},{component},{action}",))]
        # RA2 scene buttons act on release (home-assistant/core#127810), HWQS on press.
        acting = RELEASE if self.system == "RA2" else PRESS
        kp = self._design.keypad(keypad_id)
        btn = next((b for b in kp.buttons if b.component == component), None) if kp else None
        if action != acting or btn is None or btn.led_component is None:
            return events
        turn_on = self.leds.get((keypad_id, btn.led_component), 0) == 0
        for zone_id in self.button_zones(keypad_id, component):
            events += self.set_level(zone_id, ON_LEVEL if turn_on else 0.0, SOURCE_KEYPAD)
        events += self.set_led(keypad_id, btn.led_component, 1 if turn_on else 0)
        return events

    def set_occupancy(self, area_iid: int, occupied: bool, *, lights: bool = False) -> list[Event]:
        """The room's occupancy changes (its motion sensors report it). `lights`: the sensors also
        switch the room's lights, on when occupied and off when vacant, with source 10."""
        if area_iid not in self._rooms:
            raise KeyError(f"no room with integration id {area_iid}")
        state = OCCUPIED if occupied else UNOCCUPIED
        self.occupancy[area_iid] = state
        self.account.occupancy(area_iid, vacant=not occupied)
        events = [Event(MON_OCCUPANCY, (f"~GROUP,{area_iid},3,{state}",))]
        for device, component in self._sensors.get(area_iid, ()):  # the room's sensors saw it
            events += self.set_input(device, component, occupied)
        if lights:
            for zone_id in self._area_lights.get(area_iid, ()):
                if (self.levels[zone_id] > 0) != occupied:
                    events += self.set_level(zone_id, ON_LEVEL if occupied else 0.0, SOURCE_OCCUPANCY)
        return events

    def area_lights(self, area_iid: int) -> tuple[int, ...]:
        """The lights (kind light) of a room."""
        return self._area_lights.get(area_iid, ())

    def set_input(self, device: int, component: int, closed: bool) -> list[Event]:
        """A contact closing (or a sensor seeing someone) reports 3, opening (vacant) 4."""
        if (device, component) not in self.inputs:
            raise KeyError(f"device {device} has no input {component}")
        action = PRESS if closed else RELEASE
        self.inputs[(device, component)] = action
        return [Event(MON_BUTTON, (f"~DEVICE,{device},{component},{action}",))]

    def set_timeclock_mode(self, clock: int, mode: int) -> list[Event]:
        if clock not in self.clock_modes:
            raise KeyError(f"no time clock {clock}")
        self.clock_modes[clock] = mode
        return [Event(MON_TIMECLOCK, (f"~TIMECLOCK,{clock},1,{mode}",))]

    def enable_event(self, clock: int, event: int, enabled: bool) -> list[Event]:
        if (clock, event) not in self.events_enabled:
            raise KeyError(f"time clock {clock} has no event {event}")
        self.events_enabled[(clock, event)] = enabled
        return [Event(MON_TIMECLOCK, (f"~TIMECLOCK,{clock},6,{event},{1 if enabled else 2}",))]

    def run_event(self, clock: int, event: int) -> list[Event]:
        """A time clock event runs: its report, then what it does (an "Off" event turns the first
        zone off, others turn it on), with source 16 (time clock)."""
        if (clock, event) not in self.events_enabled:
            raise KeyError(f"time clock {clock} has no event {event}")
        events = [Event(MON_TIMECLOCK, (f"~TIMECLOCK,{clock},5,{event}",))]
        t = next(t for t in self._design.timeclocks if t.id == clock)
        name = next(e.name for e in t.events if e.number == event)
        if self._design.zones:
            zone = self._design.zones[0]
            events += self.set_level(zone.id, 0.0 if "off" in name.casefold() else ON_LEVEL, SOURCE_TIMECLOCK)
        return events

    def set_shade_group(self, group: int, level: float) -> list[Event]:
        """A shade group moves: its level, then each of its shades (the room's shade zones)."""
        if group not in self.shade_groups:
            raise KeyError(f"no shade group {group}")
        level = round(min(100.0, max(0.0, level)), 2)
        self.shade_groups[group] = level
        events = [Event(MON_SHADE_GROUP, (f"~SHADEGRP,{group},1,{format_level(level)}",))]
        for zone_id in self._group_zones[group]:
            events += self.set_level(zone_id, level, SOURCE_INTEGRATION)
        return events

    def set_tilt(self, zone_id: int, tilt: float, lift: float | None = None) -> list[Event]:
        if zone_id not in self.tilts:
            raise KeyError(f"zone {zone_id} is not a venetian blind")
        tilt = round(min(100.0, max(0.0, tilt)), 2)
        self.tilts[zone_id] = tilt
        if lift is None:
            return [Event(MON_ZONE, (f"~OUTPUT,{zone_id},9,{format_level(tilt)}",))]
        self.levels[zone_id] = self.positions[zone_id] = round(min(100.0, max(0.0, lift)), 2)
        self.account.level(zone_id, self.levels[zone_id], "unknown")  # reported without a 29 line
        line = f"~OUTPUT,{zone_id},10,{format_level(self.levels[zone_id])},{format_level(tilt)}"
        return [Event(MON_ZONE, (line,))]

    def set_green_mode(self, mode: int, step: int) -> list[Event]:
        """Green mode changes are not reported (docs/protocol.md §5.3): no event."""
        if mode not in self.green_steps:
            raise KeyError(f"no green mode {mode}")
        self.green_steps[mode] = step
        return []

    def set_battery(self, device: int, status: int) -> list[Event]:
        """Batteries are asked for, never reported: no event."""
        if device not in self.batteries:
            raise KeyError(f"device {device} has no battery")
        self.batteries[device] = status
        return []

    def set_sysvar(self, sysvar_id: int, state: int) -> list[Event]:
        if sysvar_id not in self.sysvars:
            raise KeyError(f"no system variable {sysvar_id}")
        self.sysvars[sysvar_id] = state
        return [Event(MON_SYSVAR, (f"~SYSVAR,{sysvar_id},1,{state}",))]

    def occupancy_areas(self) -> Iterable[int]:
        """Rooms whose occupancy the processor tracks (they have an occupancy group)."""
        return (iid for iid, a in self._rooms.items() if a.occupancy_group)
