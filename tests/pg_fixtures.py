"""PostgreSQL test support: a fresh database per test, a writer that behaves like Telegraf's
outputs.postgresql, a generator of realistic lighting history, and an independent Python
reference for the rollups.

Fixtures (load with `pytest_plugins = ["pg_fixtures"]`):
- `pg_server_dsn`: the server from $TL_TEST_DSN (default 127.0.0.1:5432, user postgres).
- `pg_dsn`: a new database with a random name, dropped (WITH FORCE) after the test.
- `pg_conn`: an autocommit connection to `pg_dsn`.
- `pg_lutron_dsn`: `pg_dsn` after `db init --timezone Europe/Berlin`.
"""

from __future__ import annotations

import math
import os
import random
import secrets
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg import conninfo, sql

from telegraf_lutron.lineproto_parse import Metric, parse_stream
from telegraf_lutron.lineprotocol import encode

DEFAULT_SERVER_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


# --- databases --------------------------------------------------------------------------------


def server_dsn() -> str:
    return os.environ.get("TL_TEST_DSN") or DEFAULT_SERVER_DSN


def with_dbname(dsn: str, dbname: str, **extra: Any) -> str:
    return conninfo.make_conninfo(dsn, dbname=dbname, **extra)


def create_database(server: str, prefix: str = "tl_test") -> str:
    """Create a database with a random name; returns its DSN."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_dbname(server, name)


def drop_database(server: str, dsn: str) -> None:
    name = conninfo.conninfo_to_dict(dsn)["dbname"]
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def init_db(dsn: str, timezone: str = "Europe/Berlin", **kwargs: Any) -> Any:
    from telegraf_lutron.db.schema import init

    with psycopg.connect(dsn) as conn:
        return init(conn, timezone=timezone, **kwargs)


@pytest.fixture(scope="session")
def pg_server_dsn() -> str:
    dsn = server_dsn()
    try:
        psycopg.connect(dsn, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        pytest.fail(f"no PostgreSQL for the tests at TL_TEST_DSN={dsn!r} ({exc}); run scripts/test.sh")
    return dsn


@pytest.fixture
def pg_dsn(pg_server_dsn: str) -> Iterator[str]:
    dsn = create_database(pg_server_dsn)
    try:
        yield dsn
    finally:
        drop_database(pg_server_dsn, dsn)


@pytest.fixture
def pg_conn(pg_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture
def pg_lutron_dsn(pg_dsn: str) -> str:
    init_db(pg_dsn, "Europe/Berlin")
    return pg_dsn


# --- writing like Telegraf's outputs.postgresql -------------------------------------------------


def ns_to_datetime(ts_ns: int) -> datetime:
    # PostgreSQL keeps microseconds; Telegraf's pgx encoder truncates the nanoseconds.
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ts_ns // 1000)


class TelegrafWriter:
    """Writes metrics the way outputs.postgresql does (contract §3): one transaction per flush, a
    SAVEPOINT and one `COPY "schema"."measurement" ("time", tags..., fields...) FROM STDIN` per
    measurement, columns named (time, then tags and fields, each alphabetical), missing values NULL.

    With `create_tables` it also does what Telegraf's default create_templates/add_column_templates
    do: `CREATE TABLE` with `timestamp_type` time, text tags commented 'tag', and double precision
    fields, and `ADD COLUMN IF NOT EXISTS` for new ones. (Text COPY here; Telegraf uses binary COPY.)
    """

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        *,
        schema: str = "public",
        create_tables: bool = False,
        timestamp_type: str = "timestamp with time zone",
    ) -> None:
        if conn.autocommit:
            raise ValueError("TelegrafWriter needs a non-autocommit connection (one transaction per flush)")
        self.conn = conn
        self.schema = schema
        self.create_tables = create_tables
        self.timestamp_type = timestamp_type
        self.copies: list[str] = []  # the COPY statements issued, for assertions

    def write_lines(self, text: str) -> None:
        """Parse `text` with the strict Telegraf parser and write all of it as one flush."""
        metrics, errors = parse_stream(text, eof=True)
        if errors:
            raise errors[0]
        self.write(metrics)

    def write(self, metrics: Iterable[Metric]) -> None:
        by_table: dict[str, list[Metric]] = defaultdict(list)
        for m in metrics:
            by_table[m.name].append(m)
        with self.conn.transaction(), self.conn.cursor() as cur:
            for name, batch in by_table.items():
                tags = sorted({k for m in batch for k in m.tags})
                fields = sorted({k for m in batch for k in m.fields})
                table = sql.Identifier(self.schema, name)
                with self.conn.transaction():  # SAVEPOINT, as Telegraf does per sub-batch
                    if self.create_tables:
                        self._ensure_table(cur, name, tags, fields)
                    columns = sql.SQL(", ").join(sql.Identifier(c) for c in ["time", *tags, *fields])
                    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(table, columns)
                    self.copies.append(statement.as_string(self.conn))
                    with cur.copy(statement) as copy:
                        for m in batch:
                            ts = ns_to_datetime(m.ts if m.ts is not None else _now_ns())
                            if self.timestamp_type == "timestamp without time zone":
                                ts = ts.replace(tzinfo=None)
                            copy.write_row(
                                [ts, *(m.tags.get(t) for t in tags), *(m.fields.get(f) for f in fields)]
                            )

    def _ensure_table(self, cur: psycopg.Cursor[Any], name: str, tags: list[str], fields: list[str]) -> None:
        table = sql.Identifier(self.schema, name)
        cur.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            (self.schema, name),
        )
        existing = {r[0] for r in cur.fetchall()}
        if not existing:
            cols = [sql.SQL("{} {}").format(sql.Identifier("time"), sql.SQL(self.timestamp_type))]
            cols += [sql.SQL("{} text").format(sql.Identifier(t)) for t in tags]
            cols += [sql.SQL("{} double precision").format(sql.Identifier(f)) for f in fields]
            cur.execute(sql.SQL("CREATE TABLE {} ({})").format(table, sql.SQL(", ").join(cols)))
            for t in tags:
                cur.execute(sql.SQL("COMMENT ON COLUMN {}.{} IS 'tag'").format(table, sql.Identifier(t)))
            return
        for t in tags:
            if t not in existing:
                cur.execute(
                    sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} text").format(
                        table, sql.Identifier(t)
                    )
                )
                cur.execute(sql.SQL("COMMENT ON COLUMN {}.{} IS 'tag'").format(table, sql.Identifier(t)))
        for f in fields:
            if f not in existing:
                cur.execute(
                    sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} double precision").format(
                        table, sql.Identifier(f)
                    )
                )


def _now_ns() -> int:
    return int(datetime.now(UTC).timestamp() * 1e9)


# --- realistic history --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ZoneSpec:
    zone_id: str
    zone: str
    area_id: str
    area: str
    floor: str
    output_type: str
    rated_watts: float
    dimmable: bool


def make_house(n_zones: int, *, zones_per_area: int = 6, seed: int = 1) -> list[ZoneSpec]:
    """A house of `n_zones` zones in areas of about `zones_per_area`, on two or more floors."""
    rnd = random.Random(seed)
    kinds = [
        ("INC", True, (40, 300)),
        ("LED", True, (8, 60)),
        ("NON_DIM", False, (20, 150)),
        ("ELV", True, (20, 120)),
    ]
    names = [
        "Downlights",
        "Pendants",
        "Wall washers",
        "Cove",
        "Sconces",
        "Chandelier",
        "Track",
        "Under-cabinet",
    ]
    zones = []
    for i in range(n_zones):
        area_no = i // zones_per_area
        kind, dimmable, (lo, hi) = rnd.choice(kinds)
        zones.append(
            ZoneSpec(
                zone_id=str(100 + i),
                zone=f"{names[i % len(names)]} {i}",
                area_id=str(10 + area_no),
                area=f"Room {area_no}",
                floor=f"Floor {area_no % 3}",
                output_type=kind,
                rated_watts=float(rnd.randint(lo, hi)),
                dimmable=dimmable,
            )
        )
    return zones


@dataclass(slots=True)
class _ZoneState:
    level: float = 0.0
    energy: float = 0.0


@dataclass(frozen=True, slots=True)
class Tick:
    """One collection: every series' values at `ts_ns`."""

    ts_ns: int
    zones: list[tuple[ZoneSpec, float, float, float]]  # spec, level, watts, energy
    areas: list[tuple[str, str, str, float, float, float]]  # area_id, area, floor, watts, energy, zones_on
    system: tuple[float, float, float, float]  # watts, energy, zones_on, zones_total


