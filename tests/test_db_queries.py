"""The UI's queries: values against an independent aggregation of the raw rows, the raw/rollup
choice by range, and the errors a user can hit."""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from statistics import mean
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from pg_fixtures import (
    TEMPLATE_TIMEZONE,
    Agg,
    clone_database,
    drop_database,
    init_db,
    reference_rollups,
    server_dsn,
)
from psycopg import conninfo, sql

from telegraf_lutron.db import DatabaseUnavailable, PermissionDenied, SchemaMissing
from telegraf_lutron.db.history import HistoryGenerator, TelegrafWriter, Tick, make_house
from telegraf_lutron.db.levels import MEASUREMENTS
from telegraf_lutron.db.queries import HistoryStore

TZ = TEMPLATE_TIMEZONE  # Europe/Berlin, as db init stored it in the template
BERLIN = ZoneInfo(TZ)
STEP = timedelta(minutes=5)
START = datetime(2024, 6, 1, 0, 0, tzinfo=BERLIN).astimezone(UTC)
GAP = (datetime(2024, 6, 5, 1, 0, tzinfo=BERLIN), datetime(2024, 6, 5, 3, 0, tzinfo=BERLIN))
PIN_102 = datetime(2024, 6, 7, 20, 0, tzinfo=BERLIN)
END = datetime(2024, 6, 11, 0, 0, tzinfo=BERLIN)
J_PER_KWH = 3_600_000.0
# This module's history is what a database upgraded from before the change rows holds: snapshots
# only, which the UI keeps reading from their rollups (tests/test_webui_changes.py: change rows).
SNAPSHOTS = MEASUREMENTS


@dataclass
class Dataset:
    dsn: str
    ticks: list[Tick]
    now: datetime  # shortly after the last row
    on_at_102: datetime  # first row with zone 102 on
    hourly: dict[str, dict[tuple[str, str, datetime], Agg]]
    daily: dict[str, dict[tuple[str, str, date], Agg]]


def _write_until(writer: TelegrafWriter, gen: HistoryGenerator, until: datetime, ticks: list[Tick]) -> None:
    batch: list[Tick] = []
    while gen.now < until:
        batch.append(gen.tick())
        if len(batch) == 12:
            writer.write_lines(gen.lines(batch))
            ticks += batch
            batch = []
    if batch:
        writer.write_lines(gen.lines(batch))
        ticks += batch


@pytest.fixture(scope="module")
def data(pg_server_dsn: str, pg_template_dsn: str) -> Iterator[Dataset]:
    """Ten days of an 8-zone house at 5-minute steps: zone 100 always on (60 %), zone 101 always off,
    zone 102 off until 2024-06-07 20:00 and on after; nothing written 2024-06-05 01:00-03:00."""
    server = pg_server_dsn
    dsn = clone_database(server, pg_template_dsn, "tl_test_queries")  # db init --timezone TZ
    try:
        gen = HistoryGenerator(
            make_house(8), start=START, step=STEP, tz=TZ, pinned={"100": 60.0, "101": 0.0, "102": 0.0}
        )
        ticks: list[Tick] = []
        with psycopg.connect(dsn) as conn:
            writer = TelegrafWriter(conn, namepass=SNAPSHOTS)  # history from before the change rows
            _write_until(writer, gen, GAP[0], ticks)
            gen.skip(GAP[1] - GAP[0])
            _write_until(writer, gen, PIN_102, ticks)
            gen.pin("102", 75.0)
            _write_until(writer, gen, END, ticks)
            hourly, daily = {}, {}
            for level in ("zone", "area", "system"):
                hourly[level], daily[level] = reference_rollups(conn, level, TZ)
        yield Dataset(dsn, ticks, END - STEP + timedelta(minutes=1), PIN_102 + STEP, hourly, daily)
    finally:
        drop_database(server, dsn)


@pytest.fixture
def store(data: Dataset) -> Iterator[HistoryStore]:
    with HistoryStore(data.dsn) as s:
        yield s


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=BERLIN)


# --- current state ------------------------------------------------------------------------------


