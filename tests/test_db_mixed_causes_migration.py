"""`db init` migrates a version-6 database (energy by cause with a row per zone, bucket and cause)
to version 7 (a bucket with one cause keeps it on the zone's own rollup row) and every number stays:
the rows by cause, the zone rollups and the Why page's figures, also after `db rebuild`.

The version-6 database is made by the version-6 code itself, taken from this repository's history
(tests/old_code.py); it runs in a subprocess, as the version-7 code does for the same figures.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import old_code
import psycopg
import pytest
from old_code import assert_same_numbers, extract, newest_commit
from pg_fixtures import init_db
from psycopg import sql

from telegraf_lutron.db import changes as ch
from telegraf_lutron.db.schema import LATEST, rebuild

pytestmark = [pytest.mark.db, pytest.mark.subprocess]

TZ = "Europe/Berlin"
END = datetime(2024, 10, 28, 12, 0, tzinfo=UTC)  # three days across the autumn DST change
SEED = 5

# Runs with either version of the package first on sys.path: `seed` writes three days of change
# rows as that version's plugin and Telegraf would; `numbers` prints the stored and shown figures.
SCRIPT = r"""
import json, sys
from datetime import datetime, timedelta
sys.path.insert(0, sys.argv[1]) if sys.argv[1] else None
import psycopg
import telegraf_lutron
from telegraf_lutron.db.schema import LATEST
mode, dsn, tz, end, seed = sys.argv[2], sys.argv[3], sys.argv[4], datetime.fromisoformat(sys.argv[5]), int(sys.argv[6])
start = end - timedelta(days=3)
out = {"file": telegraf_lutron.__file__, "latest": LATEST}
if mode == "seed":
    from telegraf_lutron.db.history import seed_history
    from telegraf_lutron.db.schema import init
    from telegraf_lutron.metrics import postgres_measurements
    from telegraf_lutron.simulator.designgen import GeneratorParams, generate_design
    with psycopg.connect(dsn) as conn:
        init(conn, timezone=tz)
    with psycopg.connect(dsn) as conn:
        out["rows"] = seed_history(conn, generate_design(GeneratorParams(seed=seed)), duration=end - start,
                                   end=end, step=timedelta(minutes=5), coarse_step=timedelta(minutes=5), tz=tz,
                                   namepass=postgres_measurements())
    print(json.dumps(out))
    sys.exit(0)
from telegraf_lutron.db.why import WhyStore
def iso(x): return x.isoformat() if hasattr(x, "isoformat") else x
def rows(objs, *names): return sorted([[iso(getattr(o, n)) for n in names] for o in objs], key=str)
store = WhyStore(dsn)
for label, a in (("day", end - timedelta(hours=20)), ("days", start)):
    out[f"by cause {label}"] = rows(store.energy_by_cause(a, end), "cause", "energy_kwh", "on_hours", "zones")
    out[f"sources {label}"] = rows(store.sources(a, end, limit=50), "cause", "site", "keypad_id", "component",
                                   "timeclock_id", "timeclock_event", "energy_kwh", "zones")
store.close()
source = "cause, keypad_id, component, timeclock_id, timeclock_event"
with psycopg.connect(dsn) as conn:
    conn.execute("SELECT lutron.change_rollup()")
    for table, bucket, stats in (
        ("zone_cause_hourly", "hour", f"{source}, energy_joules, on_seconds"),
        ("zone_cause_daily", "day", f"{source}, energy_joules, on_seconds"),
        ("zone_change_hourly", "hour", "energy_joules, on_seconds, watts_max"),
        ("zone_change_daily", "day", "energy_joules, on_seconds, watts_max"),
    ):
        out[table] = sorted([list(map(iso, r)) for r in conn.execute(
            f"SELECT site, zone_id, {bucket}, {stats} FROM lutron.{table}")], key=str)
print(json.dumps(out))
"""


def version_6_commit() -> str:
    """The newest commit whose schema ends at migration 6 (a row per zone, bucket and cause)."""
    return newest_commit(
        "the version-6 code",
        lambda show: (
            "Migration(6," in (schema := show("telegraf_lutron/db/schema.py"))
            and "Migration(7," not in schema
        ),
    )


def run_script(code_dir: str, mode: str, dsn: str) -> dict[str, Any]:
    return old_code.run_script(SCRIPT, code_dir, mode, dsn, TZ, END.isoformat(), str(SEED))


@pytest.fixture(scope="module")
def version_6_code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return extract(version_6_commit(), tmp_path_factory.mktemp("v6"))


def test_db_init_moves_single_cause_buckets_onto_the_zone_rows_and_keeps_every_number(
    version_6_code: Path, pg_dsn: str
) -> None:
    seeded = run_script(str(version_6_code), "seed", pg_dsn)
    assert seeded["latest"] == 6 and seeded["file"].startswith(str(version_6_code)) and seeded["rows"] > 0
    before = run_script(str(version_6_code), "numbers", pg_dsn)
    assert before["zone_cause_hourly"] and before["by cause days"] and before["sources days"]
    with psycopg.connect(pg_dsn) as conn:
        v6_rows = {
            t: conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("lutron", t))
            ).fetchone()[0]
            for t in (ch.CAUSE_HOURLY, ch.CAUSE_DAILY)
        }

    report = init_db(pg_dsn, TZ)
    assert report.version == LATEST >= 7
    assert (
        "applied migration 7: causes: a bucket with one cause keeps it on the zone's rollup row"
        in report.actions
    )
    assert any("by cause" in action for action in report.actions), report.actions
    after = run_script("", "numbers", pg_dsn)
    assert after["latest"] == LATEST and not after["file"].startswith(str(version_6_code))
    assert_same_numbers(before, after)

    with psycopg.connect(pg_dsn) as conn:
        for zone, mixed, bucket in (
            (ch.ZONE_HOURLY, ch.MIXED_HOURLY, "hour"),
            (ch.ZONE_DAILY, ch.MIXED_DAILY, "day"),
        ):
            # Every bucket is either on the zone's row (one cause) or in the mixed table (several).
            single, several, mixed_rows, lonely = conn.execute(
                sql.SQL(
                    """SELECT count(*) FILTER (WHERE z.cause IS NOT NULL), count(*) FILTER (WHERE z.cause IS NULL),
                              (SELECT count(*) FROM {mixed}),
                              (SELECT count(*) FROM (SELECT 1 FROM {mixed} m
                                                     GROUP BY m.site, m.zone_id, m.{bucket} HAVING count(*) < 2) x)
                       FROM {zone} z"""
                ).format(
                    mixed=sql.Identifier("lutron", mixed),
                    zone=sql.Identifier("lutron", zone),
                    bucket=sql.Identifier(bucket),
                )
            ).fetchone()
            assert lonely == 0, bucket
            assert single + mixed_rows == v6_rows[ch.CAUSE_HOURLY if bucket == "hour" else ch.CAUSE_DAILY], (
                bucket
            )
            assert mixed_rows >= 2 * several and single > 0, bucket
        rebuild(conn)
    assert_same_numbers(before, run_script("", "numbers", pg_dsn))
