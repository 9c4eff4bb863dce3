"""The README's first command: `telegraf-lutron demo` runs the whole product on its simulator.

Both demo runs of this module start together (`demos`): each spends most of its seconds waiting for
its `--duration`, so they overlap instead of adding up; each test then judges its own run."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from pg_fixtures import create_database, drop_database

from telegraf_lutron.db.queries import HistoryStore

pytestmark = pytest.mark.subprocess

DEMO = [sys.executable, "-m", "telegraf_lutron", "demo", "--interval", "1", "--activity", "5"]
SNAPSHOT = re.compile(
    r"^\d\d:\d\d:\d\d +(\d+) W +(\d+) of (\d+) lights on, \d+ fans on, \d+ shades open"
    r" +([\d.]+) kWh since start +\((\d+) metrics\)$"
)
NO_DB = "test_demo_without_a_database_runs_the_plugin_against_the_simulator"
WITH_DB = "test_demo_with_a_database_seeds_history_and_writes_live_rows"


class Demos:
    """The demo runs of this module, started at once (output to files: nobody reads a pipe while
    they run); `result` waits for one."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.dsn = ""  # the database of the WITH_DB run
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.failed: dict[str, str] = {}  # why a run could not start (its test fails with it)

    def start(self, test: str, *extra: str) -> None:
        with open(self.tmp / f"{test}.out", "wb") as out, open(self.tmp / f"{test}.err", "wb") as err:
            self.procs[test] = subprocess.Popen(
                [*DEMO, *extra], stdout=out, stderr=err, stdin=subprocess.DEVNULL
            )

    def result(self, test: str) -> subprocess.CompletedProcess[str]:
        if test in self.failed:
            pytest.fail(self.failed[test])
        proc = self.procs[test]
        try:
            proc.wait(timeout=180)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out = (self.tmp / f"{test}.out").read_text()
        err = (self.tmp / f"{test}.err").read_text()
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.fixture(scope="module")
def demos(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demos]:
    """Starts the demo run of every test of this module that this session runs (the database one
    only when it is selected: `-m "not db"` needs no server)."""
    selected = {item.originalname for item in request.session.items if item.module is request.module}
    demos = Demos(tmp_path_factory.mktemp("demo"))
    server = ""
    try:
        if NO_DB in selected:
            demos.start(NO_DB, "--no-db", "--duration", "8")
        if WITH_DB in selected:
            try:
                server = request.getfixturevalue("pg_server_dsn")
            except pytest.fail.Exception as exc:  # no server: only the database test fails
                demos.failed[WITH_DB] = str(exc)
        if server:
            demos.dsn = create_database(server)
            demos.start(
                WITH_DB,
                "--dsn",
                demos.dsn,
                "--days",
                "3",
                "--no-ui",
                "--duration",
                "6",
                "--timezone",
                "Europe/Berlin",
            )
        yield demos
    finally:
        for proc in demos.procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        if demos.dsn:
            drop_database(server, demos.dsn)


def test_demo_without_a_database_runs_the_plugin_against_the_simulator(demos: Demos) -> None:
    result = demos.result(NO_DB)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"telnet +127\.0\.0\.1:\d+", out) and "plugin:   telegraf-lutron run --config" in out
    snapshots = [SNAPSHOT.match(line) for line in out.splitlines()]
    snapshots = [m for m in snapshots if m]
    assert len(snapshots) >= 3
    assert all(int(m.group(3)) > 0 and int(m.group(2)) <= int(m.group(3)) for m in snapshots)
    energies = [float(m.group(4)) for m in snapshots]
    assert energies == sorted(energies)  # a counter
    assert out.splitlines()[-1].startswith("stopped: plugin exited on stdin EOF (code 0);")
    assert ", 0 rejected lines" in out.splitlines()[-1]


@pytest.mark.db
def test_demo_with_a_database_seeds_history_and_writes_live_rows(demos: Demos) -> None:
    result = demos.result(WITH_DB)
    pg_dsn = demos.dsn
    assert result.returncode == 0, result.stdout + result.stderr
    assert "history: 3 days: " in result.stdout and "time zone Europe/Berlin" in result.stdout
    with psycopg.connect(pg_dsn) as conn:
        # PostgreSQL gets the change rows only (the snapshots are for Prometheus): the history and
        # the live plugin's rows, as the same series.
        zones = conn.execute(
            "SELECT count(DISTINCT zone_id), count(DISTINCT (zone_id, zone, area)) FROM lutron_zone_info"
        ).fetchone()
        assert zones is not None and zones[0] == zones[1] > 0  # history and live rows are the same series
        span = conn.execute("SELECT max(time) - min(time), count(*) FROM lutron_house").fetchone()
        assert span is not None and span[0].total_seconds() >= 23 * 3600
        assert conn.execute("SELECT count(*) FROM lutron_power").fetchone() == (0,)
        # The plugin's baseline after its first full read, and the exact rollups of the generated day.
        changes = conn.execute(
            "SELECT count(DISTINCT zone_id) FROM lutron_zone_change WHERE time > now() - interval '1 minute'"
        ).fetchone()
        assert changes is not None and changes[0] == zones[0]
        live = conn.execute(
            "SELECT count(*) FROM lutron_house WHERE time > now() - interval '1 minute'"
        ).fetchone()
        assert live is not None and live[0] >= 1
        hours = conn.execute("SELECT count(*), sum(energy_joules) FROM lutron.zone_change_hourly").fetchone()
        assert hours is not None and hours[0] > 0 and hours[1] > 0
        # A house row every minute throughout (beyond the last 2 days too): every hour has data.
        house = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE covered_seconds > 0) FROM lutron.house_hourly"
        ).fetchone()
        assert house is not None and house[0] >= 71 and house[1] == house[0]
        # Causes for the Why page: every joule of the zones by cause, keypad buttons and time clock
        # events among them, and lights in empty rooms.
        causes = dict(
            conn.execute(
                "SELECT cause, sum(energy_joules) FROM lutron.zone_cause_hourly GROUP BY cause"
            ).fetchall()
        )
        assert sum(causes.values()) == pytest.approx(hours[1]) and len(causes) >= 5
        sources = conn.execute(
            "SELECT count(DISTINCT (keypad_id, component)) FILTER (WHERE cause = 'keypad' AND component <> ''),"
            " count(DISTINCT timeclock_event) FILTER (WHERE cause = 'timeclock' AND timeclock_event <> '')"
            " FROM lutron.zone_cause_hourly"
        ).fetchone()
        assert sources is not None and sources[0] > 1 and sources[1] >= 1
        empty = conn.execute("SELECT sum(energy_joules) FROM lutron.area_unoccupied_hourly").fetchone()
        assert empty is not None and empty[0] > 0
    # The UI's data answer from them: now, and the generated day's energy.
    with HistoryStore(pg_dsn) as store:
        now = store.current_power()
        assert len(now.system) == 1 and len(now.zones) == zones[0]
        day = store.energy("system", datetime.now(UTC) - timedelta(days=1), datetime.now(UTC))
        assert sum(b.energy_kwh for b in day) > 0
    assert "password" not in result.stdout.lower().replace("password default", "")
