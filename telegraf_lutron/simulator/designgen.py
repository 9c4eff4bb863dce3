"""Synthetic designs: a seeded house as the model (`generate_design`) and as a DbXmlInfo.xml export.

`generate_design` says what the generator put in, i.e. the exact `Design` that `parse_design` must return
for `design_to_xml` of it. The XML reproduces the quirks of real exports (docs/protocol.md §6): IID-0
containers nesting rooms at any depth, `CSD 001` device names with the real name in the DeviceGroup,
Devices directly under DeviceGroups, engravings missing or ending in spaces, entities and UTF-8 names,
junk before `<?xml`, dimmers with empty Components, PID_SWITCH LED 65281, the RA2 main repeater, missing
Wattage/SerialNumber/UUID. Everything is deterministic per seed.
"""

from __future__ import annotations

import math
import random
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from typing import Any

from telegraf_lutron.design import (
    OUTPUT_KINDS,
    POWER_KINDS,
    Area,
    Button,
    Design,
    GreenMode,
    GreenStep,
    Keypad,
    OccupancyGroup,
    Project,
    ShadeGroup,
    Timeclock,
    TimeclockEvent,
    TimeclockMode,
    Zone,
    is_dimmable,
    kind_for,
)

SYSTEMS = ("HWQS", "RA2")
# Device types that real exports put straight under <DeviceGroups>, without a <DeviceGroup>.
DIRECT_DEVICE_TYPES = frozenset({"VISOR_CONTROL_RECEIVER", "MAIN_REPEATER"})

_ROOMS = (
    "Kitchen",
    "Living Room",
    "Dining Room",
    "Master Bedroom",
    "Kid's Room",
    "Bed & Bath",
    "Office",
    "Garage",
    "Porch",
    "Foyer",
    "Hallway",
    "Library",
    "Salle à manger",
    "Wohnzimmer",
    "茶室",
    "Guest Suite",
    "Media Room",
    "Laundry",
    "Pool House",
    "Wine Cellar",
)
# Names that break naive line-protocol, CSV, SQL or XML handling; never newlines or tabs, which XML
# attribute normalisation turns into spaces.
_HOSTILE_ROOMS = (
    'Den "West"',
    "Bar, Lounge",
    "a=b Room",
    "Back\\Slash",
    "Party 🎉",
    "<Attic> & 'Loft'",
    'Tab,Space = "x"',
)
_SUB_ROOMS = ("Closet", "Walk-in Wardrobe", "Pantry", "Powder Room", "Nook")
_FLOORS = ("Ground Floor", "First Floor", "Second Floor", "Third Floor", "Lower Level")
_PROJECTS = ("Maple House", "Villa Rosé", "O'Neil Residence", "Smith & Co Loft", "Haus am See")
_LOCATIONS = ("Entry", "Door", "Bedside", "Patio Door", "Hall Door", "Table", "Stairs")
_ENGRAVINGS = (
    "All On",
    "All Off",
    "Welcome",
    "Goodnight",
    "Dinner",
    "Reading",
    "Night Light",
    "Shades Open",
    "Shades Close",
    "Entertain",
    "Pathway",
    "Bright",
    "Relax",
    "Movie",
    "Café",
    "Kids' Bath",
)
_HOSTILE_ENGRAVINGS = ('"Party", Mode', "a=b", "C:\\Lights", "🌙 Night", "Fish & <Chips>")
# (fixture name, output types it may have); shades and fans are never dimmable.
_FIXTURES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Downlights", ("INC", "ELV", "MLV", "AUTO_DETECT", "ZERO_TO_TEN")),
    ("Pendants", ("INC", "ELV", "NON_DIM", "NON_DIM_INC")),
    ("Sconces", ("ELV", "MLV", "NON_DIM_ELV", "NON_DIM_MLV", "FLUORESCENT_DB")),
    ("Cove", ("ELV", "DALI", "ECO_SYSTEM_FLUORESCENT", "NON_DIM_FLUORESCENT")),
    ("Chandelier", ("INC", "AUTO_DETECT", "RELAY_LIGHTING")),
    ("Under Cabinet", ("MLV", "ELV", "NON_DIM_MLV")),
    ("Fan", ("CEILING_FAN_TYPE",)),
    ("Exhaust Fan", ("EXHAUST_FAN_TYPE", "CCO_MAINTAINED")),
    ("Shades", ("SYSTEM_SHADE", "SIVOIA_QED", "MOTOR", "VENETIAN_BLIND")),
    ("Gate", ("CCO_PULSED", "SWITCHED_MOTOR")),
)
_WATTS = (40, 60, 75, 100, 150, 300, 500, 800)
_SCENE_BUTTON_TYPES = ("AdvancedToggle", "SingleAction", "Toggle", "AdvancedConditional", "DualAction")
_RAISE_LOWER_TYPES = ("MasterRaiseLower", "SingleSceneRaiseLower")
_KEYPAD_TYPES = {
    "HWQS": (
        ("SEETOUCH_KEYPAD", 4),
        ("HYBRID_SEETOUCH_KEYPAD", 2),
        ("SEETOUCH_TABLETOP_KEYPAD", 1),
        ("PALLADIOM_KEYPAD", 2),
        ("PICO_KEYPAD", 3),
        ("GRAFIK_EYE_QS", 1),
        ("INTERNATIONAL_SEETOUCH_KEYPAD", 1),
    ),
    "RA2": (
        ("SEETOUCH_KEYPAD", 4),
        ("HYBRID_SEETOUCH_KEYPAD", 2),
        ("SEETOUCH_TABLETOP_KEYPAD", 1),
        ("PICO_KEYPAD", 3),
        ("GRAFIK_EYE_QS", 1),
    ),
}
_DIMMER_TYPES = ("MAESTRO_DIMMER", "PID_DIMMER", "ADAPTIVE_DIMMER", "FAN_SPEED")