@dataclass
class HistoryGenerator:
    """Zones switching on and off with the time of day, dimmer levels, and energy counters that
    integrate power exactly as the plugin does (each counter on its own, surviving "restarts").

    `reset(series)` makes a counter restart from 0 at the next tick (a lost state file); a
    series is ("zone", zone_id), ("area", area_id) or ("system", "").
    """

    zones: Sequence[ZoneSpec]
    start: datetime
    step: timedelta = timedelta(minutes=1)
    site: str = "home"
    seed: int = 7
    tz: str = "Europe/Berlin"
    pinned: dict[str, float] = field(default_factory=dict)  # zone_id -> level held throughout
    now: datetime = field(init=False)
    _rnd: random.Random = field(init=False)
    _state: dict[str, _ZoneState] = field(init=False)
    _area_energy: dict[str, float] = field(init=False)
    _system_energy: float = field(init=False, default=0.0)
    _last_joules: dict[tuple[str, str], float] = field(init=False)

    def __post_init__(self) -> None:
        self.now = self.start
        self._rnd = random.Random(self.seed)
        self._state = {
            z.zone_id: _ZoneState(level=self.pinned.get(z.zone_id, 0.0), energy=self._rnd.uniform(0, 5e6))
            for z in self.zones
        }
        self._area_energy = {z.area_id: self._rnd.uniform(0, 5e7) for z in self.zones}
        self._system_energy = self._rnd.uniform(0, 5e8)
        self._last_joules = defaultdict(float)
        self._zone_tz = ZoneInfo(self.tz)

    def reset(self, level: str, key: str = "") -> None:
        """The counter restarted from 0 at the start of the interval that just ended (a lost state
        file), so the next row reports only that interval's energy."""
        joules = self._last_joules[(level, key)]
        if level == "zone":
            self._state[key].energy = joules
        elif level == "area":
            self._area_energy[key] = joules
        else:
            self._system_energy = joules

    def rename(self, zone_id: str, zone: str) -> None:
        """Rename a zone in the design; its id, and so its series and counter, stay."""
        self.zones = [replace(z, zone=zone) if z.zone_id == zone_id else z for z in self.zones]

    def pin(self, zone_id: str, level: float) -> None:
        """Hold a zone at `level` from the next interval on."""
        self.pinned[zone_id] = level

    def _p_on(self, when: datetime) -> float:
        hour = when.astimezone(self._zone_tz).hour
        if 6 <= hour < 8:
            return 0.5
        if 17 <= hour < 23:
            return 0.7
        if hour >= 23 or hour < 5:
            return 0.05
        return 0.3

    def _advance(self, dt: float) -> None:
        # Energy for the interval just ended, at the power that held during it (left Riemann sum).
        area_watts: dict[str, float] = defaultdict(float)
        for z in self.zones:
            st = self._state[z.zone_id]
            watts = z.rated_watts * st.level / 100.0
            st.energy += watts * dt
            self._last_joules[("zone", z.zone_id)] = watts * dt
            area_watts[z.area_id] += watts
        for area_id, watts in area_watts.items():
            self._area_energy[area_id] += watts * dt
            self._last_joules[("area", area_id)] = watts * dt
        total = sum(area_watts.values())
        self._system_energy += total * dt
        self._last_joules[("system", "")] = total * dt
        # New levels for the coming interval: a zone changes state now and then.
        p_on = self._p_on(self.now)
        for z in self.zones:
            st = self._state[z.zone_id]
            if z.zone_id in self.pinned:
                st.level = self.pinned[z.zone_id]
            elif self._rnd.random() < 0.1:
                if self._rnd.random() < p_on:
                    st.level = float(self._rnd.choice([25, 40, 60, 75, 100])) if z.dimmable else 100.0
                else:
                    st.level = 0.0

    def tick(self) -> Tick:
        """The values at the current time, then advance one step."""
        ts_ns = int((self.now - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1)) * 1000
        zones = []
        area_watts: dict[str, float] = defaultdict(float)
        area_on: dict[str, float] = defaultdict(float)
        meta: dict[str, ZoneSpec] = {}
        for z in self.zones:
            st = self._state[z.zone_id]
            watts = z.rated_watts * st.level / 100.0
            zones.append((z, st.level, watts, st.energy))
            area_watts[z.area_id] += watts
            area_on[z.area_id] += 1.0 if st.level > 0 else 0.0
            meta[z.area_id] = z
        areas = [
            (aid, meta[aid].area, meta[aid].floor, area_watts[aid], self._area_energy[aid], area_on[aid])
            for aid in sorted(meta)
        ]
        total = sum(area_watts.values())
        system = (total, self._system_energy, sum(area_on.values()), float(len(self.zones)))
        tick = Tick(ts_ns, zones, areas, system)
        self._advance(self.step.total_seconds())
        self.now += self.step
        return tick

    def skip(self, duration: timedelta) -> None:
        """Time passes with nothing written (plugin or Telegraf down); counters keep integrating."""
        end = self.now + duration
        while self.now < end:
            self._advance(self.step.total_seconds())
            self.now += self.step

    def ticks(self, n: int) -> list[Tick]:
        return [self.tick() for _ in range(n)]

    def metrics(self, tick: Tick) -> list[tuple[str, dict[str, str], dict[str, float], int]]:
        """(measurement, tags, fields, ts_ns) per series, as the plugin reports them (floats only)."""
        out: list[tuple[str, dict[str, str], dict[str, float], int]] = []
        for z, level, watts, energy in tick.zones:
            tags = {
                "site": self.site,
                "zone_id": z.zone_id,
                "zone": z.zone,
                "area": z.area,
                "floor": z.floor,
                "output_type": z.output_type,
            }
            fields = {
                "level": level,
                "watts": watts,
                "rated_watts": z.rated_watts,
                "energy_joules_total": energy,
            }
            out.append(("lutron_zone", tags, fields, tick.ts_ns))
        for area_id, area, floor, watts, energy, zones_on in tick.areas:
            tags = {"site": self.site, "area_id": area_id, "area": area, "floor": floor}
            out.append(
                (
                    "lutron_area",
                    tags,
                    {"watts": watts, "energy_joules_total": energy, "zones_on": zones_on},
                    tick.ts_ns,
                )
            )
        watts, energy, zones_on, zones_total = tick.system
        fields = {
            "watts": watts,
            "energy_joules_total": energy,
            "zones_on": zones_on,
            "zones_total": zones_total,
        }
        out.append(("lutron_power", {"site": self.site}, fields, tick.ts_ns))
        return out

    def lines(self, ticks: Iterable[Tick]) -> str:
        """Line protocol exactly as the plugin writes it (the project's encoder)."""
        return "".join(encode(m, t, f, ts) for tick in ticks for m, t, f, ts in self.metrics(tick))


