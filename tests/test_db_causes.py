"""Energy by cause per zone and unoccupied energy per area (telegraf_lutron/db/changes.py), from
change rows written as Telegraf writes them.

The reference is computed here, independently: power is a step function of time, each step with
the cause that set it; the counter is its integral; the energy of a cause in a local clock hour is
the integral over the parts of that hour the cause held.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from pg_fixtures import init_db
from psycopg import sql

from telegraf_lutron.db import changes as ch
from telegraf_lutron.db import schema
from telegraf_lutron.db.history import TelegrafWriter
from telegraf_lutron.db.prune import Retention, prune
from telegraf_lutron.lineprotocol import encode

pytestmark = pytest.mark.db

BERLIN = ZoneInfo("Europe/Berlin")
# The spring DST change: 2024-03-31 02:00 CET -> 03:00 CEST (a local day of 23 hours).
START = datetime(2024, 3, 30, 21, 0, tzinfo=UTC)
CHECKPOINT = timedelta(minutes=15)
SOURCE = ("cause", *ch.SOURCE_TAGS)
COLUMNS = (
    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s"
)


@dataclass(frozen=True)
class Step:
    """From `t` on, `watts`, set by `tags` (cause and the button or event behind it)."""

    t: datetime
    watts: float
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, ...]:
        """The cause key the rollup stores: unknown without a cause, '' for a missing tag."""
        return (self.tags.get("cause") or "unknown", *(self.tags.get(t, "") for t in ch.SOURCE_TAGS))


def keypad(k: str, button: str) -> dict[str, str]:
    return {"cause": "keypad", "keypad_id": k, "component": button}


def timeclock(tc: str, event: str) -> dict[str, str]:
    return {"cause": "timeclock", "timeclock_id": tc, "timeclock_event": event}


def zone_steps() -> list[Step]:
    """A night across the DST change: the time clock at dusk, a keypad dimming, the sensor and an
    integration, a change exactly on an hour boundary, a long gap and the app."""
    t = START
    return [
        Step(t, 0.0),  # a baseline without a cause (rows of a processor that sends none)
        Step(t + timedelta(minutes=21, seconds=7.5), 80.0, timeclock("3", "Dusk")),
        Step(t + timedelta(hours=1, minutes=40), 40.0, keypad("41", "2")),
        Step(t + timedelta(hours=3), 100.0, keypad("41", "4")),  # on the boundary (local 03:00/05:00)
        Step(t + timedelta(hours=3, minutes=50, seconds=3.25), 0.0, {"cause": "occupancy"}),
        Step(t + timedelta(hours=4, minutes=5), 60.0, {"cause": "integration"}),
        Step(t + timedelta(hours=6, minutes=30), 0.0, keypad("41", "1")),
        Step(t + timedelta(hours=15), 25.0, {"cause": "app"}),  # after a long gap with no rows
        Step(t + timedelta(hours=16, minutes=2), 0.0, {"cause": "local"}),
    ]


def power_at(steps: Sequence[Step], t: datetime) -> Step:
    return next(s for s in reversed(steps) if s.t <= t)


def integral(steps: Sequence[Step], a: datetime, b: datetime, key: tuple[str, ...] | None = None) -> float:
    """Joules from a to b (of the steps whose cause key is `key`, or all)."""
    joules = 0.0
    for s, nxt in zip(steps, [*steps[1:], None], strict=True):
        t1 = nxt.t if nxt is not None else b
        lo, hi = max(s.t, a), min(t1, b)
        if hi > lo and (key is None or s.key == key):
            joules += s.watts * (hi - lo).total_seconds()
    return joules


def row_times(steps: Sequence[Step], end: datetime) -> list[datetime]:
    """Every change and every clock-aligned checkpoint of a period in which power was drawn."""
    times = {s.t for s in steps}
    t = START + CHECKPOINT
    while t <= end:
        if integral(steps, t - CHECKPOINT, t) > 0 or power_at(steps, t - CHECKPOINT).watts > 0:
            times.add(t)
        t += CHECKPOINT
    return sorted(times)


def zone_lines(steps: Sequence[Step], end: datetime, zone_id: str = "7") -> list[tuple[datetime, str]]:
    """(time, line) of the plugin's lutron_zone_change rows: each carries the cause of the level
    from that row on (checkpoints included)."""
    out = []
    for t in row_times(steps, end):
        s = power_at(steps, t)
        tags = {"site": "home", "zone_id": zone_id, "kind": "light", **s.tags}
        fields = {"level": s.watts, "watts": s.watts, "energy_joules_total": integral(steps, START, t)}
        out.append((t, encode("lutron_zone_change", tags, fields, ns(t))))
    return out


def ns(t: datetime) -> int:
    return int(t.timestamp() * 1_000_000) * 1000  # PostgreSQL keeps microseconds


def local_hours(start: datetime, end: datetime) -> list[datetime]:
    t = start.replace(minute=0, second=0, microsecond=0)  # Berlin's offsets are whole hours
    out = []
    while t < end:
        out.append(t)
        t += timedelta(hours=1)
    return out


def reference_by_cause(steps: Sequence[Step], end: datetime) -> dict[tuple[Any, ...], float]:
    """(hour, cause key...) -> joules, for every hour and cause with energy."""
    out: dict[tuple[Any, ...], float] = {}
    for hour in local_hours(START, end):
        for key in {s.key for s in steps}:
            joules = integral(steps, hour, min(hour + timedelta(hours=1), end), key)
            if joules > 0:
                out[(hour, *key)] = joules
    return out


def write(dsn: str, lines: Sequence[str], flushes: int = 3) -> TelegrafWriter:
    conn = psycopg.connect(dsn)
    try:
        writer = TelegrafWriter(conn)
        size = max(1, len(lines) // flushes + 1)
        for i in range(0, len(lines), size):
            writer.write_lines("".join(lines[i : i + size]))
        return writer
    finally:
        conn.close()


def stored_by_cause(dsn: str, table: str = ch.CAUSE_HOURLY) -> dict[tuple[Any, ...], float]:
    bucket = {ch.CAUSE_HOURLY: "hour", ch.CAUSE_MONTHLY: "month"}.get(table, "day")
    with psycopg.connect(dsn, autocommit=True) as conn:
        ch.rollup(conn.cursor())
        rows = conn.execute(
            sql.SQL(
                "SELECT {}, {}, energy_joules FROM {} WHERE site = 'home' AND zone_id = '7' AND energy_joules > 0"
            ).format(
                sql.Identifier(bucket),
                sql.SQL(", ").join(map(sql.Identifier, SOURCE)),
                sql.Identifier("lutron", table),
            )
        ).fetchall()
    return {(r[0].astimezone(UTC) if bucket == "hour" else r[0], *r[1:-1]): r[-1] for r in rows}


def test_energy_by_cause_is_exact_per_hour_across_boundaries_and_dst(pg_lutron_dsn: str) -> None:
    steps = zone_steps()
    end = steps[-1].t
    lines = [line for _, line in zone_lines(steps, end)]
    # Late and repeated rows (a retried flush): recomputed, never doubled.
    write(pg_lutron_dsn, [*lines[6:], *lines[:6], *lines[2:8]])
    got = stored_by_cause(pg_lutron_dsn)
    want = reference_by_cause(steps, end)
    assert got.keys() == want.keys()
    for k, joules in want.items():
        assert got[k] == pytest.approx(joules, abs=1e-6), k
    # The keypad's two buttons are told apart, and an hour holds several causes.
    assert {k[1:] for k in got if k[1] == "keypad"} == {
        ("keypad", "41", "2", "", ""),
        ("keypad", "41", "4", "", ""),
    }
    assert max(sum(1 for k in got if k[0] == h) for h in {k[0] for k in got}) >= 2
    # Per hour, the causes add up to the zone's own exact rollup.
    with psycopg.connect(pg_lutron_dsn, autocommit=True) as conn:
        per_hour = dict(
            conn.execute(
                "SELECT hour, energy_joules FROM lutron.zone_change_hourly WHERE zone_id = '7'"
            ).fetchall()
        )
    sums: dict[datetime, float] = defaultdict(float)
    for k, joules in got.items():
        sums[k[0]] += joules
    assert {h.astimezone(UTC): e for h, e in per_hour.items() if e > 0} == pytest.approx(dict(sums))
    # Days: local days (the DST day has 23 hours), the hourly rows summed.
    by_day: dict[tuple[Any, ...], float] = defaultdict(float)
    for (hour, *key), joules in want.items():
        by_day[(hour.astimezone(BERLIN).date(), *key)] += joules
    assert stored_by_cause(pg_lutron_dsn, ch.CAUSE_DAILY) == pytest.approx(dict(by_day))
    # Months: the days summed, every cause on its own row.
    by_month: dict[tuple[Any, ...], float] = defaultdict(float)
    for (day, *key), joules in by_day.items():
        by_month[(day.replace(day=1), *key)] += joules
    assert stored_by_cause(pg_lutron_dsn, ch.CAUSE_MONTHLY) == pytest.approx(dict(by_month))


@pytest.mark.parametrize("bucket", ["hour", "day"])
def test_a_bucket_with_one_cause_keeps_it_on_the_zone_row_and_only_mixed_ones_have_rows_by_cause(
    pg_lutron_dsn: str, bucket: str
) -> None:
    """Storage of migration 7: a zone's hour (day) with one cause holds it on its zone_change_hourly
    (_daily) row; one with several has a row per cause in the mixed table and none on the zone row."""
    end = zone_steps()[-1].t
    houses = {
        "7": zone_steps(),  # several causes in most hours and both days
        "8": [Step(START, 0.0), Step(START + timedelta(hours=1), 50.0, timeclock("3", "Dusk"))],
    }
    houses["8"].append(Step(end - timedelta(hours=1), 0.0, {"cause": "local"}))  # off: no energy
    write(pg_lutron_dsn, [line for z, steps in houses.items() for _, line in zone_lines(steps, end, z)])
    zone_table, mixed_table = (
        (ch.ZONE_HOURLY, ch.MIXED_HOURLY) if bucket == "hour" else (ch.ZONE_DAILY, ch.MIXED_DAILY)
    )

    def key(b: Any) -> Any:
        return b.astimezone(UTC) if bucket == "hour" else b

    kinds = set()
    with psycopg.connect(pg_lutron_dsn, autocommit=True) as conn:
        ch.rollup(conn.cursor())
        for zone_id, steps in houses.items():
            want: dict[Any, set[tuple[str, ...]]] = defaultdict(set)
            for hour, *source in reference_by_cause(steps, end):
                want[hour if bucket == "hour" else hour.astimezone(BERLIN).date()].add(tuple(source))

            def rows(table: str, zone_id: str = zone_id) -> list[tuple[Any, ...]]:
                query = sql.SQL("SELECT {}, {} FROM {} WHERE zone_id = %s").format(
                    sql.Identifier(bucket),
                    sql.SQL(", ").join(map(sql.Identifier, SOURCE)),
                    sql.Identifier("lutron", table),
                )
                return [(key(r[0]), *r[1:]) for r in conn.execute(query, (zone_id,))]

            on_zone = {r[0]: tuple(r[1:]) for r in rows(zone_table)}
            mixed: dict[Any, set[tuple[str, ...]]] = defaultdict(set)
            for r in rows(mixed_table):
                mixed[r[0]].add(tuple(r[1:]))
            assert on_zone.keys() == want.keys(), zone_id
            for b, sources in want.items():
                if len(sources) == 1:
                    assert on_zone[b] == next(iter(sources)) and b not in mixed, (zone_id, b)
                else:
                    assert on_zone[b] == (None,) * len(SOURCE) and mixed[b] == sources, (zone_id, b)
                kinds.add(len(sources) == 1)
    assert kinds == {True, False}  # the data has both


def test_the_months_by_cause_cross_a_month_end_and_go_with_the_daily_retention(pg_lutron_dsn: str) -> None:
    """A light on from the evening of 31 March to 1 April (local): the month rows split there; db
    prune's daily retention removes a month only once all of its days have gone."""
    t0 = datetime(2024, 3, 31, 18, 0, tzinfo=UTC)  # 20:00 CEST
    steps = [
        Step(START, 0.0),
        Step(t0, 30.0, keypad("41", "2")),
        Step(t0 + timedelta(hours=8), 0.0, {"cause": "occupancy"}),
    ]
    end = t0 + timedelta(hours=9)
    write(pg_lutron_dsn, [line for _, line in zone_lines(steps, end)])
    midnight = datetime(2024, 4, 1, tzinfo=BERLIN)
    key = ("keypad", "41", "2", "", "")
    assert stored_by_cause(pg_lutron_dsn, ch.CAUSE_MONTHLY) == pytest.approx(
        {
            (date(2024, 3, 1), *key): integral(steps, START, midnight),
            (date(2024, 4, 1), *key): integral(steps, midnight, end),
        }
    )
    with psycopg.connect(pg_lutron_dsn, autocommit=True) as conn:
        # The first day kept is 30 April: April stays whole, March goes.
        now = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
        report = prune(conn, Retention(raw=None, hourly=None, daily=timedelta(days=10)), now=now)
        assert report.deleted[f"lutron.{ch.CAUSE_MONTHLY}"] == 1
    assert set(stored_by_cause(pg_lutron_dsn, ch.CAUSE_MONTHLY)) == {(date(2024, 4, 1), *key)}