@dataclass(frozen=True, slots=True)
class GeneratorParams:
    """What house to generate. Defaults give a realistic two-floor HomeWorks QS house."""

    seed: int = 0
    system: str = "HWQS"  # "HWQS" or "RA2"
    floors: int = 2
    rooms_per_floor: int = 3
    zones_per_room: int = 3
    keypads_per_room: int = 2
    # 2: rooms under the root (RA2 style); 3: root > floor > room; 4: plus a sub-room inside the
    # first room of each floor.
    nested_depth: int = 4
    zone_directly_under_floor: bool = True  # an Output in a floor container (area = the floor)
    device_directly_under_devicegroups: bool = True  # HWQS VISOR_CONTROL_RECEIVER / RA2 MAIN_REPEATER
    missing_engravings: float = 0.3  # fraction of buttons without an engraving
    trailing_space_engravings: float = 0.15  # fraction of engravings exported with trailing spaces
    hostile_names: bool = False  # quotes, commas, equals, backslashes, emoji, &, <, ' in names
    entities: bool = True  # write ' as &apos; and é as &#233; (both occur in real exports)
    junk_prefix: bytes = b""  # bytes before <?xml (older HWQS software)
    bom: bool = False  # a UTF-8 byte order mark before the declaration
    empty_component_dimmers: bool = True  # HWQS dimmer Devices with <Components />
    pid_switch: bool = True  # a PID_SWITCH: BUTTON 6 and LED 65281 (pairs with nothing)
    motion_sensors: bool = True  # one MOTION_SENSOR (CCI 2) per floor
    main_repeater_buttons: int = 5  # RA2: how many of the phantom buttons 1-100 are programmed
    unpaired_leds: float = 0.1  # fraction of keypads listing an LED whose button is absent
    uuids: bool = True  # UUID attributes (RA2, HWQS 15.x; absent in HWQS 8.x/9.x)
    missing_serials: float = 0.25
    missing_wattage: float = 0.15  # Wattage attribute absent
    zero_wattage: float = 0.25  # Wattage="0" (unknown, like absent)
    occupancy: float = 0.7  # fraction of HWQS rooms with an occupancy group (RA2: every room)
    # The last room also gets one zone of every OutputType (docs/protocol.md §6.3) the house has
    # none of yet (RA2: those RA2 has), so every kind is present: lights, fans, shades, motors, CCOs.
    every_output_type: bool = True
    shade_groups: bool = True  # HWQS only: a ShadeGroup in rooms that have shades
    timeclocks: int = 2
    green_modes: bool = True  # HWQS only: a green mode in the first room of each floor
    actions: bool = True  # button Actions/Presets like real exports (bulk the parser must skip)
    export_date: str = "05/16/2025"
    export_time: str = "17:34:22"
    project_name: str = ""  # "" picks one from the seed

    def __post_init__(self) -> None:
        if self.system not in SYSTEMS:
            raise ValueError(f"system must be one of {SYSTEMS}, not {self.system!r}")
        if self.nested_depth not in (2, 3, 4):
            raise ValueError("nested_depth must be 2, 3 or 4")
        for name in ("floors", "rooms_per_floor", "zones_per_room", "keypads_per_room", "timeclocks"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        for name in (
            "missing_engravings",
            "trailing_space_engravings",
            "missing_serials",
            "missing_wattage",
            "zero_wattage",
            "occupancy",
            "unpaired_leds",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a fraction between 0 and 1")
        if not 0 <= self.main_repeater_buttons <= 100:
            raise ValueError("main_repeater_buttons must be between 0 and 100")

    @classmethod
    def radiora2(cls, seed: int = 0, **overrides: Any) -> GeneratorParams:
        """A RadioRA 2 house: rooms directly under the root area, a main repeater, no shade groups."""
        return cls(seed=seed, system="RA2", nested_depth=2, **overrides)

    @classmethod
    def sized(cls, zones: int, keypads: int, *, seed: int = 0, **overrides: Any) -> GeneratorParams:
        """A plain house with exactly `zones` zones and `keypads` keypads (for benchmarks).

        Extras that add zones or devices (sub-rooms, floor zones, sensors, dimmers, the VCRX) are off
        unless passed in `overrides`, in which case the counts grow by those; an RA2 house also has
        its main repeater.
        """
        if zones < 1 or keypads < 1:
            raise ValueError("zones and keypads must be at least 1")
        rooms = math.gcd(zones, keypads)
        floors = next(f for f in range(min(rooms, 8), 0, -1) if rooms % f == 0)
        base = cls(
            seed=seed,
            floors=floors,
            rooms_per_floor=rooms // floors,
            zones_per_room=zones // rooms,
            keypads_per_room=keypads // rooms,
            nested_depth=3,
            zone_directly_under_floor=False,
            device_directly_under_devicegroups=False,
            empty_component_dimmers=False,
            pid_switch=False,
            motion_sensors=False,
            every_output_type=False,
        )
        return replace(base, **overrides)


class _Builder:
    """Builds the model in document order, so tuples match what a parser reading the XML yields."""

    def __init__(self, params: GeneratorParams) -> None:
        self.p = params
        self.rng = random.Random(params.seed)
        self.next_iid = 1
        self.next_container = -1
        self.areas: list[Area] = []
        self.zones: list[Zone] = []
        self.keypads: list[Keypad] = []
        self.shade_groups: list[ShadeGroup] = []
        self.used_names: dict[str, int] = {}
        self.occupancy_numbers: list[int] = []
        self.first_room: Area | None = None  # where the HWQS VISOR_CONTROL_RECEIVER goes
        self.green_modes: list[GreenMode] = []
        self.rooms_built = 0

    def iid(self) -> int:
        value = self.next_iid
        self.next_iid += 1
        return value

    def unique(self, base: str) -> str:
        n = self.used_names.get(base, 0) + 1
        self.used_names[base] = n
        return base if n == 1 else f"{base} {n}"

    def room_name(self) -> str:
        pool = _ROOMS + _HOSTILE_ROOMS if self.p.hostile_names else _ROOMS
        return self.unique(self.rng.choice(pool))

    def add_area(self, name: str, iid: int, parent: Area | None, floor: str, group: int = 0) -> Area:
        if iid == 0:
            key = self.next_container
            self.next_container -= 1
        else:
            key = iid
        area = Area(key, iid, name, parent.key if parent else None, floor, group)
        self.areas.append(area)
        return area

    def build(self) -> Design:
        p = self.p
        project_name = p.project_name or f"{self.rng.choice(_PROJECTS)} {p.seed}"
        guid = f"{self.rng.getrandbits(128):032x}"
        hwqs = p.system == "HWQS"
        app_version = ("15.4.0" if p.uuids else "9.4.0") if hwqs else "12.10.0"
        project = Project(
            name=project_name,
            guid=guid,
            export_date=p.export_date,
            export_time=p.export_time,
            app_version=app_version,
            product_type="HWQS" if hwqs else "",
        )
        # HWQS names the root like a floor; RA2 roots carry the house's name.
        root_name = "Floor 001" if hwqs else project_name
        root = self.add_area(root_name, 0, None, root_name)
        if not hwqs:
            # Every RA2 system has one; the switch only decides whether it sits in a DeviceGroup.
            self.direct_device(root, "MAIN_REPEATER")
        if p.nested_depth == 2:
            if p.zone_directly_under_floor:
                self.zone(root, "Landscape")
            for r in range(p.floors * p.rooms_per_floor):
                self.room(root, root_name, sub_room=False, first=r == 0)
        else:
            for f in range(p.floors):
                name = _FLOORS[f] if f < len(_FLOORS) else f"Level {f + 1}"
                floor = self.add_area(name, 0, root, name)
                if p.zone_directly_under_floor:
                    self.zone(floor, "Stairs")
                for r in range(p.rooms_per_floor):
                    self.room(floor, name, sub_room=p.nested_depth == 4 and r == 0, first=r == 0)
        groups = tuple(
            OccupancyGroup(n, tuple(a.key for a in self.areas if a.occupancy_group == n))
            for n in self.occupancy_numbers
        )
        timeclock_names = ("Project Timeclock", "Vacation", "Daily", "Holiday")
        timeclocks = tuple(
            Timeclock(
                self.iid(),
                timeclock_names[i] if i < 4 else f"Timeclock {i + 1}",
                min(i, 3),
                _TIMECLOCK_MODES,
                _TIMECLOCK_EVENTS if i == 0 else _TIMECLOCK_EVENTS[:2],
            )
            for i in range(p.timeclocks)
        )
        return Design(
            project=project,
            areas=tuple(self.areas),
            zones=tuple(self.zones),
            keypads=tuple(self.keypads),
            occupancy_groups=groups,
            shade_groups=tuple(self.shade_groups),
            timeclocks=timeclocks,
            green_modes=tuple(self.green_modes),
        )

    def room(self, parent: Area, floor: str, *, sub_room: bool, first: bool = False) -> None:
        p, rng = self.p, self.rng
        name = self.room_name()
        iid = self.iid()
        group = 0
        if p.system == "RA2" or rng.random() < p.occupancy:
            group = 1000 + len(self.occupancy_numbers) + 1
            self.occupancy_numbers.append(group)
        area = self.add_area(name, iid, parent, floor, group)
        hwqs = p.system == "HWQS"
        if first and hwqs and p.green_modes:
            self.green_modes.append(GreenMode(iid, area.key, _GREEN_STEPS))
        # Document order inside an Area: DeviceGroups (direct devices first), ShadeGroups, Outputs.
        if first and hwqs and p.device_directly_under_devicegroups and self.first_room is None:
            self.first_room = area
            self.direct_device(area, "VISOR_CONTROL_RECEIVER")
        for k in range(p.keypads_per_room):
            self.keypad(area, k)
        if first and p.motion_sensors:
            self.device(area, "MOTION_SENSOR", f"{name} Ceiling")
        if first and hwqs and p.pid_switch and not self.any_type("PID_SWITCH"):
            self.device(area, "PID_SWITCH", f"{name} Switch")
        if hwqs and p.empty_component_dimmers and first:
            self.device(area, rng.choice(_DIMMER_TYPES), f"{name} Dimmer")
        zone_names = [self.zone_spec(name) for _ in range(p.zones_per_room)]
        self.rooms_built += 1
        if p.every_output_type and self.rooms_built == p.floors * p.rooms_per_floor:
            used = {z.output_type for z in self.zones} | {t for _, t in zone_names}
            for otype in ALL_OUTPUT_TYPES:
                if otype not in used and not (p.system == "RA2" and otype in _HWQS_ONLY_OUTPUTS):
                    zone_names.append((self.unique(f"{name} {_fixture_name(otype)}"), otype))
        if hwqs and p.shade_groups and any(t in _SHADE_TYPES for _, t in zone_names):
            self.shade_groups.append(ShadeGroup(self.iid(), f"{name} Shades", area.key))
        for zname, otype in zone_names:
            self.add_zone(area, zname, otype)
        if sub_room:
            sub_name = self.unique(f"{name} {rng.choice(_SUB_ROOMS)}")
            sub_iid = self.iid()
            sub_group = 0
            if p.system == "RA2":
                sub_group = 1000 + len(self.occupancy_numbers) + 1
                self.occupancy_numbers.append(sub_group)
            sub = self.add_area(sub_name, sub_iid, area, floor, sub_group)
            self.keypad(sub, 0)
            self.add_zone(sub, f"{sub_name} Downlights", "ELV")

    def any_type(self, device_type: str) -> bool:
        return any(k.device_type == device_type for k in self.keypads)

    def zone_spec(self, room: str) -> tuple[str, str]:
        fixture, types = self.rng.choice(_FIXTURES)
        if self.p.system == "RA2":
            types = tuple(t for t in types if t not in _HWQS_ONLY_OUTPUTS) or ("INC",)
        return self.unique(f"{room} {fixture}"), self.rng.choice(types)

    def zone(self, area: Area, fixture: str) -> None:
        self.add_zone(area, self.unique(f"{area.name} {fixture}"), "NON_DIM")

    def add_zone(self, area: Area, name: str, output_type: str) -> None:
        rng = self.rng
        watts = 0.0
        roll = rng.random()
        if roll >= self.p.missing_wattage + self.p.zero_wattage:
            watts = float(rng.choice(_WATTS))
        kind = kind_for(output_type)
        if kind not in POWER_KINDS:
            watts = 0.0  # real exports give shades, motors and contacts Wattage="0"
        zone = Zone(
            self.iid(),
            name,
            area.key,
            area.name,
            area.floor,
            output_type,
            watts,
            is_dimmable(output_type),
            kind,
        )
        self.zones.append(zone)

    def serial(self) -> str:
        if self.rng.random() < self.p.missing_serials:
            return ""
        return str(self.rng.randrange(10_000_000, 99_999_999))

    def buttons(self, components: list[int], raise_lower: set[int]) -> list[tuple[int, str, str]]:
        rng, p = self.rng, self.p
        pool = _ENGRAVINGS + _HOSTILE_ENGRAVINGS if p.hostile_names else _ENGRAVINGS
        out = []
        for c in components:
            if c in raise_lower:
                out.append((c, "", rng.choice(_RAISE_LOWER_TYPES)))
                continue
            engraving = "" if rng.random() < p.missing_engravings else rng.choice(pool)
            out.append((c, engraving, rng.choice(_SCENE_BUTTON_TYPES)))
        return out

    def layout(self, device_type: str) -> tuple[list[int], set[int], list[int], list[int]]:
        """(buttons, raise/lower buttons, LEDs, CCIs) for a device type, per docs/protocol.md §5.2."""
        rng = self.rng
        if device_type in ("SEETOUCH_KEYPAD", "HYBRID_SEETOUCH_KEYPAD"):
            scenes, rl = rng.choice(
                (
                    ([1, 2, 3, 4, 5, 6, 7], []),
                    ([1, 2, 3, 4, 5, 6], [18, 19]),
                    ([1, 2, 3, 4, 5], [18, 19]),
                    ([1, 3, 5], []),
                    ([1, 2, 3, 4], [16, 17, 18, 19]),
                )
            )
            leds = [c + 80 for c in scenes]
            if rng.random() < self.p.unpaired_leds and 7 not in scenes:
                leds.append(87)  # the LED exists even where the keypad has no button 7
            ccis = [25, 26] if device_type == "HYBRID_SEETOUCH_KEYPAD" and rng.random() < 0.3 else []
            return scenes + rl, set(rl), leds, ccis
        if device_type == "INTERNATIONAL_SEETOUCH_KEYPAD":
            scenes = list(range(1, 11))
            return [*scenes, 18, 19], {18, 19}, [c + 80 for c in scenes], []
        if device_type == "SEETOUCH_TABLETOP_KEYPAD":
            scenes = rng.choice((list(range(1, 16)), [*range(1, 11), 16, 17]))
            rl = [20, 21, 22, 23, 24, 25]
            return scenes + rl, set(rl), [c + 80 for c in scenes], []
        if device_type == "PALLADIOM_KEYPAD":
            scenes = rng.choice(([1, 2, 3], [1, 2, 3, 4], list(range(1, 9))))
            rl = [16, 17, 18, 19] if len(scenes) < 8 and rng.random() < 0.5 else []
            return scenes + rl, set(rl), [c + 80 for c in scenes], []
        if device_type == "PICO_KEYPAD":
            buttons, rl = rng.choice((([2, 3, 4, 5, 6], [5, 6]), ([2, 4], []), ([8, 9, 10, 11], [])))
            return buttons, set(rl), [], []
        if device_type == "GRAFIK_EYE_QS":
            scenes = [70, 71, 76, 77, 83]
            columns = [38, 39, 44, 45]
            return sorted(scenes + columns), set(columns), [201, 210, 219, 228, 237], [163]
        if device_type == "MOTION_SENSOR":
            return [], set(), [], [2]
        if device_type == "PID_SWITCH":
            return [6], set(), [65281], []
        if device_type == "VISOR_CONTROL_RECEIVER":
            return [1, 2, 3, 4, 5, 6], set(), [81, 82, 83, 84, 85, 86], [30, 31, 32, 33]
        if device_type == "MAIN_REPEATER":
            phantom = sorted(rng.sample(range(1, 101), self.p.main_repeater_buttons))
            return phantom, set(), [c + 100 for c in phantom], []
        return [], set(), [], []  # dimmers and other devices: empty Components

    def make_keypad(
        self, area: Area, name: str, device_name: str, device_type: str, iid: int | None = None
    ) -> Keypad:
        components, rl, leds, ccis = self.layout(device_type)
        led_set = set(leds)
        buttons = []
        for c, engraving, btype in self.buttons(components, rl):
            led = _led_for(device_type, c)
            buttons.append(
                Button(
                    component=c,
                    engraving=engraving,
                    name=engraving or f"Button {c}",
                    led_component=led if led in led_set else None,
                    button_type=btype,
                )
            )
        return Keypad(
            id=self.iid() if iid is None else iid,
            name=name,
            device_name=device_name,
            device_type=device_type,
            area_key=area.key,
            area=area.name,
            floor=area.floor,
            serial=self.serial() if self.p.system == "HWQS" else str(self.rng.randrange(10**7, 10**8)),
            buttons=tuple(buttons),
            leds=tuple(sorted(leds)),
            ccis=tuple(ccis),
        )

    def keypad(self, area: Area, k: int) -> None:
        weights = _KEYPAD_TYPES[self.p.system]
        device_type = self.rng.choices([t for t, _ in weights], [w for _, w in weights])[0]
        location = self.rng.choice(_LOCATIONS)
        name = f"{area.name} {location} {k + 1}"
        device_name = f"CSD {k + 1:03d}" if self.p.system == "HWQS" else f"{location} Keypad {k + 1}"
        self.keypads.append(self.make_keypad(area, name, device_name, device_type))

    def device(self, area: Area, device_type: str, name: str) -> None:
        device_name = "CSD 009" if self.p.system == "HWQS" else name
        self.keypads.append(self.make_keypad(area, name, device_name, device_type))

    def direct_device(self, area: Area, device_type: str) -> None:
        if self.p.system == "HWQS":
            # Default device name: the parser names such a keypad after its area.
            self.keypads.append(self.make_keypad(area, area.name, "CSD 001", device_type))
        else:
            self.keypads.append(self.make_keypad(area, "Main Repeater", "Main Repeater", device_type))


_TIMECLOCK_MODES = (TimeclockMode(1, "Normal"), TimeclockMode(2, "Away"))
_TIMECLOCK_EVENTS = (
    TimeclockEvent(1, "Sunset", "VariableOffset", "", "0", "127"),
    TimeclockEvent(2, "All Off", "Fixed", "01:00:00", "", "127"),
    TimeclockEvent(3, "Evening Lights", "Fixed", "18:30:00", "", "31"),
    TimeclockEvent(4, "Sunrise Shades", "VariableOffset", "", "-15", "127"),
)
_GREEN_STEPS = (GreenStep(1, "Normal"), GreenStep(2, "Green 1"), GreenStep(3, "Green 2"))
_SHADE_TYPES = frozenset({"SYSTEM_SHADE", "SIVOIA_QED", "MOTOR", "VENETIAN_BLIND", "SHEER_BLIND"})
ALL_OUTPUT_TYPES = tuple(OUTPUT_KINDS)
_EXTRA_FIXTURE_NAMES = {"SHEER_BLIND": "Sheers", "CCO_PULSED": "Gate", "CCO_MAINTAINED": "Pump Relay"}


def _fixture_name(output_type: str) -> str:
    if output_type in _EXTRA_FIXTURE_NAMES:
        return _EXTRA_FIXTURE_NAMES[output_type]
    return next((f for f, types in _FIXTURES if output_type in types), "Load")


_HWQS_ONLY_OUTPUTS = frozenset({"SYSTEM_SHADE", "DALI", "ECO_SYSTEM_FLUORESCENT", "FLUORESCENT_DB", "MOTOR"})


def _led_for(device_type: str, component: int) -> int | None:
    """The generator's own copy of the pairing table (docs/protocol.md §5.2), so round-trip tests check the parser's."""
    if device_type in ("MAIN_REPEATER",):
        return component + 100
    if device_type == "GRAFIK_EYE_QS":
        return {70: 201, 71: 210, 76: 219, 77: 228, 83: 237}.get(component)
    if device_type in (
        "SEETOUCH_KEYPAD",
        "HYBRID_SEETOUCH_KEYPAD",
        "SEETOUCH_TABLETOP_KEYPAD",
        "INTERNATIONAL_SEETOUCH_KEYPAD",
        "PALLADIOM_KEYPAD",
        "VISOR_CONTROL_RECEIVER",
    ):
        return component + 80
    return None


def generate_design(params: GeneratorParams | None = None) -> Design:
    """The house `params` describes, as the model `parse_design` must return for its XML."""
    return _Builder(params or GeneratorParams()).build()


def _attrs(**kwargs: str | int | None) -> dict[str, str]:
    return {k: str(v) for k, v in kwargs.items() if v is not None}


class _XmlWriter:
    """Writes a Design as a DbXmlInfo.xml export; cosmetic quirks come from a second seeded RNG."""

    def __init__(self, design: Design, params: GeneratorParams) -> None:
        self.d = design
        self.p = params
        # Separate stream: cosmetic choices must not change the model the first stream built.
        self.rng = random.Random(params.seed * 7919 + 17)
        self.children: dict[int | None, list[Area]] = {}
        for a in design.areas:
            self.children.setdefault(a.parent_key, []).append(a)
        self.zones_in: dict[int, list[Zone]] = {}
        for z in design.zones:
            self.zones_in.setdefault(z.area_key, []).append(z)
        self.keypads_in: dict[int, list[Keypad]] = {}
        for k in design.keypads:
            self.keypads_in.setdefault(k.area_key, []).append(k)
        self.shades_in: dict[int, list[ShadeGroup]] = {}
        for s in design.shade_groups:
            self.shades_in.setdefault(s.area_key, []).append(s)

    def uuid(self) -> str | None:
        if not self.p.uuids:
            return None
        return f"{self.rng.getrandbits(32)}"

    def write(self) -> bytes:
        d, p = self.d, self.p
        root = ET.Element("Project")
        ET.SubElement(root, "ProjectName", _attrs(ProjectName=d.project.name, UUID=self.uuid()))
        ET.SubElement(root, "Dealer", AccountNumber="000000", UserID="0")
        ET.SubElement(
            root,
            "DealerInformation",
            Name="Example Lighting Dealer",
            Email="dealer@example.invalid",
            Phone="+1 555 0100",
        )
        for tag, text in (
            ("Latitude", "40.7128"),
            ("Longitude", "-74.0060"),
            ("Copyright", "Copyright (c) Example"),
            ("GUID", d.project.guid),
            ("ProductType", d.project.product_type or None),
            ("AppVer", d.project.app_version),
            ("XMLVer", "1.0"),
            ("DbExportDate", d.project.export_date),
            ("DbExportTime", d.project.export_time),
        ):
            if text is not None:
                ET.SubElement(root, tag).text = text
        prefs = ET.SubElement(root, "GlobalPreferences")
        ET.SubElement(prefs, "RaiseLowerDirection").text = "0"
        areas = ET.SubElement(root, "Areas")
        for top in self.children.get(None, []):
            self.area(areas, top)
        groups = ET.SubElement(root, "OccupancyGroups")
        for g in d.occupancy_groups:
            ET.SubElement(groups, "OccupancyGroup", _attrs(OccupancyGroupNumber=g.number, UUID=self.uuid()))
        clocks = ET.SubElement(root, "Timeclocks")
        for t in d.timeclocks:
            clock = ET.SubElement(
                clocks,
                "Timeclock",
                _attrs(Name=t.name, UUID=self.uuid(), IntegrationID=t.id, SortOrder=0, Type=t.type),
            )
            modes = ET.SubElement(clock, "TimeclockModes")
            for m in t.modes:
                ET.SubElement(modes, "TimeclockMode", Name=m.name, Index=str(m.index), Type="0")
            events = ET.SubElement(clock, "TimeClockEvents")
            for e in t.events:
                event = ET.SubElement(
                    events,
                    "TimeClockEvent",
                    _attrs(
                        Name=e.name,
                        UUID=self.uuid(),
                        Type=e.kind,
                        Time=e.time or None,
                        Offset=e.offset or None,
                        EventNumber=e.number,
                        ScheduleType="0",
                        Days=e.days,
                        Mode="1",
                    ),
                )
                ET.SubElement(event, "Actions")  # what it runs: not part of the model
        ET.SubElement(root, "HVACs")
        if d.green_modes:
            green = ET.SubElement(root, "GreenModes")
            for gm in d.green_modes:
                el = ET.SubElement(green, "GreenMode", _attrs(IntegrationID=gm.id, UUID=self.uuid()))
                steps = ET.SubElement(el, "GreenModeSteps")
                for st in gm.steps:
                    ET.SubElement(steps, "GreenModeStep", Name=st.name, StepNumber=str(st.number))
        ET.indent(root, space="")  # one element per line, as the processor writes it
        body = ET.tostring(root, encoding="unicode")
        if p.entities:
            # ElementTree writes these literally; real exports use references, parsers must decode.
            body = body.replace("'", "&apos;").replace("é", "&#233;")
        header = '<?xml version="1.0" encoding="UTF-8" ?>\n'
        return p.junk_prefix + (b"\xef\xbb\xbf" if p.bom else b"") + (header + body + "\n").encode("utf-8")

    def area(self, parent: ET.Element, area: Area) -> None:
        el = ET.SubElement(
            parent,
            "Area",
            _attrs(
                Name=area.name,
                UUID=self.uuid(),
                IntegrationID=area.iid,
                OccupancyGroupAssignedToID=area.occupancy_group,
                SortOrder=0,
            ),
        )
        groups = ET.SubElement(el, "DeviceGroups")
        for i, k in enumerate(self.keypads_in.get(area.key, [])):
            if self.p.device_directly_under_devicegroups and k.device_type in DIRECT_DEVICE_TYPES:
                self.device(groups, k, i)
                continue
            group = ET.SubElement(groups, "DeviceGroup", Name=k.name, SortOrder=str(i))
            self.device(ET.SubElement(group, "Devices"), k, 0)
        scenes = ET.SubElement(el, "Scenes")
        if self.p.system == "HWQS" and not area.is_container:
            ET.SubElement(scenes, "Scene", Number="1", Name="Scene 1")
        if self.p.system == "HWQS":
            shades = ET.SubElement(el, "ShadeGroups")
            for i, s in enumerate(self.shades_in.get(area.key, [])):
                ET.SubElement(shades, "ShadeGroup", _attrs(IntegrationID=s.id, Name=s.name, SortOrder=i))
        outputs = ET.SubElement(el, "Outputs")
        for i, z in enumerate(self.zones_in.get(area.key, [])):
            ET.SubElement(
                outputs,
                "Output",
                _attrs(
                    Name=z.name,
                    UUID=self.uuid(),
                    IntegrationID=z.id,
                    OutputType=z.output_type,
                    # Real exports give shades, motors and contacts Wattage="0".
                    Wattage=self.wattage(z.rated_watts) if z.kind in POWER_KINDS else "0",
                    SortOrder=i,
                ),
            )
        sub = ET.SubElement(el, "Areas")
        for child in self.children.get(area.key, []):
            self.area(sub, child)

    def wattage(self, watts: float) -> str | None:
        if watts:
            return str(int(watts)) if watts.is_integer() else repr(watts)
        total = self.p.missing_wattage + self.p.zero_wattage
        if total and self.rng.random() < self.p.missing_wattage / total:
            return None
        return "0"

    def engraving(self, text: str) -> str | None:
        if not text:
            # Both shapes occur: the attribute absent, or present and empty or blank.
            return self.rng.choice((None, None, "", " "))
        if self.rng.random() < self.p.trailing_space_engravings:
            return text + " " * self.rng.randint(1, 3)
        return text

    def device(self, parent: ET.Element, k: Keypad, sort_order: int) -> None:
        dev = ET.SubElement(
            parent,
            "Device",
            _attrs(
                Name=k.device_name,
                UUID=self.uuid(),
                SerialNumber=k.serial or None,
                IntegrationID=k.id,
                DeviceType=k.device_type or None,
                GangPosition=0,
                SortOrder=sort_order,
            ),
        )
        comps = ET.SubElement(dev, "Components")
        items: list[tuple[int, str, Button | None]] = [(b.component, "BUTTON", b) for b in k.buttons]
        items += [(c, "LED", None) for c in k.leds]
        items += [(c, "CCI", None) for c in k.ccis]
        if k.device_type == "GRAFIK_EYE_QS":
            items.append((141, "SCENE_CONTROLLER", None))
        zones = self.zones_in.get(k.area_key, [])
        for ordinal, (number, ctype, button) in enumerate(sorted(items, key=lambda t: t[0]), start=1):
            comp = ET.SubElement(comps, "Component", ComponentNumber=str(number), ComponentType=ctype)
            if button is not None:
                self.button(comp, button, ordinal, zones)
            elif ctype == "LED":
                ET.SubElement(comp, "LED", _attrs(UUID=self.uuid(), isReverseLogic="false"))
            elif ctype == "CCI":
                ET.SubElement(comp, "CCI", _attrs(UUID=self.uuid()))
            else:
                ET.SubElement(comp, "SceneController", _attrs(UUID=self.uuid()))

    def button(self, comp: ET.Element, b: Button, ordinal: int, zones: list[Zone]) -> None:
        el = ET.SubElement(
            comp,
            "Button",
            _attrs(
                Name=f"Button {ordinal}",  # an ordinal, not the component number (docs/protocol.md §6.4)
                UUID=self.uuid(),
                Engraving=self.engraving(b.engraving),
                ButtonType=b.button_type or None,
                LedLogic="1",
            ),
        )
        if not self.p.actions or not zones:
            return
        actions = ET.SubElement(el, "Actions")
        action = ET.SubElement(actions, "Action", Name="Press", ActionType="3")
        preset = ET.SubElement(ET.SubElement(action, "Presets"), "Preset", _attrs(UUID=self.uuid()))
        assignments = ET.SubElement(preset, "PresetAssignments")
        for z in zones[:3]:
            pa = ET.SubElement(assignments, "PresetAssignment", AssignmentName=z.name, AssignmentType="2")
            for tag, text in (("Delay", "0"), ("Fade", "2"), ("Level", "100"), ("IntegrationID", str(z.id))):
                ET.SubElement(pa, tag).text = text


def design_to_xml(design: Design, params: GeneratorParams | None = None) -> bytes:
    """`design` as a DbXmlInfo.xml export in the real shape, with the cosmetic quirks of `params`.

    Cosmetic means the parse result does not depend on it: trailing spaces on engravings, absent vs
    empty attributes, entities, UUIDs, junk before the declaration, filler elements.
    """
    return _XmlWriter(design, params or GeneratorParams()).write()


def generate(params: GeneratorParams | None = None) -> tuple[Design, bytes]:
    """The model and its XML export, for the simulator (which serves the XML and plays the model)."""
    params = params or GeneratorParams()
    design = generate_design(params)
    return design, design_to_xml(design, params)
