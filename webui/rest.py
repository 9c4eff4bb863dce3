"""The rest of the house as the pages show it: tables built from the plugin's live state
(`cache_dir/live.json`, see telegraf_lutron/live.py), plain functions testable without a browser."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd

INPUT_STATES = {"contact": ("closed", "open"), "motion": ("occupied", "vacant")}
BATTERY = {0: "good", 1: "low", 2: "missing or not reporting"}


def input_state(row: dict[str, Any]) -> str:
    active = row.get("active")
    if active is None:
        return "unknown"
    closed, opened = INPUT_STATES.get(str(row.get("input")), ("active", "inactive"))
    return closed if active else opened


def written_at(doc: dict[str, Any]) -> datetime | None:
    stamp = doc.get("written_at")
    return datetime.fromtimestamp(float(stamp), UTC) if isinstance(stamp, int | float) else None


def _since(value: Any) -> pd.Timestamp | None:
    return pd.Timestamp(float(value), unit="s", tz="UTC") if isinstance(value, int | float) else None


def inputs_frame(doc: dict[str, Any], tz: str) -> pd.DataFrame:
    """Every contact input and motion sensor: active ones (closed, occupied) first."""
    rows = []
    for r in doc.get("inputs", []):
        since = _since(r.get("since"))
        rows.append(
            {
                "Input": f"{r.get('device', '')} · {r.get('component')}",
                "Kind": r.get("input", ""),
                "Area": r.get("area", ""),
                "State": input_state(r),
                "Since": since.tz_convert(tz).strftime("%a %H:%M") if since is not None else "",
                "Changes": int(r.get("changes") or 0),
                "_active": r.get("active") is True,
            }
        )
    frame = pd.DataFrame(rows, columns=["Input", "Kind", "Area", "State", "Since", "Changes", "_active"])
    frame = frame.sort_values(["_active", "Area", "Input"], ascending=[False, True, True], kind="stable")
    return frame.drop(columns="_active").reset_index(drop=True)


def active_now(doc: dict[str, Any]) -> pd.DataFrame:
    """Everything else that is open or active now: open shades, system variables, time clock modes,
    green modes not at their first step, batteries that need attention."""
    rows: list[dict[str, str]] = []
    for g in doc.get("shade_groups", []):
        if g.get("level"):
            rows.append(
                {
                    "What": "shade group",
                    "Name": g["name"],
                    "Area": g.get("area", ""),
                    "State": f"{g['level']:.0f} % open",
                }
            )
    for v in doc.get("sysvars", []):
        if v.get("state") is not None:
            name = v.get("state_name") or f"state {v['state']}"
            rows.append({"What": "system variable", "Name": v["name"], "Area": "", "State": name})
    for t in doc.get("timeclocks", []):
        if t.get("mode") is not None:
            mode = t.get("mode_name") or f"mode {t['mode']}"
            rows.append({"What": "time clock", "Name": t["name"], "Area": "", "State": f"mode: {mode}"})
    for g in doc.get("green_modes", []):
        if g.get("step") not in (None, 1):
            step = g.get("step_name") or f"step {g['step']}"
            rows.append(
                {"What": "green mode", "Name": g.get("area", ""), "Area": g.get("area", ""), "State": step}
            )
    for b in doc.get("batteries", []):
        if b.get("status"):
            rows.append(
                {
                    "What": "battery",
                    "Name": b["device"],
                    "Area": b.get("area", ""),
                    "State": BATTERY.get(b["status"], "?"),
                }
            )
    return pd.DataFrame(rows, columns=["What", "Name", "Area", "State"])


def timeclock_events(clock: dict[str, Any]) -> pd.DataFrame:
    """A time clock's events from the design, enabled or disabled as the processor last said."""
    last = (clock.get("last_event") or {}).get("number")
    rows = []
    for e in clock.get("events", []):
        if e.get("kind") == "Fixed" or e.get("time"):
            when = e.get("time", "")
        else:
            when = (
                f"sun {int(e['offset']):+d} min" if str(e.get("offset", "")).lstrip("-").isdigit() else "sun"
            )
        enabled = e.get("enabled")
        rows.append(
            {
                "#": e.get("number"),
                "Event": e.get("name", ""),
                "When": when,
                "Enabled": "unknown" if enabled is None else ("enabled" if enabled else "disabled"),
                "Last run": "yes" if e.get("number") == last else "",
            }
        )
    return pd.DataFrame(rows, columns=["#", "Event", "When", "Enabled", "Last run"])


def clock_offset(doc: dict[str, Any]) -> str:
    offset = (doc.get("processor") or {}).get("clock_offset_seconds")
    if not isinstance(offset, int | float):
        return "–"
    sign = "ahead" if offset > 0 else "behind"
    seconds = abs(offset)
    text = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
    return f"{text} {sign}" if seconds >= 1 else "on time"
