"""Web UI benchmark: each page's data loads and its first render in a real browser, on a history the
size of the storage benchmark's, from the change rows, with the snapshot rows as the baseline.

    .venv/bin/python bench/bench_webui.py            # 30 days x 200 zones at 1-minute resolution
    .venv/bin/python bench/bench_webui.py --quick    # 2 days x 40 zones
    .venv/bin/python bench/bench_webui.py --keep     # keep the databases (their names are printed) ...
    .venv/bin/python bench/bench_webui.py --reuse tl_bench_webui_1a2b3c4d   # ... and measure them again

Targets: every page's data, read with cold caches, in < 300 ms; every page drawn in Chromium in < 3 s.

What it does, in two throwaway databases on the server from --dsn / $TL_TEST_DSN, for the zones
of one generated design and one generated history (telegraf_lutron.db.history.HistoryGenerator)
ending now, after `db init`:
1. `<name>`, what the plugin writes now: the change rows (lutron_zone_change, lutron_house,
   lutron_event, lutron_zone_info) written as Telegraf writes them (TelegrafWriter, flushes of
   --batch metrics, the change rollups running in each COPY). The UI reads these.
   `<name>_snap`, the baseline: the snapshot rows (lutron_zone, lutron_area, lutron_power) as
   bench/bench_db.py writes them (Telegraf-sized binary COPYs), which is what the UI read before.
   In both, rollups for the months before the generated days are copies of them shifted back,
   so the "1 y" range has a year to read. A design cache with two revisions.
2. Data: the loaders each page calls (webui/data.py), with Streamlit's caches cleared before every
   run: the first run, then the median and p95 of --repeat, for each database, and the ratio of
   the change rows' median to the snapshots' (the baseline, measured in the same run). Energy and
   Why are measured for every range, Zones for every range of one zone (the snapshots have no
   causes: their Why figures are empty, and their time only says what an empty page costs).
3. Browser: `streamlit run webui/app.py` and Debian's Chromium (Playwright). The server is warmed by
   one page load (Python imports), then left until the short caches expire. Each page is then
   clicked in the sidebar of the open app (its data read fresh: the first render a person sees when
   going to a page), then opened in a new browser (nothing in the browser cache) and reloaded.
   Render time runs until every chart is drawn and the script run has finished.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import pandas as pd  # noqa: E402
import streamlit.runtime.caching.cache_data_api as _cache_data_api  # noqa: E402

# Each st.cache_data function logs "No runtime found" when defined outside a Streamlit server.
logging.getLogger(_cache_data_api.__name__).setLevel(logging.ERROR)
from bench_db import flushes, synthesize_year, write_flush  # noqa: E402
from ui_fixtures import (  # noqa: E402
    BROWSER_PAGES,
    CHROMIUM,
    chromium,
    render_page,
    store_designs,
    streamlit_server,
    ui_env,
)

from telegraf_lutron.db import changes as ch  # noqa: E402
from telegraf_lutron.db.history import HistoryGenerator, TelegrafWriter, zone_specs  # noqa: E402
from telegraf_lutron.db.levels import CHANGE_MEASUREMENTS  # noqa: E402
from telegraf_lutron.db.schema import init  # noqa: E402
from telegraf_lutron.design import Design  # noqa: E402
from telegraf_lutron.lineproto_parse import Metric  # noqa: E402
from telegraf_lutron.simulator.designgen import GeneratorParams, generate  # noqa: E402
from telegraf_lutron.webui import common, data, why_data  # noqa: E402
from telegraf_lutron.webui.settings import DEFAULT_OVERNIGHT  # noqa: E402

TZ = "Europe/Berlin"
DATA_TARGET = 0.300
RENDER_TARGET = 3.0


# --- the data set ---------------------------------------------------------------------------------


def house(zones: int) -> tuple[Design, bytes]:
    """A design of exactly `zones` zones, five per room, one keypad per room, most wattages set."""
    params = GeneratorParams.sized(zones, zones // 5, seed=11, missing_wattage=0.05, zero_wattage=0.05)
    return generate(params)


def seed(
    dsn: str, snap_dsn: str, design: Design, days: int, step: timedelta, batch: int
) -> tuple[int, int, float]:
    """One history of `days` up to now: its change rows into `dsn`, its snapshots into `snap_dsn`;
    returns (change rows, snapshot rows, seconds)."""
    zone = ZoneInfo(TZ)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    first_day = (now - timedelta(days=days)).astimezone(zone).date()
    start = datetime.combine(first_day, datetime.min.time(), zone).astimezone(UTC)
    gen = HistoryGenerator(zone_specs(design), start=start, step=step, tz=TZ)
    per_chunk = int(timedelta(hours=6) / step)
    rows = snap_rows = 0
    t0 = time.perf_counter()
    with psycopg.connect(dsn) as conn, psycopg.connect(snap_dsn) as snap:
        writer = TelegrafWriter(conn, namepass=CHANGE_MEASUREMENTS)
        while True:
            now = datetime.now(UTC)  # generating takes minutes: keep going until the history is current
            left = int((now - gen.now) / step) + 1
            if left <= 0:
                break
            ticks = gen.ticks(min(per_chunk, left))
            changes = [
                Metric(m, {k: v for k, v in sorted(t.items()) if v}, dict(f), ts)
                for tick in ticks
                for m, t, f, ts in gen.change_metrics(tick)
            ]
            for i in range(0, len(changes), batch):
                writer.write(changes[i : i + batch])
            rows += len(changes)
            for f in flushes(ticks, "home", batch):
                write_flush(snap, "public", f)
                snap_rows += sum(len(r) for _, _, r in f)
            done = (gen.now - start) / (now - start)
            print(
                f"\r  writing history: {min(done, 1):.0%} ({rows:,} change rows, {snap_rows:,} snapshot rows)",
                end="",
                flush=True,
            )
        print()
        synthesize_year(snap, days + 1, first_day)
        synthesize_change_year(conn, days + 1, first_day)
        for c in (conn, snap):
            c.execute("ANALYZE")
            c.commit()
    return rows, snap_rows, time.perf_counter() - t0


def synthesize_change_year(conn: psycopg.Connection[Any], days: int, first_day: Any) -> None:
    """Change rollups for the months before the generated period: copies of it, shifted back."""
    shifts = (365 - days) // days + 1
    lo_hour = datetime.combine(first_day, datetime.min.time(), ZoneInfo(TZ))
    source = ", ".join((ch.CAUSE, *ch.SOURCE_TAGS))
    tables = {
        ch.ZONE_HOURLY: ("site, zone_id", f"energy_joules, on_seconds, watts_max, {source}", "hour"),
        ch.ZONE_DAILY: ("site, zone_id", f"energy_joules, on_seconds, watts_max, {source}", "day"),
        ch.HOUSE_HOURLY: ("site", "energy_joules, watts_max, covered_seconds", "hour"),
        ch.HOUSE_DAILY: ("site", "energy_joules, watts_max, covered_seconds", "day"),
        ch.MIXED_HOURLY: ("site, zone_id", f"{source}, energy_joules, on_seconds", "hour"),
        ch.MIXED_DAILY: ("site, zone_id", f"{source}, energy_joules, on_seconds", "day"),
        ch.UNOCCUPIED_HOURLY: ("site, area_id", "energy_joules, lit_seconds, watts_max", "hour"),
        ch.UNOCCUPIED_DAILY: ("site, area_id", "energy_joules, lit_seconds, watts_max", "day"),
    }
    for k in range(1, shifts + 1):
        for table, (keys, stats, bucket) in tables.items():
            if bucket == "hour":
                cols = f"{keys}, hour, day, {stats}"
                exprs = f"{keys}, hour - %(shift)s * interval '1 day', ((hour - %(shift)s * interval '1 day') AT TIME ZONE %(tz)s)::date, {stats}"
            else:
                cols = f"{keys}, day, {stats}"
                exprs = f"{keys}, day - %(shift)s, {stats}"
            conn.execute(
                sql.SQL(
                    "INSERT INTO {t} ({cols}) SELECT {exprs} FROM {t} WHERE {b} >= %(lo)s ON CONFLICT DO NOTHING"
                ).format(
                    t=sql.Identifier("lutron", table),
                    cols=sql.SQL(cols),
                    exprs=sql.SQL(exprs),
                    b=sql.Identifier(bucket),
                ),
                {"shift": k * days, "tz": TZ, "lo": first_day if bucket == "day" else lo_hour},
            )
    # Months by cause: the days summed, as the rollup sums them.
    conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier("lutron", ch.CAUSE_MONTHLY)))
    conn.execute(
        sql.SQL(
            "INSERT INTO {m} (site, zone_id, month, {source}, energy_joules, on_seconds)"
            " SELECT site, zone_id, date_trunc('month', day)::date, {source}, sum(energy_joules), sum(on_seconds)"
            " FROM {d} GROUP BY 1, 2, 3, {source}"
        ).format(
            m=sql.Identifier("lutron", ch.CAUSE_MONTHLY),
            d=sql.Identifier("lutron", ch.CAUSE_DAILY),
            source=sql.SQL(source),
        )
    )
    conn.commit()


# --- timing ---------------------------------------------------------------------------------------


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, float]:
    """(first run, median and p95 of `repeat` more), caches cleared before each."""
    runs = []
    for _ in range(repeat + 1):
        data.clear_caches()
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    rest = sorted(runs[1:])
    p95 = rest[min(len(rest) - 1, round(0.95 * (len(rest) - 1)))]
    return runs[0], statistics.median(rest), p95


def page_loaders(dsn: str, cache_dir: Path, zone_id: str) -> dict[str, Callable[[], Any]]:
    """What each page loads, call for call (webui/views/*.py)."""
    tz = TZ

    def now_page() -> None:
        data.db_state(dsn)
        snap = data.snapshot(dsn, tz)
        data.design_info(cache_dir)
        end = data.now_minute()
        day_start = pd.Timestamp(snap.as_of).tz_convert(tz).normalize().to_pydatetime()
        data.energy(dsn, tz, "system", day_start, end)
        data.power_history(dsn, tz, "system", end - timedelta(hours=24), end, max_points=288)
        data.zones_on(dsn, tz, None)

    def energy_page(span: str) -> Callable[[], None]:
        def load() -> None:
            data.db_state(dsn)
            data.design_info(cache_dir)
            start, end, _ = common.calendar_range(span, tz, data.now_minute())
            data.energy(dsn, tz, "system", start, end)
            data.energy(dsn, tz, "area", start, end)
            data.zone_energy(dsn, start, end)
            data.weekday_hour(dsn, start, end)

        return load

    def zones_page(span: timedelta) -> Callable[[], None]:
        def load() -> None:
            data.db_state(dsn)
            data.design_info(cache_dir)
            end = data.now_minute()
            data.snapshot(dsn, tz)
            data.zone_catalogue(dsn, tz)
            data.zones_on(dsn, tz, None)
            data.power_history(dsn, tz, "zone", end - span, end, site="home", id=zone_id)
            data.level_history(dsn, tz, end - min(span, timedelta(hours=48)), end, "home", zone_id)
            days = max(span, timedelta(days=7)).days
            first = (
                pd.Timestamp(end).tz_convert(tz).normalize() - pd.Timedelta(days=days - 1)
            ).to_pydatetime()
            data.on_hours(dsn, first, end, "home", zone_id)
            today = pd.Timestamp(end).tz_convert(tz).date()
            data.overnight(dsn, today - timedelta(days=6), today, 0, 5)

        return load

    def design_page() -> None:
        data.db_state(dsn)
        data.design_info(cache_dir)
        data.snapshot(dsn, tz)

    def why_page(span: str) -> Callable[[], None]:
        def load() -> None:
            data.db_state(dsn)
            data.design_info(cache_dir)
            start, end, _ = common.calendar_range(span, tz, data.now_minute())
            why_data.causes(dsn, start, end)
            why_data.sources(dsn, start, end)
            why_data.empty_rooms(dsn, start, end)
            why_data.overnight(dsn, start, end, *DEFAULT_OVERNIGHT)

        return load

    loaders: dict[str, Callable[[], Any]] = {"Now": now_page}
    for span in ("24 h", "7 d", "30 d", "1 y"):
        loaders[f"Energy, {span}"] = energy_page(span)
    for label, span in (
        ("24 h", timedelta(hours=24)),
        ("7 d", timedelta(days=7)),
        ("30 d", timedelta(days=30)),
    ):
        loaders[f"Zones, {label}"] = zones_page(span)
    loaders["Design"] = design_page
    for span in common.CALENDAR_RANGES:
        loaders[f"Why, {span}"] = why_page(span)
    return loaders


def navigate(page: Any, title: str, charts: int, timeout_ms: int = 60_000) -> float:
    """Click `title` in the sidebar of a loaded app; seconds until that page is drawn."""
    t0 = time.monotonic()
    page.locator("[data-testid='stSidebarNav'] a", has_text=title).click()
    page.wait_for_function(
        "t => document.querySelector('h1')?.innerText.trim() === t", arg=title, timeout=timeout_ms
    )
    if charts:
        page.wait_for_function(
            "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 2 * n",
            arg=charts,
            timeout=timeout_ms,
        )
    else:
        page.wait_for_selector("[data-testid='stMetric']", timeout=timeout_ms)
    page.wait_for_selector("[data-testid='stStatusWidget']", state="detached", timeout=timeout_ms)
    seconds = time.monotonic() - t0
    if page.query_selector_all("[data-testid='stException']"):
        raise RuntimeError(f"{title}: a Streamlit exception is shown")
    return seconds


def measure_browser(env: dict[str, str], log: Path, settle: float) -> dict[str, dict[str, float]]:
    """Per page: `switch` (clicked in the sidebar of the running app, its data not cached yet),
    `cold` (opened in a new browser: nothing cached in the browser, data cached by the server),
    `reload` (the same browser again: its HTTP cache warm)."""
    out: dict[str, dict[str, float]] = {name.capitalize(): {} for name in BROWSER_PAGES}
    with streamlit_server(env, log) as url, chromium() as browser:
        ctx = browser.new_context(viewport={"width": 1400, "height": 900})
        page = ctx.new_page()
        render_page(page, f"{url}/design", 0)  # imports pandas, plotly, psycopg in the server
        time.sleep(settle)  # let the snapshot and state caches (10-15 s) expire
        for name, (_, charts) in BROWSER_PAGES.items():
            out[name.capitalize()]["switch"] = navigate(page, name.capitalize(), charts)
        ctx.close()
        for name, (path, charts) in BROWSER_PAGES.items():
            ctx = browser.new_context(viewport={"width": 1400, "height": 900})
            page = ctx.new_page()
            for kind in ("cold", "reload"):
                r = render_page(page, f"{url}/{path}", charts)
                if r.exceptions:
                    raise RuntimeError(f"{name}: {r.exceptions[0][:300]}")
                out[name.capitalize()][kind] = r.seconds
                out[name.capitalize()][f"{kind} first"] = r.first
            ctx.close()
    return out


BASELINES = {
    "empty": "import streamlit as st\nst.title('Baseline')\nst.metric('x', 1)\n",
    "1 chart": (
        "import plotly.graph_objects as go\nimport streamlit as st\nst.title('Baseline')\nst.metric('x', 1)\n"
        "st.plotly_chart(go.Figure(go.Scatter(x=[1, 2, 3], y=[1, 3, 2])))\n"
    ),
}


def measure_baselines(workdir: Path) -> dict[str, dict[str, float]]:
    """The same cold/reload protocol on bare Streamlit pages: what this machine manages at all."""
    out: dict[str, dict[str, float]] = {}
    for name, source in BASELINES.items():
        app = workdir / f"baseline_{len(out)}.py"
        app.write_text(source)
        log = ROOT / "test-artifacts" / "bench-webui-baseline.log"
        with streamlit_server({}, log, app=app) as url, chromium() as browser:
            ctx = browser.new_context()
            render_page(ctx.new_page(), url, int(name != "empty"))  # warm the server
            ctx.close()
            ctx = browser.new_context(viewport={"width": 1400, "height": 900})
            page = ctx.new_page()
            out[name] = {}
            for kind in ("cold", "reload"):
                r = render_page(page, url, int(name != "empty"))
                out[name] |= {kind: r.seconds, f"{kind} first": r.first}
            ctx.close()
    return out


# --- main -----------------------------------------------------------------------------------------


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--dsn",
        default=os.environ.get("TL_TEST_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"),
    )
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--zones", type=int, default=200)
    p.add_argument("--step", type=int, default=60, help="seconds between collections (default 60)")
    p.add_argument("--batch", type=int, default=1000, help="metrics per Telegraf flush")
    p.add_argument("--repeat", type=int, default=5, help="timed data loads per page after the first")
    p.add_argument("--quick", action="store_true", help="2 days x 40 zones")
    p.add_argument("--keep", action="store_true", help="keep the database afterwards")
    p.add_argument("--reuse", metavar="DBNAME", help="measure a database a --keep run left (no writing)")
    p.add_argument("--no-browser", action="store_true", help="only the data loads")
    args = p.parse_args()
    if args.quick:
        args.days, args.zones = 2, 40
    design, xml = house(args.zones)

    name = args.reuse or f"tl_bench_webui_{secrets.token_hex(4)}"
    names = (name, f"{name}_snap")
    dsns = tuple(psycopg.conninfo.make_conninfo(args.dsn, dbname=n) for n in names)
    if not args.reuse:
        with psycopg.connect(args.dsn, autocommit=True) as admin:
            for n in names:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(n)))
    try:
        with tempfile.TemporaryDirectory(prefix="tl-bench-webui-") as tmp:
            return run(args, dsns, name, design, xml, Path(tmp))
    finally:
        data.clear_caches(pools=True)
        if not args.keep and not args.reuse:
            with psycopg.connect(args.dsn, autocommit=True) as admin:
                for n in names:
                    admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(n)))
        elif args.keep:
            print(f"kept databases {', '.join(names)}: measure them again with --reuse {name}")


def run(
    args: argparse.Namespace, dsns: tuple[str, str], name: str, design: Design, xml: bytes, cache_dir: Path
) -> int:
    dsn, snap_dsn = dsns
    areas = len({z.area_key for z in design.zones})
    print(
        f"databases {name} (change rows), {name}_snap (snapshots, the baseline); {args.days} days x"
        f" {len(design.zones)} zones ({areas} areas, {len(design.keypads)} keypads) every {args.step} s;"
        f" {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    if not args.reuse:
        for d in dsns:
            with psycopg.connect(d) as conn:
                init(conn, timezone=TZ)
        rows, snap_rows, seconds = seed(
            dsn, snap_dsn, design, args.days, timedelta(seconds=args.step), args.batch
        )
        print(
            f"  {rows:,} change rows and {snap_rows:,} snapshot rows in {seconds:.0f} s (generation included)"
        )
    first = design.zones[0]
    old = replace(
        design,
        project=replace(design.project, export_date="01/02/2025"),
        zones=(replace(first, name=first.name + " old"), *design.zones[1:]),
    )
    store_designs(cache_dir, [(old, xml), (design, xml)])
    with psycopg.connect(dsn) as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM lutron_zone_change), (SELECT count(*) FROM lutron.zone_change_hourly),"
            " (SELECT count(*) FROM lutron.zone_change_daily), (SELECT max(time) FROM lutron_house)"
        ).fetchone()
    print(
        f"  lutron_zone_change {counts[0]:,} rows, zone_change_hourly {counts[1]:,}, zone_change_daily"
        f" {counts[2]:,}; newest row {counts[3]}"
    )
    with psycopg.connect(snap_dsn) as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM lutron_zone), (SELECT count(*) FROM lutron.zone_hourly),"
            " (SELECT count(*) FROM lutron.zone_daily)"
        ).fetchone()
    print(f"  baseline: lutron_zone {counts[0]:,} rows, zone_hourly {counts[1]:,}, zone_daily {counts[2]:,}")

    zone_id = str(next(z.id for z in design.zones if z.rated_watts))
    print()
    print(
        f"== data per page, caches cleared: first run, median and p95 of {args.repeat}; target < "
        f"{DATA_TARGET * 1000:.0f} ms; the ratio is the change rows' median to the snapshots'"
    )
    print(
        f"{'':16} {'change rows: first':>18} {'median':>9} {'p95':>9}   {'snapshots: median':>17} {'p95':>9}   ratio"
    )
    worst = 0.0
    new = page_loaders(dsn, cache_dir, zone_id)
    base = page_loaders(snap_dsn, cache_dir, zone_id)
    for label in new:
        first_s, median_s, p95_s = timed(new[label], args.repeat)
        _, base_median, base_p95 = timed(base[label], args.repeat)
        worst = max(worst, p95_s)
        flag = "" if p95_s < DATA_TARGET else "  <-- over target"
        print(
            f"{label:16} {first_s * 1000:15.1f} ms {median_s * 1000:6.1f} ms {p95_s * 1000:6.1f} ms"
            f"   {base_median * 1000:14.1f} ms {base_p95 * 1000:6.1f} ms   {median_s / base_median:5.2f}{flag}"
        )
    print(f"slowest p95 on the change rows: {worst * 1000:.1f} ms; load average now {os.getloadavg()[0]:.1f}")

    if args.no_browser:
        return 0
    if not CHROMIUM.exists():
        print(f"\n(no browser figures: {CHROMIUM} is not installed)")
        return 0
    data.clear_caches(pools=True)
    print()
    print(f"== render in Chromium, until every chart is drawn; target < {RENDER_TARGET:.0f} s")
    log = ROOT / "test-artifacts" / "bench-webui-streamlit.log"
    results = measure_browser(ui_env(dsn, cache_dir), log, settle=16)
    print(f"{'page':8} {'switch':>8} {'cold':>8} {'reload':>8}   first content: {'cold':>6} {'reload':>7}")
    for page, t in results.items():
        over = [k for k in ("switch", "cold", "reload") if t[k] >= RENDER_TARGET]
        flag = f"  <-- all charts over target ({', '.join(over)})" if over else ""
        print(
            f"{page:8} {t['switch']:7.2f}s {t['cold']:7.2f}s {t['reload']:7.2f}s"
            f"                  {t['cold first']:6.2f}s {t['reload first']:6.2f}s{flag}"
        )
    for name, t in measure_baselines(cache_dir).items():
        print(
            f"{'bare Streamlit page, ' + name:34} cold {t['cold']:5.2f}s  reload {t['reload']:5.2f}s"
            f"  (first content {t['cold first']:.2f}s / {t['reload first']:.2f}s; baseline)"
        )
    print(
        "switch: clicked in the sidebar of the open app, data read fresh; cold: a new browser opens the page"
        " (4.7 MB of plotly.js to load and compile); reload: the same browser again. Times run until every"
        " chart is drawn and the script has finished; first content: until the title and the first numbers,"
        " table or chart show. The baselines are bare Streamlit pages measured the same way: what this"
        " machine does for any page."
    )
    print(f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
