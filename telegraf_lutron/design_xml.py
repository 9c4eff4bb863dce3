"""DbXmlInfo.xml bytes into the immutable design model, with a hardened parser.

Rules (docs/protocol.md §6), decided here once:
- Bytes before `<?xml` (older HWQS junk, a BOM) are dropped. DTDs, entity declarations and external
  references are refused (defusedxml): a genuine export has none.
- Areas with IntegrationID 0 are containers. An area's floor is the innermost container above it
  (a container's floor is its own name). RA2 rooms sit directly under the root container, so their
  floor is the root's name; a room with no container above it has floor "".
- A keypad is named by its DeviceGroup; a Device directly under DeviceGroups (HWQS
  VISOR_CONTROL_RECEIVER, RA2 MAIN_REPEATER) by its own name, or by its area's name when the device
  name is a default such as `CSD 001`. Every Device with an IntegrationID becomes a Keypad, dimmers
  with empty Components included (they have no buttons).
- Engravings are stripped; "" means none and the button is called `Button <component>`. A button's
  LED is `led_for_button` only when the device lists that LED component; other LEDs stay unpaired.
- Occupancy groups map to the rooms (IID != 0) whose OccupancyGroupAssignedToID names them.
- Time clocks keep their modes (TimeclockMode@Index, @Name) and events (TimeClockEvent@EventNumber,
  @Name, @Type, @Time, @Offset, @Days); an event without an EventNumber is numbered by its position.
- A GreenMode (under the Project or inside an Area) belongs to the area whose IntegrationID it
  carries, else to the Area it sits in; its steps are GreenModeStep@StepNumber, @Name.
- Unknown elements are ignored; a missing or malformed attribute takes a default (0, "", 0.0);
  outputs and devices without an IntegrationID are skipped (nothing can address them).
- Hostile or broken files are refused cheaply, with one line naming the cap: the caps below are
  checked before the XML is parsed (the number of tags) and while the model is built (area
  nesting, areas, zones, devices, components, name lengths), so no cost grows faster than the file. They are far above real houses: the biggest known
  export has about 2,000 zones; rooms nest 4 levels deep on HomeWorks QS.
- Every zone gets its kind from its OutputType (`design.OUTPUT_KINDS`); an unknown OutputType is a
  light, with one warning per unknown type naming it. Shades, motors and contacts get rated watts 0
  whatever their Wattage says (real exports say 0; they draw nothing unless an override says so).
"""

from __future__ import annotations

import logging
import math
import re
import xml.etree.ElementTree as ET
from typing import Any

import defusedxml.ElementTree as DET
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from telegraf_lutron.design import (
    POWER_KINDS,
    Area,
    Button,
    Design,
    DesignError,
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
    known_kind,
    led_for_button,
)

__all__ = ["MAX_DESIGN_BYTES", "DesignError", "parse_design", "strip_prefix", "validate_design"]

log = logging.getLogger(__name__)

MAX_UNKNOWN_TYPE_WARNINGS = 20  # one warning per unknown OutputType, up to this many

MAX_DESIGN_BYTES = 32 * 1024 * 1024  # the largest known export is 1.14 MB; beyond this is not a design
# Caps on what a design may hold (README, "Design caps"). A 1.1 MB export has ~50,000 tags.
MAX_XML_TAGS = 2_000_000  # "<" characters (start and end tags): counted before parsing
MAX_AREA_DEPTH = 32  # area nesting: root > floor > room > sub-room is 4
MAX_AREAS = 10_000
MAX_ZONES = 20_000
MAX_DEVICES = 20_000
MAX_DEVICE_COMPONENTS = 1_000  # per device; a RadioRA 2 main repeater lists 200
MAX_COMPONENTS = 200_000
MAX_GROUPS = 10_000  # occupancy groups, shade groups and time clocks, each
MAX_NAME_CHARS = 512  # every name and text kept from the file (real names are a few dozen)
_PREFIX_SCAN = 64 * 1024  # junk before the declaration is a few bytes; don't scan a whole bad file
_BOM = b"\xef\xbb\xbf"
# Device names HWQS gives by default; they say nothing about where the keypad is.
_DEFAULT_DEVICE_NAME = re.compile(r"(?:CSD|Device|Keypad|VCRX|Repeater)\s*\d*", re.IGNORECASE)


