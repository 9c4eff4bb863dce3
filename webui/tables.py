"""The tables the pages show (`st.dataframe`), each built from a loader's DataFrame by one function,
so two pages showing the same thing show it the same way and tests need no page.

Cells hold names as they are: `st.dataframe` draws text as text (and its CSV export is off, see
`escape`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import pandas as pd

from telegraf_lutron.design_cache import CacheEntry
from telegraf_lutron.webui.common import duration, when


def _site_column(df: pd.DataFrame) -> dict[str, Any]:
    """A Site column, only when the rows come from more than one site."""
    return {"Site": df["site"]} if "site" in df and df["site"].nunique() > 1 else {}


# Kinds that draw power on their own (design.POWER_KINDS): what can be "left on".
DRAWING_KINDS = ("light", "fan", "load")


def _kind_column(df: pd.DataFrame) -> dict[str, Any]:
    """A Kind column (light, fan, shade, ...; "–" for rows from before the kinds)."""
    return {"Kind": df["kind"].fillna("–") if "kind" in df else "–"}


def zones_on_table(on: pd.DataFrame, at: datetime) -> pd.DataFrame:
    """The zones on (`data.zones_on`) as of `at` (`Snapshot.at`): what kind, where, level (a light's
    brightness, a fan's speed, a shade's opening), watts, since when ("≤" when on at least since
    then: the records begin, or raw rows were pruned) and for how long."""
    since = on["since"]
    return pd.DataFrame(
        {
            "Zone": on["zone"],
            **_kind_column(on),
            "Area": on["area"],
            "Floor": on["floor"],
            **_site_column(on),
            "Level %": on["level_pct"].round(0),
            "Watts": on["watts"].round(1),
            "On since": [
                ("" if exact else "≤ ") + when(t, at)
                for t, exact in zip(since, on["since_exact"], strict=True)
            ],
            "For": [duration(pd.Timestamp(at) - t) if pd.notna(t) else "–" for t in since],
        }
    )


def left_on(on: pd.DataFrame, at: datetime, hours: int, kinds: Iterable[str] = DRAWING_KINDS) -> pd.DataFrame:
    """The rows of `data.zones_on` on for more than `hours` as of `at`, of `kinds` (by default the
    kinds that draw power: a shade open all day is not left on; rows from before the kinds count)."""
    if on.empty:
        return on
    long = (pd.Timestamp(at) - on["since"]) > pd.Timedelta(hours=hours)
    if "kind" in on:
        long &= on["kind"].isna() | on["kind"].isin(list(kinds))
    return on[long]


def overnight_table(nights: pd.DataFrame) -> pd.DataFrame:
    """Zones on through whole nights (`data.overnight`), one row per zone and night."""
    return pd.DataFrame(
        {
            "Night to": pd.to_datetime(nights["night"]).dt.strftime("%a %d %b"),
            "Zone": nights["zone"],
            **_kind_column(nights),
            "Area": nights["area"],
            "Floor": nights["floor"],
            **_site_column(nights),
            "Hours": nights["hours"],
            "kWh": nights["energy_kwh"].round(3),
            "Avg W": nights["avg_watts"].round(1),
        }
    )


def energy_zone_table(zones: pd.DataFrame, tariff: float | None) -> pd.DataFrame:
    """Energy per zone (`data.zone_energy`) with its cost at `tariff` (None: no cost) and the share
    of samples it was on, in percent."""
    kind = ["kind"] if "kind" in zones else []
    return zones.assign(
        cost=zones["energy_kwh"] * tariff if tariff is not None else None,
        on_share=(zones["on_fraction"] * 100).round(1),
    )[
        [
            "zone",
            *kind,
            "area",
            "floor",
            "output_type",
            "energy_kwh",
            "cost",
            "avg_watts",
            "max_watts",
            "on_share",
        ]
    ]


def revision_summary(diff: Mapping[str, Any] | None) -> str:
    """One line of what changed in a revision: `zones: +1 −0 ~2; keypads: ...`."""
    if not diff:
        return "first cached revision"
    parts = []
    for what in ("zones", "keypads"):
        added, removed, renamed = (
            len(diff.get(f"{what}_{k}") or []) for k in ("added", "removed", "renamed")
        )
        if added or removed or renamed:
            parts.append(f"{what}: +{added} −{removed} ~{renamed}")
    return "; ".join(parts) or "no zone or keypad changes"


def revision_history(entries: Iterable[CacheEntry], tz: str) -> pd.DataFrame:
    """The cached revisions as given (the page passes them newest first), each with what changed."""
    return pd.DataFrame(
        [
            {
                "Revision": e.revision,
                "Exported": e.export.replace("T", " ") if e.export else "",
                "Cached": pd.Timestamp(e.stored_at).tz_convert(tz).strftime("%Y-%m-%d %H:%M")
                if e.stored_at
                else "",
                "Project": e.project,
                "Zones": e.zones,
                "Keypads": e.keypads,
                "Changes": revision_summary(e.diff),
            }
            for e in entries
        ],
        columns=["Revision", "Exported", "Cached", "Project", "Zones", "Keypads", "Changes"],
    )


def sysvars_table(doc: Mapping[str, Any]) -> pd.DataFrame:
    """The system variables of the plugin's live state (`data.live_state`) and their state now."""
    return pd.DataFrame(
        [
            {"Variable": v["name"], "IID": v["id"], "State": v.get("state_name") or v.get("state")}
            for v in doc.get("sysvars", [])
        ],
        columns=["Variable", "IID", "State"],
    )
