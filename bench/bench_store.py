"""Storage benchmark: change rows (the new design) against snapshot rows at 10 s and 60 s.

    .venv/bin/python bench/bench_store.py            # 14 days of change rows, snapshot samples of 2 h / 6 h
    .venv/bin/python bench/bench_store.py --quick    # 2 days, samples of 20 min / 1 h (a minute or so)

What it does, in a throwaway database on the server from --dsn / $TL_TEST_DSN, after `db init`:
1. New design: a generated 200-zone house (simulator designgen) driven through the plugin's own
   `HouseState` and `ChangeRows` in simulated time: each zone changes 10-40 times a day (lights
   mostly mornings and evenings, shades by day), about a third of the changes from a keypad
   button (press, release, LED), occupancy per room; plus the checkpoints every 15 minutes for
   zones that drew power and the house row every minute. Written as Telegraf writes it
   (`TelegrafWriter`: one transaction per flush of --batch metrics, COPY per measurement, the
   rollup triggers running inside), then bytes on disk of every table involved: raw rows with
   their indexes and the exact hourly/daily rollups with theirs. Checks that the hourly energy
   of every zone equals the difference of the plugin's counters at the hour boundaries.
2. Baseline: snapshot rows (lutron_zone, lutron_area, lutron_power, as today) for the same number
   of zones at 10 s and at 60 s, written the same way with the snapshot rollup engine; a sample
   of --sample-hours, extrapolated to a year from bytes per row (the rows are alike, so this is
   what 630 M rows would take, without writing them) and per rollup row (one per series and hour
   or day, whatever the resolution).
Figures: rows per zone-day, bytes per zone-year (indexes and rollups included), the 200-zone
house-year, and the ingest rate (rows per second through COPY, triggers and commit).
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import secrets
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from telegraf_lutron import protocol as p  # noqa: E402
from telegraf_lutron.changes import ChangeRows  # noqa: E402
from telegraf_lutron.db import changes as ch  # noqa: E402
from telegraf_lutron.db.history import HistoryGenerator, TelegrafWriter, make_house  # noqa: E402
from telegraf_lutron.db.schema import init  # noqa: E402
from telegraf_lutron.db.stats import human_bytes  # noqa: E402
from telegraf_lutron.design import Design  # noqa: E402
from telegraf_lutron.lineproto_parse import parse_stream  # noqa: E402
from telegraf_lutron.simulator.designgen import GeneratorParams, generate_design  # noqa: E402
from telegraf_lutron.state import HouseState  # noqa: E402

TZ = "Europe/Berlin"
HOUSE_ZONES = 200
START = datetime(2024, 10, 24, 0, 0, tzinfo=ZoneInfo(TZ)).astimezone(UTC)  # spans the DST change
SHADES = ("SHADE", "BLIND", "SIVOIA", "MOTOR")
GB = 1024**3


@dataclass(frozen=True, slots=True)
class Size:
    rows: int
    bytes: int
    index_bytes: int = 0


def sizes(conn: psycopg.Connection[Any], tables: list[tuple[str, str]]) -> dict[str, Size]:
    out = {}
    for schema, table in tables:
        count = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))
        ).fetchone()
        size = conn.execute(
            "SELECT pg_total_relation_size(%s::regclass)", (f'"{schema}"."{table}"',)
        ).fetchone()
        indexes = conn.execute("SELECT pg_indexes_size(%s::regclass)", (f'"{schema}"."{table}"',)).fetchone()
        assert count is not None and size is not None and indexes is not None
        out[table] = Size(int(count[0]), int(size[0]), int(indexes[0]))
    return out


def day_plan(design: Design, day: datetime, rnd: random.Random) -> Iterator[tuple[float, p.Event]]:
    """The events of one local day, (seconds since the epoch, event), unsorted."""
    base = day.timestamp()
    rooms = {}
    for z in design.zones:
        n = rnd.randint(10, 40)
        shade = any(s in z.output_type for s in SHADES)
        if shade:
            times = sorted(rnd.uniform(7, 20) for _ in range(n))
        else:
            times = sorted(
                rnd.uniform(17, 23.5)
                if rnd.random() < 0.65
                else rnd.uniform(6, 8.5)
                if rnd.random() < 0.6
                else rnd.uniform(8.5, 17)
                for _ in range(n)
            )
        on = False
        for i, hour in enumerate(times):
            on = not on if i < len(times) - 1 else False  # off at the end of the day
            level = (float(rnd.choice([30, 50, 75, 100])) if z.dimmable or shade else 100.0) if on else 0.0
            t = base + hour * 3600
            yield t, p.OutputLevel((str(z.id), "1", f"{level:.2f}"), z.id, level)
            keypads = [k for k in design.keypads if k.area_key == z.area_key and k.buttons]
            code = rnd.choice(OTHER_SOURCES)
            if keypads and rnd.random() < 0.33:
                code = 8  # keypad
                k = rnd.choice(keypads)
                b = rnd.choice(k.buttons)
                yield t - 0.2, p.ButtonEvent((), k.id, b.component, p.ButtonAction.PRESS)
                yield t - 0.1, p.ButtonEvent((), k.id, b.component, p.ButtonAction.RELEASE)
                if b.led_component is not None:
                    yield t, p.LedState((), k.id, b.led_component, 1 if on else 0)
            # The processor follows each change with its source (docs/protocol.md §5.1).
            yield t + 0.02, p.parse_line(f"~OUTPUT,{z.id},29,{code}")
        rooms[z.area_key] = True
    for area in design.occupancy_areas:
        for _ in range(rnd.randint(5, 15)):
            t = base + rnd.uniform(6, 23) * 3600
            yield t, p.OccupancyState((), area.iid, p.OCCUPIED)
            yield t + rnd.uniform(300, 3600), p.OccupancyState((), area.iid, p.UNOCCUPIED)


# Sources of changes not made at a keypad: time clock, occupancy, integration, local control.
OTHER_SOURCES = (16, 10, 10, 6, 24, 24)


def ns(t: float) -> int:
    return round(t * 1e6) * 1000  # PostgreSQL keeps microseconds


def change_rows(design: Design, days: int, seed: int) -> Iterator[tuple[str, dict[int, dict[float, float]]]]:
    """Per day: the change rows as the plugin writes them, and each zone's counter at each hour
    boundary of that day (from the plugin's own integration)."""
    rnd = random.Random(seed)
    state = HouseState(design, now=START.timestamp())
    rows = ChangeRows(design, "home")
    for z in design.zones:
        state.apply(p.OutputLevel((str(z.id), "1", "0.00"), z.id, 0.0), START.timestamp())
    first = rows.all_zones(state, ns(START.timestamp()))
    for d in range(days):
        day = (START.astimezone(ZoneInfo(TZ)) + timedelta(days=d)).replace(hour=0)
        day_end = (day + timedelta(days=1, hours=2)).replace(hour=0).timestamp()
        events = sorted(day_plan(design, day, rnd), key=lambda e: e[0])
        out = [first] if d == 0 else []
        counters: dict[int, dict[float, float]] = {}
        t = day.timestamp()
        i = 0
        while t < day_end:
            minute = t + 60
            while i < len(events) and events[i][0] < minute:
                when, event = events[i]
                i += 1
                # As the plugin writes them (telegraf_lutron/execd.py): a level change's row waits
                # for its source line, sensor areas get a row when their unoccupied watts change.
                if isinstance(event, p.OutputSource):
                    state.apply(event, when, when)
                    out.append(rows.cause_known(state, event.zone))
                elif state.apply(event, when, when):
                    if isinstance(event, p.OutputLevel):
                        out.append(rows.level_change(state, event.zone, ns(when)))
                        out.append(rows.zone_area_change(state, event.zone, ns(when)))
                    else:
                        out.append(rows.event_row(state, event, ns(when)))
                        if isinstance(event, p.OccupancyState):
                            out.append(rows.area_change(state, event.group, ns(when)))
            state.advance(minute)
            out.append(rows.due(state))
            out.append(rows.house_row(state, ns(minute)))
            if round(minute) % 900 == 0:
                out.append(rows.checkpoint(state, ns(minute)))
            if round(minute) % 3600 == 0:
                counters[round(minute)] = {z.id: state.zone_energy[z.id] for z in design.zones}
            t = minute
        if d == days - 1:  # close every open segment, so that every hour is rolled up
            out.append(rows.flush(state))
            out.append(rows.all_zones(state, ns(t)))
        yield "".join(out), counters


def write(writer: TelegrafWriter, text: str, batch: int) -> tuple[int, float]:
    metrics, errors = parse_stream(text, eof=True)
    assert not errors, errors[:1]
    started = time.perf_counter()
    for i in range(0, len(metrics), batch):
        writer.write(metrics[i : i + batch])
    return len(metrics), time.perf_counter() - started


def new_design(dsn: str, args: argparse.Namespace) -> dict[str, float]:
    design = generate_design(GeneratorParams(seed=3, floors=4, rooms_per_floor=10, zones_per_room=5))
    n_zones = len(design.zones)
    rows = seconds = 0.0
    reference: dict[int, dict[float, float]] = {}
    with psycopg.connect(dsn) as conn:
        writer = TelegrafWriter(conn)
        for text, counters in change_rows(design, args.days, seed=5):
            n, took = write(writer, text, args.batch)
            rows, seconds = rows + n, seconds + took
            reference.update(counters)
        conn.autocommit = True
        ch.rollup(conn.cursor())
        # Exact: every zone's hourly energy equals its counter's difference across the hour.
        got = {
            (int(z), h.timestamp()): e
            for z, h, e in conn.execute("SELECT zone_id, hour, energy_joules FROM lutron.zone_change_hourly")
        }
        hours = sorted(reference)
        worst = 0.0
        for h0, h1 in itertools.pairwise(hours):
            for z in design.zones:
                want = reference[h1][z.id] - reference[h0][z.id]
                worst = max(worst, abs(got.get((z.id, float(h0)), 0.0) - want))
        conn.execute("VACUUM ANALYZE")
        tables = [
            ("public", "lutron_zone_change"),
            ("public", "lutron_zone_info"),
            ("lutron", ch.ZONE_HOURLY),
            ("lutron", ch.ZONE_DAILY),
            ("public", "lutron_house"),
            ("public", "lutron_event"),
            ("lutron", ch.HOUSE_HOURLY),
            ("lutron", ch.HOUSE_DAILY),
            ("lutron", ch.MIXED_HOURLY),
            ("lutron", ch.MIXED_DAILY),
            # Months grow slower than days: the extrapolation below (rows x 365 / days, as for
            # the others) counts a fresh set of month rows for every --days, an upper bound.
            ("lutron", ch.CAUSE_MONTHLY),
            ("public", "lutron_area_change"),
            ("lutron", ch.UNOCCUPIED_HOURLY),
            ("lutron", ch.UNOCCUPIED_DAILY),
        ]
        s = sizes(conn, tables)
        # The rollup rows of an hour or a day are recomputed at every flush that brings a row of
        # theirs; written in a burst, the dead versions outpace autovacuum and stay in the files.
        # In a house, autovacuum makes that space reusable as it goes, so the files grow with the
        # live rows: measure those compacted, and count the burst's dead space once, not per day.
        for schema, table in tables:
            conn.execute(sql.SQL("VACUUM FULL {}").format(sql.Identifier(schema, table)))
        compact = sizes(conn, tables)
    # A year from bytes per row (so that a table's fixed first pages are not multiplied), rows
    # growing with the days; the names are written once per connect (say once a day).
    per_year = 365 / args.days
    year_rows = {t: v.rows * per_year for t, v in s.items()} | {"lutron_zone_info": n_zones * 365.0}
    year = {
        t: compact[t].bytes / max(1, v.rows) * year_rows[t] + max(0, v.bytes - compact[t].bytes)
        for t, v in s.items()
    }
    as_left = sum(v.bytes / max(1, v.rows) * year_rows[t] for t, v in s.items())
    zone_year = (
        sum(
            year[t]
            for t in (
                "lutron_zone_change",
                "lutron_zone_info",
                ch.ZONE_HOURLY,
                ch.ZONE_DAILY,
                ch.MIXED_HOURLY,
                ch.MIXED_DAILY,
                ch.CAUSE_MONTHLY,
            )
        )
        / n_zones
    )
    house_bytes = sum(
        year[t]
        for t in (
            "lutron_house",
            "lutron_event",
            ch.HOUSE_HOURLY,
            ch.HOUSE_DAILY,
            "lutron_area_change",
            ch.UNOCCUPIED_HOURLY,
            ch.UNOCCUPIED_DAILY,
        )
    )
    print(
        f"  {n_zones} zones, {args.days} days: {int(rows)} rows"
        f" ({s['lutron_zone_change'].rows} zone, {s['lutron_house'].rows} house, {s['lutron_event'].rows} event);"
        f" rollups {s[ch.ZONE_HOURLY].rows} zone-hours, {s[ch.ZONE_DAILY].rows} zone-days"
    )
    print(
        "  on disk: "
        + ", ".join(
            f"{t} {human_bytes(v.bytes)} ({v.bytes / max(1, v.rows):.0f} B/row)" for t, v in s.items()
        )
    )
    print(
        "  compacted (VACUUM FULL): "
        + ", ".join(
            f"{t} {human_bytes(v.bytes)} ({v.bytes / max(1, s[t].rows):.0f} B/row,"
            f" indexes {human_bytes(v.index_bytes)})"
            for t, v in compact.items()
        )
    )
    print(
        f"  a year of {n_zones} zones extrapolated from the files as the burst left them (dead rows"
        f" multiplied by the days): {human_bytes(as_left)}; from the live rows plus the burst's dead"
        f" space once: {human_bytes(sum(year.values()))}"
    )
    print(
        f"  hourly energy vs the plugin's counters: largest difference {worst:.6f} J over {len(hours) - 1} hours"
    )
    return {
        "rows_zone_day": s["lutron_zone_change"].rows / n_zones / args.days,
        "zone_year": zone_year,
        "house_year": zone_year * HOUSE_ZONES + house_bytes,
        "ingest": rows / seconds,
        "worst_joules": worst,
    }


def snapshot_design(dsn: str, args: argparse.Namespace, step: int, hours: float) -> dict[str, float]:
    house = make_house(HOUSE_ZONES)
    n_areas = len({z.area_id for z in house})
    gen = HistoryGenerator(house, start=START, step=timedelta(seconds=step), tz=TZ)
    ticks = round(hours * 3600 / step)
    snapshot = ("lutron_zone", "lutron_area", "lutron_power")
    with psycopg.connect(dsn) as conn:
        writer = TelegrafWriter(conn, namepass=snapshot)
        text = gen.lines(gen.ticks(ticks))
        rows, seconds = write(writer, text, args.batch)
        conn.autocommit = True
        for level in ("zone", "area", "system"):
            conn.execute("SELECT lutron.rollup_flush(%s)", (level,))
        conn.execute("VACUUM ANALYZE")
        raw = sizes(conn, [("public", m) for m in snapshot])
        rollups = sizes(
            conn, [("lutron", f"{lv}_{b}") for lv in ("zone", "area", "system") for b in ("hourly", "daily")]
        )
        for table in (
            *snapshot,
            *(f"{lv}_{b}" for lv in ("zone", "area", "system") for b in ("hourly", "daily")),
        ):
            conn.execute(
                sql.SQL("TRUNCATE {}").format(
                    sql.Identifier("public" if table in snapshot else "lutron", table)
                )
            )
        conn.execute("TRUNCATE lutron.series")
    per_row = sum(v.bytes for v in raw.values()) / sum(v.rows for v in raw.values())
    rows_year = 365 * 86400 / step * (HOUSE_ZONES + n_areas + 1)
    hourly = sum(rollups[f"{lv}_hourly"].bytes for lv in ("zone", "area", "system")) / max(
        1, sum(rollups[f"{lv}_hourly"].rows for lv in ("zone", "area", "system"))
    )
    daily = sum(rollups[f"{lv}_daily"].bytes for lv in ("zone", "area", "system")) / max(
        1, sum(rollups[f"{lv}_daily"].rows for lv in ("zone", "area", "system"))
    )
    series = HOUSE_ZONES + n_areas + 1
    house_year = rows_year * per_row + series * (8760 * hourly + 365 * daily)
    print(
        f"  sample {hours:g} h at {step} s: {rows} rows, {per_row:.0f} B per row with indexes;"
        f" rollup rows {hourly:.0f} B hourly, {daily:.0f} B daily"
    )
    return {
        "rows_zone_day": 86400 / step,
        "zone_year": house_year / HOUSE_ZONES,
        "house_year": house_year,
        "ingest": rows / seconds,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--dsn",
        default=os.environ.get("TL_TEST_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"),
    )
    ap.add_argument("--days", type=int, default=14, help="days of change rows (default 14)")
    ap.add_argument("--sample-hours", type=float, default=2.0, help="hours of 10 s snapshots (60 s: 3x)")
    ap.add_argument("--batch", type=int, default=1000, help="metrics per Telegraf flush (metric_batch_size)")
    ap.add_argument("--quick", action="store_true", help="2 days; snapshot samples of 20 min and 1 h")
    args = ap.parse_args()
    if args.quick:
        args.days, args.sample_hours = 2, 1 / 3
    name = f"tl_bench_{secrets.token_hex(4)}"
    with psycopg.connect(args.dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        version = admin.execute("SHOW server_version").fetchone()
        server = version[0] if version else "?"
    dsn = psycopg.conninfo.make_conninfo(args.dsn, dbname=name)
    print(f"database {name} on PostgreSQL {server}, {os.cpu_count()} CPUs")
    try:
        with psycopg.connect(dsn) as conn:
            init(conn, timezone=TZ)
        print("change rows (this design):")
        new = new_design(dsn, args)
        print("snapshot rows (before):")
        s10 = snapshot_design(dsn, args, 10, args.sample_hours)
        s60 = snapshot_design(dsn, args, 60, args.sample_hours * 3)
    finally:
        with psycopg.connect(args.dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    print()
    print(
        f"{'design':<22} {'rows/zone-day':>14} {'bytes/zone-year':>16} {f'{HOUSE_ZONES}-zone house-year':>22} {'ingest rows/s':>14}"
    )
    for label, r in (("change rows", new), ("snapshots every 10 s", s10), ("snapshots every 60 s", s60)):
        print(
            f"{label:<22} {r['rows_zone_day']:>14.1f} {human_bytes(r['zone_year']):>16}"
            f" {human_bytes(r['house_year']):>22} {r['ingest']:>14.0f}"
        )
    print(
        f"change rows: {s10['house_year'] / new['house_year']:.0f}x smaller than 10 s snapshots,"
        f" {s60['house_year'] / new['house_year']:.0f}x smaller than 60 s;"
        f" target <= 1 GB per house-year: {'met' if new['house_year'] <= GB else 'NOT met'}"
        f" ({new['house_year'] / 1024**2:,.0f} MB of 1,024; GB and MB here are 1024^3 and 1024^2 bytes,"
        f" as PostgreSQL's pg_size_pretty counts)"
    )
    return 0 if new["house_year"] <= GB and new["worst_joules"] < 1e-3 else 1


if __name__ == "__main__":
    raise SystemExit(main())
