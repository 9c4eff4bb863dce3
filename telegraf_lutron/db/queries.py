"""What the web UI reads from PostgreSQL: small, parameterized queries that aggregate in the database.

Use one `HistoryStore` per process (it owns a `psycopg_pool.ConnectionPool`):

    store = HistoryStore(dsn)              # or HistoryStore() to use $TELEGRAF_LUTRON_DSN / PG* variables
    now = store.current_power()            # CurrentPower(system=[...], areas=[...], zones=[...])
    rows = store.energy("area", start, end, resolution="day")
    store.close()

Results are slotted dataclasses (pandas builds a DataFrame straight from a list of them; not frozen,
because a frozen dataclass costs several times more to build and a year of daily rows is thousands);
times are timezone-aware datetimes in the house's time zone. Ranges are half-open `[start, end)` and every
bucket that overlaps the range is returned whole.

Which data a query reads depends on its range, so no query over more than 48 hours reads raw rows:
- raw rows: `current_power` and `zones_on` (the newest row per series, at most `max_age` old, and
  for zones that are on one hour of raw rows around their last "off"), `power_history` up to 48 h,
  `level_history` (at most 48 h);
- hourly rollups: `energy` at hour resolution, `power_history` up to 62 days, `weekday_hour_power`,
  `top_zones` up to 7 days, `zones_on_overnight`, `on_hours`;
- daily rollups: `energy` by day or month, `power_history` beyond 62 days, `top_zones` beyond 7 days.

Errors a user can cause become `DatabaseUnavailable`, `SchemaMissing` or `PermissionDenied` (see
`telegraf_lutron.db`), each with a one-line message that says what to do.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from psycopg import sql
from psycopg.rows import dict_row, namedtuple_row
from psycopg_pool import ConnectionPool, PoolTimeout

from telegraf_lutron.db import (
    INTERNAL_SCHEMA,
    DatabaseUnavailable,
    DbError,
    SchemaMissing,
    check_dsn,
    resolve_dsn,
    translate,
    unavailable,
)
from telegraf_lutron.db import fragments as frag
from telegraf_lutron.db.levels import BY_NAME, LEVELS, ZONE, Level
from telegraf_lutron.db.rollups import flush
from telegraf_lutron.design import KINDS, POWER_KINDS

log = logging.getLogger("telegraf_lutron.db")

LevelName = Literal["zone", "area", "system"]
Resolution = Literal["auto", "hour", "day", "month"]

RAW_LIMIT = timedelta(hours=48)  # longest range answered from raw rows
HOURLY_LIMIT = timedelta(days=62)  # power_history: hourly points up to here, then daily
TOP_HOURLY_LIMIT = timedelta(days=7)  # top_zones: exact hours up to here, then whole days
ENERGY_HOUR_LIMIT = timedelta(days=2)  # energy(resolution="auto")
ENERGY_DAY_LIMIT = timedelta(days=92)

J_PER_KWH = 3_600_000.0
DRAWING_KINDS = tuple(k for k in KINDS if k in POWER_KINDS)  # light, fan, load: they draw power

# The named parameters of every range query, and the range filters built on them (fragments).
_START, _END, _TZ = sql.Placeholder("start"), sql.Placeholder("end"), sql.Placeholder("tz")


def _hours(alias: str) -> sql.Composed:
    """Hourly buckets of `alias` that overlap [%(start)s, %(end)s)."""
    return frag.hours_overlapping(alias, _START, _END)


def _days(alias: str, *, whole_months: bool = False) -> sql.Composed:
    """Daily buckets of `alias` (local dates in %(tz)s) that overlap [%(start)s, %(end)s)."""
    return frag.days_overlapping(alias, _START, _END, _TZ, whole_months=whole_months)


def _day_start(day: sql.Composable) -> sql.Composed:
    """The instant a local date begins in %(tz)s."""
    return frag.day_start(day, _TZ)


def _newest(alias: str, label: str) -> sql.Composed:
    """`label` of the newest hourly bucket among those aggregated (the name a series has now)."""
    return sql.SQL("{} AS {}").format(
        frag.newest(frag.column(alias, label), frag.column(alias, "hour")), sql.Identifier(label)
    )


# --- results ------------------------------------------------------------------------------------


@dataclass(slots=True)
class PowerNow:
    """The newest row of one series."""

    level: str  # "zone", "area", "system"
    site: str
    id: str  # zone id, area id, "" for the system
    name: str | None  # zone or area name
    area: str | None
    floor: str | None
    time: datetime
    watts: float | None
    level_pct: float | None  # zones: level 0-100 (a fan's speed, a shade's opening)
    lights_on: float | None  # areas and system (rows from before the kinds: zones on)
    fans_on: float | None  # areas and system
    shades_open: float | None  # areas and system
    lights_total: float | None  # system (rows from before the kinds: zones)
    energy_kwh_total: float | None  # the counter, in kWh
    kind: str | None = None  # zones: light, fan, shade, motor, contact, load (None: before the kinds)
    rated_watts: float | None = None  # zones: watts at 100 % as the plugin reports them (0: unknown)


@dataclass(slots=True)
class CurrentPower:
    as_of: datetime
    system: list[PowerNow]
    areas: list[PowerNow]
    zones: list[PowerNow]

    @property
    def total_watts(self) -> float:
        return sum(p.watts or 0.0 for p in self.system)


@dataclass(slots=True)
class EnergyBucket:
    start: datetime
    end: datetime
    resolution: str  # "hour", "day", "month"
    level: str
    site: str
    id: str
    name: str | None
    area: str | None
    floor: str | None
    energy_kwh: float
    avg_watts: float | None
    max_watts: float | None
    samples: int


@dataclass(slots=True)
class PowerPoint:
    time: datetime  # start of the bin / bucket
    source: str  # "raw", "hour", "day"
    site: str
    id: str
    name: str | None
    avg_watts: float | None
    max_watts: float | None


@dataclass(slots=True)
class WeekdayHourPower:
    weekday: int  # ISO: 1 = Monday ... 7 = Sunday
    hour: int  # local hour of day, 0-23
    avg_watts: float | None  # mean over the matching hours of their average power (summed over series)
    max_watts: float | None  # highest hourly average seen
    hours: int  # how many hours went into it


@dataclass(slots=True)
class ZoneEnergy:
    site: str
    zone_id: str
    zone: str | None
    area: str | None
    floor: str | None
    output_type: str | None
    energy_kwh: float
    avg_watts: float | None
    max_watts: float | None
    on_fraction: float | None  # share of samples with the zone on
    kind: str | None = None


@dataclass(slots=True)
class ZoneOn:
    site: str
    zone_id: str
    zone: str | None
    area: str | None
    floor: str | None
    level_pct: float
    watts: float | None
    last_seen: datetime
    since: datetime | None
    since_exact: bool  # False: on at least since then (records begin, or raw rows pruned)
    kind: str | None = None  # None: a row from before the kinds


@dataclass(slots=True)
class OvernightZone:
    night: date  # the date the night ends (the morning)
    site: str
    zone_id: str
    zone: str | None
    area: str | None
    floor: str | None
    hours: int
    energy_kwh: float
    avg_watts: float | None
    kind: str | None = None


# --- the store ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Settings:
    tz: str
    zone: ZoneInfo | None
    raw_schema: str


def _level(name: str) -> Level:
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"level must be one of {', '.join(BY_NAME)}, not {name!r}") from None


def _aware(dt: datetime, what: str) -> datetime:
    if dt.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware")
    return dt


def _range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    _aware(start, "start")
    _aware(end, "end")
    if end <= start:
        raise ValueError("end must be after start")
    return start, end


def _join_newest(alias: str, labels: Sequence[str] = ("zone", "area", "floor")) -> sql.Composed:
    """The zone's names (zone, area, floor) of its newest hourly bucket among those aggregated."""
    return sql.SQL(", ").join(_newest(alias, label) for label in labels)


