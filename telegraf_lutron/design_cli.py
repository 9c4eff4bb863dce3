"""`telegraf-lutron design show|wattage`: a processor's design (DbXmlInfo.xml) as JSON or a readable
tree, or as a `[[zone]]` template for the plugin's TOML (`wattage.wattage_template`).

JSON shape (ids are Integration IDs; `areas` lists rooms, the areas with an ID of their own, while
floors appear as the `floor` of each; `rated_watts` 0 means unknown (for shades, motors and
contacts: draws no power); `kind` is light, fan, shade, motor or contact; `led_component` is null
when the button has no LED):

    {"project": {"name", "export", "revision", "guid", "app_version", "product_type"},
     "areas": [{"id", "name", "floor"}],
     "zones": [{"id", "name", "area", "floor", "output_type", "rated_watts", "dimmable", "kind"}],
     "keypads": [{"id", "name", "device_type", "area",
                  "buttons": [{"component", "engraving", "name", "led_component"}]}]}
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from telegraf_lutron.design import Area, Design, DesignError, Keypad, Zone
from telegraf_lutron.design_cache import DEFAULT_HTTP_PORT, DEFAULT_TIMEOUT, DesignSource, url_for_host
from telegraf_lutron.log import one_line, terminal_safe
from telegraf_lutron.wattage import wattage_template


def _source_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--host", help="the processor: fetch http://HOST:PORT/DbXmlInfo.xml")
    source.add_argument("--url", help="fetch the export from this http(s) URL")
    source.add_argument("--file", help="read the export from this file")
    parser.add_argument(
        "--http-port", type=int, default=DEFAULT_HTTP_PORT, help=f"with --host (default: {DEFAULT_HTTP_PORT})"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds allowed for the download (default: {DEFAULT_TIMEOUT:g})",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="design_command", metavar="ACTION", required=True)
    show = sub.add_parser(
        "show", help="print the design as JSON or a tree of floors, rooms, zones and keypads"
    )
    _source_arguments(show)
    show.add_argument(
        "--format", choices=("json", "tree"), default="tree", help="output format (default: tree)"
    )
    wattage = sub.add_parser(
        "wattage",
        help="print [[zone]] entries for the plugin's TOML: every zone that draws power, "
        "those without wattage first",
    )
    _source_arguments(wattage)


def _source(args: argparse.Namespace) -> DesignSource:
    if args.file:
        return DesignSource(path=args.file, timeout=args.timeout)
    url = args.url or url_for_host(args.host, args.http_port)
    return DesignSource(url=url, timeout=args.timeout)


def design_json(design: Design) -> dict[str, Any]:
    """The design in the documented JSON shape."""
    p = design.project
    export = p.export
    return {
        "project": {
            "name": p.name,
            "export": export.isoformat() if export else None,
            "revision": p.revision,
            "guid": p.guid,
            "app_version": p.app_version,
            "product_type": p.product_type,
        },
        "areas": [{"id": a.iid, "name": a.name, "floor": a.floor} for a in design.rooms],
        "zones": [
            {
                "id": z.id,
                "name": z.name,
                "area": z.area,
                "floor": z.floor,
                "output_type": z.output_type,
                "rated_watts": z.rated_watts,
                "dimmable": z.dimmable,
                "kind": z.kind,
            }
            for z in design.zones
        ],
        "keypads": [
            {
                "id": k.id,
                "name": k.name,
                "device_type": k.device_type,
                "area": k.area,
                "buttons": [
                    {
                        "component": b.component,
                        "engraving": b.engraving,
                        "name": b.name,
                        "led_component": b.led_component,
                    }
                    for b in k.buttons
                ],
            }
            for k in design.keypads
        ],
    }


def _zone_line(z: Zone) -> str:
    if z.kind == "shade":
        control = "position"
    elif z.has_speeds:
        control = "speeds"
    else:
        control = "dimmable" if z.dimmable else "on/off"
    if z.rated_watts:
        watts = f"{z.rated_watts:g} W"
    else:
        watts = "watts unknown" if z.draws_power else "draws no power"
    return f"zone {z.id} {z.name}: {z.kind}, {z.output_type or 'unknown type'}, {control}, {watts}"


def _keypad_lines(k: Keypad) -> list[str]:
    device = f", device {k.device_name}" if k.device_name and k.device_name != k.name else ""
    lines = [f"keypad {k.id} {k.name} ({k.device_type or 'unknown type'}{device})"]
    for b in k.buttons:
        label = f'"{b.engraving}"' if b.engraving else b.name
        led = f", LED {b.led_component}" if b.led_component is not None else ""
        lines.append(f"  button {b.component} {label}{led}")
    lines.extend(f"  LED {c} (no button)" for c in k.unpaired_leds)
    return lines


# What json.dumps(ensure_ascii=False) leaves raw but a terminal would act on: DEL, C1 controls and
# bidirectional overrides (C0 controls it escapes itself). \uXXXX keeps the data exact.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def json_text(design: Design) -> str:
    """The JSON document, safe to print: every control character is a \\u escape."""
    text = json.dumps(design_json(design), ensure_ascii=False, indent=2)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def design_tree(design: Design) -> str:
    """Floors > rooms > zones and keypads (buttons with their LEDs), indented two spaces a level.
    Control characters in names are written as visible escapes (`terminal_safe`)."""
    p = design.project
    export = p.export
    product = " ".join(x for x in (p.product_type, p.app_version) if x)
    head = p.name or "(unnamed project)"
    details = [x for x in (product, f"exported {export:%Y-%m-%d %H:%M:%S}" if export else "") if x]
    lines = [head + (f" ({', '.join(details)})" if details else "")]
    children: dict[int | None, list[Area]] = {}
    for a in design.areas:
        children.setdefault(a.parent_key, []).append(a)
    zones: dict[int, list[Zone]] = {}
    for z in design.zones:
        zones.setdefault(z.area_key, []).append(z)
    keypads: dict[int, list[Keypad]] = {}
    for k in design.keypads:
        keypads.setdefault(k.area_key, []).append(k)
    # An explicit stack: area nesting depth comes from the file.
    stack: list[tuple[Area, int]] = [(a, 0) for a in reversed(children.get(None, []))]
    while stack:
        area, depth = stack.pop()
        pad = "  " * depth
        if area.is_container:
            title = area.name
        else:
            group = f", occupancy group {area.occupancy_group}" if area.occupancy_group else ""
            title = f"{area.name} [area {area.iid}{group}]"
        lines.append(pad + title)
        lines.extend(f"{pad}  {_zone_line(z)}" for z in zones.get(area.key, []))
        for k in keypads.get(area.key, []):
            lines.extend(f"{pad}  {line}" for line in _keypad_lines(k))
        stack.extend((child, depth + 1) for child in reversed(children.get(area.key, [])))
    return "\n".join(terminal_safe(line) for line in lines)


def _write(text: str) -> None:
    # Names are UTF-8 whatever the terminal's locale says.
    sys.stdout.buffer.write(text.encode("utf-8", "replace") + b"\n")
    sys.stdout.flush()


def main(args: argparse.Namespace) -> int:
    try:
        source = _source(args)
        _, design = source.load()
    except (DesignError, ValueError) as exc:
        print(terminal_safe(f"telegraf-lutron design: {one_line(str(exc))}"), file=sys.stderr)
        return 1
    if getattr(args, "design_command", "show") == "wattage":
        # Names are in comments only; control characters in them are shown escaped, never sent.
        _write("\n".join(terminal_safe(line) for line in wattage_template(design).rstrip("\n").splitlines()))
    elif args.format == "json":
        _write(json_text(design))
    else:
        _write(design_tree(design))
    return 0
