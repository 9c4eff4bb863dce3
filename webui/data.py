"""Cached loaders: `HistoryStore` results and the design cache as DataFrames for the pages.

Every loader is wrapped in `st.cache_data` with a short TTL (the current state for `TTL_NOW`, ranges
for `TTL_HISTORY`), keyed by its arguments, so a rerun after a click reads nothing from PostgreSQL.
Times come back timezone-aware in the zone the caller passes (the house's). Loaders raise the
database errors of `telegraf_lutron.db` (`DbError` subclasses); `db_state` turns them into a
`DbState` the pages can show.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import streamlit as st

from telegraf_lutron.db import DatabaseUnavailable, DbError, PermissionDenied, SchemaMissing
from telegraf_lutron.db.queries import (
    EnergyBucket,
    HistoryStore,
    LevelPoint,
    OnHours,
    OvernightZone,
    PowerNow,
    PowerPoint,
    WeekdayHourPower,
    ZoneEnergy,
    ZoneOn,
)
from telegraf_lutron.design import POWER_KINDS, Design
from telegraf_lutron.design_cache import CacheEntry, DesignCache
from telegraf_lutron.live import LIVE_FILE, read_live

TTL_STATE = 10  # seconds: is the database there, initialised, filled
TTL_NOW = 15  # the newest rows
TTL_HISTORY = 120  # ranges (their end is rounded to the minute, so a rerun hits the cache)
DB_TIMEOUT = 3.0  # seconds to wait for a connection before saying the database is unreachable
NEWEST_WITHIN = timedelta(hours=48)  # how far back "the newest row" is looked for
STALE_AFTER = timedelta(minutes=5)  # newer rows than this old are "now"
ZONES_ON_MAX_AGE = timedelta(minutes=15)
CATALOGUE_SPAN = timedelta(days=31)  # daily rollups: a year of them costs ~15x as much to scan


# --- the store ------------------------------------------------------------------------------------


def _close_store(store: HistoryStore) -> None:
    store.close()


@st.cache_resource(show_spinner=False, on_release=_close_store)
def store(dsn: str) -> HistoryStore:
    """One connection pool per DSN for the whole server process (closed by cache_resource.clear())."""
    return HistoryStore(dsn, timeout=DB_TIMEOUT, max_size=4)


# --- database state -------------------------------------------------------------------------------

StateKind = Literal["ok", "unavailable", "not_initialised", "empty", "denied", "error"]


@dataclass(frozen=True, slots=True)
class DbState:
    kind: StateKind
    message: str = ""
    timezone: str | None = None  # the rollups' time zone (`db init --timezone`)
    raw_schema: str = "public"

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


@st.cache_data(ttl=TTL_STATE, show_spinner=False)
def db_state(dsn: str) -> DbState:
    """Whether the history can be shown: reachable, initialised and holding at least one series."""
    try:
        s = store(dsn)  # refuses a connection string it cannot parse, without repeating it
        settings = s.settings()
        if not s.series("system") and not s.series("zone") and not s.series("area"):
            return DbState("empty", "", settings.tz, settings.raw_schema)
        return DbState("ok", "", settings.tz, settings.raw_schema)
    except DatabaseUnavailable as exc:
        return DbState("unavailable", str(exc))
    except SchemaMissing as exc:
        return DbState("not_initialised", str(exc))
    except PermissionDenied as exc:
        return DbState("denied", str(exc))
    except DbError as exc:
        return DbState("error", str(exc))


# --- helpers --------------------------------------------------------------------------------------


def frame(rows: list[Any], cls: type, tz: str, times: tuple[str, ...] = ()) -> pd.DataFrame:
    """A DataFrame with one column per dataclass field (also when `rows` is empty); the `times`
    columns converted to `tz`."""
    cols = [f.name for f in dataclasses.fields(cls)]
    df = pd.DataFrame([tuple(getattr(r, c) for c in cols) for r in rows], columns=cols)
    for c in times:
        df[c] = pd.to_datetime(df[c], utc=True).dt.tz_convert(tz)
    return df


def now_minute() -> datetime:
    """The next full minute (UTC): the end of "up to now" ranges, stable for a minute of reruns."""
    now = datetime.now(UTC)
    return now.replace(second=0, microsecond=0) + timedelta(minutes=1)


# --- now ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The newest row (within 48 h) of every series."""

    as_of: datetime  # when it was read
    last_time: datetime | None  # newest system row, None when nothing in 48 h
    system: pd.DataFrame
    areas: pd.DataFrame
    zones: pd.DataFrame

    @property
    def total_watts(self) -> float:
        return float(self.system["watts"].fillna(0.0).sum()) if len(self.system) else 0.0

    @property
    def stale(self) -> bool:
        return self.last_time is None or self.as_of - self.last_time > STALE_AFTER

    @property
    def at(self) -> datetime:
        """The time the shown state describes: now, or the newest row's time when data is late."""
        return self.last_time if self.stale and self.last_time is not None else self.as_of