def metrics_of(lines: str) -> list[Metric]:
    """Parse line protocol with the strict Telegraf parser (failing on any rejected line)."""
    metrics, errors = parse_stream(lines, eof=True)
    if errors:
        raise errors[0]
    return metrics


# --- the reference: rollups computed in Python from the raw rows ---------------------------------

LEVEL_TABLES = {
    "zone": ("lutron_zone", "zone_id", "level", ("zone", "area", "floor", "output_type")),
    "area": ("lutron_area", "area_id", "zones_on", ("area", "floor")),
    "system": ("lutron_power", None, "zones_on", ()),
}
STAT_NAMES = (
    "samples",
    "energy_joules",
    "watts_sum",
    "watts_samples",
    "watts_max",
    "on_samples",
    "off_samples",
    "first_time",
    "last_time",
)


@dataclass
class Agg:
    samples: int = 0
    energy_joules: float = 0.0
    watts_sum: float = 0.0
    watts_samples: int = 0
    watts_max: float | None = None
    on_samples: int = 0
    off_samples: int = 0
    first_time: datetime | None = None
    last_time: datetime | None = None
    labels: dict[str, str | None] = field(default_factory=dict)

    def add(self, t: datetime, delta: float, w: float | None, onv: float | None) -> None:
        self.samples += 1
        self.energy_joules += delta
        if w is not None:
            self.watts_sum += w
            self.watts_samples += 1
            self.watts_max = w if self.watts_max is None else max(self.watts_max, w)
        if onv is not None and onv > 0:
            self.on_samples += 1
        elif onv is not None and onv == 0:
            self.off_samples += 1
        self.first_time = t if self.first_time is None else min(self.first_time, t)
        self.last_time = t if self.last_time is None else max(self.last_time, t)

    def merge(self, other: Agg) -> None:
        self.samples += other.samples
        self.energy_joules += other.energy_joules
        self.watts_sum += other.watts_sum
        self.watts_samples += other.watts_samples
        if other.watts_max is not None:
            self.watts_max = (
                other.watts_max if self.watts_max is None else max(self.watts_max, other.watts_max)
            )
        self.on_samples += other.on_samples
        self.off_samples += other.off_samples
        for name in ("first_time", "last_time"):
            mine, theirs = getattr(self, name), getattr(other, name)
            pick = min if name == "first_time" else max
            setattr(self, name, theirs if mine is None else mine if theirs is None else pick(mine, theirs))

    def stats(self) -> tuple[Any, ...]:
        return tuple(getattr(self, n) for n in STAT_NAMES)