def strip_prefix(data: bytes) -> bytes:
    """`data` from its XML declaration on (or from `<Project` when there is no declaration)."""
    start = data.find(b"<?xml", 0, _PREFIX_SCAN)
    if start < 0:
        start = data.find(b"<Project", 0, _PREFIX_SCAN)
    if start < 0:
        return data.removeprefix(_BOM)
    return data[start:]


def _int(value: str | None, default: int = 0) -> int:
    if not value:
        return default
    try:
        return int(value.strip())
    except ValueError:
        return default


def _watts(value: str | None) -> float:
    if not value:
        return 0.0
    try:
        watts = float(value)
    except ValueError:
        return 0.0
    # Negative, NaN or infinite wattage is as unknown as a missing one.
    return watts if math.isfinite(watts) and watts > 0 else 0.0


def _text(el: ET.Element) -> str:
    return (el.text or "").strip()


def _capped(value: str, what: str) -> str:
    if len(value) > MAX_NAME_CHARS:
        raise _TooBig(f"a {what} longer than {MAX_NAME_CHARS} characters")
    return value


def _where(source: str) -> str:
    return f"{source}: " if source else ""


class _RootReached(Exception):
    """The prolog is over: the root element has started."""


class _TooBig(Exception):
    """A cap was exceeded; the message says which (without echoing the file's content)."""


class _StopAtRoot:
    """A parser target that stops parsing at the root element's start tag."""

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        raise _RootReached

    def close(self) -> None:
        return None


def _check_prolog(body: bytes) -> None:
    """Raise defusedxml's DTDForbidden/EntitiesForbidden/... if the prolog declares any.

    A DTD, and so every entity declaration and external reference, can only appear before the root
    element. defusedxml's parser is pure Python (about 2.5 times slower than the C one on a 1 MB
    export), so it reads the prolog only; the C parser then builds the tree, where an undeclared
    entity reference is a plain parse error.
    """
    parser = DET.DefusedXMLParser(target=_StopAtRoot(), forbid_dtd=True)
    try:
        for offset in range(0, len(body), _PREFIX_SCAN):
            parser.feed(body[offset : offset + _PREFIX_SCAN])
    except _RootReached:
        return
    # No root element at all: the C parser below reports the document as malformed.


def _parse_tree(data: bytes, source: str) -> ET.Element:
    where = _where(source)
    if len(data) > MAX_DESIGN_BYTES:
        raise DesignError(
            f"{where}design is {len(data)} bytes, over the {MAX_DESIGN_BYTES} byte limit; "
            "this is not a DbXmlInfo.xml export"
        )
    body = strip_prefix(data)
    if not body.strip():
        raise DesignError(f"{where}design is empty; export it again from the processor")
    if body.count(b"<") > MAX_XML_TAGS:  # C speed: an element bomb never reaches the parser
        raise DesignError(
            f"{where}design refused: more than {MAX_XML_TAGS} XML tags; check where this file came from"
        )
    try:
        _check_prolog(body)
        root = ET.fromstring(body)  # noqa: S314 - the prolog was checked by defusedxml just above
    except DTDForbidden:
        raise DesignError(
            f"{where}design XML declares a DTD (<!DOCTYPE>), refused for safety; "
            "genuine exports have none, so check where this file came from"
        ) from None
    except (EntitiesForbidden, ExternalReferenceForbidden):
        raise DesignError(
            f"{where}design XML declares entities or external references, refused for safety; "
            "genuine exports have none, so check where this file came from"
        ) from None
    except ET.ParseError as exc:
        raise DesignError(
            f"{where}design XML is malformed or truncated ({exc}); fetch or export it again"
        ) from None
    if root.tag != "Project":
        raise DesignError(
            f"{where}not a DbXmlInfo.xml export: the root element is <{root.tag[:40]}>, not <Project>"
        )
    return root