@st.cache_data(ttl=TTL_NOW, show_spinner=False)
def snapshot(dsn: str, tz: str) -> Snapshot:
    cp = store(dsn).current_power(max_age=NEWEST_WITHIN)
    system = frame(cp.system, PowerNow, tz, ("time",))
    last = system["time"].max() if len(system) else None
    if last is None and len(cp.zones):
        last = max(z.time for z in cp.zones)
    return Snapshot(
        as_of=pd.Timestamp(cp.as_of).tz_convert(tz).to_pydatetime(),
        last_time=None
        if last is None or pd.isna(last)
        else pd.Timestamp(last).tz_convert(tz).to_pydatetime(),
        system=system,
        areas=frame(cp.areas, PowerNow, tz, ("time",)).sort_values(
            "watts", ascending=False, na_position="last"
        ),
        zones=frame(cp.zones, PowerNow, tz, ("time",)),
    )


@st.cache_data(ttl=TTL_NOW, show_spinner=False)
def zones_on(dsn: str, tz: str, at: datetime | None = None) -> pd.DataFrame:
    """Zones on at `at` (default now; pass the newest row's time when the data is late)."""
    rows = store(dsn).zones_on(now=at, max_age=ZONES_ON_MAX_AGE)
    return frame(rows, ZoneOn, tz, ("last_seen", "since"))


# --- ranges ---------------------------------------------------------------------------------------


@st.cache_data(ttl=TTL_HISTORY, show_spinner=False)
def power_history(
    dsn: str,
    tz: str,
    level: Literal["zone", "area", "system"],
    start: datetime,
    end: datetime,
    *,
    site: str | None = None,
    id: str | None = None,
    max_points: int = 500,
) -> pd.DataFrame:
    rows = store(dsn).power_history(level, start, end, site=site, id=id, max_points=max_points)
    return frame(rows, PowerPoint, tz, ("time",))


@st.cache_data(ttl=TTL_HISTORY, show_spinner=False)
def energy(
    dsn: str, tz: str, level: Literal["zone", "area", "system"], start: datetime, end: datetime
) -> pd.DataFrame:
    """Energy per series and bucket (hours up to 2 days, days up to 92 days, else months)."""
    rows = store(dsn).energy(level, start, end, resolution="auto")
    return frame(rows, EnergyBucket, tz, ("start", "end"))


@st.cache_data(ttl=TTL_HISTORY, show_spinner=False)
def zone_energy(dsn: str, start: datetime, end: datetime, limit: int = 10_000) -> pd.DataFrame:
    """Energy per zone over the range, most first (all zones with data by default)."""
    rows = store(dsn).top_zones(start, end, limit=limit)
    return frame(rows, ZoneEnergy, "UTC")


@st.cache_data(ttl=TTL_HISTORY, show_spinner=False)
def weekday_hour(dsn: str, start: datetime, end: datetime) -> pd.DataFrame:
    rows = store(dsn).weekday_hour_power(start, end, level="system")
    return frame(rows, WeekdayHourPower, "UTC")


@st.cache_data(ttl=TTL_HISTORY, show_spinner=False)
def on_hours(dsn: str, start: datetime, end: datetime, site: str, zone_id: str) -> pd.DataFrame:
    rows = store(dsn).on_hours(start, end, site=site, id=zone_id)
    return frame(rows, OnHours, "UTC")