def _max(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


def local_hour_start(t: datetime, zone: ZoneInfo) -> datetime:
    local = t.astimezone(zone)
    return t - timedelta(minutes=local.minute, seconds=local.second, microseconds=local.microsecond)


def reference_rollups(
    conn: psycopg.Connection[Any], level: str, tz: str, schema: str = "public"
) -> tuple[dict[tuple[str, str, datetime], Agg], dict[tuple[str, str, date], Agg]]:
    """Hourly and daily rollups of `level` computed from its raw rows, following the documented
    rules: one sample per (series, time) with the largest values; delta = counter - previous
    counter, or the counter itself after a reset; first row of a series has none; buckets are
    local clock hours and local days."""
    table, key, on_field, labels = LEVEL_TABLES[level]
    zone = ZoneInfo(tz)
    cols = ["time", "site", *([key] if key else []), "energy_joules_total", "watts", on_field, *labels]
    query = sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in cols), sql.Identifier(schema, table)
    )
    points: dict[tuple[str, str], dict[datetime, list[Any]]] = defaultdict(dict)
    for row in conn.execute(query):
        t, site = row[0], row[1] or ""
        series = (row[2] or "") if key else ""
        rest = row[3 if key else 2 :]
        c, w, onv, *labs = rest
        cur = points[(site, series)].get(t)
        if cur is None:
            points[(site, series)][t] = [c, w, onv, labs]
        else:
            cur[0], cur[1], cur[2] = _max(cur[0], c), _max(cur[1], w), _max(cur[2], onv)
            cur[3] = [_max_text(a, b) for a, b in zip(cur[3], labs, strict=True)]
    hourly: dict[tuple[str, str, datetime], Agg] = {}
    for (site, series), by_time in points.items():
        prev: float | None = None
        for t in sorted(by_time):
            c, w, onv, labs = by_time[t]
            delta = 0.0
            if c is not None:
                if prev is not None:
                    delta = c - prev if c >= prev else c
                prev = c
            hour = local_hour_start(t, zone)
            agg = hourly.setdefault((site, series, hour), Agg())
            agg.add(t, delta, w, onv)
            agg.labels = dict(zip(labels, labs, strict=True))  # times ascend: the newest wins
    daily: dict[tuple[str, str, date], Agg] = {}
    for (site, series, hour), agg in sorted(hourly.items(), key=lambda kv: kv[0][2]):
        d = hour.astimezone(zone).date()
        day = daily.setdefault((site, series, d), Agg())
        day.merge(agg)
        day.labels = dict(agg.labels)
    return hourly, daily