def test_a_lost_row_costs_detail_never_totals_by_cause(pg_lutron_dsn: str) -> None:
    steps = zone_steps()
    end = steps[-1].t
    rows = zone_lines(steps, end)
    # Telegraf's buffer overflowed: the keypad's 100 W row and the occupancy "off" row are lost.
    lost = {steps[3].t, steps[4].t}
    write(pg_lutron_dsn, [line for t, line in rows if t not in lost])
    got = stored_by_cause(pg_lutron_dsn)
    # The total over every cause is the counters' total.
    assert sum(got.values()) == pytest.approx(integral(steps, START, end))
    # Hours whose segments no lost row touched are exact, cause by cause; the others are bounded
    # by the checkpoints around the loss.
    first_lost, last_lost = min(lost), max(lost)
    touched_from = max(t for t, _ in rows if t < first_lost)
    touched_to = min(t for t, _ in rows if t > last_lost)
    want = reference_by_cause(steps, end)
    for k, joules in want.items():
        hour = k[0]
        if hour + timedelta(hours=1) <= touched_from or hour >= touched_to:
            assert got.get(k) == pytest.approx(joules, abs=1e-6), k


def test_an_upgrade_reads_rows_without_a_cause_as_unknown_wherever_telegraf_added_columns(
    pg_lutron_dsn: str,
) -> None:
    """A database of version 5 (no cause columns, no cause rollups) holding rows of the old plugin;
    the new plugin starts before `db init` is run again, so Telegraf adds the tag columns its rows
    need (ALTER TABLE ADD COLUMN, here cause, keypad_id and component only); then `db init`
    upgrades: the rows already stored are rolled up by cause, the old ones as unknown."""
    with psycopg.connect(pg_lutron_dsn, autocommit=True) as conn:
        for column in SOURCE:
            conn.execute(
                sql.SQL("ALTER TABLE lutron_zone_change DROP COLUMN {}").format(sql.Identifier(column))
            )
        # What migrations 6 (the cause rollups), 7 (single causes on the zone rows) and 8 (months) made.
        for view in (ch.CAUSE_HOURLY, ch.CAUSE_DAILY):
            conn.execute(sql.SQL("DROP VIEW {}").format(sql.Identifier("lutron", view)))
        for table in (
            ch.MIXED_HOURLY,
            ch.MIXED_DAILY,
            ch.CAUSE_MONTHLY,
            ch.UNOCCUPIED_HOURLY,
            ch.UNOCCUPIED_DAILY,
        ):
            conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier("lutron", table)))
        for table in (ch.ZONE_HOURLY, ch.ZONE_DAILY):
            for column in SOURCE:
                conn.execute(
                    sql.SQL("ALTER TABLE {} DROP COLUMN {}").format(
                        sql.Identifier("lutron", table), sql.Identifier(column)
                    )
                )
        conn.execute("DELETE FROM lutron.schema_migrations WHERE version >= 6")
    steps = zone_steps()
    end = steps[-1].t
    switch = steps[3].t  # the new plugin's first change: the keypad's press
    # Rows of the old plugin had no cause tags; the new plugin's carry them.
    stripped = [Step(s.t, s.watts, {} if s.t < switch else s.tags) for s in steps]
    rows = zone_lines(stripped, end)
    write(pg_lutron_dsn, [line for t, line in rows if t < switch], flushes=1)
    write(pg_lutron_dsn, [line for t, line in rows if t >= switch], flushes=2)
    with psycopg.connect(pg_lutron_dsn, autocommit=True) as conn:
        added = {c for (c,) in conn.execute(COLUMNS, ("lutron_zone_change",))} & set(SOURCE)
        assert added == {"cause", "keypad_id", "component"}
        # The rollups wait (with a warning) while the tables and columns they need are missing.
        assert schema.status(conn).dirty_series == 1
    report = init_db(pg_lutron_dsn)
    assert any("by cause" in action for action in report.actions), report.actions
    # The energy of the levels set before the upgrade is unknown's, the rest keeps its causes.
    got = stored_by_cause(pg_lutron_dsn)
    want = reference_by_cause(stripped, end)
    assert got.keys() == want.keys()
    for k, joules in want.items():
        assert got[k] == pytest.approx(joules, abs=1e-6), k
    assert any(k[1] == "unknown" for k in got) and any(k[1] == "keypad" for k in got)


