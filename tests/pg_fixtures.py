"""PostgreSQL test support: a fresh database per test and an independent Python reference for the
rollups. (The Telegraf-like writer and the history generator live in `telegraf_lutron.db.history`.)

Importing this module connects to nothing: the server is first reached when a test that needs it
sets up `pg_server_dsn`, so everything else runs without one (`scripts/test.sh --fast`). Every test
that uses these fixtures is marked `db` by tests/conftest.py.

Fixtures (loaded by tests/conftest.py):
- `pg_server_dsn`: the server from $TL_TEST_DSN (default 127.0.0.1:5432, user postgres); fails the
  test, with what to do, when nothing answers there.
- `pg_dsn`: a new database with a random name, dropped (WITH FORCE) after the test.
- `pg_conn`: an autocommit connection to `pg_dsn`.
- `pg_lutron_dsn`: `pg_dsn` after `db init --timezone Europe/Berlin`: a copy of `pg_template_dsn`
  (CREATE DATABASE ... TEMPLATE), so `pg_dsn` and `pg_conn` of the same test are that database too.
- `pg_template_dsn`: one database initialised like that, made on first use in this pytest session
  (so it always has the schema of the code under test) and dropped at its end. Never connect to it:
  PostgreSQL copies a template only while nobody is connected. `clone_database` copies it.
"""

from __future__ import annotations

import math
import os
import secrets
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg import conninfo, sql

from telegraf_lutron.db.levels import BY_NAME
from telegraf_lutron.db.rollups import STAT_NAMES
from telegraf_lutron.lineproto_parse import Metric, parse_stream

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


_file_copy: dict[str, bool] = {}  # server DSN -> whether its clones copy files (fsync is off)


def _clone_strategy(conn: psycopg.Connection[Any], server: str) -> sql.Composable:
    """How CREATE DATABASE copies a template on this server. FILE_COPY copies the template's files
    and then forces a checkpoint; without fsync (the throwaway cluster of scripts/postgres.sh) that
    checkpoint writes to no disk, and a clone takes about a third of the default WAL_LOG's time
    (which logs every page). A server that syncs keeps WAL_LOG: there, each checkpoint waits for
    the disk."""
    if server not in _file_copy:
        row = conn.execute("SHOW fsync").fetchone()
        _file_copy[server] = row is not None and row[0] == "off"
    return sql.SQL(" STRATEGY FILE_COPY" if _file_copy[server] else "")


def clone_database(server: str, template_dsn: str, prefix: str = "tl_test") -> str:
    """Create a database with a random name as a copy of the database of `template_dsn` (which
    nobody may be connected to); returns its DSN."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    template = conninfo.conninfo_to_dict(template_dsn)["dbname"]
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}{}").format(
                sql.Identifier(name), sql.Identifier(str(template)), _clone_strategy(conn, server)
            )
        )
    return with_dbname(server, name)


def drop_database(server: str, dsn: str) -> None:
    name = conninfo.conninfo_to_dict(dsn)["dbname"]
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def init_db(dsn: str, timezone: str = "Europe/Berlin", **kwargs: Any) -> Any:
    from telegraf_lutron.db.schema import init

    with psycopg.connect(dsn) as conn:
        return init(conn, timezone=timezone, **kwargs)


TEMPLATE_TIMEZONE = "Europe/Berlin"
_cloned: set[str] = set()  # DSNs of databases copied from the template (already initialised)


@pytest.fixture(scope="session")
def pg_server_dsn() -> str:
    dsn = server_dsn()
    try:
        psycopg.connect(dsn, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"no PostgreSQL for the tests at TL_TEST_DSN={dsn!r} ({exc}); run scripts/test.sh, which "
            "provides one, or leave the database tests out with -m 'not db' (scripts/test.sh --fast)"
        )
    return dsn


@pytest.fixture(scope="session")
def pg_template_dsn(pg_server_dsn: str) -> Iterator[str]:
    dsn = create_database(pg_server_dsn, prefix="tl_template")
    try:
        init_db(dsn, TEMPLATE_TIMEZONE)
        yield dsn
    finally:
        drop_database(pg_server_dsn, dsn)


@pytest.fixture
def pg_dsn(pg_server_dsn: str, request: pytest.FixtureRequest) -> Iterator[str]:
    if "pg_lutron_dsn" in request.fixturenames:
        dsn = clone_database(pg_server_dsn, request.getfixturevalue("pg_template_dsn"))
        _cloned.add(dsn)
    else:
        dsn = create_database(pg_server_dsn)
    try:
        yield dsn
    finally:
        _cloned.discard(dsn)
        drop_database(pg_server_dsn, dsn)


@pytest.fixture
def pg_conn(pg_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture
def pg_lutron_dsn(pg_dsn: str) -> str:
    if pg_dsn not in _cloned:  # requested by getfixturevalue after pg_dsn was made empty
        init_db(pg_dsn, TEMPLATE_TIMEZONE)
    return pg_dsn


def metrics_of(lines: str) -> list[Metric]:
    """Parse line protocol with the strict Telegraf parser (failing on any rejected line)."""
    metrics, errors = parse_stream(lines, eof=True)
    if errors:
        raise errors[0]
    return metrics


# --- the reference: rollups computed in Python from the raw rows ---------------------------------


def level_columns(level: str) -> tuple[str, str | None, tuple[str, ...], tuple[str, ...]]:
    """(raw table, key tag, "on" fields, labels) of a level, from `levels` (which takes them from
    the metric catalogue): which column is which is schema knowledge, not something to re-derive.
    A sample is on when the first of its "on" fields that is not NULL is > 0 (rows written before
    the kinds have zones_on instead of lights_on)."""
    lv = BY_NAME[level]
    return lv.measurement, lv.key, lv.on_fields, lv.labels


def stat_names() -> tuple[str, ...]:
    """The rollup statistic columns (`rollups.STATS`); `Agg` below computes each one independently."""
    return STAT_NAMES


@dataclass
class Agg:
    """One bucket of the reference, computed in Python: independent of the SQL on purpose (do not
    merge the two). Its fields are the rollup statistic columns, in `stat_names()` order (a test
    checks it), plus the newest row's labels."""

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
        return tuple(getattr(self, n) for n in stat_names())


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
    table, key, on_fields, labels = level_columns(level)
    zone = ZoneInfo(tz)
    cols = ["time", "site", *([key] if key else []), "energy_joules_total", "watts", *on_fields, *labels]
    query = sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in cols), sql.Identifier(schema, table)
    )
    points: dict[tuple[str, str], dict[datetime, list[Any]]] = defaultdict(dict)
    for row in conn.execute(query):
        t, site = row[0], row[1] or ""
        series = (row[2] or "") if key else ""
        rest = row[3 if key else 2 :]
        c, w = rest[0], rest[1]
        onv = next((v for v in rest[2 : 2 + len(on_fields)] if v is not None), None)
        labs = list(rest[2 + len(on_fields) :])
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