@st.cache_data(ttl=TTL_HISTORY, show_spinner=False)
def level_history(dsn: str, tz: str, start: datetime, end: datetime, site: str, zone_id: str) -> pd.DataFrame:
    rows = store(dsn).level_history(start, end, site=site, id=zone_id, max_points=400)
    return frame(rows, LevelPoint, tz, ("time",))


@st.cache_data(ttl=TTL_HISTORY, show_spinner=False)
def overnight(
    dsn: str, first_night: date, last_night: date, night_start: int, night_end: int
) -> pd.DataFrame:
    rows = store(dsn).zones_on_overnight(
        first_night, last_night, night_start=time(night_start), night_end=time(night_end)
    )
    return frame(rows, OvernightZone, "UTC")


@st.cache_data(ttl=TTL_HISTORY, show_spinner=False)
def zone_catalogue(dsn: str, tz: str) -> pd.DataFrame:
    """Every zone reporting now or with data in the last 31 days, with its newest name, area and
    floor (the page adds the design's zones)."""
    end = now_minute()
    recent = frame(store(dsn).top_zones(end - CATALOGUE_SPAN, end, limit=100_000), ZoneEnergy, "UTC")
    now = snapshot(dsn, tz).zones.rename(columns={"id": "zone_id", "name": "zone"})
    cols = ["site", "zone_id", "zone", "area", "floor"]
    both = pd.concat([now[cols], recent[cols]], ignore_index=True)  # the newest names first
    return both.drop_duplicates(["site", "zone_id"]).reset_index(drop=True)


# --- the design cache -----------------------------------------------------------------------------

DesignKind = Literal["ok", "missing", "unreadable"]


@dataclass(frozen=True, slots=True)
class DesignInfo:
    kind: DesignKind
    cache_dir: Path
    message: str = ""
    revision: str | None = None
    design: Design | None = None
    entries: tuple[CacheEntry, ...] = ()

    @property
    def ok(self) -> bool:
        return self.kind == "ok" and self.design is not None

    @property
    def stored_at(self) -> str | None:
        return self.entries[-1].stored_at if self.entries else None


def design_info(cache_dir: Path) -> DesignInfo:
    """The newest cached design and the revision history (re-read when history.json changes)."""
    try:
        stamp = (cache_dir / "history.json").stat().st_mtime_ns
    except OSError:
        stamp = 0
    try:
        models = (cache_dir / "designs").stat().st_mtime_ns
    except OSError:
        models = 0
    return _design_info(str(cache_dir), stamp, models)


@st.cache_resource(show_spinner=False, max_entries=8, ttl=600)
def _design_info(cache_dir: str, history_mtime: int, designs_mtime: int) -> DesignInfo:
    # cache_resource: the Design is shared read-only (frozen), never pickled per rerun.
    path = Path(cache_dir)
    if not path.exists():
        return DesignInfo(
            "missing",
            path,
            f"there is no design cache at {path} yet: the plugin (`telegraf-lutron run`) writes it the first "
            "time it reads the processor's design; set TL_CACHE_DIR to the plugin's `cache_dir` if it is elsewhere",
        )
    if not os.access(path, os.R_OK | os.X_OK):
        return DesignInfo(
            "unreadable",
            path,
            f"the design cache {path} is not readable by this user (the plugin creates it with mode 0700); "
            "run the UI as the plugin's user or give it read access to the directory",
        )
    cache = DesignCache(path)
    entries = tuple(cache.entries())
    latest = cache.load_latest()
    if latest is None:
        return DesignInfo(
            "missing",
            path,
            f"the design cache {path} holds no readable design yet: the plugin writes one the first time it "
            "reads the processor's design (`telegraf-lutron check` shows whether it can)",
            entries=entries,
        )
    revision, design = latest
    return DesignInfo("ok", path, "", revision, design, entries)


def design_zones(design: Design) -> pd.DataFrame:
    """The design's zones: id (as the `zone_id` tag), name, area, floor, type, rated watts, kind."""
    return pd.DataFrame(
        [
            (str(z.id), z.name, z.area, z.floor, z.output_type, z.rated_watts, z.dimmable, z.kind)
            for z in design.zones
        ],
        columns=["zone_id", "zone", "area", "floor", "output_type", "rated_watts", "dimmable", "kind"],
    )