# --- energy in empty rooms ------------------------------------------------------------------------


def area_steps() -> list[tuple[datetime, float]]:
    """Unoccupied watts of an area's lights: occupied (0), people leave a lit room, a light more
    goes on in the empty room, someone comes back, leaves again; across hour boundaries."""
    t = START
    return [
        (t, 0.0),
        (t + timedelta(minutes=50, seconds=0.5), 120.0),
        (t + timedelta(hours=1, minutes=10), 180.0),
        (t + timedelta(hours=2, minutes=35), 0.0),
        (t + timedelta(hours=3, minutes=55), 60.0),
        (t + timedelta(hours=6), 0.0),  # on a boundary
    ]


def area_lines(
    steps: list[tuple[datetime, float]], end: datetime, area_id: str = "12"
) -> list[tuple[datetime, str]]:
    as_steps = [Step(t, w) for t, w in steps]
    out = []
    for t in row_times(as_steps, end):
        fields = {
            "unoccupied_watts": power_at(as_steps, t).watts,
            "unoccupied_energy_joules_total": 5000.0 + integral(as_steps, START, t),
        }
        out.append((t, encode("lutron_area_change", {"site": "home", "area_id": area_id}, fields, ns(t))))
    return out


def stored_unoccupied(dsn: str, area_id: str = "12") -> dict[datetime, tuple[float, float, float | None]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        ch.rollup(conn.cursor())
        rows = conn.execute(
            "SELECT hour, energy_joules, lit_seconds, watts_max FROM lutron.area_unoccupied_hourly"
            " WHERE site = 'home' AND area_id = %s",
            (area_id,),
        ).fetchall()
    return {r[0].astimezone(UTC): (r[1], r[2], r[3]) for r in rows}


def test_unoccupied_energy_per_area_is_exact_and_a_lost_row_keeps_the_total(pg_lutron_dsn: str) -> None:
    steps = area_steps()
    end = steps[-1][0] + timedelta(hours=1)
    as_steps = [Step(t, w) for t, w in steps]
    rows = area_lines(steps, end)
    lost = steps[2][0]  # the 180 W row of the area "13" never arrives
    write(
        pg_lutron_dsn,
        [line for _, line in rows]
        + [line.replace("area_id=12", "area_id=13") for t, line in rows if t != lost],
    )
    got = stored_unoccupied(pg_lutron_dsn)
    want = {}
    for hour in local_hours(START, end):
        h_end = min(hour + timedelta(hours=1), end)
        joules = integral(as_steps, hour, h_end)
        lit = sum(
            (min(h_end, nxt) - max(hour, s.t)).total_seconds()
            for s, nxt in zip(as_steps, [*(x.t for x in as_steps[1:]), end], strict=True)
            if s.watts > 0 and min(h_end, nxt) > max(hour, s.t)
        )
        peak = max(
            (
                s.watts
                for s, nxt in zip(as_steps, [*(x.t for x in as_steps[1:]), end], strict=True)
                if s.watts > 0 and min(h_end, nxt) > max(hour, s.t)
            ),
            default=None,
        )
        if joules > 0 or lit > 0:
            want[hour] = (joules, lit, peak)
    assert got.keys() == want.keys()
    for hour, (joules, lit, peak) in want.items():
        assert got[hour][0] == pytest.approx(joules, abs=1e-6), hour
        assert got[hour][1] == pytest.approx(lit, abs=1e-6), hour
        assert got[hour][2] == peak, hour
    lossy = stored_unoccupied(pg_lutron_dsn, "13")
    assert sum(v[0] for v in lossy.values()) == pytest.approx(integral(as_steps, START, end))
    with psycopg.connect(pg_lutron_dsn, autocommit=True) as conn:
        days = conn.execute(
            "SELECT area_id, sum(energy_joules) FROM lutron.area_unoccupied_daily GROUP BY area_id ORDER BY 1"
        ).fetchall()
    assert days == [
        ("12", pytest.approx(integral(as_steps, START, end))),
        ("13", pytest.approx(integral(as_steps, START, end))),
    ]


def test_status_prune_and_rebuild_cover_the_cause_and_unoccupied_rollups(pg_lutron_dsn: str) -> None:
    steps = zone_steps()
    end = steps[-1].t
    write(
        pg_lutron_dsn,
        [line for _, line in zone_lines(steps, end)] + [line for _, line in area_lines(area_steps(), end)],
    )
    before = stored_by_cause(pg_lutron_dsn), stored_unoccupied(pg_lutron_dsn)
    with psycopg.connect(pg_lutron_dsn) as conn:
        status = schema.status(conn)
        assert status.up_to_date and status.version == schema.LATEST
        assert any(t.name == "public.lutron_area_change" and t.trigger and t.rolled_up for t in status.tables)
        schema.rebuild(conn)
    assert (stored_by_cause(pg_lutron_dsn), stored_unoccupied(pg_lutron_dsn)) == before
    cutoff = START + timedelta(hours=3)
    with psycopg.connect(pg_lutron_dsn, autocommit=True) as conn:
        # The hours by cause are on the zone's rows (one cause) and in the mixed table (several).
        older = {
            table: conn.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE hour < %s").format(sql.Identifier("lutron", table)),
                (cutoff,),
            ).fetchone()[0]
            for table in (ch.ZONE_HOURLY, ch.MIXED_HOURLY)
        }
        assert older[ch.MIXED_HOURLY] > 0
        report = prune(conn, Retention(raw=None, hourly=end - cutoff, daily=None), now=end)
        assert sum(1 for k in before[0] if k[0] < cutoff) > 0
        assert report.deleted[f"lutron.{ch.UNOCCUPIED_HOURLY}"] == sum(1 for h in before[1] if h < cutoff) > 0
        for table, n in older.items():
            assert report.deleted[f"lutron.{table}"] == n
        for table in (ch.CAUSE_HOURLY, ch.UNOCCUPIED_HOURLY):
            left = conn.execute(
                sql.SQL("SELECT min(hour) FROM {}").format(sql.Identifier("lutron", table))
            ).fetchone()[0]
            assert left >= cutoff
        report = prune(conn, Retention(raw=None, hourly=None, daily=None, changes=end - cutoff), now=end)
        assert report.deleted["public.lutron_area_change"] == sum(
            1 for t, _ in area_lines(area_steps(), end) if t < cutoff
        )


