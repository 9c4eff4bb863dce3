"""PostgreSQL history benchmark: ingest with rollups, UI query latency, bytes on disk.

    .venv/bin/python bench/bench_db.py            # 30 days x 200 zones at 1-minute resolution
    .venv/bin/python bench/bench_db.py --quick    # 2 days x 40 zones, a minute or so

What it does, in a throwaway database on the server from --dsn / $TL_TEST_DSN:
1. `db init`, plus a schema `plain` with identical measurement tables and indexes but no triggers.
2. Generates the history (tests/pg_fixtures.HistoryGenerator: zones switching with the time of day,
   counters integrating power) and writes it as Telegraf would: flushes of --batch metrics, each one
   transaction with one binary COPY per measurement. Day by day, the same flushes go into the
   rollup-maintaining tables and into the plain ones, so both grow alike; only COPY + commit is timed.
3. Times every UI query (telegraf_lutron.db.queries) for 1 day, 30 days and 1 year. The year uses
   rollups for the 11 months before the generated period, copied from the generated month (raw
   rows exist only for the generated days, as after pruning).
4. Reports bytes on disk per zone-year, raw and rolled up.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from telegraf_lutron.db.history import HistoryGenerator, Tick, make_house  # noqa: E402
from telegraf_lutron.db.levels import LEVELS  # noqa: E402
from telegraf_lutron.db.queries import HistoryStore  # noqa: E402
from telegraf_lutron.db.rollups import flush as rollup_flush  # noqa: E402
from telegraf_lutron.db.schema import init  # noqa: E402
from telegraf_lutron.db.stats import human_bytes  # noqa: E402

TZ = "Europe/Berlin"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ZONE_COLS = [
    "time",
    "area",
    "floor",
    "kind",
    "output_type",
    "site",
    "zone",
    "zone_id",
    "energy_joules_total",
    "level",
    "rated_watts",
    "watts",
]
AREA_COLS = [
    "time",
    "area",
    "area_id",
    "floor",
    "site",
    "energy_joules_total",
    "fans_on",
    "lights_on",
    "shades_open",
    "watts",
]
POWER_COLS = [
    "time",
    "site",
    "energy_joules_total",
    "fans_on",
    "lights_on",
    "lights_total",
    "shades_open",
    "watts",
]
TYPES = {"time": "timestamptz"} | {
    c: "text" for c in ("area", "floor", "kind", "output_type", "site", "zone", "zone_id", "area_id")
}


def col_types(cols: list[str]) -> list[str]:
    return [TYPES.get(c, "float8") for c in cols]


def rows_of(
    tick: Tick, site: str
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    t = EPOCH + timedelta(microseconds=tick.ts_ns // 1000)
    zones = [
        (
            t,
            z.area,
            z.floor,
            z.kind,
            z.output_type,
            site,
            z.zone,
            z.zone_id,
            energy,
            level,
            z.rated_watts,
            watts,
        )
        for z, level, watts, energy in tick.zones
    ]
    areas = [
        (t, area, aid, floor, site, energy, fans, lights, shades, watts)
        for aid, area, floor, watts, energy, lights, fans, shades in tick.areas
    ]
    w, e, lights, fans, shades, total = tick.system
    return zones, areas, [(t, site, e, fans, lights, total, shades, w)]


def flushes(
    ticks: list[Tick], site: str, batch: int
) -> list[list[tuple[str, list[str], list[tuple[Any, ...]]]]]:
    """Telegraf's flushes: `batch` metrics in emission order, grouped per measurement (one COPY each)."""
    stream: list[tuple[str, tuple[Any, ...]]] = []
    for tick in ticks:
        zones, areas, power = rows_of(tick, site)
        stream += [("lutron_zone", r) for r in zones]
        stream += [("lutron_area", r) for r in areas]
        stream += [("lutron_power", r) for r in power]
    cols = {"lutron_zone": ZONE_COLS, "lutron_area": AREA_COLS, "lutron_power": POWER_COLS}
    out = []
    for i in range(0, len(stream), batch):
        grouped: dict[str, list[tuple[Any, ...]]] = {}
        for table, row in stream[i : i + batch]:
            grouped.setdefault(table, []).append(row)
        out.append([(table, cols[table], rows) for table, rows in grouped.items()])
    return out


