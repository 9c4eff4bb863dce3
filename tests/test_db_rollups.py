"""Rollups equal a direct aggregation of the raw rows, however Telegraf's COPYs arrive.

Rows go through the real pipeline: the plugin's line-protocol encoder, the strict Telegraf parser,
and a writer that COPYs like outputs.postgresql. The reference is computed in Python
(`pg_fixtures.reference_rollups`), independently of the SQL under test.

Every test using `pg_lutron_dsn` runs twice: with the trigger draining the stage inside every COPY,
and with drains every few hundred rows (so a drain sees rows of several COPYs, and some are still
staged when the test reads, which drains them first, as the UI does).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from pg_fixtures import assert_rollups_match, flush_rollups, init_db, set_rollup_batch_rows, stored_rollups

from telegraf_lutron.db.history import HistoryGenerator, TelegrafWriter, Tick, make_house
from telegraf_lutron.db.rollups import LOCK_CLASS
from telegraf_lutron.db.schema import rebuild
from telegraf_lutron.lineproto_parse import Metric

pytestmark = pytest.mark.db

BERLIN = "Europe/Berlin"
BATCHED_ROWS = 700  # not a multiple of any flush's row count


@pytest.fixture(params=["every_copy", "batched"])
def pg_lutron_dsn(request: pytest.FixtureRequest, pg_lutron_dsn: str) -> str:
    set_rollup_batch_rows(pg_lutron_dsn, 0 if request.param == "every_copy" else BATCHED_ROWS)
    return pg_lutron_dsn


def write(dsn: str, gen: HistoryGenerator, ticks: list[Tick], flush_every: int = 10) -> None:
    """Write `ticks` in flushes of `flush_every` ticks, each one Telegraf transaction."""
    with psycopg.connect(dsn) as conn:
        writer = TelegrafWriter(conn)
        for i in range(0, len(ticks), flush_every):
            writer.write_lines(gen.lines(ticks[i : i + flush_every]))


def check(dsn: str, tz: str = BERLIN, levels: tuple[str, ...] = ("zone", "area", "system")) -> None:
    with psycopg.connect(dsn) as conn:
        assert_rollups_match(conn, tz, levels)


def counters(dsn: str, level: str, key: str) -> tuple[float, float, float]:
    """(first counter, last counter, sum of hourly energy) of one series."""
    table, col = {"zone": ("lutron_zone", "zone_id"), "area": ("lutron_area", "area_id")}[level]
    with psycopg.connect(dsn) as conn:
        first, last = conn.execute(
            f"SELECT (array_agg(energy_joules_total ORDER BY time))[1], (array_agg(energy_joules_total ORDER BY time DESC))[1]"
            f" FROM {table} WHERE {col} = %s",
            (key,),
        ).fetchone()
        flush_rollups(conn)
        total = conn.execute(
            f"SELECT sum(energy_joules) FROM lutron.{level}_hourly WHERE {col} = %s", (key,)
        ).fetchone()[0]
    return first, last, total


def test_in_order_flushes_match_a_direct_aggregation(pg_lutron_dsn: str) -> None:
    gen = HistoryGenerator(make_house(8), start=datetime(2024, 6, 3, 15, 7, tzinfo=UTC), pinned={"100": 60.0})
    write(pg_lutron_dsn, gen, gen.ticks(300))
    check(pg_lutron_dsn)
    first, last, total = counters(pg_lutron_dsn, "zone", "100")
    assert total == pytest.approx(last - first, rel=1e-12)
    assert total > 0


def test_one_flush_spanning_many_hours_matches(pg_lutron_dsn: str) -> None:
    gen = HistoryGenerator(make_house(5), start=datetime(2024, 6, 3, 15, 7, tzinfo=UTC))
    write(pg_lutron_dsn, gen, gen.ticks(400), flush_every=400)
    check(pg_lutron_dsn)


def test_a_renamed_zone_keeps_its_series_and_buckets_show_the_newest_name(pg_lutron_dsn: str) -> None:
    gen = HistoryGenerator(make_house(3), start=datetime(2024, 6, 3, 10, 0, tzinfo=UTC), pinned={"100": 60.0})
    write(pg_lutron_dsn, gen, gen.ticks(10))
    before = gen.ticks(10)
    gen.rename("100", "Reading lights")
    write(pg_lutron_dsn, gen, before + gen.ticks(10), flush_every=20)  # renamed within one COPY
    gen.rename("100", "Reading lamps")
    write(pg_lutron_dsn, gen, gen.ticks(10))  # and in the next one (fast path, same bucket)
    gen.rename("100", "Reading lights")
    late = gen.ticks(10)
    write(pg_lutron_dsn, gen, late[5:])
    write(pg_lutron_dsn, gen, late[:5])  # late rows (slow path) must not bring back an old name
    check(pg_lutron_dsn)
    with psycopg.connect(pg_lutron_dsn) as conn:
        flush_rollups(conn)
        rows = conn.execute("SELECT zone, samples FROM lutron.zone_hourly WHERE zone_id = '100'").fetchall()
        daily = conn.execute("SELECT zone FROM lutron.zone_daily WHERE zone_id = '100'").fetchall()
    assert rows == [("Reading lights", 50)] and daily == [("Reading lights",)]
    *_, total = counters(pg_lutron_dsn, "zone", "100")
    assert total > 0


def test_counter_reset_counts_the_new_value_and_never_goes_negative(pg_lutron_dsn: str) -> None:
    gen = HistoryGenerator(make_house(6), start=datetime(2024, 6, 3, 10, 0, tzinfo=UTC), pinned={"100": 75.0})
    ticks = gen.ticks(90)
    gen.reset("zone", "100")
    gen.reset("area", "10")
    gen.reset("system")
    ticks += gen.ticks(90)
    write(pg_lutron_dsn, gen, ticks)
    check(pg_lutron_dsn)
    with psycopg.connect(pg_lutron_dsn) as conn:
        flush_rollups(conn)
        negative = conn.execute(
            "SELECT count(*) FROM (SELECT energy_joules FROM lutron.zone_hourly UNION ALL"
            " SELECT energy_joules FROM lutron.area_hourly UNION ALL SELECT energy_joules FROM lutron.system_hourly) x"
            " WHERE energy_joules < 0"
        ).fetchone()[0]
        series = [
            r[0]
            for r in conn.execute(
                "SELECT energy_joules_total FROM lutron_zone WHERE zone_id = '100' ORDER BY time"
            )
        ]
    assert negative == 0
    assert 0 < series[90] < series[89]  # a real reset: restarted from 0, already counting
    *_, total = counters(pg_lutron_dsn, "zone", "100")
    # Energy = what was counted before the reset + everything the restarted counter says.
    assert total == pytest.approx((series[89] - series[0]) + series[-1], rel=1e-12)


def test_energy_across_a_gap_lands_in_the_bucket_of_the_row_that_closes_it(pg_lutron_dsn: str) -> None:
    gen = HistoryGenerator(make_house(4), start=datetime(2024, 6, 3, 10, 0, tzinfo=UTC), pinned={"100": 40.0})
    before = gen.ticks(50)  # 10:00-10:49
    gen.skip(timedelta(hours=3, minutes=20))  # nothing written until 14:10
    after = gen.ticks(40)
    write(pg_lutron_dsn, gen, before + after)
    check(pg_lutron_dsn)
    first, last, total = counters(pg_lutron_dsn, "zone", "100")
    assert total == pytest.approx(last - first, rel=1e-12)  # nothing lost in the gap
    with psycopg.connect(pg_lutron_dsn) as conn:
        hours = [r[0] for r in conn.execute("SELECT hour FROM lutron.system_hourly ORDER BY hour")]
        assert datetime(2024, 6, 3, 12, tzinfo=UTC) not in hours  # no invented buckets in the gap
        gap_close = conn.execute(
            "SELECT energy_joules FROM lutron.system_hourly WHERE hour = '2024-06-03 14:00+00'"
        ).fetchone()[0]
        last_before, first_after = conn.execute(
            "SELECT energy_joules_total FROM lutron_power WHERE time IN ('2024-06-03 10:49+00', '2024-06-03 14:10+00')"
            " ORDER BY time"
        ).fetchall()
    assert gap_close >= first_after[0] - last_before[0] > 0


def test_rows_without_a_counter_still_count_power_and_energy_stays_right(pg_lutron_dsn: str) -> None:
    gen = HistoryGenerator(make_house(3), start=datetime(2024, 6, 3, 10, 0, tzinfo=UTC), pinned={"100": 60.0})
    ticks = gen.ticks(90)
    with psycopg.connect(pg_lutron_dsn) as conn:
        writer = TelegrafWriter(conn)
        for i in range(0, 90, 10):
            metrics = []
            for n, tick in enumerate(ticks[i : i + 10]):
                for name, tags, fields, ts in gen.metrics(tick):
                    if tags.get("zone_id") == "100" and (i + n) % 7 in (3, 4):  # a field left out
                        fields = {k: v for k, v in fields.items() if k != "energy_joules_total"}
                    metrics.append(Metric(name, tags, fields, ts))
            writer.write(metrics)
        assert (
            conn.execute(
                "SELECT count(*) FROM lutron_zone WHERE zone_id = '100' AND energy_joules_total IS NULL"
            ).fetchone()[0]
            == 26
        )
    check(pg_lutron_dsn)
    first, last, total = counters(pg_lutron_dsn, "zone", "100")
    assert total == pytest.approx(last - first, rel=1e-12) and total > 0


def test_a_flush_written_twice_counts_once(pg_lutron_dsn: str) -> None:
    gen = HistoryGenerator(
        make_house(4), start=datetime(2024, 6, 3, 10, 0, tzinfo=UTC), pinned={"101": 100.0}
    )
    ticks = gen.ticks(120)
    write(pg_lutron_dsn, gen, ticks[:60])
    write(pg_lutron_dsn, gen, ticks[50:60])  # Telegraf retried a flush that had committed
    write(pg_lutron_dsn, gen, ticks[59:70])  # overlapping the stored rows by exactly one
    write(pg_lutron_dsn, gen, ticks[70:])
    write(pg_lutron_dsn, gen, ticks[100:110] + ticks[100:110], flush_every=20)  # duplicates in one COPY
    check(pg_lutron_dsn)
    first, last, total = counters(pg_lutron_dsn, "zone", "101")
    assert total == pytest.approx(last - first, rel=1e-12)
    assert total > 0
    with psycopg.connect(pg_lutron_dsn) as conn:
        flush_rollups(conn)
        samples = conn.execute(
            "SELECT sum(samples) FROM lutron.zone_hourly WHERE zone_id = '101'"
        ).fetchone()[0]
    assert samples == 120


def test_late_rows_are_placed_and_the_next_rows_delta_follows(pg_lutron_dsn: str) -> None:
    gen = HistoryGenerator(
        make_house(5), start=datetime(2024, 6, 3, 10, 30, tzinfo=UTC), pinned={"100": 25.0}
    )
    ticks = gen.ticks(240)
    held_back = ticks[50:90]  # 11:20-11:59: the next stored row (12:00) is in the next hour
    held_back_2 = ticks[125:135]  # 12:35-12:44, inside one hour
    rest = ticks[:50] + ticks[90:125] + ticks[135:]
    write(pg_lutron_dsn, gen, rest)
    write(pg_lutron_dsn, gen, held_back_2)
    write(pg_lutron_dsn, gen, held_back, flush_every=7)
    check(pg_lutron_dsn)
    first, last, total = counters(pg_lutron_dsn, "zone", "100")
    assert total == pytest.approx(last - first, rel=1e-12)
    assert total > 0


def test_late_rows_older_than_the_series_start_become_its_first_rows(pg_lutron_dsn: str) -> None:
    gen = HistoryGenerator(make_house(3), start=datetime(2024, 6, 3, 10, 0, tzinfo=UTC))
    ticks = gen.ticks(150)
    write(pg_lutron_dsn, gen, ticks[70:])
    write(pg_lutron_dsn, gen, ticks[:70])
    check(pg_lutron_dsn)


@pytest.mark.parametrize(
    ("tz", "start", "day", "hours"),
    [
        # Berlin, last Sunday of October: 03:00 CEST -> 02:00 CET, a 25-hour day
        ("Europe/Berlin", datetime(2024, 10, 26, 20, 0, tzinfo=UTC), date(2024, 10, 27), 25),
        # New York, second Sunday of March: 02:00 EST -> 03:00 EDT, a 23-hour day
        ("America/New_York", datetime(2024, 3, 10, 3, 0, tzinfo=UTC), date(2024, 3, 10), 23),
        # India: no DST, but hours start at :30 UTC
        ("Asia/Kolkata", datetime(2024, 3, 9, 16, 0, tzinfo=UTC), date(2024, 3, 10), 24),
    ],
)
def test_local_days_across_dst_changes(pg_dsn: str, tz: str, start: datetime, day: date, hours: int) -> None:
    init_db(pg_dsn, tz)
    gen = HistoryGenerator(make_house(3), start=start, step=timedelta(minutes=3), tz=tz)
    write(pg_lutron_dsn := pg_dsn, gen, gen.ticks(int(33 * 60 / 3)), flush_every=20)
    check(pg_lutron_dsn, tz)
    with psycopg.connect(pg_dsn) as conn:
        flush_rollups(conn)
        n_hours, samples = conn.execute(
            "SELECT count(*), sum(samples) FROM lutron.system_hourly WHERE day = %s", (day,)
        ).fetchone()
        daily = conn.execute("SELECT samples FROM lutron.system_daily WHERE day = %s", (day,)).fetchone()[0]
        hour_minutes = {
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT extract(minute FROM hour AT TIME ZONE 'UTC') FROM lutron.zone_hourly"
            )
        }
    assert n_hours == hours
    assert samples == daily == hours * 20  # 20 samples per hour at 3-minute steps
    assert hour_minutes == ({30} if tz == "Asia/Kolkata" else {0})


def test_the_two_autumn_hours_at_2am_stay_two_buckets(pg_lutron_dsn: str) -> None:
    gen = HistoryGenerator(
        make_house(2), start=datetime(2024, 10, 26, 23, 0, tzinfo=UTC), step=timedelta(minutes=5)
    )
    write(pg_lutron_dsn, gen, gen.ticks(36))  # 23:00-01:55 UTC: local 01:00, 02:00 CEST, 02:00 CET
    with psycopg.connect(pg_lutron_dsn) as conn:
        flush_rollups(conn)
        rows = conn.execute(
            "SELECT hour, to_char(hour AT TIME ZONE 'Europe/Berlin', 'HH24:MI'), samples FROM lutron.system_hourly ORDER BY hour"
        ).fetchall()
    assert [(r[1], r[2]) for r in rows] == [("01:00", 12), ("02:00", 12), ("02:00", 12)]


def test_rollup_failure_never_fails_telegrafs_copy_and_heals_on_the_next_one(pg_lutron_dsn: str) -> None:
    set_rollup_batch_rows(pg_lutron_dsn, 0)  # the drain inside the COPY is what must not fail it
    gen = HistoryGenerator(make_house(4), start=datetime(2024, 6, 3, 10, 0, tzinfo=UTC))
    ticks = gen.ticks(90)
    write(pg_lutron_dsn, gen, ticks[:30])
    with psycopg.connect(pg_lutron_dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE lutron.zone_hourly ADD CONSTRAINT no_rows CHECK (samples < 0) NOT VALID")
    write(pg_lutron_dsn, gen, ticks[30:60])  # every zone rollup now fails
    with psycopg.connect(pg_lutron_dsn, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM lutron_zone").fetchone()[0] == 60 * 4  # rows kept
        assert (
            conn.execute("SELECT count(*) FROM lutron.pending_buckets WHERE level = 'zone'").fetchone()[0] > 0
        )
        conn.execute("ALTER TABLE lutron.zone_hourly DROP CONSTRAINT no_rows")
    write(pg_lutron_dsn, gen, ticks[60:])
    with psycopg.connect(pg_lutron_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM lutron.pending_buckets").fetchone()[0] == 0
    check(pg_lutron_dsn)


def test_concurrent_writers_of_the_same_series_are_serialised(pg_lutron_dsn: str) -> None:
    gen = HistoryGenerator(
        make_house(3), start=datetime(2024, 6, 3, 10, 0, tzinfo=UTC), pinned={"100": 50.0, "101": 100.0}
    )
    ticks = gen.ticks(120)
    write(pg_lutron_dsn, gen, ticks[:40])
    errors: list[BaseException] = []
    with psycopg.connect(pg_lutron_dsn) as a:
        # A: an open transaction that has written newer rows (its trigger holds the level's lock).
        a_tx = a.transaction()
        a_tx.__enter__()
        with (
            a.cursor() as cur,
            cur.copy(
                'COPY lutron_zone ("time", area, floor, output_type, site, zone, zone_id,'
                " energy_joules_total, level, rated_watts, watts) FROM STDIN"
            ) as cp,
        ):
            for tick in ticks[80:]:
                for z, level, watts, energy in tick.zones:
                    cp.write_row(
                        [
                            datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=tick.ts_ns // 1000),
                            z.area,
                            z.floor,
                            z.output_type,
                            "home",
                            z.zone,
                            z.zone_id,
                            energy,
                            level,
                            z.rated_watts,
                            watts,
                        ]
                    )

        def late_writer() -> None:
            try:
                write(pg_lutron_dsn, gen, ticks[40:80])  # B: the rows in between, arriving meanwhile
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        b = threading.Thread(target=late_writer)
        b.start()
        b.join(timeout=1.0)
        assert b.is_alive(), "B must wait for A's lock"
        a_tx.__exit__(None, None, None)
    b.join(timeout=30)
    assert not b.is_alive() and not errors
    check(pg_lutron_dsn, levels=("zone",))
    first, last, total = counters(pg_lutron_dsn, "zone", "101")
    assert total == pytest.approx(last - first, rel=1e-12)
    assert total > 0


def test_rebuild_with_another_time_zone_rebuckets_days(pg_lutron_dsn: str) -> None:
    gen = HistoryGenerator(
        make_house(3), start=datetime(2024, 6, 3, 18, 0, tzinfo=UTC), step=timedelta(minutes=5)
    )
    write(pg_lutron_dsn, gen, gen.ticks(200))
    check(pg_lutron_dsn, BERLIN)
    with psycopg.connect(pg_lutron_dsn) as conn:
        report = rebuild(conn, timezone="America/New_York")
    assert report.timezone == "America/New_York"
    check(pg_lutron_dsn, "America/New_York")


def test_rebuild_reproduces_trigger_maintained_rollups(pg_lutron_dsn: str) -> None:
    gen = HistoryGenerator(make_house(4), start=datetime(2024, 6, 3, 10, 0, tzinfo=UTC))
    ticks = gen.ticks(150)
    write(pg_lutron_dsn, gen, ticks[:60] + ticks[90:])
    write(pg_lutron_dsn, gen, ticks[60:90])
    with psycopg.connect(pg_lutron_dsn) as conn:
        before: dict[str, Any] = {lv: stored_rollups(conn, lv) for lv in ("zone", "area", "system")}
        rebuild(conn)
        after = {lv: stored_rollups(conn, lv) for lv in ("zone", "area", "system")}
    for lv in before:
        for b, a in zip(before[lv], after[lv], strict=True):
            assert b.keys() == a.keys()
            for k in b:
                assert b[k].samples == a[k].samples
                assert b[k].energy_joules == pytest.approx(a[k].energy_joules, rel=1e-9, abs=1e-6)


def test_a_writer_waits_for_the_levels_drain_lock(pg_lutron_dsn: str) -> None:
    gen = HistoryGenerator(make_house(1), start=datetime(2024, 6, 3, 10, 0, tzinfo=UTC))
    ticks = gen.ticks(20)
    write(pg_lutron_dsn, gen, ticks[:10])
    done = threading.Event()
    with psycopg.connect(pg_lutron_dsn, autocommit=True) as holder:
        # The key the trigger and the drain use for the zone level (see rollups.LOCK_CLASS).
        holder.execute("SELECT pg_advisory_lock(%s, hashtext('zone'))", (LOCK_CLASS,))
        t = threading.Thread(target=lambda: (write(pg_lutron_dsn, gen, ticks[10:]), done.set()))
        t.start()
        assert not done.wait(1.0), "the COPY must wait while another writer holds the level"
        holder.execute("SELECT pg_advisory_unlock_all()")
        t.join(timeout=30)
    assert done.is_set()
    check(pg_lutron_dsn)


def staged(dsn: str, level: str = "zone") -> tuple[int, int]:
    """(rows in the stage table, rows rollup_state says are staged) of `level`."""
    with psycopg.connect(dsn) as conn:
        n = conn.execute(f"SELECT count(*) FROM lutron.stage_{level}").fetchone()[0]
        counted = conn.execute(
            "SELECT staged_rows FROM lutron.rollup_state WHERE level = %s", (level,)
        ).fetchone()[0]
    return n, counted


def test_the_trigger_drains_once_the_stage_holds_rollup_batch_rows(pg_dsn: str) -> None:
    init_db(pg_dsn, BERLIN)
    set_rollup_batch_rows(pg_dsn, 300)
    gen = HistoryGenerator(make_house(8), start=datetime(2024, 6, 3, 10, 0, tzinfo=UTC))
    seen = []
    for _ in range(8):
        write(pg_dsn, gen, gen.ticks(10))  # 80 zone rows per COPY
        seen.append(staged(pg_dsn))
    assert seen == [(80, 80), (160, 160), (240, 240), (0, 0), (80, 80), (160, 160), (240, 240), (0, 0)]
    with psycopg.connect(pg_dsn) as conn:
        samples = conn.execute("SELECT sum(samples) FROM lutron.zone_hourly").fetchone()[0]
    assert samples == 640  # every row the drains saw, without a reader's flush
    check(pg_dsn)


def test_the_trigger_drains_rows_staged_longer_than_rollup_delay_seconds(pg_dsn: str) -> None:
    init_db(pg_dsn, BERLIN)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("UPDATE lutron.settings SET value = '1' WHERE name = 'rollup_delay_seconds'")
    gen = HistoryGenerator(make_house(4), start=datetime(2024, 6, 3, 10, 0, tzinfo=UTC))
    write(pg_dsn, gen, gen.ticks(5))
    write(pg_dsn, gen, gen.ticks(5))
    assert staged(pg_dsn) == (40, 40)  # far below 20,000 rows, and staged less than a second ago
    time.sleep(1.2)
    write(pg_dsn, gen, gen.ticks(5))  # the oldest staged row is now over a second old
    assert staged(pg_dsn) == (0, 0)
    check(pg_dsn)


def test_rebuild_takes_the_staged_rows_with_it(pg_lutron_dsn: str) -> None:
    set_rollup_batch_rows(pg_lutron_dsn, 100_000)
    gen = HistoryGenerator(make_house(4), start=datetime(2024, 6, 3, 10, 0, tzinfo=UTC))
    write(pg_lutron_dsn, gen, gen.ticks(60))
    assert staged(pg_lutron_dsn) == (240, 240)
    with psycopg.connect(pg_lutron_dsn) as conn:
        rebuild(conn)
    assert staged(pg_lutron_dsn) == (0, 0)  # rolled up by the rebuild, not counted twice later
    check(pg_lutron_dsn)


def test_a_stage_emptied_by_a_crash_is_staged_again_from_the_raw_rows(pg_dsn: str) -> None:
    init_db(pg_dsn, BERLIN)
    gen = HistoryGenerator(make_house(4), start=datetime(2024, 6, 3, 10, 0, tzinfo=UTC), pinned={"100": 60.0})
    ticks = gen.ticks(120)
    write(pg_dsn, gen, ticks[:50])
    with psycopg.connect(pg_dsn) as conn:
        flush_rollups(conn)  # rolled up: these must not count twice
    write(pg_dsn, gen, ticks[70:])
    write(pg_dsn, gen, ticks[50:70])  # late rows: the oldest staged time is 10:50
    assert staged(pg_dsn) == (280, 280)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        # What crash recovery does to an UNLOGGED table; rollup_state is logged and keeps its count.
        assert conn.execute(
            "SELECT relpersistence FROM pg_class WHERE oid = 'lutron.stage_zone'::regclass"
        ).fetchone() == ("u",)
        conn.execute("TRUNCATE lutron.stage_zone")
    check(pg_dsn)  # the reader's drain stages them again from the raw table
    first, last, total = counters(pg_dsn, "zone", "100")
    assert total == pytest.approx(last - first, rel=1e-12) and total > 0
    assert staged(pg_dsn) == (0, 0)
