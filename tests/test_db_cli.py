"""`telegraf-lutron db ...`, run as a user runs it: the installed command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from psycopg import conninfo

from telegraf_lutron.db.history import HistoryGenerator, TelegrafWriter, make_house
from telegraf_lutron.db.schema import LATEST
from telegraf_lutron.metrics import postgres_measurements, postgres_tags

pytestmark = [pytest.mark.db, pytest.mark.subprocess]

_SCRIPT = Path(sys.executable).with_name("telegraf-lutron")
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "telegraf_lutron"]
SECRET = "n0t-in-any-output"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "TELEGRAF_LUTRON_DSN"}
    full_env |= env or {}
    return subprocess.run(
        [*COMMAND, "db", *args], capture_output=True, text=True, timeout=120, check=False, env=full_env
    )


def with_password(dsn: str) -> str:
    # Trust authentication ignores the password; what matters is that it is never printed.
    return conninfo.make_conninfo(dsn, password=SECRET)


def test_init_prints_a_matching_outputs_postgresql_block_without_the_password(pg_dsn: str) -> None:
    result = run("init", "--dsn", with_password(pg_dsn), "--timezone", "Europe/Berlin")
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert "password=****" in result.stdout
    assert "applied migration 1" in result.stdout and "time zone Europe/Berlin" in result.stdout
    block = result.stdout[result.stdout.index("[[outputs.postgresql]]") :]
    conf = tomllib.loads(block)["outputs"]["postgresql"][0]
    assert conf["namepass"] == list(postgres_measurements())
    assert conf["taginclude"] == list(postgres_tags())  # no host, no [global_tags] (see test_telegraf_conf)
    assert conf["timestamp_column_type"] == "timestamp with time zone"
    assert conf["startup_error_behavior"] == "retry"
    assert conf["schema"] == "public"
    assert "password=${PGPASSWORD}" in conf["connection"]
    dbname = conninfo.conninfo_to_dict(pg_dsn)["dbname"]
    assert conninfo.conninfo_to_dict(conf["connection"].replace("${PGPASSWORD}", "x"))["dbname"] == dbname
    assert "# create_templates = []" in block and "# add_column_templates = []" in block


def test_init_twice_reports_nothing_to_do_and_status_shows_the_version(pg_dsn: str) -> None:
    assert run("init", "--dsn", pg_dsn, "--timezone", "America/New_York").returncode == 0
    again = run("init", "--dsn", pg_dsn, "--quiet")
    assert again.returncode == 0, again.stderr
    assert "already up to date: nothing changed" in again.stdout
    assert "time zone America/New_York" in again.stdout
    assert "[[outputs.postgresql]]" not in again.stdout
    status = run("status", "--dsn", pg_dsn)
    assert status.returncode == 0, status.stderr
    assert f"schema version: {LATEST} (up to date)" in status.stdout
    assert "timezone: America/New_York" in status.stdout
    # 3 snapshot tables, zone and area changes (the Why page's rollups), house
    assert status.stdout.count("rollup trigger installed") == 6
    assert status.stdout.count("no rollups (events or names)") == 2
    assert "waiting for the next rollup drain" not in status.stdout  # nothing written yet


def test_status_shows_rows_waiting_for_a_drain(pg_dsn: str) -> None:
    assert run("init", "--dsn", pg_dsn, "--timezone", "Europe/Berlin").returncode == 0
    gen = HistoryGenerator(make_house(2), start=datetime(2024, 6, 3, 10, tzinfo=UTC))
    with psycopg.connect(pg_dsn) as conn:
        TelegrafWriter(conn).write_lines(gen.lines(gen.ticks(5)))
    status = run("status", "--dsn", pg_dsn)
    assert "rows waiting for the next rollup drain: zone 10, area 5, system 5" in status.stdout


def test_the_dsn_can_come_from_the_environment(pg_dsn: str) -> None:
    result = run("status", env={"TELEGRAF_LUTRON_DSN": with_password(pg_dsn)})
    assert result.returncode == 3  # reachable, not initialised yet
    assert "not initialised" in result.stdout and SECRET not in result.stdout + result.stderr
    assert run("init", env={"TELEGRAF_LUTRON_DSN": pg_dsn}).returncode == 0
    assert run("status", env={"TELEGRAF_LUTRON_DSN": pg_dsn}).returncode == 0


def test_unreachable_database_is_one_line_without_the_password(pg_server_dsn: str) -> None:
    dsn = conninfo.make_conninfo(pg_server_dsn, port="1", password=SECRET)
    for action in ("init", "status", "prune", "stats"):
        result = run(action, "--dsn", dsn)
        assert result.returncode == 1
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: cannot connect to PostgreSQL at 127.0.0.1:1/")
        assert SECRET not in result.stderr


@pytest.mark.subprocess
def test_a_malformed_connection_string_is_one_line_that_shows_none_of_it() -> None:
    # libpq's parse error quotes the bad token, here the password: `db` must not pass it on.
    dsn = "postgresql://lutron:My%Secret pw@db.example/lutron"
    for action in ("init", "status", "prune", "stats", "rebuild"):
        for result in (run(action, "--dsn", dsn), run(action, env={"TELEGRAF_LUTRON_DSN": dsn})):
            assert result.returncode == 1 and result.stdout == ""
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: invalid connection string (not shown)")
            assert "Secret" not in result.stderr


def test_prune_and_stats(pg_lutron_dsn: str) -> None:
    gen = HistoryGenerator(make_house(3), start=datetime(2024, 1, 1, tzinfo=UTC))
    with psycopg.connect(pg_lutron_dsn) as conn:
        TelegrafWriter(conn).write_lines(gen.lines(gen.ticks(60)))
    stats = run("stats", "--dsn", pg_lutron_dsn)
    assert stats.returncode == 0, stats.stderr
    zone_line = next(line for line in stats.stdout.splitlines() if line.startswith("public.lutron_zone "))
    assert zone_line.split()[1] == "180"
    assert "lutron.zone_hourly" in stats.stdout and "database total:" in stats.stdout
    dry = run("prune", "--dsn", pg_lutron_dsn, "--dry-run")
    assert dry.returncode == 0 and "public.lutron_zone: would delete 180 rows" in dry.stdout
    kept = run("prune", "--dsn", pg_lutron_dsn, "--raw", "forever", "--hourly", "forever")
    assert kept.returncode == 0 and "raw: kept forever" in kept.stdout
    pruned = run("prune", "--dsn", pg_lutron_dsn, "--raw", "30d", "--batch-rows", "50")
    assert pruned.returncode == 0 and "public.lutron_zone: deleted 180 rows" in pruned.stdout
    bad = run("prune", "--dsn", pg_lutron_dsn, "--raw", "3 months")
    assert bad.returncode == 1 and "invalid retention" in bad.stderr


def test_not_initialised_database_says_run_init(pg_dsn: str) -> None:
    result = run("prune", "--dsn", pg_dsn)
    assert result.returncode == 1 and "run `telegraf-lutron db init" in result.stderr


def test_rebuild_changes_the_time_zone(pg_lutron_dsn: str) -> None:
    result = run("rebuild", "--dsn", pg_lutron_dsn, "--timezone", "Asia/Tokyo")
    assert result.returncode == 0, result.stderr
    assert "time zone changed from Europe/Berlin to Asia/Tokyo" in result.stdout
    assert "timezone: Asia/Tokyo" in run("status", "--dsn", pg_lutron_dsn).stdout
