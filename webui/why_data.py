"""The Why page's data: cached loaders over `telegraf_lutron.db.why.WhyStore`, and the small functions
that turn its figures into what the page shows (names from the design, ids where it has none; the
links to the Zones page).

A figure's zones travel to the Zones page as query parameters, one `zone=<site>/<zone_id>` each
(`zone_params`, read back by `parse_zone_params`); zone ids never contain a `/`, sites may.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import streamlit as st

from telegraf_lutron.db.why import (
    CauseEnergy,
    EmptyRoomEnergy,
    OvernightLight,
    SourceEnergy,
    WhyStore,
    ZoneKey,
)
from telegraf_lutron.design import Design
from telegraf_lutron.webui.data import DB_TIMEOUT, TTL_HISTORY

ZONE_PARAM = "zone"
# How the page names each cause (docs/protocol.md §11), in the order it lists them.
CAUSE_LABELS = {
    "keypad": "Keypads",
    "timeclock": "Time clock",
    "occupancy": "Occupancy sensors",
    "integration": "Integration",
    "app": "App",
    "sequence": "Sequences",
    "local": "At the device",
    "unknown": "Unknown",
}


def _close(store: WhyStore) -> None:
    store.close()


@st.cache_resource(show_spinner=False, on_release=_close)
def store(dsn: str) -> WhyStore:
    """One small connection pool per DSN for the Why page (closed by cache_resource.clear())."""
    return WhyStore(dsn, timeout=DB_TIMEOUT, max_size=2)


@st.cache_data(ttl=TTL_HISTORY, show_spinner=False)
def causes(dsn: str, start: datetime, end: datetime) -> list[CauseEnergy]:
    return store(dsn).energy_by_cause(start, end)


@st.cache_data(ttl=TTL_HISTORY, show_spinner=False)
def sources(dsn: str, start: datetime, end: datetime, limit: int = 10) -> list[SourceEnergy]:
    return store(dsn).sources(start, end, limit=limit)


@st.cache_data(ttl=TTL_HISTORY, show_spinner=False)
def empty_rooms(dsn: str, start: datetime, end: datetime) -> list[EmptyRoomEnergy]:
    return store(dsn).empty_rooms(start, end)


@st.cache_data(ttl=TTL_HISTORY, show_spinner=False)
def overnight(
    dsn: str, start: datetime, end: datetime, night_start: int, night_end: int
) -> list[OvernightLight]:
    return store(dsn).overnight(start, end, night_start, night_end, limit=1000)


# --- links to the Zones page ------------------------------------------------------------------------


def zone_params(zones: Iterable[ZoneKey]) -> dict[str, list[str]]:
    """The Zones page's query parameters for these zones."""
    return {ZONE_PARAM: [f"{site}/{zone_id}" for site, zone_id in zones]}


def parse_zone_params(values: Sequence[str]) -> list[ZoneKey]:
    """(site, zone_id) of each `zone` parameter; malformed ones are left out."""
    out = []
    for value in values:
        site, sep, zone_id = value.rpartition("/")
        if sep and zone_id:
            out.append((site, zone_id))
    return out


def linked_zones(catalogue: pd.DataFrame, wanted: Sequence[ZoneKey]) -> pd.DataFrame:
    """The rows of `catalogue` (site, zone_id, ...) that are `wanted`, in the catalogue's order."""
    keys = set(wanted)
    mask = [(str(s), str(z)) in keys for s, z in zip(catalogue["site"], catalogue["zone_id"], strict=True)]
    return catalogue[mask]