def test_current_power_is_the_newest_row_of_every_series(store: HistoryStore, data: Dataset) -> None:
    last = data.ticks[-1]
    now = store.current_power(now=data.now)
    assert [p.watts for p in now.system] == [last.system[0]]
    assert now.total_watts == pytest.approx(last.system[0])
    assert {(p.id, p.watts) for p in now.areas} == {(a[0], a[3]) for a in last.areas}
    assert {(p.id, p.name, p.level_pct, p.watts) for p in now.zones} == {
        (z.zone_id, z.zone, level, watts) for z, level, watts, _ in last.zones
    }
    assert all(p.time.tzinfo == BERLIN and p.time == END - STEP for p in now.zones)
    assert now.zones[0].energy_kwh_total == pytest.approx(last.zones[0][3] / J_PER_KWH)


def test_current_power_ignores_series_older_than_max_age(store: HistoryStore, data: Dataset) -> None:
    later = store.current_power(now=data.now + timedelta(hours=1), max_age=timedelta(minutes=30))
    assert later.system == later.areas == later.zones == []


def test_zones_on_now_and_since_when(store: HistoryStore, data: Dataset) -> None:
    on = {z.zone_id: z for z in store.zones_on(now=data.now)}
    last = data.ticks[-1]
    assert set(on) == {z.zone_id for z, level, _, _ in last.zones if level > 0}
    assert on["102"].since == data.on_at_102 and on["102"].since_exact
    assert on["100"].since == START and not on["100"].since_exact  # on since records began
    assert on["102"].last_seen == END - STEP and on["102"].level_pct == 75.0
    for zone in on.values():  # a zone that came on after being off: the first "on" row after the last "off"
        if zone.zone_id not in ("100", "102"):
            levels = [
                (t.ts_ns, lv) for t in data.ticks for z, lv, _, _ in t.zones if z.zone_id == zone.zone_id
            ]
            last_off = max(ts for ts, lv in levels if lv == 0)
            first_on = min(ts for ts, lv in levels if ts > last_off)
            assert zone.since == datetime.fromtimestamp(first_on / 1e9, UTC) and zone.since_exact


def test_zones_on_filters_by_area(store: HistoryStore, data: Dataset) -> None:
    everything = store.zones_on(now=data.now)
    room0 = store.zones_on(now=data.now, area="Room 0")
    assert room0 and {z.zone_id for z in room0} == {z.zone_id for z in everything if z.area == "Room 0"}


# --- rollups ------------------------------------------------------------------------------------


def test_energy_per_hour_equals_the_raw_aggregation(store: HistoryStore, data: Dataset) -> None:
    start, end = local(2024, 6, 3, 10, 30), local(2024, 6, 3, 14)  # 10:30 overlaps the 10:00 bucket
    rows = store.energy("zone", start, end, resolution="hour")
    expected = {
        (k[1], k[2]): v for k, v in data.hourly["zone"].items() if local(2024, 6, 3, 10) <= k[2] < end
    }
    assert {(r.id, r.start) for r in rows} == set(expected)
    for r in rows:
        want = expected[(r.id, r.start)]
        assert r.energy_kwh == pytest.approx(want.energy_joules / J_PER_KWH, rel=1e-9)
        assert r.avg_watts == pytest.approx(want.watts_sum / want.watts_samples)
        assert (r.max_watts, r.samples, r.end - r.start) == (want.watts_max, want.samples, timedelta(hours=1))
        assert r.start.tzinfo == BERLIN and r.name == want.labels["zone"] and r.area == want.labels["area"]


def test_energy_per_day_and_month_by_area(store: HistoryStore, data: Dataset) -> None:
    start, end = local(2024, 6, 2), local(2024, 6, 9)
    days = store.energy("area", start, end, resolution="day")
    expected = {
        (k[1], k[2]): v for k, v in data.daily["area"].items() if date(2024, 6, 2) <= k[2] < date(2024, 6, 9)
    }
    assert {(r.id, r.start.date()) for r in days} == set(expected)
    for r in days:
        assert r.energy_kwh == pytest.approx(
            expected[(r.id, r.start.date())].energy_joules / J_PER_KWH, rel=1e-9
        )
        assert r.start == datetime.combine(r.start.date(), time(0), BERLIN) and r.resolution == "day"
    months = store.energy("system", local(2024, 6, 1), local(2024, 7, 1), resolution="month")
    assert len(months) == 1 and months[0].start == local(2024, 6, 1) and months[0].end == local(2024, 7, 1)
    total = sum(v.energy_joules for v in data.daily["system"].values())
    assert months[0].energy_kwh == pytest.approx(total / J_PER_KWH, rel=1e-9)


