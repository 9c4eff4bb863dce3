"""`cache_dir/live.json`: the rest of the house as it is now, for the web UI.

The UI reads PostgreSQL (power and energy history) and the plugin's cache directory (the design).
What is open or active now (contact inputs, motion sensors, time clock modes and events, system
variables, shade groups, green modes, batteries, the processor's clock) changes rarely, is small,
and has no history worth a table, so the plugin writes it beside the design cache after a snapshot
in which it changed, and at least every minute; the file says when, so a reader can tell a
stopped plugin from a quiet house.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from telegraf_lutron.config import SysvarConfig
from telegraf_lutron.files import atomic_write, private_dir
from telegraf_lutron.state import HouseState

log = logging.getLogger(__name__)

LIVE_FILE = "live.json"
LIVE_VERSION = 1


def live_document(
    state: HouseState,
    sysvars: Sequence[SysvarConfig],
    processor: dict[str, Any],
    *,
    site: str,
    written_at: float,
    current: bool,
) -> dict[str, Any]:
    """JSON-ready state of the rest of the house. `current` False: the processor is away, the
    values are the last known ones."""
    design, rest = state.design, state.rest
    inputs = []
    for i in design.inputs:
        key = (i.device, i.component)
        inputs.append(
            {
                "device_id": i.device,
                "device": i.device_name,
                "component": i.component,
                "input": i.kind,
                "area_id": i.area_key,
                "area": i.area,
                "active": rest.inputs.get(key),
                "since": rest.input_since.get(key),
                "changes": rest.input_changes.get(key, 0.0),
            }
        )
    clocks = []
    for t in design.timeclocks:
        mode = rest.clock_modes.get(t.id)
        last = rest.last_run.get(t.id)
        clocks.append(
            {
                "id": t.id,
                "name": t.name,
                "mode": mode,
                "mode_name": t.mode_name(mode) if mode is not None else "",
                "events_run": rest.events_run.get(t.id, 0.0),
                "last_event": None if last is None else {"number": last.number, "at": last.wall},
                "events": [
                    {
                        "number": e.number,
                        "name": e.name,
                        "kind": e.kind,
                        "time": e.time,
                        "offset": e.offset,
                        "enabled": rest.events_enabled.get((t.id, e.number)),
                    }
                    for e in t.events
                ],
            }
        )
    sysvar_rows = []
    for v in sysvars:
        value = rest.sysvars.get(v.id)
        sysvar_rows.append(
            {
                "id": v.id,
                "name": v.name,
                "state": value,
                "state_name": v.state_name(value) if value is not None else "",
            }
        )
    areas = {a.key: a.name for a in design.areas}
    return {
        "version": LIVE_VERSION,
        "site": site,
        "written_at": written_at,
        "current": current,
        "processor": processor,
        "inputs": inputs,
        "timeclocks": clocks,
        "sysvars": sysvar_rows,
        "shade_groups": [
            {
                "id": g.id,
                "name": g.name,
                "area_id": g.area_key,
                "area": areas.get(g.area_key, ""),
                "level": rest.shade_levels.get(g.id),
            }
            for g in design.shade_groups
        ],
        "green_modes": [
            {
                "id": g.id,
                "area_id": g.area_key,
                "area": areas.get(g.area_key, ""),
                "step": rest.green_steps.get(g.id),
                "step_name": g.step_name(rest.green_steps.get(g.id, -1)),
            }
            for g in design.green_modes
        ],
        "batteries": [
            {"device_id": k.id, "device": k.name, "area_id": k.area_key, "area": k.area, "status": status}
            for k in design.battery_devices
            if (status := rest.batteries.get(k.id)) is not None
        ],
        "tilts": {str(z): t for z, t in rest.tilts.items()},
    }


def write_live(cache_dir: Path, doc: dict[str, Any]) -> None:
    path = Path(cache_dir) / LIVE_FILE
    private_dir(path.parent)
    atomic_write(path, json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def read_live(cache_dir: Path) -> dict[str, Any] | None:
    """The newest live state, None when there is none or it cannot be read (never raises)."""
    try:
        doc = json.loads((Path(cache_dir) / LIVE_FILE).read_bytes())
    except (OSError, ValueError) as exc:
        if not isinstance(exc, FileNotFoundError):
            log.warning("cannot read %s: %s", Path(cache_dir) / LIVE_FILE, exc)
        return None
    if not isinstance(doc, dict) or doc.get("version") != LIVE_VERSION:
        return None
    return doc