def _kwh(joules: float | None) -> float:
    return (joules or 0.0) / J_PER_KWH


class HistoryStore:
    """Read access for the UI, over a connection pool. Thread-safe; `close()` when done."""

    def __init__(
        self,
        dsn: str | None = None,
        *,
        min_size: int = 1,
        max_size: int = 4,
        timeout: float = 5.0,
        statement_timeout_ms: int = 30_000,
    ) -> None:
        self._dsn = resolve_dsn(dsn)
        # Before the pool exists: its workers would log libpq's parse error, which quotes the
        # bad token (often the password), at every retry.
        check_dsn(self._dsn)
        self._timeout = timeout
        self._statement_timeout_ms = int(statement_timeout_ms)
        self._settings: _Settings | None = None
        self._lock = threading.Lock()
        self._flush_warned = False
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            self._dsn,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            open=False,
            name="telegraf-lutron-ui",
            kwargs={"autocommit": True, "connect_timeout": max(1, int(timeout))},
            configure=self._configure,
            # A server restart leaves dead connections in the pool: test each before handing it out.
            check=ConnectionPool.check_connection,
        )
        # Connect in the background: a UI must start even while the database is down.
        self._pool.open(wait=False)

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(sql.SQL("SET statement_timeout = {}").format(sql.Literal(self._statement_timeout_ms)))
        conn.execute("SET default_transaction_read_only = on")  # the UI never writes
        # Short queries: JIT compilation alone can take seconds when a year of rollups makes the
        # estimated cost look large; a year of daily rows sorts in memory with 32 MB.
        conn.execute("SET jit = off")
        conn.execute("SET work_mem = '32MB'")
        # Timestamps come back in the house's time zone, so no per-row conversion in Python.
        try:
            row = conn.execute(
                sql.SQL("SELECT value FROM {} WHERE name = 'timezone'").format(
                    sql.Identifier(INTERNAL_SCHEMA, "settings")
                )
            ).fetchone()
        except psycopg.Error:
            row = None  # not initialised (yet): queries will say so
        if row is not None:
            conn.execute("SELECT set_config('TimeZone', %s, false)", (row[0],))

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing -------------------------------------------------------------------------------

    @contextmanager
    def _cursor(self, row_factory: Any = dict_row) -> Iterator[psycopg.Cursor[Any]]:
        try:
            with self._pool.connection() as conn:
                tz = self._settings.tz if self._settings else None
                if tz and getattr(conn.info.timezone, "key", None) != tz:
                    # A connection made before the settings existed: results in the house's zone.
                    conn.execute("SELECT set_config('TimeZone', %s, false)", (tz,))
                with conn.cursor(row_factory=row_factory) as cur:
                    yield cur
        except PoolTimeout as exc:
            raise self._why_unavailable() from exc
        except psycopg.Error as exc:
            raise translate(exc, self._dsn) from exc

    def _why_unavailable(self) -> DbError:
        # The pool only says it timed out; one direct attempt tells the user why.
        try:
            psycopg.connect(self._dsn, connect_timeout=max(1, int(self._timeout))).close()
        except psycopg.Error as exc:
            return unavailable(self._dsn, exc)
        return DatabaseUnavailable(
            f"no database connection became free within {self._timeout:g} s; "
            "the server is overloaded or a query is stuck (check pg_stat_activity)"
        )

    def settings(self) -> _Settings:
        """Time zone and table schema from `lutron.settings` (read once)."""
        with self._lock:
            if self._settings is not None:
                return self._settings
        with self._cursor() as cur:
            cur.execute(
                sql.SQL("SELECT name, value FROM {}").format(sql.Identifier(INTERNAL_SCHEMA, "settings"))
            )
            values = {r["name"]: r["value"] for r in cur.fetchall()}
        if "raw_schema" not in values:
            raise SchemaMissing("the database is not initialised; run `telegraf-lutron db init --dsn ...`")
        tz = values.get("timezone", "UTC")
        try:
            zone: ZoneInfo | None = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            zone = None  # datetimes stay in UTC; the database still buckets by `tz`
        settings = _Settings(tz=tz, zone=zone, raw_schema=values["raw_schema"])
        with self._lock:
            self._settings = settings
        return settings

    @property
    def timezone(self) -> str:
        return self.settings().tz

    def _fresh_rollups(self) -> _Settings:
        """`settings()`, after rolling up what the trigger has staged but not yet drained (at most
        `rollup_delay_seconds` of rows; see `rollups`), so answers include the last minute (and
        `lutron.series`, which lists every series, includes new ones). Every query calls it: a
        millisecond when nothing is staged. If it fails (an old grant, a server in recovery) the
        answers are at most that delay behind, which is logged once."""
        s = self.settings()
        try:
            with self._pool.connection() as conn:
                for level in LEVELS:
                    with conn.transaction():
                        conn.execute("SET TRANSACTION READ WRITE")  # the session default is read-only
                        flush(conn.cursor(), level)
        except PoolTimeout as exc:
            raise self._why_unavailable() from exc
        except psycopg.Error as exc:
            if not self._flush_warned:
                self._flush_warned = True
                log.warning(
                    "cannot bring the rollups up to date (%s); answers may miss the last minute of rows. "
                    "Run `telegraf-lutron db init` with this role as --ui-role to grant it",
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                )
        return s

    def _local(self, dt: datetime) -> datetime:
        zone = self._settings.zone if self._settings else None
        if dt.tzinfo is zone:  # the session's TimeZone is the house's: nothing to do
            return dt
        return dt.astimezone(zone) if zone else dt.astimezone(UTC)

    def _fetch(self, query: sql.Composed, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self._cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall()

    def _fetch_rows(self, query: sql.Composed, params: dict[str, Any]) -> list[Any]:
        """Rows as named tuples (columns by name, `r.start`): for results that can run to thousands
        of rows, where a dict per row costs noticeably more."""
        with self._cursor(row_factory=namedtuple_row) as cur:
            cur.execute(query, params)
            return cur.fetchall()

    @staticmethod
    def _labels(level: Level, alias: str) -> dict[str, sql.Composable]:
        """name/area/floor expressions for a rollup or raw row of `level` (NULL where absent)."""
        null = sql.SQL("NULL::text")
        name_col = {"zone": "zone", "area": "area"}.get(level.name)
        return {
            "name": sql.Identifier(alias, name_col) if name_col else null,
            "area": sql.Identifier(alias, "area") if "area" in level.labels else null,
            "floor": sql.Identifier(alias, "floor") if "floor" in level.labels else null,
            "kind": sql.Identifier(alias, "kind") if "kind" in level.labels else null,
        }

    @staticmethod
    def _filters(
        level: Level, alias: str, *, site: str | None, id: str | None, area: str | None
    ) -> tuple[sql.Composable, dict[str, Any]]:
        conds: list[sql.Composable] = []
        params: dict[str, Any] = {}
        if site is not None:
            conds.append(sql.SQL("{} = %(f_site)s").format(sql.Identifier(alias, "site")))
            params["f_site"] = site
        if id is not None:
            if level.key is None:
                raise ValueError("the system level has no id to filter on")
            conds.append(sql.SQL("{} = %(f_id)s").format(sql.Identifier(alias, level.key)))
            params["f_id"] = id
            if site is None:
                # The rollups' primary key starts with site: name the sites so it can be used.
                conds.append(
                    sql.SQL(
                        "{} = ANY(ARRAY(SELECT s.site FROM {} s WHERE s.level = %(f_level)s AND s.series = %(f_id)s))"
                    ).format(sql.Identifier(alias, "site"), sql.Identifier(INTERNAL_SCHEMA, "series"))
                )
                params["f_level"] = level.name
        if area is not None:
            if "area" not in level.labels:
                raise ValueError("area filters apply to zones and areas")
            conds.append(sql.SQL("{} = %(f_area)s").format(sql.Identifier(alias, "area")))
            params["f_area"] = area
        return sql.SQL("").join(sql.SQL(" AND ") + c for c in conds), params

    # --- current state (raw, newest rows only) ----------------------------------------------------

    def current_power(
        self,
        *,
        max_age: timedelta = timedelta(minutes=5),
        now: datetime | None = None,
        site: str | None = None,
    ) -> CurrentPower:
        """The newest row (at most `max_age` old) of every system, area and zone series."""
        if not timedelta(0) < max_age <= RAW_LIMIT:
            raise ValueError("max_age must be more than 0 and at most 48 hours")
        now = _aware(now, "now") if now else datetime.now(UTC)
        s = self._fresh_rollups()
        out: dict[str, list[PowerNow]] = {}
        for level in BY_NAME.values():
            fields = set(level.stored_fields)
            lab = self._labels(level, "r")

            def col(*names: str, fields: set[str] = fields) -> sql.Composable:
                # The first of `names` that is not NULL: today's field, then its predecessor.
                cols = [sql.Identifier("r", n) for n in names if n in fields]
                if not cols:
                    return sql.SQL("NULL::float8")
                return sql.SQL("coalesce({})").format(sql.SQL(", ").join(cols)) if len(cols) > 1 else cols[0]

            query = sql.SQL(
                """
                SELECT st.site, st.series AS id, x.*
                FROM {state} st
                CROSS JOIN LATERAL (
                    SELECT r."time", {name} AS name, {area} AS area, {floor} AS floor, {kind} AS kind,
                           r.watts, {lvl} AS level_pct, {lights_on} AS lights_on, {fans_on} AS fans_on,
                           {shades_open} AS shades_open, {lights_total} AS lights_total,
                           {rated} AS rated_watts, r.energy_joules_total
                    FROM {raw} r
                    WHERE {match} AND r."time" <= %(now)s AND r."time" > %(now)s - %(max_age)s
                    ORDER BY {order}
                    LIMIT 1
                ) x
                WHERE st.level = %(level)s {site_filter}
                ORDER BY st.site, st.series
                """
            ).format(
                state=sql.Identifier(INTERNAL_SCHEMA, "series"),
                raw=level.raw_table(s.raw_schema),
                match=frag.raw_matches(level, "r", "st"),
                order=frag.raw_newest_first(level, "r"),
                lvl=col("level"),
                lights_on=col("lights_on", "zones_on"),
                fans_on=col("fans_on"),
                shades_open=col("shades_open"),
                lights_total=col("lights_total", "zones_total"),
                rated=col("rated_watts"),
                site_filter=sql.SQL("AND st.site = %(site)s") if site is not None else sql.SQL(""),
                **lab,
            )
            rows = self._fetch(query, {"now": now, "max_age": max_age, "level": level.name, "site": site})
            out[level.name] = [
                PowerNow(
                    level=level.name,
                    site=r["site"],
                    id=r["id"],
                    name=r["name"],
                    area=r["area"],
                    floor=r["floor"],
                    time=self._local(r["time"]),
                    watts=r["watts"],
                    level_pct=r["level_pct"],
                    lights_on=r["lights_on"],
                    fans_on=r["fans_on"],
                    shades_open=r["shades_open"],
                    lights_total=r["lights_total"],
                    kind=r["kind"],
                    rated_watts=r["rated_watts"],
                    energy_kwh_total=None
                    if r["energy_joules_total"] is None
                    else _kwh(r["energy_joules_total"]),
                )
                for r in rows
            ]
        return CurrentPower(self._local(now), out["system"], out["area"], out["zone"])

    def zones_on(
        self,
        *,
        max_age: timedelta = timedelta(minutes=15),
        now: datetime | None = None,
        site: str | None = None,
        area: str | None = None,
    ) -> list[ZoneOn]:
        """Zones whose newest row (at most `max_age` old) has level > 0, and since when they are on,
        longest-on first. Every kind: `kind` says whether it is a light on, a fan running or a shade
        open (None for rows written before the kinds)."""
        if not timedelta(0) < max_age <= RAW_LIMIT:
            raise ValueError("max_age must be more than 0 and at most 48 hours")
        now = _aware(now, "now") if now else datetime.now(UTC)
        s = self._fresh_rollups()
        query = sql.SQL(
            """
            WITH cur AS (
                SELECT st.site, st.series, x.*
                FROM {state} st
                CROSS JOIN LATERAL (
                    SELECT r."time", r.level, r.watts, r.zone, r.area, r.floor, r.kind
                    FROM {raw} r
                    WHERE {match_st} AND r."time" <= %(now)s AND r."time" > %(now)s - %(max_age)s
                    ORDER BY {order}
                    LIMIT 1
                ) x
                WHERE st.level = 'zone' {site_filter}
            ),
            on_now AS (
                SELECT * FROM cur WHERE cur.level > 0 {area_filter}
            ),
            off_hour AS (
                -- the newest hour with an "off" sample: the zone came on after it
                SELECT o.*, (
                    SELECT max(h.hour) FROM {hourly} h
                    WHERE {h_matches_o} AND h.hour <= o."time" AND h.off_samples > 0
                ) AS oh
                FROM on_now o
            ),
            last_off AS (
                SELECT x.*, (
                    SELECT max(r."time") FROM {raw} r
                    WHERE {match_x} AND r."time" >= x.oh AND r."time" < x.oh + interval '1 hour'
                      AND r."time" <= x."time" AND r.level = 0
                ) AS off_t
                FROM off_hour x
            )
            SELECT lo.site, lo.series AS zone_id, lo.zone, lo.area, lo.floor, lo.kind, lo.level, lo.watts,
                   lo."time" AS last_seen,
                   CASE
                       WHEN lo.oh IS NULL THEN (
                           SELECT h.first_time FROM {hourly} h
                           WHERE {h_matches_lo} ORDER BY h.hour LIMIT 1)
                       ELSE coalesce((
                           SELECT min(r."time") FROM {raw} r
                           WHERE {match_lo} AND r."time" > lo.off_t AND r."time" <= lo."time" AND r.level > 0),
                           lo.oh + interval '1 hour')
                   END AS since,
                   (lo.oh IS NOT NULL AND lo.off_t IS NOT NULL) AS since_exact
            FROM last_off lo
            ORDER BY since, lo.site, lo.series
            """
        ).format(
            state=sql.Identifier(INTERNAL_SCHEMA, "series"),
            raw=ZONE.raw_table(s.raw_schema),
            hourly=ZONE.hourly_table(),
            match_st=frag.raw_matches(ZONE, "r", "st"),
            match_x=frag.raw_matches(ZONE, "r", "x"),
            match_lo=frag.raw_matches(ZONE, "r", "lo"),
            h_matches_o=frag.rollup_matches(ZONE, "h", "o"),
            h_matches_lo=frag.rollup_matches(ZONE, "h", "lo"),
            order=frag.raw_newest_first(ZONE, "r"),
            site_filter=sql.SQL("AND st.site = %(site)s") if site is not None else sql.SQL(""),
            area_filter=sql.SQL("AND cur.area = %(area)s") if area is not None else sql.SQL(""),
        )
        rows = self._fetch(query, {"now": now, "max_age": max_age, "site": site, "area": area})
        return [
            ZoneOn(
                site=r["site"],
                zone_id=r["zone_id"],
                zone=r["zone"],
                area=r["area"],
                floor=r["floor"],
                level_pct=r["level"],
                watts=r["watts"],
                last_seen=self._local(r["last_seen"]),
                since=self._local(r["since"]) if r["since"] else None,
                since_exact=bool(r["since_exact"]),
                kind=r["kind"],
            )
            for r in rows
        ]

    # --- rollups --------------------------------------------------------------------------------

    def energy(
        self,
        level: LevelName,
        start: datetime,
        end: datetime,
        *,
        resolution: Resolution = "auto",
        site: str | None = None,
        id: str | None = None,
        area: str | None = None,
    ) -> list[EnergyBucket]:
        """Energy and power per series and hour, day or month (auto: hours up to 2 days, days up to
        92 days, else months). `id` picks one zone/area; `area` (a name) the zones of an area."""
        lv = _level(level)
        start, end = _range(start, end)
        span = end - start
        if resolution == "auto":
            resolution = (
                "hour" if span <= ENERGY_HOUR_LIMIT else "day" if span <= ENERGY_DAY_LIMIT else "month"
            )
        s = self._fresh_rollups()
        where, params = self._filters(lv, "t", site=site, id=id, area=area)
        params |= {"start": start, "end": end, "tz": s.tz}
        lab = self._labels(lv, "t")
        sid = frag.rollup_series(lv, "t")
        if resolution == "hour":
            query = sql.SQL(
                """
                SELECT t.hour AS start, t.hour + interval '1 hour' AS "end", t.site, {sid} AS id,
                       {name} AS name, {area} AS area, {floor} AS floor,
                       t.energy_joules, t.watts_avg, t.watts_max, t.samples
                FROM {table} t
                WHERE {hours} {where}
                ORDER BY t.hour, t.site, 4
                """
            ).format(table=lv.hourly_table(), sid=sid, hours=_hours("t"), where=where, **lab)
        elif resolution == "day":
            query = sql.SQL(
                """
                SELECT {day_start} AS start, {next_day_start} AS "end",
                       t.site, {sid} AS id, {name} AS name, {area} AS area, {floor} AS floor,
                       t.energy_joules, t.watts_avg, t.watts_max, t.samples
                FROM {table} t
                WHERE {days} {where}
                ORDER BY t.day, t.site, 4
                """
            ).format(
                table=lv.daily_table(),
                sid=sid,
                day_start=_day_start(sql.SQL("t.day")),
                next_day_start=_day_start(sql.SQL("(t.day + 1)")),
                days=_days("t"),
                where=where,
                **lab,
            )
        elif resolution == "month":
            key_match = sql.SQL(" AND ").join(
                sql.SQL("l.{c} = b.{c}").format(c=sql.Identifier(c)) for c in lv.key_columns
            )
            query = sql.SQL(
                """
                SELECT {month_start} AS start, {next_month_start} AS "end",
                       b.site, b.id, {l_name} AS name, {l_area} AS area, {l_floor} AS floor, b.energy_joules,
                       b.watts_sum / nullif(b.watts_samples, 0) AS watts_avg, b.watts_max, b.samples
                FROM (
                    SELECT date_trunc('month', t.day)::date AS month, {key_cols}, {sid} AS id,
                           sum(t.energy_joules) AS energy_joules, sum(t.watts_sum) AS watts_sum,
                           sum(t.watts_samples) AS watts_samples, max(t.watts_max) AS watts_max,
                           sum(t.samples)::bigint AS samples, max(t.day) AS last_day
                    FROM {table} t
                    WHERE {months} {where}
                    GROUP BY 1, {key_cols}, 3
                ) b
                -- the names of the month's newest day
                JOIN {table} l ON {key_match} AND l.day = b.last_day
                ORDER BY b.month, b.site, b.id
                """
            ).format(
                table=lv.daily_table(),
                sid=sid,
                month_start=_day_start(sql.SQL("b.month")),
                next_month_start=_day_start(sql.SQL("(b.month + interval '1 month')")),
                months=_days("t", whole_months=True),
                where=where,
                key_cols=sql.SQL(", ").join(
                    sql.SQL("t.{}").format(sql.Identifier(c)) for c in lv.key_columns
                ),
                key_match=key_match,
                l_name=self._labels(lv, "l")["name"],
                l_area=self._labels(lv, "l")["area"],
                l_floor=self._labels(lv, "l")["floor"],
            )
        else:
            raise ValueError("resolution must be auto, hour, day or month")
        local, name = self._local, lv.name
        return [
            EnergyBucket(
                start=local(r.start),
                end=local(r.end),
                resolution=resolution,
                level=name,
                site=r.site,
                id=r.id,
                name=r.name,
                area=r.area,
                floor=r.floor,
                energy_kwh=_kwh(r.energy_joules),
                avg_watts=r.watts_avg,
                max_watts=r.watts_max,
                samples=int(r.samples),
            )
            for r in self._fetch_rows(query, params)
        ]

    def power_history(
        self,
        level: LevelName,
        start: datetime,
        end: datetime,
        *,
        site: str | None = None,
        id: str | None = None,
        area: str | None = None,
        max_points: int = 500,
    ) -> list[PowerPoint]:
        """Average and peak power over time per series: raw rows in up to `max_points` bins per
        series for ranges up to 48 h, hourly buckets up to 62 days, daily buckets beyond."""
        lv = _level(level)
        start, end = _range(start, end)
        if max_points < 1:
            raise ValueError("max_points must be at least 1")
        span = end - start
        s = self._fresh_rollups()
        if span <= RAW_LIMIT:
            return self._power_raw(lv, start, end, site=site, id=id, area=area, max_points=max_points)
        where, params = self._filters(lv, "t", site=site, id=id, area=area)
        params |= {"start": start, "end": end, "tz": s.tz}
        lab = self._labels(lv, "t")
        sid = frag.rollup_series(lv, "t")
        if span <= HOURLY_LIMIT:
            source = "hour"
            query = sql.SQL(
                """
                SELECT t.hour AS time, t.site, {sid} AS id, {name} AS name, t.watts_avg, t.watts_max
                FROM {table} t
                WHERE {hours} {where}
                ORDER BY t.hour, t.site, 3
                """
            ).format(table=lv.hourly_table(), sid=sid, hours=_hours("t"), where=where, name=lab["name"])
        else:
            source = "day"
            query = sql.SQL(
                """
                SELECT {day_start} AS time, t.site, {sid} AS id, {name} AS name, t.watts_avg, t.watts_max
                FROM {table} t
                WHERE {days} {where}
                ORDER BY t.day, t.site, 3
                """
            ).format(
                table=lv.daily_table(),
                sid=sid,
                day_start=_day_start(sql.SQL("t.day")),
                days=_days("t"),
                where=where,
                name=lab["name"],
            )
        local = self._local
        return [
            PowerPoint(local(r.time), source, r.site, r.id, r.name, r.watts_avg, r.watts_max)
            for r in self._fetch_rows(query, params)
        ]

    def _power_raw(
        self,
        lv: Level,
        start: datetime,
        end: datetime,
        *,
        site: str | None,
        id: str | None,
        area: str | None,
        max_points: int,
    ) -> list[PowerPoint]:
        s = self.settings()  # power_history brought the rollups up to date
        width = max((end - start) / max_points, timedelta(seconds=1))
        conds: list[sql.Composable] = []
        params: dict[str, Any] = {"start": start, "end": end, "width": width, "level": lv.name}
        if site is not None:
            conds.append(sql.SQL("st.site = %(site)s"))
            params["site"] = site
        if id is not None:
            if lv.key is None:
                raise ValueError("the system level has no id to filter on")
            conds.append(sql.SQL("st.series = %(id)s"))
            params["id"] = id
        area_cond: sql.Composable = sql.SQL("")
        if area is not None:
            if "area" not in lv.labels:
                raise ValueError("area filters apply to zones and areas")
            area_cond = sql.SQL("AND r.area = %(area)s")
            params["area"] = area
            # Pick the area's series from the hourly rollups first, so only their raw rows are read.
            conds.append(
                sql.SQL(
                    "EXISTS (SELECT 1 FROM {hourly} h WHERE {match_h} AND {hours} AND h.area = %(area)s)"
                ).format(
                    hourly=lv.hourly_table(), match_h=frag.rollup_matches(lv, "h", "st"), hours=_hours("h")
                )
            )
        name = self._labels(lv, "r")["name"]
        query = sql.SQL(
            """
            SELECT st.site, st.series AS id, x.bin AS time, x.name, x.avg_w, x.max_w
            FROM {state} st
            CROSS JOIN LATERAL (
                SELECT date_bin(%(width)s, p."time", %(start)s) AS bin, max(p.name) AS name,
                       avg(p.w) AS avg_w, max(p.w) AS max_w
                FROM (
                    SELECT r."time", max({name}) AS name, max(r.watts) AS w   -- duplicates are one sample
                    FROM {raw} r
                    WHERE {match} AND r."time" >= %(start)s AND r."time" < %(end)s {area_cond}
                    GROUP BY r."time"
                ) p
                GROUP BY 1
            ) x
            WHERE st.level = %(level)s {conds}
            ORDER BY x.bin, st.site, st.series
            """
        ).format(
            state=sql.Identifier(INTERNAL_SCHEMA, "series"),
            raw=lv.raw_table(s.raw_schema),
            match=frag.raw_matches(lv, "r", "st"),
            name=name,
            area_cond=area_cond,
            conds=sql.SQL("").join(sql.SQL(" AND ") + c for c in conds),
        )
        local = self._local
        return [
            PowerPoint(local(r.time), "raw", r.site, r.id, r.name, r.avg_w, r.max_w)
            for r in self._fetch_rows(query, params)
        ]

    def weekday_hour_power(
        self,
        start: datetime,
        end: datetime,
        *,
        level: LevelName = "system",
        site: str | None = None,
        id: str | None = None,
        area: str | None = None,
    ) -> list[WeekdayHourPower]:
        """Average power by local weekday and hour of day over `[start, end)`, from hourly rollups
        (kept 2 years by default). The selected series are summed per hour first."""
        lv = _level(level)
        start, end = _range(start, end)
        s = self._fresh_rollups()
        where, params = self._filters(lv, "t", site=site, id=id, area=area)
        params |= {"start": start, "end": end, "tz": s.tz}
        query = sql.SQL(
            """
            SELECT extract(isodow FROM hh.hour AT TIME ZONE %(tz)s)::int AS weekday,
                   extract(hour FROM hh.hour AT TIME ZONE %(tz)s)::int AS hour,
                   avg(hh.watts) AS avg_watts, max(hh.watts) AS max_watts, count(*) AS hours
            FROM (
                SELECT t.hour, sum(t.watts_avg) AS watts
                FROM {table} t
                WHERE t.hour >= %(start)s AND t.hour < %(end)s {where}
                GROUP BY t.hour
            ) hh
            GROUP BY 1, 2
            ORDER BY 1, 2
            """
        ).format(table=lv.hourly_table(), where=where)
        return [
            WeekdayHourPower(r["weekday"], r["hour"], r["avg_watts"], r["max_watts"], int(r["hours"]))
            for r in self._fetch(query, params)
        ]

    def top_zones(
        self,
        start: datetime,
        end: datetime,
        *,
        limit: int = 10,
        site: str | None = None,
        area: str | None = None,
    ) -> list[ZoneEnergy]:
        """The zones that used the most energy in `[start, end)`: hourly rollups (exact hours) up
        to 7 days, whole local days beyond."""
        start, end = _range(start, end)
        if limit < 1:
            raise ValueError("limit must be at least 1")
        s = self._fresh_rollups()
        where, params = self._filters(ZONE, "t", site=site, id=None, area=area)
        params |= {"start": start, "end": end, "tz": s.tz, "limit": limit}
        if end - start <= TOP_HOURLY_LIMIT:
            table, order = ZONE.hourly_table(), sql.SQL("t.hour")
            rng = _hours("t")
        else:
            table, order = ZONE.daily_table(), sql.SQL("t.day")
            rng = _days("t")
        query = sql.SQL(
            """
            SELECT top.*, l.zone, l.area, l.floor, l.output_type, l.kind
            FROM (
                SELECT t.site, t.zone_id, sum(t.energy_joules) AS energy_joules,
                       sum(t.watts_sum) / nullif(sum(t.watts_samples), 0) AS avg_watts,
                       max(t.watts_max) AS max_watts,
                       sum(t.on_samples)::float8 / nullif(sum(t.on_samples + t.off_samples), 0) AS on_fraction
                FROM {table} t
                WHERE {rng} {where}
                GROUP BY t.site, t.zone_id
                ORDER BY energy_joules DESC, t.site, t.zone_id
                LIMIT %(limit)s
            ) top
            -- names from the newest bucket in the range, looked up for the top zones only
            CROSS JOIN LATERAL (
                SELECT t.zone, t.area, t.floor, t.output_type, t.kind FROM {table} t
                WHERE t.site = top.site AND t.zone_id = top.zone_id AND {rng}
                ORDER BY {order} DESC LIMIT 1
            ) l
            ORDER BY top.energy_joules DESC, top.site, top.zone_id
            """
        ).format(table=table, order=order, rng=rng, where=where)
        return [
            ZoneEnergy(
                site=r["site"],
                zone_id=r["zone_id"],
                zone=r["zone"],
                area=r["area"],
                floor=r["floor"],
                output_type=r["output_type"],
                energy_kwh=_kwh(r["energy_joules"]),
                avg_watts=r["avg_watts"],
                max_watts=r["max_watts"],
                on_fraction=r["on_fraction"],
                kind=r["kind"],
            )
            for r in self._fetch(query, params)
        ]

    def zones_on_overnight(
        self,
        first_night: date,
        last_night: date,
        *,
        night_start: time = time(0, 0),
        night_end: time = time(5, 0),
        site: str | None = None,
        area: str | None = None,
        kinds: Sequence[str] = DRAWING_KINDS,
    ) -> list[OvernightZone]:
        """Zones that were on for the whole night, for each night from `first_night` to `last_night`
        (inclusive; a night is named by the date it ends). The night runs from `night_start` (on the
        previous evening when it is later than `night_end`) to `night_end`, local time, whole hours.
        A night with missing data (plugin down) does not count as on. Only zones of `kinds` (by
        default those that draw power: a shade open all night is not left on); hours from before
        the kinds (no kind recorded) count as they did."""
        for t in (night_start, night_end):
            if t.minute or t.second or t.microsecond or t.tzinfo:
                raise ValueError("night_start and night_end must be whole local hours, e.g. time(23)")
        if night_start == night_end:
            raise ValueError("night_start and night_end must differ")
        if last_night < first_night:
            raise ValueError("last_night must not be before first_night")
        s = self._fresh_rollups()
        where, params = self._filters(ZONE, "h", site=site, id=None, area=area)
        params |= {
            "tz": s.tz,
            "first": first_night,
            "n": (last_night - first_night).days + 1,
            "ns": night_start,
            "ne": night_end,
            "back": 1 if night_start > night_end else 0,
            "kinds": list(kinds),
        }
        query = sql.SQL(
            """
            WITH nights AS (
                SELECT (%(first)s::date + i) AS night,
                       ((%(first)s::date + i - %(back)s) + %(ns)s::time) AT TIME ZONE %(tz)s AS ws,
                       ((%(first)s::date + i) + %(ne)s::time) AT TIME ZONE %(tz)s AS we
                FROM generate_series(0, %(n)s - 1) AS i
            ),
            candidates AS (
                -- only zones fully on in a night's first hour can have stayed on all night
                SELECT n.night, n.ws, n.we, h.site, h.zone_id
                FROM nights n
                JOIN {hourly} h ON h.hour = n.ws
                WHERE h.on_samples > 0 AND h.off_samples = 0 {where}
                  AND (h.kind IS NULL OR h.kind = ANY(%(kinds)s))
            )
            SELECT c.night, c.site, c.zone_id, x.zone, x.area, x.floor, x.kind, x.hours, x.energy_joules,
                   x.avg_watts
            FROM candidates c
            CROSS JOIN LATERAL (
                SELECT {names},
                       count(*) AS hours, sum(h.energy_joules) AS energy_joules,
                       sum(h.watts_sum) / nullif(sum(h.watts_samples), 0) AS avg_watts,
                       bool_and(h.on_samples > 0 AND h.off_samples = 0) AS all_on
                FROM {hourly} h
                WHERE h.site = c.site AND h.zone_id = c.zone_id AND h.hour >= c.ws AND h.hour < c.we
            ) x
            -- every hour of the night present (no gap in the data) and on throughout
            WHERE x.all_on AND x.hours >= round(extract(epoch FROM c.we - c.ws) / 3600)
            ORDER BY c.night, x.energy_joules DESC, c.site, c.zone_id
            """
        ).format(
            hourly=ZONE.hourly_table(),
            where=where,
            names=_join_newest("h", ("zone", "area", "floor", "kind")),
        )
        return [
            OvernightZone(
                night=r["night"],
                site=r["site"],
                zone_id=r["zone_id"],
                zone=r["zone"],
                area=r["area"],
                floor=r["floor"],
                hours=int(r["hours"]),
                energy_kwh=_kwh(r["energy_joules"]),
                avg_watts=r["avg_watts"],
                kind=r["kind"],
            )
            for r in self._fetch(query, params)
        ]

    # --- catalogue ------------------------------------------------------------------------------

    def series(self, level: LevelName) -> list[tuple[str, str]]:
        """(site, id) of every series of `level` ever seen."""
        lv = _level(level)
        self._fresh_rollups()
        rows = self._fetch(
            sql.SQL("SELECT site, series FROM {} WHERE level = %(level)s ORDER BY site, series").format(
                sql.Identifier(INTERNAL_SCHEMA, "series")
            ),
            {"level": lv.name},
        )
        return [(r["site"], r["series"]) for r in rows]

    # --- one zone's activity (added for the web UI's Zones page) ----------------------------------

    def level_history(
        self, start: datetime, end: datetime, *, site: str, id: str, max_points: int = 500
    ) -> list[LevelPoint]:
        """Dimmer level and power of one zone over `[start, end)` (at most 48 h), from raw rows in
        up to `max_points` bins; empty bins are left out."""
        start, end = _range(start, end)
        if end - start > RAW_LIMIT:
            raise ValueError("level_history reads raw rows: the range must be at most 48 hours")
        if max_points < 1:
            raise ValueError("max_points must be at least 1")
        s = self._fresh_rollups()
        width = max((end - start) / max_points, timedelta(seconds=1))
        query = sql.SQL(
            """
            SELECT date_bin(%(width)s, p."time", %(start)s) AS time, avg(p.level) AS avg_level,
                   max(p.level) AS max_level, min(p.level) AS min_level, avg(p.w) AS avg_watts
            FROM (
                SELECT r."time", max(r.level) AS level, max(r.watts) AS w   -- duplicates are one sample
                FROM {raw} r
                WHERE {series} AND r."time" >= %(start)s AND r."time" < %(end)s
                GROUP BY r."time"
            ) p
            GROUP BY 1
            ORDER BY 1
            """
        ).format(
            raw=ZONE.raw_table(s.raw_schema),
            series=frag.raw_series_is(ZONE, "r", sql.Placeholder("site"), sql.Placeholder("id")),
        )
        rows = self._fetch(query, {"width": width, "start": start, "end": end, "site": site, "id": id})
        return [
            LevelPoint(
                time=self._local(r["time"]),
                site=site,
                zone_id=id,
                avg_level=r["avg_level"],
                max_level=r["max_level"],
                min_level=r["min_level"],
                avg_watts=r["avg_watts"],
            )
            for r in rows
        ]

    def on_hours(
        self,
        start: datetime,
        end: datetime,
        *,
        site: str | None = None,
        id: str | None = None,
        area: str | None = None,
    ) -> list[OnHours]:
        """Hours each zone was on per local day, from hourly rollups: every hour that overlaps
        `[start, end)` adds the share of its samples with the level above 0."""
        start, end = _range(start, end)
        self._fresh_rollups()  # raises SchemaMissing on a database that was never initialised
        where, params = self._filters(ZONE, "t", site=site, id=id, area=area)
        params |= {"start": start, "end": end}
        query = sql.SQL(
            """
            SELECT t.day, t.site, t.zone_id,
                   {names},
                   coalesce(sum(t.on_samples::float8 / nullif(t.on_samples + t.off_samples, 0)), 0) AS on_hours,
                   count(*) FILTER (WHERE t.on_samples + t.off_samples > 0) AS hours
            FROM {hourly} t
            WHERE {hours} {where}
            GROUP BY t.day, t.site, t.zone_id
            ORDER BY t.day, t.site, t.zone_id
            """
        ).format(hourly=ZONE.hourly_table(), where=where, names=_join_newest("t"), hours=_hours("t"))
        return [
            OnHours(
                day=r["day"],
                site=r["site"],
                zone_id=r["zone_id"],
                zone=r["zone"],
                area=r["area"],
                floor=r["floor"],
                on_hours=float(r["on_hours"]),
                hours=int(r["hours"]),
            )
            for r in self._fetch(query, params)
        ]


@dataclass(slots=True)
class LevelPoint:
    """One bin of a zone's raw rows (`HistoryStore.level_history`)."""

    time: datetime  # start of the bin
    site: str
    zone_id: str
    avg_level: float | None
    max_level: float | None
    min_level: float | None
    avg_watts: float | None


@dataclass(slots=True)
class OnHours:
    """How long a zone was on during one local day (`HistoryStore.on_hours`)."""

    day: date
    site: str
    zone_id: str
    zone: str | None
    area: str | None
    floor: str | None
    on_hours: float  # sum over the day's hours of the share of samples with level > 0
    hours: int  # hours of that day with samples (24 for a fully recorded day; 23/25 at DST)


def as_dicts(rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Rows as plain dicts (for callers that prefer them to dataclasses)."""
    from dataclasses import asdict

    return [asdict(r) for r in rows]
