"""The simulated house: zone levels, LED states, occupancy and system variables, with no I/O.

Every change returns the report lines a real processor would send to monitoring sessions, as
`Event`s tagged with their monitoring type; the server decides who receives them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from telegraf_lutron.design import Design, Keypad, Zone

# Monitoring types (lutron-protocol.md §2).
MON_BUTTON = 3
MON_LED = 4
MON_ZONE = 5
MON_OCCUPANCY = 6
MON_SYSVAR = 10

# `~OUTPUT,<id>,29,<source>` codes (lutron-protocol.md §5.1).
SOURCE_UNKNOWN = 0
SOURCE_INTEGRATION = 6
SOURCE_KEYPAD = 8
SOURCE_OCCUPANCY = 10
SOURCE_TIMECLOCK = 16
SOURCE_LOCAL = 24

OCCUPIED = 3
UNOCCUPIED = 4
OCCUPANCY_UNKNOWN = 255

# Button actions (§5.2).
PRESS = 3
RELEASE = 4
HOLD = 5
MULTITAP = 6
HOLD_RELEASE = 32
BUTTON_ACTIONS = frozenset({PRESS, RELEASE, HOLD, MULTITAP, HOLD_RELEASE})

ON_LEVEL = 100.0  # what a keypad button turns its zones on to


@dataclass(frozen=True, slots=True)
class Event:
    """Report lines for sessions monitoring `monitor`."""

    monitor: int
    lines: tuple[str, ...]


def format_level(level: float) -> str:
    return f"{level:.2f}"


class House:
    """State of every zone, LED, occupancy area and system variable of one design."""

    def __init__(self, design: Design, *, system: str = "HWQS", sysvars: Mapping[int, int] | None = None):
        self.system = system
        self.levels: dict[int, float] = {}
        self.leds: dict[tuple[int, int], int] = {}
        self.occupancy: dict[int, int] = {}
        self.sysvars: dict[int, int] = dict(sysvars or {})
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
        self.levels = {z.id: old_levels.get(z.id, 0.0) for z in design.zones}
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

    def has_room(self, area_iid: int) -> bool:
        return area_iid in self._rooms

    def button_zones(self, keypad_id: int, component: int) -> tuple[int, ...]:
        return self._button_zones.get((keypad_id, component), ())

    # -- changes ----------------------------------------------------------------------------------

    def set_level(self, zone_id: int, level: float, source: int) -> list[Event]:
        """Set a zone (on/off zones snap to 0 or 100) and report it, as the processor always does."""
        zone = self._design.zone(zone_id)
        if zone is None:
            raise KeyError(f"no zone with integration id {zone_id}")
        level = round(min(100.0, max(0.0, level)), 2)
        if not zone.dimmable:
            level = ON_LEVEL if level > 0 else 0.0
        self.levels[zone_id] = level
        lvl = format_level(level)
        lines = (
            f"~OUTPUT,{zone_id},1,{lvl}",
            f"~OUTPUT,{zone_id},29,{source}",
            f"~OUTPUT,{zone_id},30,1,{lvl}",
        )
        return [Event(MON_ZONE, lines)]

    def set_led(self, keypad_id: int, component: int, state: int) -> list[Event]:
        if (keypad_id, component) not in self.leds:
            raise KeyError(f"keypad {keypad_id} has no LED {component}")
        if self.system == "RA2" and state in (2, 3):
            state = 1  # RA2 keypads show the flash states as on
        self.leds[(keypad_id, component)] = state
        return [Event(MON_LED, (f"~DEVICE,{keypad_id},{component},9,{state}",))]

    def button(self, keypad_id: int, component: int, action: int) -> list[Event]:
        """A button action: the event, and on the acting edge the button's zones and LED toggle."""
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

    def set_occupancy(self, area_iid: int, occupied: bool) -> list[Event]:
        if area_iid not in self._rooms:
            raise KeyError(f"no room with integration id {area_iid}")
        state = OCCUPIED if occupied else UNOCCUPIED
        self.occupancy[area_iid] = state
        return [Event(MON_OCCUPANCY, (f"~GROUP,{area_iid},3,{state}",))]

    def set_sysvar(self, sysvar_id: int, state: int) -> list[Event]:
        if sysvar_id not in self.sysvars:
            raise KeyError(f"no system variable {sysvar_id}")
        self.sysvars[sysvar_id] = state
        return [Event(MON_SYSVAR, (f"~SYSVAR,{sysvar_id},1,{state}",))]

    def occupancy_areas(self) -> Iterable[int]:
        """Rooms whose occupancy the processor tracks (they have an occupancy group)."""
        return (iid for iid, a in self._rooms.items() if a.occupancy_group)