def flush_rollups(conn: psycopg.Connection[Any], levels: Sequence[str] = ("zone", "area", "system")) -> None:
    """Drain what the triggers staged, as a reader (HistoryStore) does before reading rollups,
    on `conn` (in a savepoint of its transaction if one is open: it may hold staged rows, and the
    drain lock, itself)."""
    from telegraf_lutron.db.rollups import flush

    for level in levels:
        with conn.transaction(), conn.cursor() as cur:
            flush(cur, BY_NAME[level])


def set_rollup_batch_rows(dsn: str, rows: int) -> None:
    """How many staged rows make the trigger drain inside the COPY (0: every COPY)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE lutron.settings SET value = %s WHERE name = 'rollup_batch_rows'", (str(rows),))


def stored_rollups(
    conn: psycopg.Connection[Any], level: str
) -> tuple[dict[tuple[str, str, datetime], Agg], dict[tuple[str, str, date], Agg]]:
    """The rollup tables of `level` in the same shape as `reference_rollups`, after draining the
    stage (see `flush_rollups`)."""
    flush_rollups(conn, (level,))
    _, key, _, labels = level_columns(level)
    out: list[dict[Any, Agg]] = []
    for bucket, table in (("hour", f"{level}_hourly"), ("day", f"{level}_daily")):
        stats = stat_names()
        cols = ["site", *([key] if key else []), bucket, *stats, *labels]
        query = sql.SQL("SELECT {} FROM {}").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in cols), sql.Identifier("lutron", table)
        )
        result: dict[Any, Agg] = {}
        for row in conn.execute(query):
            site = row[0]
            series = row[1] if key else ""
            rest = list(row[2 if key else 1 :])
            b = rest.pop(0)
            values = rest[: len(stats)]
            labs = rest[len(stats) :]
            agg = Agg(**dict(zip(stats, values, strict=True)))
            agg.labels = dict(zip(labels, labs, strict=True))
            result[(site, series, b)] = agg
        out.append(result)
    return out[0], out[1]


def assert_rollups_match(
    conn: psycopg.Connection[Any], tz: str, levels: Sequence[str] = ("zone", "area", "system")
) -> None:
    """Every stored hourly and daily bucket equals the reference, and no bucket is missing or extra."""
    for level in levels:
        assert_same_rollups(level, stored_rollups(conn, level), reference_rollups(conn, level, tz))


def assert_same_rollups(
    level: str,
    got_pair: tuple[dict[Any, Agg], dict[Any, Agg]],
    ref_pair: tuple[dict[Any, Agg], dict[Any, Agg]],
) -> None:
    """`got_pair` (hourly, daily) equals `ref_pair`: same buckets, same stats (floats to 1e-9)."""
    for what, ref, got in (("hourly", ref_pair[0], got_pair[0]), ("daily", ref_pair[1], got_pair[1])):
        missing = sorted(set(ref) - set(got), key=str)[:5]
        extra = sorted(set(got) - set(ref), key=str)[:5]
        assert not missing and not extra, f"{level} {what}: missing {missing}, extra {extra}"
        for k, want in ref.items():
            have = got[k]
            for name, a, b in zip(stat_names(), have.stats(), want.stats(), strict=True):
                if isinstance(b, float):
                    assert a is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6), (
                        f"{level} {what} {k} {name}: stored {a}, reference {b}"
                    )
                else:
                    assert a == b, f"{level} {what} {k} {name}: stored {a}, reference {b}"
            assert have.labels == want.labels, f"{level} {what} {k} labels: {have.labels} != {want.labels}"
