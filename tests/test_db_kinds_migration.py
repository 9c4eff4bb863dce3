"""`db init` migrates a version-2 database (written by the release before the kinds) and keeps its
history: the old rows, the rollups and the numbers the UI shows for them stay exactly as they were
(a shade that counted as "on" then still does in those figures), also after the rollups are
recomputed from the raw rows; rows written from the upgrade on count lights only.

The version-2 database is made by the version-2 code itself, taken from this repository's history
(`git archive`), so the test needs a git checkout with history; it runs that code in a subprocess.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import old_code
import psycopg
import pytest
from old_code import assert_same_numbers, extract, newest_commit
from pg_fixtures import assert_rollups_match, init_db

from telegraf_lutron.db.history import HistoryGenerator, TelegrafWriter, zone_specs
from telegraf_lutron.db.schema import LATEST, rebuild
from telegraf_lutron.simulator.designgen import GeneratorParams, generate_design

pytestmark = [pytest.mark.db, pytest.mark.subprocess]

TZ = "Europe/Berlin"
END = datetime(2024, 6, 10, 12, 0, tzinfo=UTC)
SEED = 4

# Runs with either version of the package first on sys.path: `seed` writes three days of history
# the way that version's plugin and Telegraf would; `numbers` prints what the UI reads.
SCRIPT = r"""
import json, sys
from datetime import date, datetime, timedelta, timezone
sys.path.insert(0, sys.argv[1]) if sys.argv[1] else None
import psycopg
import telegraf_lutron
from telegraf_lutron.db.schema import LATEST
mode, dsn, tz, end, seed = sys.argv[2], sys.argv[3], sys.argv[4], datetime.fromisoformat(sys.argv[5]), int(sys.argv[6])
start = end - timedelta(days=3)
if mode == "seed":
    from telegraf_lutron.db.history import seed_history
    from telegraf_lutron.db.schema import init
    from telegraf_lutron.simulator.designgen import GeneratorParams, generate_design
    with psycopg.connect(dsn) as conn:
        init(conn, timezone=tz)
    with psycopg.connect(dsn) as conn:
        seed_history(conn, generate_design(GeneratorParams(seed=seed)), duration=end - start, end=end,
                     step=timedelta(minutes=5), coarse_step=timedelta(minutes=5), tz=tz)
    print(json.dumps({"file": telegraf_lutron.__file__, "latest": LATEST}))
    sys.exit(0)
from telegraf_lutron.db.queries import HistoryStore
def iso(x): return x.isoformat() if hasattr(x, "isoformat") else x
def rows(objs, *names): return sorted([[iso(getattr(o, n)) for n in names] for o in objs], key=str)
store = HistoryStore(dsn)
out = {"file": telegraf_lutron.__file__, "latest": LATEST}
for level, res in (("zone", "day"), ("area", "day"), ("area", "hour"), ("system", "hour")):
    out[f"energy {level} {res}"] = rows(store.energy(level, start, end, resolution=res),
        "site", "id", "start", "energy_kwh", "avg_watts", "max_watts", "samples")
out["top zones"] = rows(store.top_zones(start, end, limit=8), "zone_id", "energy_kwh", "avg_watts", "on_fraction")
out["on hours"] = rows(store.on_hours(start, end), "day", "zone_id", "hours")
out["overnight"] = rows(store.zones_on_overnight(date(2024, 6, 8), date(2024, 6, 10)), "night", "zone_id", "hours", "energy_kwh")
now = store.current_power(now=end - timedelta(minutes=1))
def lights(p): return p.lights_on if hasattr(p, "lights_on") else p.zones_on
def total(p): return p.lights_total if hasattr(p, "lights_total") else p.zones_total
out["now system"] = [[p.watts, lights(p), total(p)] for p in now.system]
out["now areas"] = sorted([[p.id, p.watts, lights(p)] for p in now.areas])
store.close()
with psycopg.connect(dsn) as conn:
    for table, key in (("zone_daily", "zone_id"), ("area_hourly", "area_id"), ("area_daily", "area_id"),
                       ("system_hourly", "site"), ("system_daily", "site")):
        out[table] = [list(map(iso, r)) for r in conn.execute(
            f"SELECT site, {key}, {'hour' if 'hourly' in table else 'day'}, samples, energy_joules, watts_sum,"
            f" on_samples, off_samples FROM lutron.{table} ORDER BY 1, 2, 3")]