def test_the_ui_role_reads_the_why_figures_and_the_telegraf_role_rolls_them_up(
    pg_lutron_dsn: str, pg_server_dsn: str
) -> None:
    """The roles db init grants: Telegraf's COPY rolls up the cause and unoccupied rows (the
    trigger's functions run as their owner); the UI's read-only role reads every Why figure."""
    from psycopg import conninfo

    from telegraf_lutron.db.why import WhyStore

    ui, telegraf = (f"tl_role_{secrets.token_hex(4)}" for _ in range(2))
    try:
        init_db(pg_lutron_dsn, ui_role=ui, telegraf_role=telegraf)
        steps = zone_steps()
        end = steps[-1].t
        write(
            conninfo.make_conninfo(pg_lutron_dsn, user=telegraf),
            [line for _, line in zone_lines(steps, end)]
            + [line for _, line in area_lines(area_steps(), end)],
        )
        store = WhyStore(conninfo.make_conninfo(pg_lutron_dsn, user=ui))
        try:
            causes = {c.cause: c.energy_kwh for c in store.energy_by_cause(START, end)}
            assert sum(causes.values()) == pytest.approx(integral(steps, START, end) / 3.6e6)
            assert {s.keypad_id for s in store.sources(START, end) if s.cause == "keypad"} == {"41"}
            assert [r.area_id for r in store.empty_rooms(START, end)] == ["12"]
            assert store.overnight(START, end, 23, 6)[0].zone_id == "7"
        finally:
            store.close()
    finally:
        with psycopg.connect(pg_lutron_dsn, autocommit=True) as conn:
            for name in (ui, telegraf):
                conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        with psycopg.connect(pg_server_dsn, autocommit=True) as conn:
            for name in (ui, telegraf):
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