def _max_text(a: str | None, b: str | None) -> str | None:
    return b if a is None else a if b is None else max(a, b)


def stored_rollups(
    conn: psycopg.Connection[Any], level: str
) -> tuple[dict[tuple[str, str, datetime], Agg], dict[tuple[str, str, date], Agg]]:
    """The rollup tables of `level` in the same shape as `reference_rollups`."""
    _, key, _, labels = LEVEL_TABLES[level]
    out: list[dict[Any, Agg]] = []
    for bucket, table in (("hour", f"{level}_hourly"), ("day", f"{level}_daily")):
        cols = ["site", *([key] if key else []), bucket, *STAT_NAMES, *labels]
        query = sql.SQL("SELECT {} FROM {}").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in cols), sql.Identifier("lutron", table)
        )
        result: dict[Any, Agg] = {}
        for row in conn.execute(query):
            site = row[0]
            series = row[1] if key else ""
            rest = list(row[2 if key else 1 :])
            b = rest.pop(0)
            stats = rest[: len(STAT_NAMES)]
            labs = rest[len(STAT_NAMES) :]
            agg = Agg(*stats)
            agg.labels = dict(zip(labels, labs, strict=True))
            result[(site, series, b)] = agg
        out.append(result)
    return out[0], out[1]


def assert_rollups_match(
    conn: psycopg.Connection[Any], tz: str, levels: Sequence[str] = ("zone", "area", "system")
) -> None:
    """Every stored hourly and daily bucket equals the reference, and no bucket is missing or extra."""
    for level in levels:
        ref_h, ref_d = reference_rollups(conn, level, tz)
        got_h, got_d = stored_rollups(conn, level)
        for what, ref, got in (("hourly", ref_h, got_h), ("daily", ref_d, got_d)):
            missing = sorted(set(ref) - set(got), key=str)[:5]
            extra = sorted(set(got) - set(ref), key=str)[:5]
            assert not missing and not extra, f"{level} {what}: missing {missing}, extra {extra}"
            for k, want in ref.items():
                have = got[k]
                for name, a, b in zip(STAT_NAMES, have.stats(), want.stats(), strict=True):
                    if isinstance(b, float):
                        assert a is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6), (
                            f"{level} {what} {k} {name}: stored {a}, reference {b}"
                        )
                    else:
                        assert a == b, f"{level} {what} {k} {name}: stored {a}, reference {b}"
                assert have.labels == want.labels, (
                    f"{level} {what} {k} labels: {have.labels} != {want.labels}"
                )
