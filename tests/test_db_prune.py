"""`db prune`: retention per table, batching, dry runs, and living alongside Telegraf's writes."""

from __future__ import annotations

import math
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from pg_fixtures import assert_same_rollups, flush_rollups, reference_rollups, stored_rollups

from telegraf_lutron.db.history import HistoryGenerator, TelegrafWriter, make_house
from telegraf_lutron.db.prune import DEFAULT_HOURLY, DEFAULT_RAW, Retention, parse_retention, prune
from telegraf_lutron.lineprotocol import encode

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2024, 5, 1, 0, 0, tzinfo=UTC)
STEP = timedelta(minutes=30)
DAYS = 12
NOW = START + timedelta(days=DAYS)
POLICY = Retention(raw=timedelta(days=3), hourly=timedelta(days=6), daily=timedelta(days=9))


def fill(dsn: str, days: int = DAYS) -> HistoryGenerator:
    gen = HistoryGenerator(make_house(4), start=START, step=STEP, pinned={"100": 60.0})
    with psycopg.connect(dsn) as conn:
        writer = TelegrafWriter(conn)
        for _ in range(days):
            writer.write_lines(gen.lines(gen.ticks(48)))
    return gen


def snapshot(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    return {
        "raw": {
            t: sorted(conn.execute(f"SELECT time FROM {t}").fetchall())
            for t in ("lutron_zone", "lutron_area", "lutron_power")
        },
        "rollups": {lv: stored_rollups(conn, lv) for lv in ("zone", "area", "system")},
    }


def test_retention_strings() -> None:
    assert parse_retention("90d") == DEFAULT_RAW
    assert parse_retention("2y") == DEFAULT_HOURLY
    assert parse_retention("12w") == timedelta(weeks=12)
    assert parse_retention("36h") == timedelta(hours=36)
    assert parse_retention("30") == timedelta(days=30)
    assert parse_retention("forever") is None
    for bad in ("", "0d", "-3d", "3 months", "1.5.2d"):
        with pytest.raises(ValueError, match="retention"):
            parse_retention(bad)


@pytest.mark.parametrize("batch_rows", [20_000, 7])
def test_prune_keeps_exactly_what_the_policy_says(pg_lutron_dsn: str, batch_rows: int) -> None:
    fill(pg_lutron_dsn)
    with psycopg.connect(pg_lutron_dsn) as conn:
        before = snapshot(conn)
    with psycopg.connect(pg_lutron_dsn, autocommit=True) as conn:
        report = prune(conn, POLICY, now=NOW, batch_rows=batch_rows)
    with psycopg.connect(pg_lutron_dsn) as conn:
        after = snapshot(conn)
    raw_cut, hourly_cut = NOW - POLICY.raw, NOW - POLICY.hourly
    first_day_kept = (NOW - POLICY.daily).astimezone(BERLIN).date()
    for table, times in before["raw"].items():
        kept = [t for t in times if t[0] >= raw_cut]
        assert after["raw"][table] == kept
        assert report.deleted[f"public.{table}"] == len(times) - len(kept) > 0
    for lv in ("zone", "area", "system"):
        hourly_before, daily_before = before["rollups"][lv]
        hourly_after, daily_after = after["rollups"][lv]
        # Kept buckets are untouched, including those whose raw rows are gone.
        assert hourly_after == {k: v for k, v in hourly_before.items() if k[2] >= hourly_cut}
        assert daily_after == {k: v for k, v in daily_before.items() if k[2] >= first_day_kept}
        assert len(daily_after) < len(daily_before)
    assert report.cutoffs == {
        "changes": None,  # change rows are kept forever unless asked
        "raw": raw_cut,
        "hourly": hourly_cut,
        "daily": NOW - POLICY.daily,
    }


def test_dry_run_counts_and_deletes_nothing(pg_lutron_dsn: str) -> None:
    fill(pg_lutron_dsn)
    with psycopg.connect(pg_lutron_dsn) as conn:
        before = snapshot(conn)
    with psycopg.connect(pg_lutron_dsn, autocommit=True) as conn:
        dry = prune(conn, POLICY, now=NOW, dry_run=True)
        assert (
            conn.execute("SELECT count(*) FROM lutron.settings WHERE name LIKE '%pruned%'").fetchone()[0] == 0
        )
    with psycopg.connect(pg_lutron_dsn) as conn:
        assert snapshot(conn) == before
    with psycopg.connect(pg_lutron_dsn, autocommit=True) as conn:
        real = prune(conn, POLICY, now=NOW)
    assert dry.deleted == real.deleted


def test_forever_keeps_everything(pg_lutron_dsn: str) -> None:
    fill(pg_lutron_dsn, days=3)
    with psycopg.connect(pg_lutron_dsn) as conn:
        before = snapshot(conn)
    with psycopg.connect(pg_lutron_dsn, autocommit=True) as conn:
        prune(conn, Retention(raw=None, hourly=None, daily=None), now=NOW)
    with psycopg.connect(pg_lutron_dsn) as conn:
        assert snapshot(conn) == before


def test_a_late_row_from_the_pruned_past_leaves_its_complete_bucket_alone(pg_lutron_dsn: str) -> None:
    gen = HistoryGenerator(make_house(2), start=START, step=STEP, pinned={"100": 60.0})
    ticks = gen.ticks(48 * DAYS)
    with psycopg.connect(pg_lutron_dsn) as conn:
        writer = TelegrafWriter(conn)
        for i in range(0, len(ticks), 48):
            writer.write_lines(gen.lines(ticks[i : i + 48]))
    with psycopg.connect(pg_lutron_dsn, autocommit=True) as conn:
        prune(conn, POLICY, now=NOW)
        old_hour = datetime(2024, 5, 8, 10, tzinfo=UTC)  # raw rows gone, hourly kept
        before = conn.execute(
            "SELECT * FROM lutron.zone_hourly WHERE hour = %s ORDER BY zone_id", (old_hour,)
        ).fetchall()
        assert before
    late = [
        t for t in ticks if t.ts_ns // 1000 == int(old_hour.timestamp() * 1_000_000) + 30 * 60 * 1_000_000
    ]
    with psycopg.connect(pg_lutron_dsn) as conn:
        TelegrafWriter(conn).write_lines(gen.lines(late))  # Telegraf re-sends a very old row
        flush_rollups(conn)
        after = conn.execute(
            "SELECT * FROM lutron.zone_hourly WHERE hour = %s ORDER BY zone_id", (old_hour,)
        ).fetchall()
        assert conn.execute("SELECT count(*) FROM lutron.pending_buckets").fetchone()[0] == 0
    assert after == before


def test_prune_rolls_up_staged_rows_before_deleting_their_raw_rows(pg_lutron_dsn: str) -> None:
    fill(pg_lutron_dsn)  # fewer rows than the drain threshold: all of them wait in the stage
    with psycopg.connect(pg_lutron_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM lutron.zone_hourly").fetchone()[0] == 0
        reference = {lv: reference_rollups(conn, lv, "Europe/Berlin") for lv in ("zone", "area", "system")}
    with psycopg.connect(pg_lutron_dsn, autocommit=True) as conn:
        prune(conn, Retention(raw=POLICY.raw, hourly=None, daily=None), now=NOW)
        staged = conn.execute("SELECT sum(staged_rows) FROM lutron.rollup_state").fetchone()[0]
        assert staged == 0 and conn.execute("SELECT count(*) FROM lutron.stage_zone").fetchone()[0] == 0
        # Complete buckets for the whole period, though most raw rows are gone now.
        for lv, ref in reference.items():
            assert_same_rollups(lv, stored_rollups(conn, lv), ref)


def test_prune_while_telegraf_writes(pg_lutron_dsn: str) -> None:
    gen = fill(pg_lutron_dsn, days=DAYS)
    stop = threading.Event()
    errors: list[BaseException] = []

    def telegraf() -> None:
        try:
            with psycopg.connect(pg_lutron_dsn) as conn:
                writer = TelegrafWriter(conn)
                while not stop.is_set():
                    writer.write_lines(gen.lines(gen.ticks(4)))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    writer_thread = threading.Thread(target=telegraf)
    writer_thread.start()
    try:
        with psycopg.connect(pg_lutron_dsn, autocommit=True) as conn:
            prune(conn, POLICY, now=NOW, batch_rows=5)
    finally:
        stop.set()
        writer_thread.join(timeout=60)
    assert not errors
    with psycopg.connect(pg_lutron_dsn) as conn:
        assert conn.execute("SELECT min(time) FROM lutron_zone").fetchone()[0] >= NOW - POLICY.raw
        # Buckets after the first kept one still equal a direct aggregation of the raw rows.
        ref_h, _ = reference_rollups(conn, "zone", "Europe/Berlin")
        got_h, _ = stored_rollups(conn, "zone")
        later = [k for k in ref_h if k[2] >= NOW - POLICY.raw + timedelta(hours=1)]
        assert len(later) > 100
        for k in later:
            assert got_h[k].samples == ref_h[k].samples
            assert math.isclose(got_h[k].energy_joules, ref_h[k].energy_joules, rel_tol=1e-9, abs_tol=1e-6)


def test_prune_needs_autocommit_and_an_initialised_database(pg_dsn: str) -> None:
    from telegraf_lutron.db import SchemaMissing

    with psycopg.connect(pg_dsn) as conn, pytest.raises(ValueError, match="autocommit"):
        prune(conn)
    with psycopg.connect(pg_dsn, autocommit=True) as conn, pytest.raises(SchemaMissing):
        prune(conn)


def test_daily_rollups_go_by_whole_local_days(pg_lutron_dsn: str) -> None:
    fill(pg_lutron_dsn)
    with psycopg.connect(pg_lutron_dsn, autocommit=True) as conn:
        prune(conn, Retention(raw=None, hourly=None, daily=timedelta(days=5)), now=NOW)
        days = [r[0] for r in conn.execute("SELECT DISTINCT day FROM lutron.system_daily ORDER BY day")]
    assert days[0] == date(2024, 5, 8)  # NOW - 5 days = 2024-05-08 02:00 in Berlin


def test_prune_rebuilds_the_change_tables_series_indexes_which_page_splits_bloat(pg_lutron_dsn: str) -> None:
    """Each zone's rows go to the end of its part of the series index, so its pages split half
    full; db prune rebuilds it (concurrently) to its compact size, changing no row or rollup."""
    lines = [
        encode(
            "lutron_zone_change",
            {"site": "home", "zone_id": str(z), "kind": "light", "cause": "keypad"},
            {"level": 50.0, "watts": 30.0, "energy_joules_total": 30.0 * 60 * i},
            int((START + timedelta(minutes=i)).timestamp()) * 10**9,
        )
        for i in range(400)
        for z in range(60)
    ]
    index = "lutron_zone_change_series_time_idx"

    def state(conn: psycopg.Connection[Any]) -> tuple[int, Any, Any]:
        size = conn.execute("SELECT pg_relation_size(%s::regclass)", (f"public.{index}",)).fetchone()[0]
        rows = conn.execute("SELECT count(*), sum(energy_joules_total) FROM lutron_zone_change").fetchone()
        hourly = conn.execute(
            "SELECT count(*), sum(energy_joules), sum(on_seconds) FROM lutron.zone_change_hourly"
        ).fetchone()
        return size, rows, hourly

    with psycopg.connect(pg_lutron_dsn) as conn:
        writer = TelegrafWriter(conn)
        for i in range(0, len(lines), 600):  # a flush every 10 minutes of rows, as Telegraf's
            writer.write_lines("".join(lines[i : i + 600]))
    with psycopg.connect(pg_lutron_dsn, autocommit=True) as conn:
        bloated, rows, hourly = state(conn)
        dry = prune(conn, Retention(raw=None, hourly=None, daily=None), now=NOW, dry_run=True)
        assert f"public.{index}" in dry.reindexed and state(conn)[0] == bloated
        report = prune(conn, Retention(raw=None, hourly=None, daily=None), now=NOW)
        assert f"public.{index}" in report.reindexed and not report.failed
        compact, rows_after, hourly_after = state(conn)
    assert (rows_after, hourly_after) == (rows, hourly) and rows[0] == len(lines)
    assert compact < 0.8 * bloated, (compact, bloated)