class _Reader:
    """Walks the element tree once, collecting the model in document order."""

    def __init__(self) -> None:
        self.areas: list[Area] = []
        self.zones: list[Zone] = []
        self.keypads: list[Keypad] = []
        self.shade_groups: list[ShadeGroup] = []
        self.green_modes: list[tuple[ET.Element, int]] = []  # (GreenMode element, enclosing area key)
        self.next_container = -1
        self.skipped = 0
        self.components = 0
        self.unknown_types: dict[str, int] = {}

    @staticmethod
    def name(el: ET.Element, attribute: str, default: str = "") -> str:
        """An attribute kept in the model, at most MAX_NAME_CHARS long."""
        return _capped(el.get(attribute, default), f"{el.tag}@{attribute}")

    @staticmethod
    def cap(items: list[Any], limit: int, what: str) -> None:
        if len(items) >= limit:
            raise _TooBig(f"more than {limit} {what}")

    def read(self, root: ET.Element) -> Design:
        names: dict[str, str] = {}
        project_name = ""
        groups: list[int] = []
        clocks: list[Timeclock] = []
        for child in root:
            tag = child.tag
            if tag == "ProjectName":
                project_name = _capped(child.get("ProjectName") or _text(child), "ProjectName")
            elif tag in ("GUID", "AppVer", "DbExportDate", "DbExportTime", "ProductType"):
                names[tag] = _capped(_text(child), tag)
            elif tag == "Areas":
                self.walk_areas(child)
            elif tag == "OccupancyGroups":
                for g in child:
                    number = _int(g.get("OccupancyGroupNumber")) if g.tag == "OccupancyGroup" else 0
                    if number:
                        self.cap(groups, MAX_GROUPS, "occupancy groups")
                        groups.append(number)
            elif tag == "Timeclocks":
                for t in child:
                    if t.tag == "Timeclock":
                        self.cap(clocks, MAX_GROUPS, "time clocks")
                        clocks.append(_timeclock(t))
            elif tag == "GreenModes":
                self.green_modes.extend((g, 0) for g in child if g.tag == "GreenMode")
        project = Project(
            name=project_name,
            guid=names.get("GUID", ""),
            export_date=names.get("DbExportDate", ""),
            export_time=names.get("DbExportTime", ""),
            app_version=names.get("AppVer", ""),
            product_type=names.get("ProductType", ""),
        )
        members: dict[int, list[int]] = {}
        for a in self.areas:
            if a.occupancy_group and not a.is_container:
                members.setdefault(a.occupancy_group, []).append(a.key)
        occupancy = tuple(OccupancyGroup(n, tuple(members.get(n, ()))) for n in groups)
        if self.skipped:
            log.warning("design: skipped %d outputs or devices without an IntegrationID", self.skipped)
        unknown = sorted(self.unknown_types.items())
        for output_type, count in unknown[:MAX_UNKNOWN_TYPE_WARNINGS]:
            log.warning(
                "design: unknown OutputType %r (%d zone%s) counted as light; "
                "a [[zone]] entry with kind = ... in the plugin's configuration can say what it is",
                output_type,
                count,
                "" if count == 1 else "s",
            )
        if len(unknown) > MAX_UNKNOWN_TYPE_WARNINGS:  # a broken or hostile file: not a line each
            log.warning(
                "design: %d more unknown OutputTypes counted as light",
                len(unknown) - MAX_UNKNOWN_TYPE_WARNINGS,
            )
        return Design(
            project=project,
            areas=tuple(self.areas),
            zones=tuple(self.zones),
            keypads=tuple(self.keypads),
            occupancy_groups=occupancy,
            shade_groups=tuple(self.shade_groups),
            timeclocks=tuple(clocks),
            green_modes=self.read_green_modes(),
        )

    def read_green_modes(self) -> tuple[GreenMode, ...]:
        rooms = {a.iid: a.key for a in self.areas if not a.is_container}
        out: list[GreenMode] = []
        for el, enclosing in self.green_modes:
            iid = _int(el.get("IntegrationID"))
            if not iid:
                continue
            steps = tuple(
                GreenStep(_int(s.get("StepNumber")), self.name(s, "Name"))
                for group in el
                if group.tag == "GreenModeSteps"
                for s in group
                if s.tag == "GreenModeStep"
            )
            self.cap(out, MAX_GROUPS, "green modes")
            out.append(GreenMode(iid, rooms.get(iid, enclosing), steps))
        return tuple(out)

    def walk_areas(self, areas_el: ET.Element) -> None:
        # An explicit stack (area, parent, depth); the depth is capped long before Python's
        # recursion limit would matter to anything that walks the tree later.
        stack: list[tuple[ET.Element, Area | None, int]] = [
            (el, None, 1) for el in reversed(areas_el) if el.tag == "Area"
        ]
        while stack:
            el, parent, depth = stack.pop()
            if depth > MAX_AREA_DEPTH:
                raise _TooBig(f"areas nested more than {MAX_AREA_DEPTH} levels deep")
            self.cap(self.areas, MAX_AREAS, "areas")
            area = self.area(el, parent)
            subareas: list[ET.Element] = []
            for child in el:
                tag = child.tag
                if tag == "DeviceGroups":
                    self.device_groups(child, area)
                elif tag == "Outputs":
                    self.outputs(child, area)
                elif tag == "ShadeGroups":
                    for s in child:
                        if s.tag == "ShadeGroup":
                            self.cap(self.shade_groups, MAX_GROUPS, "shade groups")
                            self.shade_groups.append(
                                ShadeGroup(_int(s.get("IntegrationID")), self.name(s, "Name"), area.key)
                            )
                elif tag == "GreenModes":
                    self.green_modes.extend((g, area.key) for g in child if g.tag == "GreenMode")
                elif tag == "Areas":
                    subareas.extend(a for a in child if a.tag == "Area")
            stack.extend((a, area, depth + 1) for a in reversed(subareas))

    def area(self, el: ET.Element, parent: Area | None) -> Area:
        name = self.name(el, "Name")
        iid = _int(el.get("IntegrationID"))
        if iid == 0:
            key = self.next_container
            self.next_container -= 1
            floor = name
        else:
            key = iid
            floor = parent.floor if parent is not None else ""
        area = Area(
            key=key,
            iid=iid,
            name=name,
            parent_key=parent.key if parent is not None else None,
            floor=floor,
            occupancy_group=_int(el.get("OccupancyGroupAssignedToID")),
        )
        self.areas.append(area)
        return area

    def outputs(self, el: ET.Element, area: Area) -> None:
        for out in el:
            if out.tag != "Output":
                continue
            iid = _int(out.get("IntegrationID"))
            if not iid:
                self.skipped += 1
                continue
            output_type = self.name(out, "OutputType")
            self.cap(self.zones, MAX_ZONES, "zones (outputs)")
            kind = known_kind(output_type)
            if kind is None:
                self.unknown_types[output_type] = self.unknown_types.get(output_type, 0) + 1
                kind = "light"
            self.zones.append(
                Zone(
                    id=iid,
                    name=self.name(out, "Name"),
                    area_key=area.key,
                    area=area.name,
                    floor=area.floor,
                    output_type=output_type,
                    # Shades, motors and contacts draw nothing unless an owner's override says so.
                    rated_watts=_watts(out.get("Wattage")) if kind in POWER_KINDS else 0.0,
                    dimmable=is_dimmable(output_type),
                    kind=kind,
                )
            )

    def device_groups(self, el: ET.Element, area: Area) -> None:
        for child in el:
            if child.tag == "Device":
                self.device(child, "", area)
            elif child.tag == "DeviceGroup":
                group_name = self.name(child, "Name")
                for devices in child:
                    if devices.tag == "Devices":
                        for dev in devices:
                            if dev.tag == "Device":
                                self.device(dev, group_name, area)

    def device(self, dev: ET.Element, group_name: str, area: Area) -> None:
        iid = _int(dev.get("IntegrationID"))
        if not iid:
            self.skipped += 1
            return
        self.cap(self.keypads, MAX_DEVICES, "devices")
        device_type = self.name(dev, "DeviceType")
        device_name = self.name(dev, "Name")
        raw_buttons: list[tuple[int, str, str]] = []
        leds: list[int] = []
        ccis: list[int] = []
        count = 0
        for comps in dev:
            if comps.tag != "Components":
                continue
            for comp in comps:
                number = _int(comp.get("ComponentNumber"), -1)
                if comp.tag != "Component" or number < 0:
                    continue
                count += 1
                if count > MAX_DEVICE_COMPONENTS:
                    raise _TooBig(f"a device with more than {MAX_DEVICE_COMPONENTS} components")
                self.components += 1
                if self.components > MAX_COMPONENTS:
                    raise _TooBig(f"more than {MAX_COMPONENTS} keypad components")
                kind = comp.get("ComponentType", "")
                if kind == "BUTTON":
                    b = comp.find("Button")
                    if b is None:
                        raw_buttons.append((number, "", ""))
                    else:
                        raw_buttons.append(
                            (number, self.name(b, "Engraving").strip(), self.name(b, "ButtonType"))
                        )
                elif kind == "LED":
                    leds.append(number)
                elif kind == "CCI":
                    ccis.append(number)
        led_set = set(leds)
        buttons = []
        for number, engraving, button_type in raw_buttons:
            led = led_for_button(device_type, number)
            buttons.append(
                Button(
                    component=number,
                    engraving=engraving,
                    name=engraving or f"Button {number}",
                    led_component=led if led in led_set else None,
                    button_type=button_type,
                )
            )
        if group_name.strip():
            name = group_name
        elif device_name.strip() and not _DEFAULT_DEVICE_NAME.fullmatch(device_name.strip()):
            name = device_name
        else:
            name = area.name
        self.keypads.append(
            Keypad(
                id=iid,
                name=name,
                device_name=device_name,
                device_type=device_type,
                area_key=area.key,
                area=area.name,
                floor=area.floor,
                serial=self.name(dev, "SerialNumber").strip(),
                buttons=tuple(buttons),
                leds=tuple(leds),
                ccis=tuple(ccis),
            )
        )


