"""Exact rollups from change rows (telegraf_lutron/db/changes.py), written as Telegraf writes them.

The reference is computed here, independently: a zone's power is a step function of time, the
plugin's counter is its integral, and the energy of a local clock hour is the integral over it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from pg_fixtures import init_db

from telegraf_lutron.db import changes as ch
from telegraf_lutron.db import schema
from telegraf_lutron.db.cli import output_filters
from telegraf_lutron.db.history import TelegrafWriter
from telegraf_lutron.db.prune import Retention, prune
from telegraf_lutron.lineproto_parse import parse_line

pytestmark = pytest.mark.db

BERLIN = ZoneInfo("Europe/Berlin")
# The autumn DST change: 2024-10-27 03:00 CEST -> 02:00 CET (two local 02:00 hours).
START = datetime(2024, 10, 26, 20, 0, tzinfo=UTC)
Step = tuple[datetime, float]  # from this instant on, this many watts


def steps_for_zone() -> list[Step]:
    """On and off across the DST change, a long gap off, a dimmed evening and a change exactly on
    an hour boundary."""
    t = START
    return [
        (t, 0.0),
        (t + timedelta(minutes=37, seconds=12.345), 60.0),  # across the local midnight
        (t + timedelta(hours=2, minutes=5), 30.0),
        (t + timedelta(hours=4, minutes=50), 0.0),
        (t + timedelta(hours=5, minutes=20), 100.0),  # across both 02:00 hours
        (t + timedelta(hours=7, minutes=0), 0.0),  # exactly on a boundary
        (t + timedelta(hours=19, minutes=40), 45.0),  # after a long gap with no rows
        (t + timedelta(hours=22, minutes=3, seconds=1.5), 0.0),
    ]


def counter(steps: Sequence[Step], at: datetime) -> float:
    """The plugin's energy counter: the exact integral of the step function up to `at`."""
    joules = 0.0
    for (t0, w), (t1, _) in zip(steps, [*steps[1:], (at, 0.0)], strict=True):
        if t0 >= at:
            break
        joules += w * (min(t1, at) - t0).total_seconds()
    return joules


def checkpoints(
    steps: Sequence[Step], end: datetime, every: timedelta = timedelta(minutes=15)
) -> list[datetime]:
    """Clock-aligned checkpoint times for a zone that drew power during the period."""
    out = []
    t = START + every
    while t <= end:
        drew = any(
            w > 0
            for (t0, w), (t1, _) in zip(steps, [*steps[1:], (end, 0.0)], strict=True)
            if t0 < t and t1 > t - every
        )
        if drew:
            out.append(t)
        t += every
    return out


def rows_for(steps: Sequence[Step], end: datetime, zone_id: str = "7") -> list[tuple[datetime, str]]:
    """(time, line protocol) of every change row and checkpoint the plugin would write."""
    times = sorted({t for t, _ in steps} | set(checkpoints(steps, end)))
    out = []
    for t in times:
        w = next(w for t0, w in reversed(steps) if t0 <= t)
        level = 100.0 * w / 100.0 if w else 0.0
        ns = int(t.timestamp() * 1_000_000) * 1000  # PostgreSQL keeps microseconds
        line = (
            f"lutron_zone_change,kind=light,site=home,zone_id={zone_id} level={level!r},watts={w!r},"
            f"energy_joules_total={counter(steps, t)!r} {ns}"
        )
        out.append((t, line))
    return out


def local_hours(start: datetime, end: datetime) -> list[datetime]:
    """UTC starts of the local (Berlin) clock hours that overlap [start, end)."""
    t = start.replace(minute=0, second=0, microsecond=0)  # Berlin's offsets are whole hours
    out = []
    while t < end:
        out.append(t)
        t += timedelta(hours=1)
    return out


def reference_hours(
    steps: Sequence[Step], end: datetime
) -> dict[datetime, tuple[float, float, float | None]]:
    """Per local hour with energy or on-time: (joules, seconds on, peak watts)."""
    out: dict[datetime, tuple[float, float, float | None]] = {}
    for hour in local_hours(START, end):
        h_end = min(hour + timedelta(hours=1), end)
        joules = counter(steps, h_end) - counter(steps, hour)
        on = 0.0
        peak: float | None = None
        for (t0, w), (t1, _) in zip(steps, [*steps[1:], (end, 0.0)], strict=True):
            a, b = max(t0, hour), min(t1, h_end)
            if b > a and w > 0:
                on += (b - a).total_seconds()
                peak = max(peak or 0.0, w)
        if joules > 0 or on > 0:
            out[hour] = (joules, on, peak)
    return out