def test_energy_filters_and_auto_resolution(store: HistoryStore) -> None:
    one = store.energy("zone", local(2024, 6, 3), local(2024, 6, 4), id="100")
    assert {r.id for r in one} == {"100"} and {r.resolution for r in one} == {"hour"} and len(one) == 24
    week = store.energy("zone", local(2024, 6, 1), local(2024, 6, 8), area="Room 1")
    assert {r.area for r in week} == {"Room 1"} and {r.resolution for r in week} == {"day"}
    year = store.energy("system", local(2024, 1, 1), local(2025, 1, 1))
    assert [r.resolution for r in year] == ["month"]


def test_power_history_reads_raw_rows_up_to_48_hours(store: HistoryStore, data: Dataset) -> None:
    start, end = local(2024, 6, 3, 12), local(2024, 6, 3, 14)
    points = store.power_history("system", start, end, max_points=12)  # 10-minute bins
    assert {p.source for p in points} == {"raw"} and len(points) == 12
    ticks = [t for t in data.ticks if start.timestamp() * 1e9 <= t.ts_ns < end.timestamp() * 1e9]
    for i, p in enumerate(points):
        in_bin = [t.system[0] for t in ticks[2 * i : 2 * i + 2]]
        assert p.time == start + i * timedelta(minutes=10)
        assert p.avg_watts == pytest.approx(mean(in_bin)) and p.max_watts == max(in_bin)
    zones = store.power_history("zone", start, end, area="Room 0")
    assert {p.name for p in zones} <= {z.zone for z in make_house(8) if z.area == "Room 0"}


def test_power_history_switches_to_hourly_then_daily_rollups(store: HistoryStore, data: Dataset) -> None:
    hourly = store.power_history("area", local(2024, 6, 2), local(2024, 6, 9), id="10")
    assert {p.source for p in hourly} == {"hour"} and len(hourly) == 7 * 24 - 2  # minus the gap
    want = data.hourly["area"][("home", "10", hourly[5].time)]
    assert hourly[5].avg_watts == pytest.approx(want.watts_sum / want.watts_samples)
    daily = store.power_history("system", local(2024, 1, 1), local(2024, 12, 31))
    assert {p.source for p in daily} == {"day"} and len(daily) == 10


def test_weekday_hour_average_power(store: HistoryStore, data: Dataset) -> None:
    grid = store.weekday_hour_power(local(2024, 6, 1), local(2024, 6, 11))
    by_slot: dict[tuple[int, int], list[float]] = defaultdict(list)
    for (_, _, hour), agg in data.hourly["system"].items():
        lt = hour.astimezone(BERLIN)
        by_slot[(lt.isoweekday(), lt.hour)].append(agg.watts_sum / agg.watts_samples)
    assert {(g.weekday, g.hour) for g in grid} == set(by_slot)
    for g in grid:
        values = by_slot[(g.weekday, g.hour)]
        assert g.avg_watts == pytest.approx(mean(values)) and g.max_watts == pytest.approx(max(values))
        assert g.hours == len(values)
    zone = store.weekday_hour_power(local(2024, 6, 1), local(2024, 6, 11), level="zone", id="100")
    assert all(g.avg_watts == pytest.approx(60.0 / 100 * make_house(8)[0].rated_watts) for g in zone)