print(json.dumps(out))
"""


def version_2_commit() -> str:
    """The newest commit whose code writes schema version 2 and `zones_on` (before the kinds)."""
    return newest_commit(
        "the version-2 code",
        lambda show: (
            "Migration(2," in (schema := show("telegraf_lutron/db/schema.py"))
            and "Migration(3," not in schema
            and '"zones_on"' in show("telegraf_lutron/metrics.py")
        ),
    )


def run_script(code_dir: str, mode: str, dsn: str) -> dict[str, Any]:
    return old_code.run_script(SCRIPT, code_dir, mode, dsn, TZ, END.isoformat(), str(SEED))


@pytest.fixture(scope="module")
def version_2_code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return extract(version_2_commit(), tmp_path_factory.mktemp("v2"))


def test_db_init_migrates_a_version_2_database_and_keeps_its_history(
    version_2_code: Path, pg_dsn: str
) -> None:
    seeded = run_script(str(version_2_code), "seed", pg_dsn)
    assert seeded["latest"] == 2 and seeded["file"].startswith(str(version_2_code))
    before = run_script(str(version_2_code), "numbers", pg_dsn)
    assert before["area_daily"] and before["on hours"] and before["now system"][0][1] > 0
    with psycopg.connect(pg_dsn) as conn:
        raw_before = conn.execute(
            "SELECT count(*), sum(zones_on), sum(energy_joules_total) FROM public.lutron_area"
        ).fetchone()

    report = init_db(pg_dsn, TZ)
    assert report.version == LATEST >= 3  # the kinds are migration 3; later ones run too
    assert (
        "applied migration 3: kinds: lights, fans and shades counted apart; zone kind in the rollups"
        in report.actions
    )
    assert "added field column public.lutron_area.lights_on" in report.actions
    assert "added tag column public.lutron_zone.kind" in report.actions
    with psycopg.connect(pg_dsn) as conn:
        # Old rows are kept as written: nothing is reinterpreted.
        assert (
            conn.execute(
                "SELECT count(*), sum(zones_on), sum(energy_joules_total) FROM public.lutron_area"
            ).fetchone()
            == raw_before
        )
        assert conn.execute(
            "SELECT count(*) FROM public.lutron_area WHERE lights_on IS NOT NULL"
        ).fetchone() == (0,)
    after = run_script("", "numbers", pg_dsn)
    assert after["latest"] == LATEST and not after["file"].startswith(str(version_2_code))
    assert_same_numbers(before, after)

    # Recomputing the rollups from the raw rows gives the old figures again.
    with psycopg.connect(pg_dsn) as conn:
        rebuild(conn)
    assert_same_numbers(before, run_script("", "numbers", pg_dsn))

    # From the upgrade on, areas and the house count lights: a shade open is not "on".
    design = generate_design(GeneratorParams(seed=SEED))
    specs = zone_specs(design)
    assert {"shade", "fan", "light"} <= {z.kind for z in specs}
    shades = [z.zone_id for z in specs if z.kind == "shade"]
    pinned = dict.fromkeys(shades, 100.0)
    gen = HistoryGenerator(specs, start=END, step=timedelta(minutes=5), tz=TZ, seed=9, pinned=pinned)
    with psycopg.connect(pg_dsn) as conn:
        TelegrafWriter(conn).write_lines(gen.lines(gen.ticks(24)))
        rows = conn.execute(
            "SELECT lights_on, shades_open, zones_on FROM public.lutron_power WHERE time > %s ORDER BY time",
            (END,),
        ).fetchall()
        assert rows and all(z is None and s == len(shades) for _, s, z in rows)
        conn.commit()
        assert_rollups_match(conn, TZ)  # old rows count zones_on, new rows lights_on
        new_hours = conn.execute(
            "SELECT sum(on_samples) FROM lutron.system_hourly WHERE hour >= %s", (END + timedelta(hours=1),)
        ).fetchone()[0]
        lights_on_rows = conn.execute(
            "SELECT count(*) FROM public.lutron_power WHERE time >= %s AND lights_on > 0",
            (END + timedelta(hours=1),),
        ).fetchone()[0]
        assert new_hours == lights_on_rows
