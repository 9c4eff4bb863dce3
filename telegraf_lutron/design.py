"""The design model: an immutable, typed picture of a processor's DbXmlInfo.xml.

Only the model lives here; reading XML into it is `design_xml.py`, fetching and caching it is
`design_cache.py`. Everything is keyed by Integration ID (IID); areas with IID 0 are containers
(the root area and floors) and get negative synthetic keys so they stay addressable in the tree.
An area stores its parent's key, not its path: `Design.area_path` walks up (a stored path per
area made deep nesting cost memory quadratic in the depth).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from telegraf_lutron.errors import TelegrafLutronError

# OutputTypes that are on/off only (docs/protocol.md §6.4). Every NON_DIM* counts too.
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

# LED = button + offset on these keypads (docs/protocol.md §5.2, §6.4).
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
# Devices whose own `~DEVICE,<id>,2,3|4` is occupied/vacant, not a button (docs/protocol.md §5.2).
MOTION_DEVICE_TYPES = frozenset({"MOTION_SENSOR", "OCCUPANCY_SENSOR", "VACANCY_SENSOR"})
MOTION_COMPONENT = 2
# Battery-powered RadioRA 2 devices, asked `?DEVICE,<id>,1,22` (docs/protocol.md §5.2).
BATTERY_DEVICE_TYPES = frozenset({"PICO_KEYPAD", *MOTION_DEVICE_TYPES})
# Output types whose tilt `~OUTPUT,<id>,9|10` reports (docs/protocol.md §5.1).
TILT_OUTPUT_TYPES = frozenset({"VENETIAN_BLIND"})


# What each OutputType is (docs/protocol.md §6.3). `load` is never exported: only an owner's
# `[[zone]]` override makes a zone a load (a switched heater, pump or receptacle).
KINDS = ("light", "fan", "shade", "motor", "contact", "load")
# Kinds that draw power on their own; shades, motors and contacts draw 0 W unless an override gives
# them watts (a shade's level is how far it is open, not power).
POWER_KINDS = frozenset({"light", "fan", "load"})
OUTPUT_KINDS: dict[str, str] = {
    **dict.fromkeys(
        (
            "INC",
            "MLV",
            "ELV",
            "AUTO_DETECT",
            "DALI",
            "ECO_SYSTEM_FLUORESCENT",
            "FLUORESCENT_DB",
            "ZERO_TO_TEN",
            "NON_DIM",
            "NON_DIM_INC",
            "NON_DIM_ELV",
            "NON_DIM_MLV",
            "NON_DIM_FLUORESCENT",
            "RELAY_LIGHTING",
        ),
        "light",
    ),
    "CEILING_FAN_TYPE": "fan",
    "EXHAUST_FAN_TYPE": "fan",
    "SYSTEM_SHADE": "shade",
    "SIVOIA_QED": "shade",
    "SHEER_BLIND": "shade",
    "VENETIAN_BLIND": "shade",
    "MOTOR": "motor",
    "SWITCHED_MOTOR": "motor",
    "CCO_PULSED": "contact",
    "CCO_MAINTAINED": "contact",
}
# A ceiling fan's level is a speed step (openHAB's steps): off, low, medium, medium-high, high.
FAN_SPEED_STEPS = (0.0, 25.0, 50.0, 75.0, 100.0)
SPEED_OUTPUT_TYPES = frozenset({"CEILING_FAN_TYPE"})
# A pulsed contact closure answers `?OUTPUT` with 100 forever (openHAB, RA2): never queried, never on.
PULSED_OUTPUT_TYPES = frozenset({"CCO_PULSED"})


def is_dimmable(output_type: str) -> bool:
    """True when a zone of this OutputType takes levels between 0 and 100 (not just on/off)."""
    return not output_type.startswith("NON_DIM") and output_type not in NON_DIMMABLE_OUTPUT_TYPES


def known_kind(output_type: str) -> str | None:
    """The kind of a zone of this OutputType, or None when the type is not one we know."""
    kind = OUTPUT_KINDS.get(output_type)
    if kind is None and output_type.startswith("NON_DIM"):
        return "light"
    return kind


def kind_for(output_type: str) -> str:
    """The kind of a zone of this OutputType; an unknown type counts as a light."""
    return known_kind(output_type) or "light"


def speed_step(level: float) -> int:
    """The fan speed step (1 low .. 4 high) nearest to a level above 0; 0 for off."""
    if level <= 0.0:
        return 0
    return max(1, min(len(FAN_SPEED_STEPS) - 1, round(min(level, 100.0) / 25.0)))


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
    # Watts at 100 %: the design's Wattage, or an owner's override. 0.0 means unknown for the kinds
    # that draw power, and "draws nothing" for shades, motors and contacts (their Wattage is ignored).
    rated_watts: float
    dimmable: bool
    kind: str = ""  # light, fan, shade, motor, contact or load; "" = from the OutputType
    speed_watts: tuple[float, ...] = ()  # fans: watts at off, low, medium, medium-high, high

    def __post_init__(self) -> None:
        if not self.kind:
            object.__setattr__(self, "kind", kind_for(self.output_type))

    @property
    def pulsed(self) -> bool:
        """A pulsed contact closure: never queried, never on; each report above 0 is one pulse."""
        return self.output_type in PULSED_OUTPUT_TYPES

    @property
    def has_speeds(self) -> bool:
        """Its level is a fan speed step (rated x level / 100 unless `speed_watts` says otherwise)."""
        return self.output_type in SPEED_OUTPUT_TYPES

    @property
    def draws_power(self) -> bool:
        """Its kind draws power (light, fan, load), or an override gave it watts."""
        return self.kind in POWER_KINDS or self.rated_watts > 0 or bool(self.speed_watts)

    @property
    def wattage_known(self) -> bool:
        return self.rated_watts > 0 or any(w > 0 for w in self.speed_watts)


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
class TimeclockMode:
    index: int
    name: str


@dataclass(frozen=True, slots=True)
class TimeclockEvent:
    """One scheduled event: `~TIMECLOCK,<id>,5,<number>` reports it running."""

    number: int  # EventNumber, 1-based
    name: str
    kind: str = ""  # Type: "Fixed" (a time of day) or "VariableOffset" (from sunrise/sunset)
    time: str = ""  # Fixed: HH:MM[:SS]
    offset: str = ""  # VariableOffset: minutes from the sun event
    days: str = ""  # Days as exported (a weekday mask or list)


@dataclass(frozen=True, slots=True)
class Timeclock:
    id: int
    name: str
    type: int = 0
    modes: tuple[TimeclockMode, ...] = ()
    events: tuple[TimeclockEvent, ...] = ()

    def mode_name(self, index: int) -> str:
        return next((m.name for m in self.modes if m.index == index), "")


@dataclass(frozen=True, slots=True)
class GreenStep:
    number: int
    name: str


@dataclass(frozen=True, slots=True)
class GreenMode:
    """An area's green mode (`?MODE,<id>,1`). `id` is the IntegrationID the processor is asked
    with: the area's own (GreenMode@IntegrationID names it), so `area_key` is that area when the
    design has it, else 0."""

    id: int
    area_key: int
    steps: tuple[GreenStep, ...] = ()

    def step_name(self, number: int) -> str:
        return next((s.name for s in self.steps if s.number == number), "")


@dataclass(frozen=True, slots=True)
class Input:
    """A contact closure input (CCI component, `input` "contact") or a motion/occupancy sensor
    (`input` "motion"): `~DEVICE,<device>,<component>,3|4` closes/opens it, not a button."""

    device: int
    component: int
    kind: str  # "contact" or "motion"
    device_name: str
    area_key: int
    area: str


@dataclass(frozen=True, slots=True)
class Design:
    project: Project
    areas: tuple[Area, ...] = ()
    zones: tuple[Zone, ...] = ()
    keypads: tuple[Keypad, ...] = ()
    occupancy_groups: tuple[OccupancyGroup, ...] = ()
    shade_groups: tuple[ShadeGroup, ...] = ()
    timeclocks: tuple[Timeclock, ...] = ()
    green_modes: tuple[GreenMode, ...] = ()
    _zone_index: dict[int, Zone] = field(init=False, repr=False, compare=False)
    _keypad_index: dict[int, Keypad] = field(init=False, repr=False, compare=False)
    _area_index: dict[int, Area] = field(init=False, repr=False, compare=False)
    _input_index: dict[tuple[int, int], Input] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone_index", {z.id: z for z in self.zones})
        object.__setattr__(self, "_keypad_index", {k.id: k for k in self.keypads})
        object.__setattr__(self, "_area_index", {a.key: a for a in self.areas})
        inputs = {(i.device, i.component): i for i in _inputs(self.keypads)}
        object.__setattr__(self, "_input_index", inputs)

    def zone(self, iid: int) -> Zone | None:
        return self._zone_index.get(iid)

    def keypad(self, iid: int) -> Keypad | None:
        return self._keypad_index.get(iid)

    def area(self, key: int) -> Area | None:
        return self._area_index.get(key)

    def input(self, device: int, component: int) -> Input | None:
        """The contact input or sensor at (device, component), None when that is a button."""
        return self._input_index.get((device, component))

    @property
    def inputs(self) -> tuple[Input, ...]:
        return tuple(self._input_index.values())

    @property
    def battery_devices(self) -> tuple[Keypad, ...]:
        """Battery-powered wireless devices (Picos, motion sensors): asked for their battery."""
        return tuple(k for k in self.keypads if k.device_type in BATTERY_DEVICE_TYPES)

    @property
    def tilt_zones(self) -> tuple[Zone, ...]:
        return tuple(z for z in self.zones if z.output_type in TILT_OUTPUT_TYPES)

    def area_path(self, key: int) -> tuple[str, ...]:
        """Names from the root area down to area `key`, inclusive (() for an unknown key)."""
        names: list[str] = []
        seen: set[int] = set()
        area = self._area_index.get(key)
        while area is not None and area.key not in seen:  # a cycle cannot loop forever
            seen.add(area.key)
            names.append(area.name)
            area = self._area_index.get(area.parent_key) if area.parent_key is not None else None
        return tuple(reversed(names))

    @property
    def rooms(self) -> tuple[Area, ...]:
        """Areas that are real rooms (IID != 0): the ones with occupancy and commands."""
        return tuple(a for a in self.areas if not a.is_container)

    @property
    def occupancy_areas(self) -> tuple[Area, ...]:
        """Rooms whose occupancy the processor reports (queried by Area IID, docs/protocol.md §5.3)."""
        return tuple(a for a in self.rooms if a.occupancy_group)


def _inputs(keypads: tuple[Keypad, ...]) -> list[Input]:
    """Every CCI component is a contact input; a motion sensor's component 2 (CCI or not) is motion."""
    out: list[Input] = []
    for k in keypads:
        if k.device_type in MOTION_DEVICE_TYPES:
            for c in k.ccis or (MOTION_COMPONENT,):
                out.append(Input(k.id, c, "motion", k.name, k.area_key, k.area))
        else:
            out.extend(Input(k.id, c, "contact", k.name, k.area_key, k.area) for c in k.ccis)
    return out