# --- the design's zones in the history -------------------------------------------------------------
# The history may hold several sites (one plugin per processor, each its own `site` tag) whose zone
# ids overlap; the design cache the UI reads describes one of them. Zones are matched on (site,
# zone_id), never on the id alone.


def design_site(zones: pd.DataFrame, design: pd.DataFrame) -> str | None:
    """The site the design describes. `zones`: site, zone_id, zone (names) from the history;
    `design`: `design_zones`. The only site there is, else the site whose zones carry the design's
    names under the design's ids most often; None when there is no site or no single best one."""
    sites = zones["site"].dropna().unique()
    if len(sites) <= 1:
        return str(sites[0]) if len(sites) else None
    same = zones[["site", "zone_id", "zone"]].merge(design[["zone_id", "zone"]], on=["zone_id", "zone"])
    counts = same["site"].value_counts()
    if counts.empty or (counts == counts.iloc[0]).sum() > 1:
        return None
    return str(counts.index[0])


def with_design(catalogue: pd.DataFrame, design: pd.DataFrame | None) -> pd.DataFrame:
    """`catalogue` (site, zone_id, zone, area, floor) with the design's (`design_zones`) rated watts
    and dimmability, matched on site and zone id, plus the design's zones that have no history yet,
    in the site the design describes (`design_site`). Without a design, or when it is unclear which
    site it describes, no zone gets the design's values."""
    site = None if design is None else design_site(catalogue, design)
    if design is None or site is None:
        return catalogue.assign(rated_watts=float("nan"), dimmable=None, kind=None)
    ours = design.assign(site=site)
    known = catalogue.loc[catalogue["site"] == site, "zone_id"]
    missing = ours[~ours["zone_id"].isin(known)]
    both = pd.concat([catalogue, missing[list(catalogue.columns)]], ignore_index=True)
    return both.merge(
        ours[["site", "zone_id", "rated_watts", "dimmable", "kind"]], on=["site", "zone_id"], how="left"
    )


def _reported(zones: pd.DataFrame) -> pd.DataFrame:
    """site, zone_id, kind, rated_watts of the newest rows (`Snapshot.zones`) that have a kind (rows
    from before the kinds have none and say nothing about it)."""
    cols = ["site", "zone_id", "kind", "rated_watts"]
    if zones.empty or "kind" not in zones:
        return pd.DataFrame(columns=cols)
    rows = zones[zones["kind"].map(lambda k: isinstance(k, str)) & zones["rated_watts"].notna()]
    return rows.rename(columns={"id": "zone_id"})[cols]


def with_kinds(catalogue: pd.DataFrame, reported: pd.DataFrame) -> pd.DataFrame:
    """`catalogue` (`with_design`) with the kind and rated watts the plugin uses: what the zone's
    newest row reports (the owner's `[[zone]]` entries applied), matched on site and zone id, else
    the design's; and `draws_power`: a kind that draws power (light, fan, load), an override gave it
    watts, or its kind is unknown (not in the design, no newest row)."""
    now = _reported(reported).rename(columns={"kind": "kind_now", "rated_watts": "rated_now"})
    out = catalogue.merge(now, on=["site", "zone_id"], how="left")
    has_now = out["kind_now"].notna()
    out["kind"] = out["kind_now"].where(has_now, out["kind"])
    out["rated_watts"] = out["rated_now"].where(has_now, out["rated_watts"])
    kind = out["kind"]
    out["draws_power"] = (
        kind.isna()
        | kind.isin(sorted(POWER_KINDS))
        | (pd.to_numeric(out["rated_watts"], errors="coerce") > 0)
    )
    return out.drop(columns=["kind_now", "rated_now"])