def _timeclock(el: ET.Element) -> Timeclock:
    modes: list[TimeclockMode] = []
    events: list[TimeclockEvent] = []
    for child in el:
        if child.tag == "TimeclockModes":
            for m in child:
                if m.tag == "TimeclockMode":
                    _Reader.cap(modes, MAX_GROUPS, "modes of a time clock")
                    modes.append(TimeclockMode(_int(m.get("Index")), _Reader.name(m, "Name")))
        elif child.tag == "TimeClockEvents":
            for e in child:
                if e.tag != "TimeClockEvent":
                    continue
                _Reader.cap(events, MAX_GROUPS, "events of a time clock")
                events.append(
                    TimeclockEvent(
                        number=_int(e.get("EventNumber"), len(events) + 1),
                        name=_Reader.name(e, "Name"),
                        kind=_Reader.name(e, "Type"),
                        time=_Reader.name(e, "Time"),
                        offset=_Reader.name(e, "Offset"),
                        days=_Reader.name(e, "Days"),
                    )
                )
    return Timeclock(
        _int(el.get("IntegrationID")),
        _Reader.name(el, "Name"),
        _int(el.get("Type")),
        tuple(modes),
        tuple(events),
    )


def parse_design(data: bytes, *, source: str = "") -> Design:
    """The design in a DbXmlInfo.xml export; `source` (URL or path) prefixes error messages.

    Raises DesignError, with a one-line message, for oversized, empty, malformed, truncated or
    hostile input (DTD, entities, external references, anything over the caps above) and for a
    root other than <Project>.
    """
    root = _parse_tree(data, source)
    try:
        return _Reader().read(root)
    except _TooBig as exc:
        raise DesignError(f"{_where(source)}design refused: {exc}; check where this file came from") from None


def validate_design(design: Design, *, source: str = "") -> None:
    """Raise DesignError when a parsed design is too empty to be a real one (a wrong file or URL)."""
    if not design.areas or not (design.zones or design.keypads):
        raise DesignError(
            f"{_where(source)}design has no areas, zones or keypads; "
            "check that the URL or file is the processor's DbXmlInfo.xml"
        )
    ids = [z.id for z in design.zones] + [k.id for k in design.keypads]
    duplicates = len(ids) - len(set(ids))
    if duplicates:
        # Not fatal: real exports are unique, but a duplicate only confuses one name lookup.
        log.warning("%sdesign has %d duplicate zone or keypad Integration IDs", _where(source), duplicates)