def write_flush(
    conn: psycopg.Connection[Any], schema: str, flush: list[tuple[str, list[str], list[tuple[Any, ...]]]]
) -> None:
    with conn.transaction(), conn.cursor() as cur:
        for table, cols, rows in flush:
            stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
                sql.Identifier(schema, table), sql.SQL(", ").join(sql.Identifier(c) for c in cols)
            )
            with conn.transaction(), cur.copy(stmt) as copy:  # SAVEPOINT per measurement, as Telegraf
                copy.set_types(col_types(cols))
                for row in rows:
                    copy.write_row(row)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, int]:
    """(first run, median of the runs after it, result size)."""
    t0 = time.perf_counter()
    result = fn()
    first = time.perf_counter() - t0
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    size = len(result) if hasattr(result, "__len__") else len(result.zones)
    return first, statistics.median(runs) if runs else first, size


def synthesize_year(conn: psycopg.Connection[Any], days: int, first_day: date) -> None:
    """Rollups for the 11 months before the generated period: copies of it, shifted back."""
    shifts = (365 - days) // days + 1
    for level in LEVELS:
        for k in range(1, shifts + 1):
            for table, bucket in ((level.hourly_table(), "hour"), (level.daily_table(), "day")):
                cols = [
                    r[0]
                    for r in conn.execute(
                        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
                        " AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
                        (table.as_string(conn),),
                    )
                ]
                exprs = []
                for c in cols:
                    if c == "hour":
                        exprs.append(sql.SQL("hour - %(shift)s * interval '1 day'"))
                    elif c == "day" and bucket == "hour":
                        exprs.append(
                            sql.SQL("((hour - %(shift)s * interval '1 day') AT TIME ZONE %(tz)s)::date")
                        )
                    elif c == "day":
                        exprs.append(sql.SQL("day - %(shift)s"))
                    elif c in ("first_time", "last_time"):
                        exprs.append(sql.SQL("{} - %(shift)s * interval '1 day'").format(sql.Identifier(c)))
                    else:
                        exprs.append(sql.Identifier(c))
                conn.execute(
                    sql.SQL(
                        "INSERT INTO {t} ({cols}) SELECT {exprs} FROM {t} WHERE {b} >= %(lo)s ON CONFLICT DO NOTHING"
                    ).format(
                        t=table,
                        cols=sql.SQL(", ").join(sql.Identifier(c) for c in cols),
                        exprs=sql.SQL(", ").join(exprs),
                        b=sql.Identifier(bucket),
                    ),
                    {
                        "shift": k * days,
                        "tz": TZ,
                        "lo": first_day
                        if bucket == "day"
                        else datetime.combine(first_day, datetime.min.time(), ZoneInfo(TZ)),
                    },
                )
    conn.commit()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--dsn",
        default=os.environ.get("TL_TEST_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"),
    )
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--zones", type=int, default=200)
    p.add_argument("--step", type=int, default=60, help="seconds between collections (default 60)")
    p.add_argument("--batch", type=int, default=1000, help="metrics per Telegraf flush (metric_batch_size)")
    p.add_argument("--repeat", type=int, default=5, help="timed runs per query after the first")
    p.add_argument(
        "--rollup-batch-rows",
        type=int,
        default=None,
        help="staged rows that make the trigger drain (lutron.settings rollup_batch_rows; 0: every COPY)",
    )
    p.add_argument("--quick", action="store_true", help="2 days x 40 zones")
    p.add_argument("--keep", action="store_true", help="keep the database afterwards (its name is printed)")
    args = p.parse_args()
    if args.quick:
        args.days, args.zones = 2, 40

    name = f"tl_bench_{secrets.token_hex(4)}"
    with psycopg.connect(args.dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        server = admin.execute("SHOW server_version").fetchone()[0]
        settings = {
            k: admin.execute(sql.SQL("SHOW {}").format(sql.Identifier(k))).fetchone()[0]
            for k in ("shared_buffers", "synchronous_commit", "max_wal_size", "work_mem")
        }
    dsn = psycopg.conninfo.make_conninfo(args.dsn, dbname=name)
    print(
        f"database {name} on PostgreSQL {server} ({', '.join(f'{k}={v}' for k, v in settings.items())}), "
        f"{os.cpu_count()} CPUs"
    )
    try:
        return run(args, dsn)
    finally:
        if not args.keep:
            with psycopg.connect(args.dsn, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def run(args: argparse.Namespace, dsn: str) -> int:
    zone = ZoneInfo(TZ)
    first_day = date(2024, 9, 20)
    start = datetime.combine(first_day, datetime.min.time(), zone).astimezone(UTC)
    with psycopg.connect(dsn) as conn:
        init(conn, timezone=TZ)
        if args.rollup_batch_rows is not None:
            conn.execute(
                "UPDATE lutron.settings SET value = %s WHERE name = 'rollup_batch_rows'",
                (str(args.rollup_batch_rows),),
            )
        drain_rows = conn.execute(
            "SELECT value FROM lutron.settings WHERE name = 'rollup_batch_rows'"
        ).fetchone()[0]
        conn.execute("CREATE SCHEMA plain")
        for level in LEVELS:  # same columns and indexes, no trigger
            conn.execute(
                sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(
                    sql.Identifier("plain", level.measurement), level.raw_table("public")
                )
            )
        conn.commit()

    house = make_house(args.zones)
    gen = HistoryGenerator(house, start=start, step=timedelta(seconds=args.step), tz=TZ)
    per_day = 86400 // args.step
    n_areas = len({z.area_id for z in house})
    print(
        f"{args.days} days x {args.zones} zones ({n_areas} areas) every {args.step} s, flushes of {args.batch} metrics"
    )

    t_trig = t_plain = t_gen = 0.0
    rows_total = 0
    lat_trig: list[float] = []
    lat_plain: list[float] = []
    with psycopg.connect(dsn) as conn:
        for d in range(args.days):
            t0 = time.perf_counter()
            day = flushes(gen.ticks(per_day), "home", args.batch)
            t_gen += time.perf_counter() - t0
            rows = sum(len(r) for f in day for _, _, r in f)
            rows_total += rows
            for schema, lat in (("public", lat_trig), ("plain", lat_plain)):
                t0 = time.perf_counter()
                for f in day:
                    t1 = time.perf_counter()
                    write_flush(conn, schema, f)
                    lat.append(time.perf_counter() - t1)
                elapsed = time.perf_counter() - t0
                if schema == "public":
                    t_trig += elapsed
                else:
                    t_plain += elapsed
            day_trig, day_plain = sum(lat_trig[-len(day) :]), sum(lat_plain[-len(day) :])
            print(
                f"  day {d + 1:2}/{args.days}: {rows:,} rows; with rollups {rows / day_trig:,.0f} rows/s,"
                f" plain {rows / day_plain:,.0f} rows/s",
                flush=True,
            )
        # The ingest is done when the rollups are: drain what is still staged, and count it.
        t0 = time.perf_counter()
        for level in LEVELS:
            with conn.transaction(), conn.cursor() as cur:
                rollup_flush(cur, level)
        t_last_drain = time.perf_counter() - t0
        t_trig += t_last_drain

    print()
    print("== ingest (COPY + commit only; generating the rows is not timed)")
    print(f"rows written:             {rows_total:,} per table set ({rows_total * 2:,} in all)")
    print(
        f"with rollup triggers:     {rows_total / t_trig:,.0f} rows/s ({t_trig:.1f} s, drains every {drain_rows} staged rows,"
        f" the last one {t_last_drain * 1000:.0f} ms, included)"
    )
    print(f"plain COPY, no triggers:  {rows_total / t_plain:,.0f} rows/s ({t_plain:.1f} s)")
    extra = (t_trig - t_plain) / rows_total * 1e6
    print(f"cost of the rollups:      +{(t_trig / t_plain - 1) * 100:.0f} % time ({extra:.1f} µs per row)")
    for label, lat in (("with rollups", lat_trig), ("plain", lat_plain)):
        q = statistics.quantiles(lat, n=100)
        print(f"flush latency {label:13} p50 {ms(q[49])}  p99 {ms(q[98])}  max {ms(max(lat))}")
    print(f"(generation took {t_gen:.1f} s)")

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        sizes = {}
        for schema in ("public", "plain", "lutron"):
            for r in conn.execute(
                "SELECT c.relname, pg_total_relation_size(c.oid), pg_table_size(c.oid), pg_indexes_size(c.oid)"
                " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
                (schema,),
            ):
                sizes[f"{schema}.{r[0]}"] = r[1:]
        counts = {
            t: conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*t.split(".")))
            ).fetchone()[0]
            for t in ("public.lutron_zone", "lutron.zone_hourly", "lutron.zone_daily")
        }
        check = conn.execute(
            "SELECT (SELECT sum(energy_joules) FROM lutron.system_hourly),"
            " (SELECT max(energy_joules_total) - min(energy_joules_total) FROM lutron_power)"
        ).fetchone()

    # The backfill updates each hourly row ~15 and each daily row ~350 times, leaving dead space that
    # autovacuum reuses in steady state; the compacted size is what a zone-year really needs.
    with psycopg.connect(dsn, autocommit=True) as conn:
        compact = {}
        for table in ("zone_hourly", "zone_daily"):
            conn.execute(sql.SQL("VACUUM FULL {}").format(sql.Identifier("lutron", table)))
            compact[table] = conn.execute(
                "SELECT pg_total_relation_size(%s::regclass)", (f"lutron.{table}",)
            ).fetchone()[0]
    zone_years = args.zones * args.days / 365.0
    raw_total, raw_heap, _ = sizes["public.lutron_zone"]
    roll = sum(sizes[f"lutron.zone_{b}"][0] for b in ("hourly", "daily"))
    print()
    print("== disk (after VACUUM ANALYZE)")
    for key in (
        "public.lutron_zone",
        "public.lutron_area",
        "public.lutron_power",
        "lutron.zone_hourly",
        "lutron.zone_daily",
        "lutron.area_hourly",
        "lutron.system_hourly",
        "plain.lutron_zone",
    ):
        total, heap, idx = sizes[key]
        print(
            f"{key:22} total {human_bytes(total):>9}  table {human_bytes(heap):>9}  indexes {human_bytes(idx):>9}"
        )
    per_row = raw_total / counts["public.lutron_zone"]
    print(
        f"raw zone row: {per_row:.0f} bytes with indexes ({raw_heap / counts['public.lutron_zone']:.0f} table)"
    )
    print(
        f"per zone-year, raw at {args.step} s:  {human_bytes(raw_total / zone_years)}"
        f" (at 10 s: {human_bytes(per_row * 365 * 8640)})"
    )
    print(
        f"per zone-year, hourly+daily rollups: {human_bytes(roll / zone_years)} as left by the backfill,"
        f" {human_bytes(sum(compact.values()) / zone_years)} compacted (VACUUM FULL)"
    )
    print(f"system energy: rollups {check[0]:.6g} J vs counter span {check[1]:.6g} J")

    # --- queries ----------------------------------------------------------------------------
    with psycopg.connect(dsn) as conn:
        synthesize_year(conn, args.days, first_day)
        conn.execute("ANALYZE")
        conn.commit()
    end = datetime.combine(first_day + timedelta(days=args.days), datetime.min.time(), zone)
    now = end - timedelta(seconds=args.step) + timedelta(seconds=1)
    spans = {"1 day": timedelta(days=1), "30 days": timedelta(days=30), "1 year": timedelta(days=365)}
    print()
    print(
        f"== UI queries (first run, then median of {args.repeat}); raw rows cover the last {args.days} days"
    )
    worst = 0.0
    heavy = False
    with HistoryStore(dsn, max_size=2) as store:

        def show(label: str, fn: Callable[[], Any]) -> None:
            nonlocal worst
            first, med, size = timed(fn, args.repeat)
            if not heavy:
                worst = max(worst, med)
            flag = "" if med < 0.3 else "  <-- over 300 ms"
            print(f"{label:52} {ms(first)} {ms(med)}  {size:>7} rows{flag}")

        show("current_power (system, areas, zones)", lambda: store.current_power(now=now))
        show("zones_on (and since when)", lambda: store.zones_on(now=now))
        for span_label, span in spans.items():
            s, e = end - span, end
            print(f"-- {span_label}")
            show("energy(zone) auto resolution", lambda s=s, e=e: store.energy("zone", s, e))
            show("energy(area) by day", lambda s=s, e=e: store.energy("area", s, e, resolution="day"))
            show("energy(system) auto resolution", lambda s=s, e=e: store.energy("system", s, e))
            show("power_history(system)", lambda s=s, e=e: store.power_history("system", s, e))
            show(
                "power_history(zones of one area)",
                lambda s=s, e=e: store.power_history("zone", s, e, area="Room 3"),
            )
            show("weekday_hour_power(system)", lambda s=s, e=e: store.weekday_hour_power(s, e))
            show(
                "weekday_hour_power(one zone)",
                lambda s=s, e=e: store.weekday_hour_power(s, e, level="zone", id="105"),
            )
            show("top_zones(limit=10)", lambda s=s, e=e: store.top_zones(s, e))
            show(
                "zones_on_overnight",
                lambda s=s, e=e: store.zones_on_overnight(s.date() + timedelta(days=1), e.date()),
            )
        print("-- heavy on purpose (not UI queries: large results, mostly Python object building)")
        heavy = True
        show(
            "power_history(all zones), 1 day, raw",
            lambda: store.power_history("zone", end - timedelta(days=1), end),
        )
        show(
            "energy(zone) by hour, 30 days",
            lambda: store.energy("zone", end - timedelta(days=30), end, resolution="hour"),
        )
    print(f"slowest median of the UI queries: {worst * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