def write(dsn: str, lines: Sequence[str], flushes: int = 3) -> None:
    conn = psycopg.connect(dsn)
    try:
        namepass = [str(x) for x in __import__("tomllib").loads("\n".join(output_filters()))["namepass"]]
        writer = TelegrafWriter(conn, namepass=namepass)
        size = max(1, len(lines) // flushes + 1)
        for i in range(0, len(lines), size):
            writer.write_lines("\n".join(lines[i : i + size]) + "\n")
    finally:
        conn.close()


def stored_hours(dsn: str, zone_id: str = "7") -> dict[datetime, tuple[float, float, float | None]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        ch.rollup(conn.cursor())
        rows = conn.execute(
            "SELECT hour, energy_joules, on_seconds, watts_max FROM lutron.zone_change_hourly"
            " WHERE site = 'home' AND zone_id = %s ORDER BY hour",
            (zone_id,),
        ).fetchall()
    return {r[0].astimezone(UTC): (r[1], r[2], r[3]) for r in rows}


def assert_hours_equal(got: dict[datetime, Any], want: dict[datetime, Any]) -> None:
    assert got.keys() == want.keys()
    for hour, (joules, on, peak) in want.items():
        g = got[hour]
        assert g[0] == pytest.approx(joules, abs=1e-6), hour
        assert g[1] == pytest.approx(on, abs=1e-6), hour
        assert g[2] == peak, hour


def test_hourly_energy_is_exact_across_boundaries_dst_and_gaps(pg_lutron_dsn: str) -> None:
    steps = steps_for_zone()
    end = steps[-1][0]
    lines = [line for _, line in rows_for(steps, end)]
    # Late and repeated rows (Telegraf retrying a flush): the rollup is recomputed, never doubled.
    write(pg_lutron_dsn, [*lines[5:], *lines[:5], *lines[3:7]])
    got = stored_hours(pg_lutron_dsn)
    want = reference_hours(steps, end)
    assert_hours_equal(got, want)
    # The two local 02:00 hours of the DST change are two buckets, both with energy.
    two = [h for h in got if h.astimezone(BERLIN).hour == 2 and h.astimezone(BERLIN).day == 27]
    assert len(two) == 2
    with psycopg.connect(pg_lutron_dsn, autocommit=True) as conn:
        days = dict(
            conn.execute("SELECT day, energy_joules FROM lutron.zone_change_daily ORDER BY day").fetchall()
        )
    by_day: dict[Any, float] = defaultdict(float)
    for hour, (joules, _, _) in want.items():
        by_day[hour.astimezone(BERLIN).date()] += joules
    assert days == pytest.approx(dict(by_day))


def test_a_lost_row_costs_detail_never_totals(pg_lutron_dsn: str) -> None:
    steps = steps_for_zone()
    end = steps[-1][0]
    rows = rows_for(steps, end)
    # Telegraf's buffer overflowed: an "on" row (20:37) and an "off" row (00:50) never arrive.
    lost = {steps[1][0], steps[3][0]}
    write(pg_lutron_dsn, [line for t, line in rows if t not in lost])
    got = stored_hours(pg_lutron_dsn)
    want = reference_hours(steps, end)
    # Totals: every day, and the whole span, from the counters.
    assert sum(g[0] for g in got.values()) == pytest.approx(counter(steps, end))
    # Hours no lost row touched are exact; the others may be off, within the checkpoint interval.
    touched = {h for h in local_hours(START, end) if any(h <= t < h + timedelta(hours=1) for t in lost)}
    for hour in want.keys() - touched:
        assert got[hour][0] == pytest.approx(want[hour][0], abs=1e-6), hour


def test_rows_deleted_by_hand_cost_detail_after_a_rebuild_never_totals(pg_lutron_dsn: str) -> None:
    steps = steps_for_zone()
    end = steps[-1][0]
    write(pg_lutron_dsn, [line for _, line in rows_for(steps, end)])
    assert_hours_equal(stored_hours(pg_lutron_dsn), reference_hours(steps, end))
    with psycopg.connect(pg_lutron_dsn, autocommit=True) as conn:
        # Every row between 00:00 and 02:00 UTC goes: level steps and checkpoints alike.
        gone = conn.execute(
            "DELETE FROM lutron_zone_change WHERE time > %s AND time < %s",
            (START + timedelta(hours=4), START + timedelta(hours=6)),
        ).rowcount
        assert gone > 4
    with psycopg.connect(pg_lutron_dsn) as conn:
        schema.rebuild(conn)
    got = stored_hours(pg_lutron_dsn)
    assert sum(g[0] for g in got.values()) == pytest.approx(counter(steps, end))
    with psycopg.connect(pg_lutron_dsn, autocommit=True) as conn:
        total = conn.execute("SELECT sum(energy_joules) FROM lutron.zone_change_daily").fetchone()[0]
    assert total == pytest.approx(counter(steps, end))
    want = reference_hours(steps, end)
    for hour in want:
        if hour < START + timedelta(hours=3) or hour >= START + timedelta(hours=7):
            assert got[hour][0] == pytest.approx(want[hour][0], abs=1e-6), hour


def test_the_house_row_tells_no_data_from_no_changes(pg_lutron_dsn: str) -> None:
    t0 = datetime(2024, 6, 3, 8, 0, tzinfo=UTC)
    lines = []
    for minute in range(0, 180):
        if 60 <= minute < 90:
            continue  # the plugin was away for half an hour
        t = t0 + timedelta(minutes=minute)
        joules = 500.0 * 60 * min(minute, 60) + (500.0 * 60 * (minute - 90) if minute >= 90 else 0.0)
        lines.append(
            f"lutron_house,site=home watts=500.0,energy_joules_total={joules!r} {int(t.timestamp()) * 10**9}"
        )
    write(pg_lutron_dsn, lines)
    with psycopg.connect(pg_lutron_dsn, autocommit=True) as conn:
        ch.rollup(conn.cursor())
        hours = conn.execute(
            "SELECT hour, energy_joules, covered_seconds FROM lutron.house_hourly ORDER BY hour"
        ).fetchall()
    got = {h.astimezone(UTC): (e, c) for h, e, c in hours}
    # The minute before the outage is not known to have data (the next row is 31 minutes later),
    # but its energy is: the counters say it.
    assert got[t0] == pytest.approx((500.0 * 3600, 3540.0))
    assert got[t0 + timedelta(hours=1)] == pytest.approx((500.0 * 1800, 1800.0))  # 30 min without data
    assert got[t0 + timedelta(hours=2)] == pytest.approx((500.0 * 3540, 3540.0))  # until the last row


def test_init_adds_the_change_tables_to_a_snapshot_database_and_keeps_it(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A database of the version before the change rows: the snapshot engine only. (The kinds'
    # test upgrades a database made by the version-2 code to that version.)
    before_changes = tuple(m for m in schema.MIGRATIONS if m.version < 4)
    with monkeypatch.context() as m:
        m.setattr(schema, "MIGRATIONS", before_changes)
        m.setattr(schema, "LATEST", before_changes[-1].version)
        m.setattr(schema, "_init_change_tables", lambda cur, raw_schema: [])
        m.setattr(ch, "functions", lambda raw_schema: [])
        init_db(pg_dsn)
    snapshot = (
        "lutron_zone,site=home,zone_id=7,zone=Hall,area=Hall,output_type=INC level=50.0,watts=30.0,"
        "rated_watts=60.0,energy_joules_total={} {}"
    )
    t0 = int(datetime(2024, 6, 3, 8, 0, tzinfo=UTC).timestamp()) * 10**9
    conn = psycopg.connect(pg_dsn)
    TelegrafWriter(conn).write_lines(
        "".join(snapshot.format(float(i * 300), t0 + i * 10 * 10**9) + "\n" for i in range(400))
    )
    conn.close()

    def old_hours() -> list[tuple[Any, ...]]:
        with psycopg.connect(pg_dsn, autocommit=True) as c:
            c.execute("SELECT lutron.rollup_flush('zone')")
            return c.execute(
                "SELECT hour, energy_joules, samples FROM lutron.zone_hourly ORDER BY hour"
            ).fetchall()

    before = old_hours()
    assert before
    report = init_db(pg_dsn)
    assert report.version == schema.LATEST
    assert old_hours() == before  # history written before the upgrade reads as it did
    steps = steps_for_zone()
    write(pg_dsn, [line for _, line in rows_for(steps, steps[-1][0])])
    assert_hours_equal(stored_hours(pg_dsn), reference_hours(steps, steps[-1][0]))
    assert old_hours() == before
    with psycopg.connect(pg_dsn) as c:
        status = schema.status(c)
    assert status.up_to_date, status.tables


def test_a_row_in_the_shape_telegraf_writes_lands_in_its_columns(pg_lutron_dsn: str) -> None:
    line = "lutron_event,site=home,event=led,device_id=40,component=81 value=1.0 1717401600000000000"
    conn = psycopg.connect(pg_lutron_dsn)
    writer = TelegrafWriter(conn, add_columns=False)
    writer.write_lines(line + "\n" + line.replace("event=led", "event=led,extra=x") + "\n")
    conn.close()
    assert any("missing tag columns" in entry for entry in writer.log)  # as Telegraf: that one is dropped
    with psycopg.connect(pg_lutron_dsn, autocommit=True) as c:
        rows = c.execute(
            "SELECT site, event, device_id, component, area_id, value FROM public.lutron_event"
        ).fetchall()
    assert rows == [("home", "led", "40", "81", None, 1.0)]
    assert parse_line(line).name == "lutron_event"


def test_prune_keeps_change_rows_by_default_and_their_rollups_when_told_to_drop_them(
    pg_lutron_dsn: str,
) -> None:
    steps = steps_for_zone()
    end = steps[-1][0]
    rows = rows_for(steps, end)
    write(pg_lutron_dsn, [line for _, line in rows])
    before = stored_hours(pg_lutron_dsn)
    cutoff = START + timedelta(hours=6, minutes=30)
    with psycopg.connect(pg_lutron_dsn, autocommit=True) as conn:
        kept = prune(conn, Retention(raw=None, hourly=None, daily=None), now=end)
        assert kept.cutoffs["changes"] is None and "public.lutron_zone_change" not in kept.deleted
        report = prune(
            conn, Retention(raw=None, hourly=None, daily=None, changes=end - cutoff), now=end, batch_rows=3
        )
        gone = sum(1 for t, _ in rows if t < cutoff)
        assert report.deleted["public.lutron_zone_change"] == gone
        assert (
            conn.execute("SELECT count(*) FROM lutron_zone_change WHERE time < %s", (cutoff,)).fetchone()[0]
            == 0
        )
    assert stored_hours(pg_lutron_dsn) == before  # the hours keep what they had
    # Telegraf writes a row again (a retried flush): the hours before the cut-off are not recomputed.
    late = [line for t, line in rows if cutoff <= t][:2]
    write(pg_lutron_dsn, late)
    assert_hours_equal(stored_hours(pg_lutron_dsn), reference_hours(steps, end))


def test_a_failing_rollup_never_fails_telegrafs_copy_and_catches_up_later(pg_lutron_dsn: str) -> None:
    steps = steps_for_zone()
    end = steps[-1][0]
    lines = [line for _, line in rows_for(steps, end)]
    with psycopg.connect(pg_lutron_dsn, autocommit=True) as conn:
        conn.execute("UPDATE lutron.settings SET value = 'Not/AZone' WHERE name = 'timezone'")
    write(pg_lutron_dsn, lines)  # the COPYs commit; the rollup is deferred with a warning
    with psycopg.connect(pg_lutron_dsn, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM lutron_zone_change").fetchone()[0] == len(lines)
        assert conn.execute("SELECT count(*) FROM lutron.zone_change_hourly").fetchone()[0] == 0
        assert schema.status(conn).dirty_series == 1
        conn.execute("UPDATE lutron.settings SET value = 'Europe/Berlin' WHERE name = 'timezone'")
    assert_hours_equal(stored_hours(pg_lutron_dsn), reference_hours(steps, end))