@pytest.mark.parametrize(
    ("start", "end", "bucket"),
    [(local(2024, 6, 3, 6), local(2024, 6, 6, 18), "hour"), (local(2024, 6, 1), local(2024, 6, 11), "day")],
)
def test_top_zones_by_energy(
    store: HistoryStore, data: Dataset, start: datetime, end: datetime, bucket: str
) -> None:
    totals: dict[str, float] = defaultdict(float)
    source = data.hourly["zone"] if bucket == "hour" else data.daily["zone"]
    for (_, zone_id, b), agg in source.items():
        inside = start <= b < end if bucket == "hour" else start.date() <= b < end.date()
        if inside:
            totals[zone_id] += agg.energy_joules
    ranking = sorted(totals.items(), key=lambda kv: -kv[1])[:3]
    top = store.top_zones(start, end, limit=3)
    assert [z.zone_id for z in top] == [k for k, _ in ranking]
    assert [z.energy_kwh for z in top] == pytest.approx([v / J_PER_KWH for _, v in ranking], rel=1e-9)
    assert top[0].on_fraction is not None and 0 < top[0].on_fraction <= 1


def test_zones_that_stayed_on_overnight(store: HistoryStore) -> None:
    nights = store.zones_on_overnight(date(2024, 6, 2), date(2024, 6, 10))
    by_night: dict[date, set[str]] = defaultdict(set)
    for n in nights:
        by_night[n.night].add(n.zone_id)
        assert n.hours == 5
    for night in (date(2024, 6, 2) + timedelta(days=i) for i in range(9)):
        on = by_night.get(night, set())
        assert "101" not in on
        assert ("100" in on) == (night != date(2024, 6, 5))  # that night has a gap: not known to be on
        assert ("102" in on) == (night >= date(2024, 6, 8))
    evening = store.zones_on_overnight(
        date(2024, 6, 9), date(2024, 6, 9), night_start=time(22), night_end=time(6)
    )
    assert {n.zone_id for n in evening} >= {"100", "102"} and all(n.hours == 8 for n in evening)


def test_on_hours_per_local_day(store: HistoryStore) -> None:
    always_on = store.on_hours(local(2024, 6, 3), local(2024, 6, 6), site="home", id="100")
    assert [(d.day, d.on_hours, d.hours) for d in always_on] == [
        (date(2024, 6, 3), 24.0, 24),
        (date(2024, 6, 4), 24.0, 24),
        (date(2024, 6, 5), 22.0, 22),  # two hours not recorded (the gap)
    ]
    assert [d.on_hours for d in store.on_hours(local(2024, 6, 3), local(2024, 6, 4), id="101")] == [0.0]
    switched_on = store.on_hours(local(2024, 6, 7), local(2024, 6, 8), id="102")
    assert switched_on[0].on_hours == pytest.approx(4 - 1 / 12)  # on from 20:05, 5-minute samples


def test_level_history_of_one_zone(store: HistoryStore) -> None:
    start = local(2024, 6, 7, 19)
    points = store.level_history(start, start + timedelta(hours=2), site="home", id="102", max_points=4)
    assert [p.time for p in points] == [start + i * timedelta(minutes=30) for i in range(4)]
    assert [p.max_level for p in points] == [0.0, 0.0, 75.0, 75.0]
    assert points[2].min_level == 0.0 and points[3].min_level == 75.0
    with pytest.raises(ValueError, match="48 hours"):
        store.level_history(start, start + timedelta(days=3), site="home", id="102")


# --- which data each range reads ----------------------------------------------------------------


