"""The design model: an immutable, typed picture of a processor's DbXmlInfo.xml.

Only the model lives here; reading XML into it is `design_xml.py`, fetching and caching it is
`design_cache.py`. Everything is keyed by Integration ID (IID); areas with IID 0 are containers
(the root area and floors) and get negative synthetic keys so they stay addressable in the tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# OutputTypes that are on/off only (lutron-protocol.md §6.4). Every NON_DIM* counts too.
NON_DIMMABLE_OUTPUT_TYPES = frozenset(
    {
        "RELAY_LIGHTING",
        "CCO_PULSED",
        "CCO_MAINTAINED",
        "CEILING_FAN_TYPE",
        "EXHAUST_FAN_TYPE",
        "SYSTEM_SHADE",
        "MOTOR",
        "SWITCHED_MOTOR",
        "SHEER_BLIND",
        "VENETIAN_BLIND",
        "SIVOIA_QED",
    }
)

# LED = button + offset on these keypads (lutron-protocol.md §5.2, §6.4).
LED_OFFSET_80_TYPES = frozenset(
    {
        "SEETOUCH_KEYPAD",
        "HYBRID_SEETOUCH_KEYPAD",
        "SEETOUCH_TABLETOP_KEYPAD",
        "INTERNATIONAL_SEETOUCH_KEYPAD",
        "PALLADIOM_KEYPAD",
        "HWI_SEETOUCH_KEYPAD",
        "HOMEOWNER_KEYPAD",
        "GRAFIK_T_HYBRID_KEYPAD",
        "VISOR_CONTROL_RECEIVER",
    }
)
LED_OFFSET_100_TYPES = frozenset({"MAIN_REPEATER"})
# GRAFIK Eye QS: scene buttons and their LEDs, in the same order.
GRAFIK_EYE_LEDS = {70: 201, 71: 210, 76: 219, 77: 228, 83: 237}


def is_dimmable(output_type: str) -> bool:
    """True when a zone of this OutputType takes levels between 0 and 100 (not just on/off)."""
    return not output_type.startswith("NON_DIM") and output_type not in NON_DIMMABLE_OUTPUT_TYPES


def led_for_button(device_type: str, component: int) -> int | None:
    """The LED component paired with a button on this device type, or None if it has none."""
    if device_type in LED_OFFSET_80_TYPES:
        return component + 80
    if device_type in LED_OFFSET_100_TYPES:
        return component + 100
    if device_type == "GRAFIK_EYE_QS":
        return GRAFIK_EYE_LEDS.get(component)
    return None


@dataclass(frozen=True, slots=True)
class Project:
    name: str
    guid: str = ""
    export_date: str = ""  # as exported: MM/DD/YYYY
    export_time: str = ""  # as exported: HH:MM:SS
    app_version: str = ""
    product_type: str = ""

    @property
    def export(self) -> datetime | None:
        """Export date and time (processor local time, naive), or None if absent or malformed."""
        try:
            return datetime.strptime(f"{self.export_date} {self.export_time}", "%m/%d/%Y %H:%M:%S")
        except ValueError:
            return None

    @property
    def revision(self) -> str:
        """The design revision as `?SYSTEM,10` reports it: `MM/DD/YYYY,HH:MM:SS`."""
        return f"{self.export_date},{self.export_time}"


@dataclass(frozen=True, slots=True)
class Area:
    key: int  # the IntegrationID; containers (IID 0) get unique negative keys
    iid: int  # the IntegrationID as exported (0 for containers)
    name: str
    parent_key: int | None
    path: tuple[str, ...]  # names from the root area down to this one, inclusive
    floor: str  # name of the innermost container above (or this area's name if it is one)
    occupancy_group: int = 0  # OccupancyGroupAssignedToID, 0 when none

    @property
    def is_container(self) -> bool:
        return self.iid == 0


@dataclass(frozen=True, slots=True)
class Zone:
    id: int
    name: str
    area_key: int
    area: str
    floor: str
    output_type: str
    rated_watts: float  # 0.0 means unknown (Wattage missing or 0), not "draws nothing"
    dimmable: bool


@dataclass(frozen=True, slots=True)
class Button:
    component: int
    engraving: str  # trimmed; "" when the button has none
    name: str  # engraving, or a readable fallback such as "Button 3"
    led_component: int | None
    button_type: str = ""


@dataclass(frozen=True, slots=True)
class Keypad:
    id: int
    name: str  # the DeviceGroup's name (the keypad's location); Device@Name is often "CSD 001"
    device_name: str
    device_type: str
    area_key: int
    area: str
    floor: str
    serial: str = ""
    buttons: tuple[Button, ...] = ()
    leds: tuple[int, ...] = ()  # every LED component the device lists
    ccis: tuple[int, ...] = ()

    @property
    def unpaired_leds(self) -> tuple[int, ...]:
        paired = {b.led_component for b in self.buttons}
        return tuple(c for c in self.leds if c not in paired)

    def button_for_led(self, led: int) -> Button | None:
        for b in self.buttons:
            if b.led_component == led:
                return b
        return None


@dataclass(frozen=True, slots=True)
class OccupancyGroup:
    number: int
    area_keys: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ShadeGroup:
    id: int
    name: str
    area_key: int


@dataclass(frozen=True, slots=True)
class Timeclock:
    id: int
    name: str
    type: int = 0


@dataclass(frozen=True, slots=True)
class Design:
    project: Project
    areas: tuple[Area, ...] = ()
    zones: tuple[Zone, ...] = ()
    keypads: tuple[Keypad, ...] = ()
    occupancy_groups: tuple[OccupancyGroup, ...] = ()
    shade_groups: tuple[ShadeGroup, ...] = ()
    timeclocks: tuple[Timeclock, ...] = ()
    _zone_index: dict[int, Zone] = field(init=False, repr=False, compare=False)
    _keypad_index: dict[int, Keypad] = field(init=False, repr=False, compare=False)
    _area_index: dict[int, Area] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone_index", {z.id: z for z in self.zones})
        object.__setattr__(self, "_keypad_index", {k.id: k for k in self.keypads})
        object.__setattr__(self, "_area_index", {a.key: a for a in self.areas})

    def zone(self, iid: int) -> Zone | None:
        return self._zone_index.get(iid)

    def keypad(self, iid: int) -> Keypad | None:
        return self._keypad_index.get(iid)

    def area(self, key: int) -> Area | None:
        return self._area_index.get(key)

    @property
    def rooms(self) -> tuple[Area, ...]:
        """Areas that are real rooms (IID != 0): the ones with occupancy and commands."""
        return tuple(a for a in self.areas if not a.is_container)

    @property
    def occupancy_areas(self) -> tuple[Area, ...]:
        """Rooms whose occupancy the processor reports (queried by Area IID, §5.3)."""
        return tuple(a for a in self.rooms if a.occupancy_group)