# --- names ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Names:
    """Names from the cached design for the site it describes (`site`); ids elsewhere."""

    design: Design | None
    site: str | None

    def _ours(self, site: str) -> Design | None:
        return self.design if self.design is not None and site == self.site else None

    def zone(self, site: str, zone_id: str) -> str:
        d = self._ours(site)
        z = d.zone(int(zone_id)) if d is not None and zone_id.isdigit() else None
        return f"{z.name} ({z.area})" if z is not None else f"zone {zone_id}"

    def area(self, site: str, area_id: str, stored: str | None = None) -> str:
        d = self._ours(site)
        if d is not None and area_id.lstrip("-").isdigit():
            for a in d.areas:
                if a.key == int(area_id):
                    return a.name
        return stored or f"area {area_id}"

    def source(self, s: SourceEnergy) -> str:
        """ "Hall keypad · Welcome" for a keypad button, "Garden · Dusk" for a time clock event."""
        d = self._ours(s.site)
        if s.cause == "keypad":
            k = d.keypad(int(s.keypad_id)) if d is not None and s.keypad_id.isdigit() else None
            button = next((b for b in k.buttons if str(b.component) == s.component), None) if k else None
            keypad = k.name if k is not None else f"keypad {s.keypad_id}"
            return f"{keypad} · {button.name if button else 'button ' + (s.component or '?')}"
        clock = next((t for t in d.timeclocks if str(t.id) == s.timeclock_id), None) if d else None
        event = next((e for e in clock.events if str(e.number) == s.timeclock_event), None) if clock else None
        clock_name = clock.name if clock else "time clock " + (s.timeclock_id or "?")
        return f"{clock_name} · {event.name if event else 'event ' + (s.timeclock_event or '?')}"


def names_for(design: Design | None, sites: Iterable[str]) -> Names:
    """The design's names apply to the only site the figures have (with several, ids are shown:
    which site the design describes is not known here)."""
    distinct = set(sites)
    return Names(design, next(iter(distinct)) if len(distinct) == 1 else None)


# --- tables ---------------------------------------------------------------------------------------


def cause_table(rows: Sequence[CauseEnergy], tariff: float | None) -> pd.DataFrame:
    """One row per cause: its label, kWh, share of the total, cost, zone-hours on, zones."""
    total = sum(r.energy_kwh for r in rows)
    return pd.DataFrame(
        {
            "cause": [CAUSE_LABELS.get(r.cause, r.cause) for r in rows],
            "energy_kwh": [r.energy_kwh for r in rows],
            "share": [100.0 * r.energy_kwh / total if total else 0.0 for r in rows],
            "cost": [r.energy_kwh * tariff if tariff is not None else None for r in rows],
            "on_hours": [r.on_hours for r in rows],
            "zones": [len(r.zones) for r in rows],
        },
        columns=["cause", "energy_kwh", "share", "cost", "on_hours", "zones"],
    )


def source_table(rows: Sequence[SourceEnergy], names: Names, tariff: float | None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "what": [CAUSE_LABELS.get(r.cause, r.cause) for r in rows],
            "name": [names.source(r) for r in rows],
            "energy_kwh": [r.energy_kwh for r in rows],
            "cost": [r.energy_kwh * tariff if tariff is not None else None for r in rows],
            "zones": [len(r.zones) for r in rows],
        },
        columns=["what", "name", "energy_kwh", "cost", "zones"],
    )


def empty_room_table(rows: Sequence[EmptyRoomEnergy], names: Names, tariff: float | None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "area": [names.area(r.site, r.area_id, r.area) for r in rows],
            "energy_kwh": [r.energy_kwh for r in rows],
            "cost": [r.energy_kwh * tariff if tariff is not None else None for r in rows],
            "lit_hours": [r.lit_hours for r in rows],
            "max_watts": [r.max_watts for r in rows],
        },
        columns=["area", "energy_kwh", "cost", "lit_hours", "max_watts"],
    )


def overnight_table(rows: Sequence[OvernightLight], names: Names, tariff: float | None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "zone": [names.zone(r.site, r.zone_id) for r in rows],
            "nights": [r.nights for r in rows],
            "on_hours": [r.on_hours for r in rows],
            "longest_hours": [r.longest_hours for r in rows],
            "energy_kwh": [r.energy_kwh for r in rows],
            "cost": [r.energy_kwh * tariff if tariff is not None else None for r in rows],
        },
        columns=["zone", "nights", "on_hours", "longest_hours", "energy_kwh", "cost"],
    )


def night_label(hours: tuple[int, int]) -> str:
    start, end = hours
    return f"{start:02d}:00–{end:02d}:00"