@pytest.fixture
def rollup_reader(data: Dataset) -> Iterator[str]:
    """A role that may read the rollups but not the raw tables."""
    server = server_dsn()
    role = f"tl_rollups_{secrets.token_hex(4)}"
    with psycopg.connect(data.dsn, autocommit=True) as conn:
        r = sql.Identifier(role)
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(r))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA lutron TO {}").format(r))
        conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA lutron TO {}").format(r))
    try:
        yield conninfo.make_conninfo(data.dsn, user=role)
    finally:
        with psycopg.connect(data.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_no_query_over_more_than_48_hours_reads_raw_rows(rollup_reader: str, data: Dataset) -> None:
    with HistoryStore(rollup_reader) as s:
        day, week, year = (
            (local(2024, 6, 3), local(2024, 6, 4)),
            (local(2024, 6, 2), local(2024, 6, 9)),
            (
                local(2024, 1, 1),
                local(2025, 1, 1),
            ),
        )
        for start, end in (day, week, year):
            for level in ("zone", "area", "system"):
                s.energy(level, start, end)  # type: ignore[arg-type]
            s.weekday_hour_power(start, end)
            s.top_zones(start, end)
        s.power_history("zone", week[0], week[1])
        s.power_history("system", year[0], year[1])
        s.power_history("system", local(2024, 6, 3), local(2024, 6, 5, 0, 1))  # 48 h + 1 min
        s.zones_on_overnight(date(2024, 6, 1), date(2024, 6, 10))
        # ... and those that must read raw rows say so when they cannot.
        with pytest.raises(PermissionDenied, match="permission denied"):
            s.power_history("system", *day)
        with pytest.raises(PermissionDenied):
            s.current_power(now=data.now)


def test_answers_include_rows_the_trigger_has_only_staged(pg_dsn: str) -> None:
    init_db(pg_dsn, TZ)  # default drain thresholds: 20,000 rows or a minute
    gen = HistoryGenerator(make_house(3), start=START, step=STEP, tz=TZ, pinned={"100": 50.0})
    with psycopg.connect(pg_dsn) as conn:
        # 3 hours of snapshots, far below 20,000 rows
        TelegrafWriter(conn, namepass=SNAPSHOTS).write_lines(gen.lines(gen.ticks(36)))
        assert conn.execute("SELECT count(*) FROM lutron.zone_hourly").fetchone()[0] == 0
        ref_hourly, _ = reference_rollups(conn, "zone", TZ)
    with HistoryStore(pg_dsn) as s:
        got = s.energy("zone", START, START + timedelta(hours=3), resolution="hour")
    want = {(k[1], k[2]): v.energy_joules / J_PER_KWH for k, v in ref_hourly.items()}
    assert {(b.id, b.start): b.energy_kwh for b in got} == pytest.approx(want, rel=1e-9)
    assert sum(want.values()) > 0


def test_a_reader_that_may_not_flush_still_gets_answers(
    rollup_reader: str, data: Dataset, caplog: Any
) -> None:
    with HistoryStore(rollup_reader) as s:
        s.energy("system", local(2024, 6, 2), local(2024, 6, 9))
        s.energy("zone", local(2024, 6, 2), local(2024, 6, 9))
    warnings = [r for r in caplog.records if "cannot bring the rollups up to date" in r.getMessage()]
    assert len(warnings) == 1  # said once, in one line, with what to do
    assert "--ui-role" in warnings[0].getMessage() and "\n" not in warnings[0].getMessage()


# --- errors -------------------------------------------------------------------------------------


def test_database_down_is_a_one_line_hint() -> None:
    dsn = conninfo.make_conninfo(server_dsn(), port="1", password="hunter2")  # nothing listens on port 1
    with HistoryStore(dsn, timeout=1.0) as s, pytest.raises(DatabaseUnavailable) as err:
        s.current_power()
    message = str(err.value)
    assert "\n" not in message and "hunter2" not in message
    assert "cannot connect to PostgreSQL at" in message and "check that the server is running" in message


def test_missing_tables_say_run_db_init(pg_dsn: str) -> None:
    with HistoryStore(pg_dsn) as s, pytest.raises(SchemaMissing, match=r"telegraf-lutron db init"):
        s.top_zones(local(2024, 6, 1), local(2024, 6, 2))


def test_bad_arguments_are_value_errors(store: HistoryStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        store.energy("zone", datetime(2024, 6, 1), datetime(2024, 6, 2))
    with pytest.raises(ValueError, match="level"):
        store.energy("house", local(2024, 6, 1), local(2024, 6, 2))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="48 hours"):
        store.current_power(max_age=timedelta(days=3))
    with pytest.raises(ValueError, match="whole local hours"):
        store.zones_on_overnight(date(2024, 6, 1), date(2024, 6, 2), night_start=time(23, 30))


def test_results_build_dataframe_rows(store: HistoryStore) -> None:
    from telegraf_lutron.db.queries import as_dicts

    rows: list[dict[str, Any]] = as_dicts(store.top_zones(local(2024, 6, 1), local(2024, 6, 2), limit=2))
    assert len(rows) == 2 and set(rows[0]) >= {"zone_id", "zone", "energy_kwh"}