class DesignError(TelegrafLutronError):
    """A design could not be read, fetched or parsed; the message is one line saying what to do."""


def normalize_revision(revision: str) -> str:
    """A design revision in the `?SYSTEM,10` form `MM/DD/YYYY,HH:MM:SS`, zero-padded.

    Accepts the reply payload with or without padding, and a space instead of the comma; anything
    unparseable comes back stripped, so it still compares equal to itself.
    """
    text = revision.strip()
    for fmt in ("%m/%d/%Y,%H:%M:%S", "%m/%d/%Y %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).strftime("%m/%d/%Y,%H:%M:%S")
        except ValueError:
            continue
    return text


# --- JSON form of the model (the cache stores this; never pickle) ---------------------------------

# 2: zones carry their kind and fans their speed watts (schema 1 caches are read again from their XML).
MODEL_SCHEMA = 2


def design_to_dict(design: Design) -> dict[str, Any]:
    """The model as JSON-ready data; `design_from_dict` reverses it exactly."""
    return {
        "schema": MODEL_SCHEMA,
        "project": asdict(design.project),
        "areas": [asdict(a) for a in design.areas],
        "zones": [asdict(z) for z in design.zones],
        "keypads": [asdict(k) for k in design.keypads],
        "occupancy_groups": [asdict(g) for g in design.occupancy_groups],
        "shade_groups": [asdict(s) for s in design.shade_groups],
        "timeclocks": [asdict(t) for t in design.timeclocks],
        "green_modes": [asdict(g) for g in design.green_modes],
    }


def _typed(value: Any, kind: type) -> Any:
    # bool is an int subclass: keep ints from sneaking in as bools and the other way round.
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def _seq(values: Any) -> list[Any] | tuple[Any, ...]:
    if not isinstance(values, list | tuple):
        raise ValueError(f"expected a list, got {type(values).__name__}")
    return values


def _ints(values: Any) -> tuple[int, ...]:
    return tuple(_typed(v, int) for v in _seq(values))


def _kind(value: Any) -> str:
    if _typed(value, str) not in KINDS:
        raise ValueError(f"unknown zone kind {value!r}")
    return str(value)


def _opt_int(value: Any) -> int | None:
    return None if value is None else _typed(value, int)


def design_from_dict(data: Any) -> Design:
    """Rebuild a Design from `design_to_dict` output; raises ValueError on anything malformed."""
    try:
        if not isinstance(data, dict) or data.get("schema") != MODEL_SCHEMA:
            raise ValueError(f"not a design model of schema {MODEL_SCHEMA}")
        p = data["project"]
        project = Project(**{f: _typed(p[f], str) for f in Project.__dataclass_fields__})
        areas = tuple(
            Area(
                key=_typed(a["key"], int),
                iid=_typed(a["iid"], int),
                name=_typed(a["name"], str),
                parent_key=_opt_int(a["parent_key"]),  # a "path" of older caches is ignored
                floor=_typed(a["floor"], str),
                occupancy_group=_typed(a["occupancy_group"], int),
            )
            for a in data["areas"]
        )
        zones = tuple(
            Zone(
                id=_typed(z["id"], int),
                name=_typed(z["name"], str),
                area_key=_typed(z["area_key"], int),
                area=_typed(z["area"], str),
                floor=_typed(z["floor"], str),
                output_type=_typed(z["output_type"], str),
                rated_watts=_typed(z["rated_watts"], float),
                dimmable=_typed(z["dimmable"], bool),
                kind=_kind(z["kind"]),
                speed_watts=tuple(_typed(w, float) for w in _seq(z["speed_watts"])),
            )
            for z in data["zones"]
        )
        keypads = tuple(
            Keypad(
                id=_typed(k["id"], int),
                name=_typed(k["name"], str),
                device_name=_typed(k["device_name"], str),
                device_type=_typed(k["device_type"], str),
                area_key=_typed(k["area_key"], int),
                area=_typed(k["area"], str),
                floor=_typed(k["floor"], str),
                serial=_typed(k["serial"], str),
                buttons=tuple(
                    Button(
                        component=_typed(b["component"], int),
                        engraving=_typed(b["engraving"], str),
                        name=_typed(b["name"], str),
                        led_component=_opt_int(b["led_component"]),
                        button_type=_typed(b["button_type"], str),
                    )
                    for b in k["buttons"]
                ),
                leds=_ints(k["leds"]),
                ccis=_ints(k["ccis"]),
            )
            for k in data["keypads"]
        )
        groups = tuple(
            OccupancyGroup(_typed(g["number"], int), _ints(g["area_keys"])) for g in data["occupancy_groups"]
        )
        shades = tuple(
            ShadeGroup(_typed(s["id"], int), _typed(s["name"], str), _typed(s["area_key"], int))
            for s in data["shade_groups"]
        )
        clocks = tuple(
            Timeclock(
                _typed(t["id"], int),
                _typed(t["name"], str),
                _typed(t["type"], int),
                # Caches written before time clock modes and events were read have neither.
                tuple(
                    TimeclockMode(_typed(m["index"], int), _typed(m["name"], str))
                    for m in _seq(t.get("modes", []))
                ),
                tuple(
                    TimeclockEvent(**{f: _typed(e[f], int if f == "number" else str) for f in _EVENT_FIELDS})
                    for e in _seq(t.get("events", []))
                ),
            )
            for t in data["timeclocks"]
        )
        green = tuple(
            GreenMode(
                _typed(g["id"], int),
                _typed(g["area_key"], int),
                tuple(GreenStep(_typed(s["number"], int), _typed(s["name"], str)) for s in _seq(g["steps"])),
            )
            for g in _seq(data.get("green_modes", []))
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"malformed design model: {type(exc).__name__}: {exc}") from None
    return Design(project, areas, zones, keypads, groups, shades, clocks, green)


_EVENT_FIELDS = tuple(TimeclockEvent.__dataclass_fields__)


# --- differences between two revisions -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Renamed:
    id: int
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class Named:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class DesignDiff:
    """What changed from one design revision to the next, by Integration ID."""

    old_revision: str
    new_revision: str
    zones_added: tuple[Named, ...] = ()
    zones_removed: tuple[Named, ...] = ()
    zones_renamed: tuple[Renamed, ...] = ()
    keypads_added: tuple[Named, ...] = ()
    keypads_removed: tuple[Named, ...] = ()
    keypads_renamed: tuple[Renamed, ...] = ()

    @property
    def empty(self) -> bool:
        return not (
            self.zones_added
            or self.zones_removed
            or self.zones_renamed
            or self.keypads_added
            or self.keypads_removed
            or self.keypads_renamed
        )

    def summary(self) -> str:
        """One line for the log, e.g. `zones +2 -1 ~0, keypads +0 -0 ~3`."""
        return (
            f"zones +{len(self.zones_added)} -{len(self.zones_removed)} ~{len(self.zones_renamed)}, "
            f"keypads +{len(self.keypads_added)} -{len(self.keypads_removed)} ~{len(self.keypads_renamed)}"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _diff_named(
    old: dict[int, str], new: dict[int, str]
) -> tuple[tuple[Named, ...], tuple[Named, ...], tuple[Renamed, ...]]:
    added = tuple(Named(i, n) for i, n in new.items() if i not in old)
    removed = tuple(Named(i, n) for i, n in old.items() if i not in new)
    renamed = tuple(Renamed(i, old[i], n) for i, n in new.items() if i in old and old[i] != n)
    return added, removed, renamed


def diff_designs(old: Design, new: Design) -> DesignDiff:
    """Zones and keypads added, removed and renamed between `old` and `new` (keyed by IID)."""
    za, zr, zn = _diff_named({z.id: z.name for z in old.zones}, {z.id: z.name for z in new.zones})
    ka, kr, kn = _diff_named({k.id: k.name for k in old.keypads}, {k.id: k.name for k in new.keypads})
    return DesignDiff(old.project.revision, new.project.revision, za, zr, zn, ka, kr, kn)
