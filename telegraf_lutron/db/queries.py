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

Where the answers come from (db/reads.py has the details):
- the change rows (`lutron_zone_change`, `lutron_house`, names in `lutron.zone_names`) and their
  exact rollups (`lutron.zone_change_*`, `lutron.house_*`): a zone holds its level and watts from
  its row until its next one, and a site is current while its house rows (one a minute) arrive;
- for history written before a site's first change row (a database upgraded from the snapshot
  design), the snapshot rows and their rollups, bucket by bucket (see db/reads.py).

Which data a query reads depends on its range, so no query over more than 48 hours reads raw rows:
- raw rows: `current_power` and `zones_on` (each zone's newest change row, each site's newest
  house row at most `max_age` old; the rows since a zone's last "off" for when it came on),
  `power_history` up to 48 h and `level_history` (at most 48 h), binned by time;
- hourly rollups: `energy` at hour resolution, `power_history` up to 62 days, `weekday_hour_power`,
  `top_zones` up to 7 days, `zones_on_overnight`, `on_hours`;
- daily rollups: `energy` by day or month, `power_history` beyond 62 days, `top_zones` beyond 7 days.
Zone and area buckets add each zone's open segment (from its newest row to the house's newest row,
`lutron.change_last`), which no rollup holds yet. Areas are the sums of their zones.

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
    reads,
    resolve_dsn,
    translate,
    unavailable,
)
from telegraf_lutron.db import fragments as frag
from telegraf_lutron.db.changes import HOUSE_HOURLY, LAST, ZONE_HOURLY
from telegraf_lutron.db.levels import BY_NAME, HOUSE, LEVELS, ZONE, ZONE_CHANGE, Level
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

    @staticmethod
    def _bucket_params(
        lv: Level, s: _Settings, start: datetime, end: datetime, *, site: str | None, id: str | None
    ) -> dict[str, Any]:
        """The parameters of `reads.buckets` (its filters are on when these are set)."""
        if id is not None and lv.key is None:
            raise ValueError("the system level has no id to filter on")
        params: dict[str, Any] = {"start": start, "end": end, "tz": s.tz}
        if site is not None:
            params["f_site"] = site
        if id is not None:
            params["f_id"] = id
        return params

    @staticmethod
    def _area_filter(
        lv: Level, labels: dict[str, sql.Composable], area: str | None, params: dict[str, Any]
    ) -> sql.Composable:
        """`AND <the bucket's area name> = %(f_area)s` (nothing without `area`)."""
        if area is None:
            return sql.SQL("")
        if "area" not in lv.labels:
            raise ValueError("area filters apply to zones and areas")
        params["f_area"] = area
        return sql.SQL("AND {} = %(f_area)s").format(labels["area"])

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
        out = self._current_power_changes(s, now, max_age, site)
        # Sites without change rows in `max_age` (history from before the upgrade): their snapshots.
        current = {p.site for p in out["system"]}
        for level, rows in self._current_power_snapshot(s, now, max_age, site).items():
            out[level] = sorted(
                out[level] + [p for p in rows if p.site not in current], key=lambda p: (p.site, p.id)
            )
        return CurrentPower(self._local(now), out["system"], out["area"], out["zone"])

    def _current_power_snapshot(
        self, s: _Settings, now: datetime, max_age: timedelta, site: str | None
    ) -> dict[str, list[PowerNow]]:
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
            out[level.name] = [self._power_now(level.name, r) for r in rows]
        return out

    def _power_now(self, level: str, r: dict[str, Any]) -> PowerNow:
        """One row of `current_power` (snapshot or change rows: the same columns)."""
        return PowerNow(
            level=level,
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
            energy_kwh_total=None if r["energy_joules_total"] is None else _kwh(r["energy_joules_total"]),
        )

    def _current_power_changes(
        self, s: _Settings, now: datetime, max_age: timedelta, site: str | None
    ) -> dict[str, list[PowerNow]]:
        """Now from the change rows: a site is current while its house rows arrive (the newest
        within `max_age`); each zone holds the level and watts of its newest change row, and its
        counter runs on at those watts up to the house row's time."""
        query = sql.SQL(
            """
            WITH {names}, {current}
            SELECT 'zone' AS level, z.site, z.zone_id AS id, z.zone AS name, z.area, z.floor, z."time",
                   z.watts, z.level AS level_pct, NULL::float8 AS lights_on, NULL::float8 AS fans_on,
                   NULL::float8 AS shades_open, NULL::float8 AS lights_total, z.kind, z.rated_watts,
                   z.energy AS energy_joules_total
            FROM zones z
            UNION ALL
            SELECT 'area', z.site, z.area_id, max(z.area), max(z.area), max(z.floor), max(z."time"), sum(z.watts), NULL,
                   {lights_on}, {fans_on}, {shades_open}, NULL, NULL, NULL, sum(z.energy)
            FROM zones z GROUP BY z.site, z.area_id
            UNION ALL
            SELECT 'system', h.site, '', NULL, NULL, NULL, h."time", h.watts, NULL,
                   c.lights_on, c.fans_on, c.shades_open, c.lights_total, NULL, NULL, h.energy_joules_total
            FROM house h
            LEFT JOIN LATERAL (
                SELECT {lights_on} AS lights_on, {fans_on} AS fans_on, {shades_open} AS shades_open,
                       count(*) FILTER (WHERE z.kind = 'light')::float8 AS lights_total
                FROM zones z WHERE z.site = h.site
            ) c ON true
            ORDER BY 1, 2, 3
            """
        ).format(
            names=reads.names_cte(s.raw_schema),
            current=self._current_zones_sql(s, site),
            lights_on=sql.SQL("count(*) FILTER (WHERE z.kind = 'light' AND z.level > 0)::float8"),
            fans_on=sql.SQL("count(*) FILTER (WHERE z.kind = 'fan' AND z.level > 0)::float8"),
            shades_open=sql.SQL("count(*) FILTER (WHERE z.kind = 'shade' AND z.level > 0)::float8"),
        )
        out: dict[str, list[PowerNow]] = {"zone": [], "area": [], "system": []}
        for r in self._fetch(query, {"now": now, "max_age": max_age, "site": site}):
            out[r["level"]].append(self._power_now(r["level"], r))
        return out

    @staticmethod
    def _current_zones_sql(s: _Settings, site: str | None) -> sql.Composed:
        """CTEs `house` (each site's newest house row within %(max_age)s of %(now)s) and `zones`
        (every zone of those sites as its newest change row up to %(now)s left it, its counter run
        on to the house row's time); they follow a `names` CTE."""
        return sql.SQL(
            """house AS (
                SELECT x.* FROM (SELECT DISTINCT n.site FROM names n) st
                CROSS JOIN LATERAL (
                    SELECT st.site, r."time", r.watts, r.energy_joules_total
                    FROM {house} r
                    WHERE {house_match} AND r."time" <= %(now)s AND r."time" > %(now)s - %(max_age)s
                    ORDER BY {house_order}
                    LIMIT 1
                ) x
                WHERE true {site_filter}
            ),
            zones AS (
                SELECT n.site, n.zone_id, n.zone, n.area_id, n.area, n.floor, coalesce(z.kind, n.kind) AS kind,
                       n.rated_watts, greatest(h."time", z."time") AS "time", z."time" AS changed, z.level, z.watts,
                       z.energy_joules_total
                       + coalesce(z.watts, 0) * greatest(extract(epoch FROM h."time" - z."time"), 0) AS energy
                FROM names n
                JOIN house h ON h.site = n.site
                CROSS JOIN LATERAL (
                    SELECT r."time", r.level, r.watts, r.energy_joules_total, r.kind
                    FROM {zone_change} r
                    WHERE {zone_match} AND r."time" <= %(now)s
                    ORDER BY {zone_order}
                    LIMIT 1
                ) z
            )"""
        ).format(
            house=HOUSE.raw_table(s.raw_schema),
            house_match=frag.raw_series_is(HOUSE, "r", sql.SQL("st.site"), sql.SQL("''")),
            house_order=frag.raw_newest_first(HOUSE, "r"),
            site_filter=sql.SQL("AND st.site = %(site)s") if site is not None else sql.SQL(""),
            zone_change=ZONE_CHANGE.raw_table(s.raw_schema),
            zone_match=frag.raw_series_is(ZONE_CHANGE, "r", sql.SQL("n.site"), sql.SQL("n.zone_id")),
            zone_order=frag.raw_newest_first(ZONE_CHANGE, "r"),
        )

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
        params = {"now": now, "max_age": max_age, "site": site, "area": area}
        current = {
            r["site"]
            for r in self._fetch(
                sql.SQL("WITH {}, {} SELECT site FROM house").format(
                    reads.names_cte(s.raw_schema), self._current_zones_sql(s, site)
                ),
                params,
            )
        }
        on = self._zones_on_changes(s, site, area, params)
        on += [z for z in self._zones_on_snapshot(s, params) if z.site not in current]
        return sorted(on, key=lambda z: (z.since is None, z.since or now, z.site, z.zone_id))

    def _zones_on_changes(
        self, s: _Settings, site: str | None, area: str | None, params: dict[str, Any]
    ) -> list[ZoneOn]:
        """Zones on now by their newest change row; on since the first row after their newest
        row with level 0 (exact), else since their first row (the records begin)."""
        query = sql.SQL(
            """
            WITH {names}, {current}
            SELECT z.site, z.zone_id, z.zone, z.area, z.floor, z.kind, z.level, z.watts,
                   z."time" AS last_seen, coalesce(o.off_t IS NOT NULL, false) AS since_exact,
                   (SELECT min(r."time") FROM {zone_change} r
                    WHERE {zone_match} AND r."time" > coalesce(o.off_t, '-infinity') AND r."time" <= z.changed
                   ) AS since
            FROM zones z
            CROSS JOIN LATERAL (
                SELECT max(r."time") AS off_t FROM {zone_change} r
                WHERE {zone_match} AND r."time" <= z.changed AND coalesce(r.level, 0) <= 0
            ) o
            WHERE z.level > 0 {area_filter}
            """
        ).format(
            names=reads.names_cte(s.raw_schema),
            current=self._current_zones_sql(s, site),
            zone_change=ZONE_CHANGE.raw_table(s.raw_schema),
            zone_match=frag.raw_series_is(ZONE_CHANGE, "r", sql.SQL("z.site"), sql.SQL("z.zone_id")),
            area_filter=sql.SQL("AND z.area = %(area)s") if area is not None else sql.SQL(""),
        )
        return [self._zone_on(r) for r in self._fetch(query, params)]

    def _zone_on(self, r: dict[str, Any]) -> ZoneOn:
        return ZoneOn(
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

    def _zones_on_snapshot(self, s: _Settings, params: dict[str, Any]) -> list[ZoneOn]:
        site, area = params["site"], params["area"]
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
        return [self._zone_on(r) for r in self._fetch(query, params)]

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
        params = self._bucket_params(lv, s, start, end, site=site, id=id)
        key: sql.Composable
        first: sql.Composable
        after: sql.Composable
        if resolution == "hour":
            key, first, after = sql.SQL("u.b"), sql.SQL("g.b"), sql.SQL("g.b + interval '1 hour'")
            bucket: reads.Bucket = "hour"
        elif resolution == "day":
            key, bucket = sql.SQL("u.b"), "day"
            first, after = _day_start(sql.SQL("g.b")), _day_start(sql.SQL("(g.b + 1)"))
        elif resolution == "month":
            key, bucket = sql.SQL("date_trunc('month', u.b)::date"), "day"
            first = _day_start(sql.SQL("g.b"))
            after = _day_start(sql.SQL("(g.b + interval '1 month')"))
        else:
            raise ValueError("resolution must be auto, hour, day or month")
        if resolution == "month":  # a month is many daily buckets: the newest one's names
            join, lab = reads.labels_join(lv, fallback="sl")
            join = join + sql.SQL(" ") + reads.snapshot_labels(lv, "day", whole_months=True)
        else:
            join, lab = reads.labels_join(lv)
        query = sql.SQL(
            """
            {ctes}
            SELECT {first} AS start, {after} AS "end", g.site, g.id, {name} AS name, {area} AS area,
                   {floor} AS floor, g.energy_joules, g.watts_sum / nullif(g.watts_n, 0) AS watts_avg,
                   g.watts_max, g.samples
            FROM ({grouped}) g
            {join}
            WHERE true {area_filter}
            ORDER BY g.b, g.site, g.id
            """
        ).format(
            ctes=reads.ctes(s.raw_schema),
            first=first,
            after=after,
            grouped=reads.grouped(
                lv, bucket, key, site=site is not None, id=id is not None, whole_months=resolution == "month"
            ),
            join=join,
            area_filter=self._area_filter(lv, lab, area, params),
            name=lab["name"],
            area=lab["area"],
            floor=lab["floor"],
        )
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
                samples=round(r.samples or 0),
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
        params = self._bucket_params(lv, s, start, end, site=site, id=id)
        source = "hour" if span <= HOURLY_LIMIT else "day"
        first = sql.SQL("g.b") if source == "hour" else _day_start(sql.SQL("g.b"))
        join, lab = reads.labels_join(lv)
        query = sql.SQL(
            """
            {ctes}
            SELECT {first} AS time, g.site, g.id, {name} AS name,
                   g.watts_sum / nullif(g.watts_n, 0) AS watts_avg, g.watts_max
            FROM ({grouped}) g
            {join}
            WHERE true {area_filter}
            ORDER BY g.b, g.site, g.id
            """
        ).format(
            ctes=reads.ctes(s.raw_schema),
            first=first,
            grouped=reads.grouped(
                lv,
                "hour" if source == "hour" else "day",
                sql.SQL("u.b"),
                site=site is not None,
                id=id is not None,
            ),
            join=join,
            area_filter=self._area_filter(lv, lab, area, params),
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
                      AND r."time" < {cut}
                    GROUP BY r."time"
                ) p
                GROUP BY 1
            ) x
            WHERE st.level = %(level)s {conds}
            ORDER BY x.bin, st.site, st.series
            """
        ).format(
            cut=self._cut_time(s, sql.SQL("st.site")),
            state=sql.Identifier(INTERNAL_SCHEMA, "series"),
            raw=lv.raw_table(s.raw_schema),
            match=frag.raw_matches(lv, "r", "st"),
            name=name,
            area_cond=area_cond,
            conds=sql.SQL("").join(sql.SQL(" AND ") + c for c in conds),
        )
        rows = self._fetch(query, params) + self._fetch(
            self._power_raw_changes(s, lv, site, id, area), params
        )
        rows = sorted(
            self._newest_per_bin(rows, "time", "site", "id"), key=lambda r: (r["time"], r["site"], r["id"])
        )
        local = self._local
        return [
            PowerPoint(local(r["time"]), "raw", r["site"], r["id"], r["name"], r["avg_w"], r["max_w"])
            for r in rows
        ]

    def _power_raw_changes(
        self, s: _Settings, lv: Level, site: str | None, id: str | None, area: str | None
    ) -> sql.Composed:
        """Binned power from the change rows: the house rows (one a minute) for the system; zones'
        segments weighted by time; an area the sum of its zones' averages (its peak is not known)."""
        if lv.key is None:
            return sql.SQL(
                """
                SELECT st.site, ''::text AS id, x.bin AS time, NULL::text AS name, x.avg_w, x.max_w
                FROM (SELECT DISTINCT h.site FROM {house_hourly} h) st
                CROSS JOIN LATERAL (
                    SELECT date_bin(%(width)s, p."time", %(start)s) AS bin, avg(p.w) AS avg_w, max(p.w) AS max_w
                    FROM (
                        SELECT r."time", max(r.watts) AS w FROM {house} r
                        WHERE {match} AND r."time" >= %(start)s AND r."time" < %(end)s
                        GROUP BY r."time"
                    ) p
                    GROUP BY 1
                ) x
                WHERE true {site_filter}
                """
            ).format(
                house_hourly=reads.q(HOUSE_HOURLY),
                house=HOUSE.raw_table(s.raw_schema),
                match=frag.raw_series_is(HOUSE, "r", sql.SQL("st.site"), sql.SQL("''")),
                site_filter=sql.SQL("AND st.site = %(site)s") if site is not None else sql.SQL(""),
            )
        conds = [
            sql.SQL(f"n.{column} = %({param})s")
            for column, param, value in (
                ("site", "site", site),
                ("zone_id" if lv is ZONE else "area_id", "id", id),
                ("area", "area", area),
            )
            if value is not None
        ]
        per_zone = sql.SQL(
            """
            SELECT n.site, n.zone_id, n.area_id, n.zone, n.area, x.bin, x.avg_w, x.max_w
            FROM names n
            CROSS JOIN LATERAL (
                SELECT g.bin, sum(g.watts * g.d) / sum(g.d) AS avg_w, max(g.watts) AS max_w
                FROM ({segments}) g
                GROUP BY g.bin
            ) x
            WHERE true {conds}
            """
        ).format(
            segments=self._zone_segments(s, sql.SQL("n.site"), sql.SQL("n.zone_id")),
            conds=sql.SQL("").join(sql.SQL(" AND ") + c for c in conds),
        )
        if lv is ZONE:
            select = sql.SQL(
                "SELECT z.site, z.zone_id AS id, z.bin AS time, z.zone AS name, z.avg_w, z.max_w FROM z"
            )
        else:
            select = sql.SQL(
                "SELECT z.site, z.area_id AS id, z.bin AS time, max(z.area) AS name, sum(z.avg_w) AS avg_w,"
                " NULL::float8 AS max_w FROM z GROUP BY 1, 2, 3"
            )
        return sql.SQL("WITH {names}, z AS ({per_zone}) {select}").format(
            names=reads.names_cte(s.raw_schema), per_zone=per_zone, select=select
        )

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
        params = self._bucket_params(lv, s, start, end, site=site, id=id)
        join, lab = reads.labels_join(lv)
        query = sql.SQL(
            """
            {ctes}
            SELECT extract(isodow FROM hh.b AT TIME ZONE %(tz)s)::int AS weekday,
                   extract(hour FROM hh.b AT TIME ZONE %(tz)s)::int AS hour,
                   avg(hh.watts) AS avg_watts, max(hh.watts) AS max_watts, count(*) AS hours
            FROM (
                SELECT g.b, sum(g.watts_sum / nullif(g.watts_n, 0)) AS watts
                FROM ({grouped}) g
                {join}
                WHERE g.b >= %(start)s AND g.b < %(end)s {area_filter}
                GROUP BY g.b
            ) hh
            GROUP BY 1, 2
            ORDER BY 1, 2
            """
        ).format(
            ctes=reads.ctes(s.raw_schema),
            grouped=reads.grouped(lv, "hour", sql.SQL("u.b"), site=site is not None, id=id is not None),
            join=join,
            area_filter=self._area_filter(lv, lab, area, params),
        )
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
        params = self._bucket_params(ZONE, s, start, end, site=site, id=None)
        params["limit"] = limit
        bucket: reads.Bucket = "hour" if end - start <= TOP_HOURLY_LIMIT else "day"
        join, lab = reads.labels_join(ZONE, "top", fallback="sl")
        join = join + sql.SQL(" ") + reads.snapshot_labels(ZONE, bucket, "top")
        query = sql.SQL(
            """
            {ctes}
            SELECT top.site, top.id AS zone_id, top.energy_joules, top.avg_watts, top.max_watts, top.on_fraction,
                   {name} AS zone, {area} AS area, {floor} AS floor, {output_type} AS output_type, {kind} AS kind
            FROM (
                SELECT g.site, g.id, g.energy_joules, g.watts_sum / nullif(g.watts_n, 0) AS avg_watts,
                       g.watts_max AS max_watts, g.on_w / nullif(g.all_w, 0) AS on_fraction,
                       g.name, g.area, g.floor, g.kind, g.output_type
                FROM ({grouped}) g
                ORDER BY g.energy_joules DESC, g.site, g.id
            ) top
            {join}
            WHERE true {area_filter}
            ORDER BY top.energy_joules DESC, top.site, top.id
            LIMIT %(limit)s
            """
        ).format(
            ctes=reads.ctes(s.raw_schema),
            grouped=reads.grouped(ZONE, bucket, sql.SQL("0"), site=site is not None),
            join=join,
            area_filter=self._area_filter(ZONE, lab, area, params),
            **lab,
        )
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
            "full": 3600.0 - 1e-6,
        }
        if area is not None:
            params["f_area"] = area
        # Nights that end before the site's cut from the snapshot rollups (every sample on), the
        # others from the change rollups (on for the whole hour, and the house reporting in it).
        query = sql.SQL(
            """
            {ctes},
            nights AS (
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
                LEFT JOIN cut c ON c.site = h.site
                WHERE h.on_samples > 0 AND h.off_samples = 0 {where}
                  AND (h.kind IS NULL OR h.kind = ANY(%(kinds)s))
                  AND n.we <= coalesce(c.time, 'infinity')
            ),
            change_candidates AS (
                SELECT n.night, n.ws, n.we, h.site, h.zone_id
                FROM nights n
                JOIN {change_hourly} h ON h.hour = n.ws
                JOIN cut c ON c.site = h.site AND n.we > c.time
                LEFT JOIN names l ON l.site = h.site AND l.zone_id = h.zone_id
                WHERE h.on_seconds >= %(full)s {cwhere}
                  AND (l.kind IS NULL OR l.kind = ANY(%(kinds)s))
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
            UNION ALL
            SELECT c.night, c.site, c.zone_id, l.zone, l.area, l.floor, l.kind, x.hours, x.energy_joules,
                   x.avg_watts
            FROM change_candidates c
            CROSS JOIN LATERAL (
                SELECT count(*) AS hours, sum(h.energy_joules) AS energy_joules,
                       sum(h.energy_joules) / nullif(sum(hh.covered_seconds), 0) AS avg_watts,
                       bool_and(h.on_seconds >= %(full)s AND hh.covered_seconds > 0) AS all_on
                FROM {change_hourly} h
                LEFT JOIN {house_hourly} hh ON hh.site = h.site AND hh.hour = h.hour
                WHERE h.site = c.site AND h.zone_id = c.zone_id AND h.hour >= c.ws AND h.hour < c.we
            ) x
            LEFT JOIN names l ON l.site = c.site AND l.zone_id = c.zone_id
            WHERE x.all_on AND x.hours >= round(extract(epoch FROM c.we - c.ws) / 3600)
            ORDER BY 1, 9 DESC, 2, 3
            """
        ).format(
            ctes=reads.ctes(s.raw_schema),
            hourly=ZONE.hourly_table(),
            change_hourly=reads.q(ZONE_HOURLY),
            house_hourly=reads.q(HOUSE_HOURLY),
            where=where,
            cwhere=sql.SQL("").join(
                [
                    sql.SQL(" AND h.site = %(f_site)s") if site is not None else sql.SQL(""),
                    sql.SQL(" AND l.area = %(f_area)s") if area is not None else sql.SQL(""),
                ]
            ),
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
        st = self._fresh_rollups()
        changes = {
            "zone": sql.SQL("SELECT n.site, n.zone_id FROM names n"),
            "area": sql.SQL("SELECT DISTINCT n.site, n.area_id FROM names n"),
            "system": sql.SQL("SELECT DISTINCT h.site, ''::text FROM {} h").format(reads.q(HOUSE_HOURLY)),
        }[lv.name]
        rows = self._fetch(
            sql.SQL(
                "WITH {names} SELECT site, series FROM {series} WHERE level = %(level)s"
                " UNION SELECT * FROM ({changes}) c ORDER BY 1, 2"
            ).format(
                names=reads.names_cte(st.raw_schema),
                series=sql.Identifier(INTERNAL_SCHEMA, "series"),
                changes=changes,
            ),
            {"level": lv.name},
        )
        return [(r["site"], r["series"]) for r in rows]

    # --- one zone's activity (added for the web UI's Zones page) ----------------------------------

    @staticmethod
    @staticmethod
    def _cut_time(s: _Settings, site: sql.Composable) -> sql.Composed:
        """The time of `site`'s first change row (snapshot rows before it are read, not after)."""
        return sql.SQL(
            "coalesce((SELECT l.first_time FROM {last} l WHERE l.series = 'house' AND l.site = {site}), 'infinity')"
        ).format(last=reads.q(LAST), site=site)

    @staticmethod
    def _zone_segments(s: _Settings, site: sql.Composable, zone_id: sql.Composable) -> sql.Composed:
        """A subquery: one zone's change rows over [%(start)s, %(end)s) as segments (its level and
        watts hold until its next row; the last one until the site's newest house row) cut into
        bins of %(width)s from %(start)s: bin, level, watts, d (seconds of the segment in the bin)."""
        return sql.SQL(
            """
            SELECT g.bin, x.level, x.watts,
                   extract(epoch FROM least(x.t1, g.bin + %(width)s) - greatest(x.t0, g.bin)) AS d
            FROM (
                SELECT greatest(r."time", %(start)s) AS t0,
                       least(coalesce(lead(r."time") OVER (ORDER BY r."time"), k.until), %(end)s) AS t1,
                       coalesce(r.level, 0) AS level, coalesce(r.watts, 0) AS watts
                FROM (
                    SELECT r."time", r.level, r.watts FROM {raw} r
                    WHERE {match} AND r."time" >= %(start)s AND r."time" < %(end)s
                    UNION ALL
                    (SELECT r."time", r.level, r.watts FROM {raw} r
                     WHERE {match} AND r."time" < %(start)s ORDER BY {newest} LIMIT 1)
                ) r
                CROSS JOIN (
                    SELECT max(h."time") AS until FROM {house} h WHERE {house_match} AND h."time" <= %(end)s
                ) k
            ) x
            CROSS JOIN LATERAL generate_series(
                date_bin(%(width)s, x.t0, %(start)s), x.t1 - interval '1 microsecond', %(width)s
            ) AS g(bin)
            WHERE x.t1 > x.t0
            """
        ).format(
            raw=ZONE_CHANGE.raw_table(s.raw_schema),
            match=frag.raw_series_is(ZONE_CHANGE, "r", site, zone_id),
            newest=frag.raw_newest_first(ZONE_CHANGE, "r"),
            house=HOUSE.raw_table(s.raw_schema),
            house_match=frag.raw_series_is(HOUSE, "h", site, sql.SQL("''")),
        )

    @staticmethod
    def _newest_per_bin(rows: list[dict[str, Any]], key: str, *group: str) -> list[dict[str, Any]]:
        """One row per bin (and `group` columns): the last one given (the change rows' in a bin
        both generations cover), in the order given."""
        kept: dict[tuple[Any, ...], dict[str, Any]] = {}
        for r in rows:
            kept[(r[key], *(r[g] for g in group))] = r
        return list(kept.values())

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
                   max(p.level) AS max_level, min(p.level) AS min_level, avg(p.w) AS avg_watts, 0 AS src
            FROM (
                SELECT r."time", max(r.level) AS level, max(r.watts) AS w   -- duplicates are one sample
                FROM {raw} r
                WHERE {series} AND r."time" >= %(start)s AND r."time" < %(end)s AND r."time" < {cut}
                GROUP BY r."time"
            ) p
            GROUP BY 1
            UNION ALL
            SELECT g.bin, sum(g.level * g.d) / sum(g.d), max(g.level), min(g.level), sum(g.watts * g.d) / sum(g.d),
                   1
            FROM ({segments}) g
            GROUP BY 1
            ORDER BY 1, 6
            """
        ).format(
            raw=ZONE.raw_table(s.raw_schema),
            series=frag.raw_series_is(ZONE, "r", sql.Placeholder("site"), sql.Placeholder("id")),
            cut=self._cut_time(s, sql.Placeholder("site")),
            segments=self._zone_segments(s, sql.SQL("%(site)s"), sql.SQL("%(id)s")),
        )
        params = {"width": width, "start": start, "end": end, "site": site, "id": id}
        rows = self._newest_per_bin(self._fetch(query, params), "time")
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
        st = self._fresh_rollups()  # raises SchemaMissing on a database that was never initialised
        where, params = self._filters(ZONE, "t", site=site, id=id, area=area)
        zconds = [
            sql.SQL(f"z.{c} = %(f_{k})s")
            for c, k, v in (("site", "site", site), ("zone_id", "id", id), ("area", "area", area))
            if v is not None
        ]
        zwhere = sql.SQL("").join(sql.SQL(" AND ") + c for c in zconds)
        params |= {"start": start, "end": end, "tz": st.tz}
        # Snapshot hours before the site's cut: the share of samples on; change hours: the share of
        # the seconds with data (the house rows) that the zone was on. Hours with data count.
        query = sql.SQL(
            """
            {ctes}
            SELECT u.day, u.site, u.zone_id, {names},
                   coalesce(sum(u.on_h), 0) AS on_hours, sum(u.has) AS hours
            FROM (
                SELECT t.day, t.site, t.zone_id, t.zone, t.area, t.floor, t.hour,
                       t.on_samples::float8 / nullif(t.on_samples + t.off_samples, 0) AS on_h,
                       (t.on_samples + t.off_samples > 0)::int AS has
                FROM {hourly} t LEFT JOIN cut c ON c.site = t.site
                WHERE {hours} AND t.last_time < coalesce(c.time, 'infinity') {where}
                UNION ALL
                SELECT hh.day, z.site, z.zone_id, z.zone, z.area, z.floor, hh.hour,
                       least(coalesce(t.on_seconds, 0) / nullif(hh.covered_seconds, 0), 1.0),
                       (hh.covered_seconds > 0)::int
                FROM {house_hourly} hh
                JOIN names z ON z.site = hh.site
                LEFT JOIN (
                    SELECT c.site, c.zone_id, c.hour, sum(c.on_seconds) AS on_seconds
                    FROM {change_hourly} c WHERE {c_hours}
                    GROUP BY 1, 2, 3
                ) t ON t.site = z.site AND t.zone_id = z.zone_id AND t.hour = hh.hour
                WHERE {hh_hours} {zwhere}
            ) u
            LEFT JOIN names l ON l.site = u.site AND l.zone_id = u.zone_id
            GROUP BY u.day, u.site, u.zone_id
            HAVING sum(u.has) > 0
            ORDER BY u.day, u.site, u.zone_id
            """
        ).format(
            ctes=reads.ctes(st.raw_schema),
            hourly=ZONE.hourly_table(),
            house_hourly=reads.q(HOUSE_HOURLY),
            change_hourly=reads.zone_source("hour"),
            c_hours=_hours("c"),
            where=where,
            zwhere=zwhere,
            hours=_hours("t"),
            hh_hours=_hours("hh"),
            names=sql.SQL(", ").join(
                sql.SQL(
                    "coalesce(max(l.{c}), (array_agg(u.{c} ORDER BY u.hour DESC) FILTER (WHERE u.{c} IS NOT NULL))[1])"
                    " AS {c}"
                ).format(c=sql.Identifier(c))
                for c in ("zone", "area", "floor")
            ),
        )
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