def effective_zones(design: Design | None, reported: pd.DataFrame | None = None) -> pd.DataFrame:
    """The design's zones (every reported one without a design) with the kind and rated watts the
    plugin uses (`with_kinds`), for the design's site: columns zone_id, zone, area, kind,
    rated_watts, draws_power. `reported` is `Snapshot.zones`."""
    reported = reported if reported is not None else pd.DataFrame(columns=["site", "id", "name", "area"])
    history = reported.rename(columns={"id": "zone_id", "name": "zone"})
    if design is not None:
        in_design = design_zones(design)
        site = design_site(history, in_design) if len(history) else None
        catalogue = in_design.assign(site=site if site is not None else "")
    else:
        catalogue = history.assign(kind=None, rated_watts=float("nan"))[
            ["site", "zone_id", "zone", "area", "kind", "rated_watts"]
        ]
    out = with_kinds(catalogue, reported)
    return out[["zone_id", "zone", "area", "kind", "rated_watts", "draws_power"]]


def find_zones(catalogue: pd.DataFrame, query: str) -> pd.DataFrame:
    """Zones whose name, area or floor contains `query` (any case; all zones for an empty query),
    sorted by floor, area and name."""
    needle = query.strip().casefold()
    found = catalogue
    if needle:
        text = (
            catalogue["zone"].fillna("").astype(str)
            + "\n"
            + catalogue["area"].fillna("").astype(str)
            + "\n"
            + catalogue["floor"].fillna("").astype(str)
        ).str.casefold()
        found = catalogue[text.str.contains(needle, regex=False)]
    return found.sort_values(["floor", "area", "zone"], na_position="last")


@dataclass(frozen=True, slots=True)
class ZoneNow:
    """One zone as the newest rows show it."""

    reporting: bool  # it has a row in the snapshot (within 48 h)
    level_pct: float | None
    watts: float | None
    since: pd.Timestamp | None  # on since then; None when off (or not reporting)
    since_exact: bool  # False: on at least since then (the records begin, or raw rows were pruned)


def zone_now(snap: Snapshot, on: pd.DataFrame, site: str, zone_id: str) -> ZoneNow:
    """Zone `zone_id` of `site` in `snap` and in `on` (`zones_on`)."""
    current = snap.zones[(snap.zones["site"] == site) & (snap.zones["id"] == zone_id)]
    on_row = on[(on["site"] == site) & (on["zone_id"] == zone_id)]

    def number(df: pd.DataFrame, column: str) -> float | None:
        return None if df.empty or pd.isna(df[column].iloc[0]) else float(df[column].iloc[0])

    since = on_row["since"].iloc[0] if len(on_row) and pd.notna(on_row["since"].iloc[0]) else None
    return ZoneNow(
        reporting=not current.empty,
        level_pct=number(current, "level_pct"),
        watts=number(current, "watts"),
        since=since,
        since_exact=bool(on_row["since_exact"].iloc[0]) if len(on_row) else True,
    )


def levels_now(zones: pd.DataFrame, site: str | None) -> dict[str, float | None]:
    """Zone id -> level now (%) of `site`'s zones, from `Snapshot.zones`; {} without a site."""
    if site is None:
        return {}
    mine = zones[zones["site"] == site]
    return {
        str(i): None if pd.isna(lv) else float(lv)
        for i, lv in zip(mine["id"], mine["level_pct"], strict=True)
    }


def clear_caches(*, pools: bool = False) -> None:
    """Forget every cached result (the Refresh button); with `pools`, also close the connection
    pools and forget the design (tests, between databases)."""
    st.cache_data.clear()
    if pools:
        st.cache_resource.clear()


# --- the live state the plugin writes beside the design cache ----------------------------------------

LIVE_STALE_AFTER = timedelta(minutes=5)  # the plugin writes it at least every minute


def live_state(cache_dir: Path) -> dict[str, Any] | None:
    """`cache_dir/live.json` (inputs, time clocks, sysvars, shades, batteries now), re-read when it changes."""
    try:
        stamp = (cache_dir / LIVE_FILE).stat().st_mtime_ns
    except OSError:
        return None
    return _live_state(str(cache_dir), stamp)


@st.cache_data(show_spinner=False, max_entries=4, ttl=TTL_NOW)
def _live_state(cache_dir: str, mtime: int) -> dict[str, Any] | None:
    return read_live(Path(cache_dir))
