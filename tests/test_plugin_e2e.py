"""`telegraf-lutron run` as Telegraf runs it (the execd emulator) against the simulator."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from execd_emulator import ExecdEmulator, ReceivedMetric
from free_ports import free_port

from telegraf_lutron.lineprotocol import safe_tag_value
from telegraf_lutron.simulator import SimulatorThread
from telegraf_lutron.simulator.designgen import GeneratorParams, design_to_xml, generate

pytestmark = pytest.mark.subprocess

PLUGIN = [sys.executable, "-m", "telegraf_lutron", "run", "--config"]
CHECK = [sys.executable, "-m", "telegraf_lutron", "check", "--config"]


def write_config(tmp_path: Path, telnet: int, http: int, *, password: str = "default", **plugin: str) -> Path:
    extra = "".join(f"{k} = {v}\n" for k, v in plugin.items())
    path = tmp_path / "lutron.toml"
    path.write_text(
        f"""
[processor]
host = "127.0.0.1"
telnet_port = {telnet}
http_port = {http}
username = "default"
password = "{password}"
keepalive_interval = "0.5s"
keepalive_timeout = "3s"  # not 1 s: a CPU shared with other tests can delay a reply that long
query_timeout = "2s"
[plugin]
cache_dir = "{tmp_path / "cache"}"
site = "test house"
{extra}"""
    )
    return path


class House:
    """A simulator, and the plugin under the execd emulator, talking to each other."""

    def __init__(
        self, tmp_path: Path, params: GeneratorParams, signal_mode: str = "STDIN", **plugin: str
    ) -> None:
        self.design, self.xml = generate(params)
        self.tmp_path = tmp_path
        self.ports = (free_port(), free_port())
        self.sim = SimulatorThread(
            self.design,
            xml=self.xml,
            telnet_port=self.ports[0],
            http_port=self.ports[1],
            service_time=0.0,
            shade_travel=0.05,
        ).start()
        self.config = write_config(tmp_path, *self.ports, **plugin)
        self.emu = ExecdEmulator([*PLUGIN, str(self.config)], signal=signal_mode, restart_delay=0.5)

    def start(self) -> None:
        self.emu.start()
        # Telegraf's first tick comes one interval after the start, never during interpreter start-up.
        self.emu.wait_for(lambda: any("starting:" in m for m in self.emu.log_messages("I")))

    def close(self) -> None:
        self.emu.stop()
        self.sim.stop()

    def snapshot(self, timeout: float = 10.0) -> dict[str, list[ReceivedMetric]]:
        """Tick once and return the snapshot it produced, by measurement."""
        before = len(self.emu.metrics)
        assert self.emu.tick()
        first = self.emu.wait_for(
            lambda: next((m for m in self.emu.metrics[before:] if m.metric.name == "lutron_processor"), None),
            timeout,
        )
        ts = first.metric.ts

        def count() -> int:
            return sum(1 for m in self.emu.metrics[before:] if m.metric.ts == ts)

        # A snapshot is one write: wait until no more of its lines arrive.
        seen = -1
        while seen != count():
            seen = count()
            time.sleep(0.1)
        out: dict[str, list[ReceivedMetric]] = {}
        for m in self.emu.metrics[before:]:
            if m.metric.ts == ts:
                out.setdefault(m.metric.name, []).append(m)
        return out

    def wait_up(self, up: float = 1.0, timeout: float = 15.0) -> dict[str, list[ReceivedMetric]]:
        deadline = time.monotonic() + timeout
        while True:
            snap = self.snapshot()
            if snap["lutron_processor"][0].metric.fields["up"] == up and (up == 0.0 or "lutron_zone" in snap):
                return snap
            if time.monotonic() > deadline:
                raise AssertionError(f"up != {up} within {timeout} s: {self.emu.log_messages()[-5:]}")
            time.sleep(0.2)

    def zone_fields(self, snap: dict[str, list[ReceivedMetric]]) -> dict[int, dict[str, object]]:
        return {int(m.metric.tags["zone_id"]): m.metric.fields for m in snap["lutron_zone"]}


@pytest.fixture
def house(tmp_path: Path) -> Iterator[House]:
    h = House(tmp_path, GeneratorParams(seed=11))
    h.start()
    yield h
    h.close()


def no_parse_errors(emu: ExecdEmulator) -> None:
    errors = [m for m in emu.log_messages("E") if "parse error" in m]
    assert not errors, errors[:3]


def test_every_zone_level_equals_the_simulators(house: House) -> None:
    for i, zone in enumerate(house.design.zones):
        house.sim.set_level(zone.id, float(i * 13 % 100) if zone.dimmable else 100.0 * (i % 2))
    snap = house.wait_up()
    fields = house.zone_fields(snap)
    assert set(fields) == {z.id for z in house.design.zones}
    for zone in house.design.zones:
        # A pulsed contact closure answers 100 forever and is never on.
        expected = 0.0 if zone.pulsed else house.sim.level(zone.id)
        assert fields[zone.id]["level"] == expected, zone
    power = snap["lutron_power"][0].metric
    assert power.tags == {"site": "test house"}
    assert power.fields["lights_total"] == float(sum(1 for z in house.design.zones if z.kind == "light"))
    no_parse_errors(house.emu)


def test_a_level_changed_at_the_processor_shows_in_the_next_snapshot(house: House) -> None:
    house.wait_up()
    zone = next(z for z in house.design.zones if z.dimmable and z.rated_watts > 0)
    house.sim.set_level(zone.id, 37.0)
    time.sleep(0.2)
    fields = house.zone_fields(house.snapshot())[zone.id]
    assert fields["level"] == 37.0
    assert fields["watts"] == pytest.approx(zone.rated_watts * 0.37)


@pytest.mark.alone  # 0.1 % of 8 s is 8 ms: more than a change's delivery may take on a shared CPU
def test_energy_equals_the_analytic_integral(house: House) -> None:
    zone = next(z for z in house.design.zones if z.dimmable and z.rated_watts > 0)
    house.sim.set_level(zone.id, 0.0)
    before = house.zone_fields(house.wait_up())[zone.id]["energy_joules_total"]
    a0 = time.monotonic()
    house.sim.set_level(zone.id, 50.0)  # returns once the simulator has applied and sent it
    b0 = time.monotonic()
    # Long enough that the few ms a loaded machine adds between the simulator sending a change and
    # the plugin reading it (the plugin integrates from when it learns of a change) stay under 0.1 %.
    time.sleep(8.0)
    a1 = time.monotonic()
    house.sim.set_level(zone.id, 0.0)
    b1 = time.monotonic()
    time.sleep(0.3)
    after = house.zone_fields(house.snapshot())[zone.id]["energy_joules_total"]
    watts = zone.rated_watts * 0.5
    # The zone was on for between a1 - b0 and b1 - a0 seconds (each change happened inside its call).
    assert watts * (a1 - b0) * (1 - 1e-3) <= after - before <= watts * (b1 - a0) * (1 + 1e-3)
    assert after - before == pytest.approx(watts * ((a1 + b1) / 2 - (a0 + b0) / 2), rel=1e-3)


def test_no_queries_in_steady_state(house: House) -> None:
    house.wait_up()
    time.sleep(0.3)
    commands = house.sim.stats.commands_total
    started = time.monotonic()
    for _ in range(5):
        house.snapshot()
    keepalives = (time.monotonic() - started) / 0.5 + 2
    assert house.sim.stats.commands_total - commands <= keepalives


def test_a_silent_processor_gives_up_0_then_recovers_without_a_restart(house: House) -> None:
    house.wait_up()
    house.sim.set_quirks(silent=True)
    down = house.wait_up(0.0)
    assert "lutron_zone" not in down  # no stale levels reported as current
    assert any("keepalive" in m for m in house.emu.log_messages("W"))
    house.sim.set_quirks(silent=False)
    snap = house.wait_up(1.0, timeout=30)
    assert snap["lutron_processor"][0].metric.fields["disconnects_total"] >= 1.0
    assert house.emu.restarts == 0 and house.emu.exits == []


def test_a_processor_that_goes_away_and_comes_back(house: House) -> None:
    house.wait_up()
    house.sim.stop()
    house.wait_up(0.0)
    house.sim = SimulatorThread(
        house.design, xml=house.xml, telnet_port=house.ports[0], http_port=house.ports[1], service_time=0.0
    ).start()
    house.wait_up(1.0, timeout=40)
    assert house.emu.restarts == 0


def test_stop_closes_within_a_second_of_stdin_eof(house: House) -> None:
    house.wait_up()
    result = house.emu.stop()
    assert result.step == "stdin-eof" and result.returncode == 0
    assert result.took < 1.0
    assert (house.tmp_path / "cache" / "counters.json").exists()


def test_sigterm_stops_cleanly(house: House) -> None:
    house.wait_up()
    pid = house.emu.pid
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    house.emu.wait_for(lambda: house.emu.exits)
    assert house.emu.exits[0].returncode == 0


def test_energy_counters_continue_after_a_restart(house: House) -> None:
    zone = next(z for z in house.design.zones if z.dimmable and z.rated_watts > 0)
    house.sim.set_level(zone.id, 100.0)
    house.wait_up()
    time.sleep(1.0)
    before = house.zone_fields(house.snapshot())[zone.id]["energy_joules_total"]
    assert before > 0
    os.kill(house.emu.pid, signal.SIGTERM)  # type: ignore[arg-type]
    house.emu.wait_for(lambda: house.emu.restarts >= 1, timeout=10)
    after = house.zone_fields(house.wait_up())[zone.id]["energy_joules_total"]
    assert after >= before


HOSTILE = [
    'Say "hi"',
    "a,b=c d",
    "C:\\dir\\",
    "line1\nline2",
    "tab\there",
    "🔌 Zürich 💡",
    "",
    "#hash",
    "  ",
    "end\\",
]


def test_hostile_names_always_make_valid_lines(tmp_path: Path) -> None:
    h = House(tmp_path, GeneratorParams(seed=4, hostile_names=True))
    zones = tuple(replace(z, name=HOSTILE[i % len(HOSTILE)]) for i, z in enumerate(h.design.zones))
    keypads = tuple(replace(k, name=HOSTILE[-i % len(HOSTILE)]) for i, k in enumerate(h.design.keypads))
    h.design = replace(h.design, zones=zones, keypads=keypads)
    h.sim.set_design(h.design, design_to_xml(h.design))
    h.start()
    try:
        snap = h.wait_up()
        no_parse_errors(h.emu)
        by_id = {int(m.metric.tags["zone_id"]): m.metric.tags for m in snap["lutron_zone"]}
        for zone in h.design.zones:
            expected = safe_tag_value(zone.name) or f"zone {zone.id}"
            assert by_id[zone.id]["zone"] == expected
            if "\\" not in zone.name and "\n" not in zone.name and "\t" not in zone.name:
                assert expected == zone.name.strip() or not zone.name.strip()  # read back as the same text
        assert {m.metric.tags["keypad"] for m in snap["lutron_button"]} >= {
            'Say "hi"',
            "a,b=c d",
            "🔌 Zürich 💡",
        }
    finally:
        h.close()


def test_bad_login_reports_up_0_and_never_the_password(tmp_path: Path) -> None:
    h = House(tmp_path, GeneratorParams(seed=2))
    h.config = write_config(tmp_path, *h.ports, password="Wr0ng-Pa55")
    h.emu = ExecdEmulator([*PLUGIN, str(h.config)], restart_delay=0.5)
    h.start()
    try:
        h.emu.wait_for(lambda: any("bad login" in m for m in h.emu.log_messages("E")))
        first = h.snapshot()["lutron_processor"][0].metric.fields
        # The series starts at 0, so Prometheus' increase() sees the first bad login.
        assert first["up"] == 0.0 and first["bad_logins_total"] == 0.0
        fields = h.snapshot()["lutron_processor"][0].metric.fields
        assert fields["up"] == 0.0 and fields["bad_logins_total"] == 1.0
        # No design was read: no zone count that an alert could take for an empty design.
        assert fields["design_loaded"] == 0.0 and "zones" not in fields
        assert h.sim.stats.bad_logins == 1  # backing off: no second try for minutes
        assert all("Wr0ng-Pa55" not in m for m in h.emu.log_messages())
        assert h.emu.exits == []
    finally:
        h.close()


def test_unreachable_processor_keeps_reporting_up_0(tmp_path: Path) -> None:
    config = write_config(tmp_path, free_port(), free_port())
    with ExecdEmulator([*PLUGIN, str(config)], restart_delay=0.5) as emu:
        emu.wait_for(lambda: any("refused" in m for m in emu.log_messages("W")))
        for n in range(1, 4):
            assert emu.tick()
            emu.wait_for(lambda n=n: sum(1 for m in emu.metrics if m.metric.name == "lutron_processor") >= n)
        assert all(m.metric.fields["up"] == 0.0 for m in emu.metrics)
        assert emu.exits == []
        result = emu.stop()
    assert result.step == "stdin-eof"


@pytest.mark.parametrize("mode", ["SIGHUP", "SIGUSR1", "SIGUSR2"])
def test_signal_modes_snapshot_per_signal(tmp_path: Path, mode: str) -> None:
    h = House(tmp_path, GeneratorParams(seed=1), signal_mode=mode, signal=f'"{mode}"')
    h.start()
    try:
        snap = h.wait_up()
        assert len(snap["lutron_zone"]) == len(h.design.zones)
        assert h.emu.exits == []
    finally:
        h.close()


def test_none_mode_emits_on_its_own_and_on_change(tmp_path: Path) -> None:
    h = House(
        tmp_path,
        GeneratorParams(seed=1),
        signal_mode="none",
        signal='"none"',
        interval='"1s"',
        emit_on_change="true",
    )
    h.start()
    try:
        h.emu.wait_for(lambda: any(m.metric.name == "lutron_zone" for m in h.emu.metrics), timeout=15)
        zone = next(z for z in h.design.zones if z.dimmable)
        time.sleep(0.5)
        before = len(h.emu.metrics)
        h.sim.set_level(zone.id, 12.0)
        change = h.emu.wait_for(
            lambda: next(
                (
                    m
                    for m in h.emu.metrics[before:]
                    if m.metric.name == "lutron_zone"
                    and m.metric.tags["zone_id"] == str(zone.id)
                    and m.metric.fields.get("level") == 12.0
                ),
                None,
            ),
            timeout=5,
        )
        assert change is not None
    finally:
        h.close()


def test_a_design_change_while_running_reloads_without_dropping_the_session(house: House) -> None:
    keep = next(z for z in house.design.zones if z.dimmable and z.rated_watts > 0)
    gone = next(z for z in house.design.zones if z.id != keep.id)
    house.sim.set_level(keep.id, 100.0)
    house.wait_up()
    time.sleep(0.5)
    energy_before = house.zone_fields(house.snapshot())[keep.id]["energy_joules_total"]
    new_zone = replace(gone, id=9001, name="New Pendants")
    zones = (*(z for z in house.design.zones if z.id != gone.id), new_zone)
    renamed = tuple(replace(z, name="Renamed Lights") if z.id == keep.id else z for z in zones)
    project = replace(house.design.project, export_date="06/01/2025", export_time="08:00:00")
    new_design = replace(house.design, project=project, zones=renamed)
    house.sim.set_design(new_design, design_to_xml(new_design))
    # The keepalive (every 0.5 s here) reports the new revision; the plugin fetches and swaps.
    house.emu.wait_for(lambda: any("06/01/2025" in m for m in house.emu.log_messages("I")), timeout=15)
    deadline = time.monotonic() + 10
    while True:
        snap = house.snapshot()
        fields = house.zone_fields(snap)
        if 9001 in fields and "level" in fields[9001]:
            break
        assert time.monotonic() < deadline, "the new zone never showed up"
        time.sleep(0.2)
    assert gone.id not in fields
    assert fields[keep.id]["level"] == 100.0
    assert fields[keep.id]["energy_joules_total"] > energy_before  # state and counter kept
    names = {m.metric.tags["zone_id"]: m.metric.tags["zone"] for m in snap["lutron_zone"]}
    assert names[str(keep.id)] == "Renamed Lights"
    processor = snap["lutron_processor"][0].metric.fields
    assert processor["connects_total"] == 1.0 and processor["disconnects_total"] == 0.0
    history = (house.tmp_path / "cache" / "history.json").read_text()
    assert "06/01/2025" in history


def test_an_unreachable_processor_with_a_cached_design_runs_on_the_cache(house: House) -> None:
    house.wait_up()
    house.emu.stop()
    house.sim.stop()
    emu = ExecdEmulator([*PLUGIN, str(house.config)], restart_delay=0.5)
    emu.start()
    try:
        emu.wait_for(lambda: any("stale-cache" in m for m in emu.log_messages("I")))
        assert emu.tick()
        processor = emu.wait_for(lambda: [m for m in emu.metrics if m.metric.name == "lutron_processor"])[0]
        assert processor.metric.fields["up"] == 0.0
        assert processor.metric.fields["zones"] == float(len(house.design.zones))
        assert processor.metric.tags["project"] == safe_tag_value(house.design.project.name)
    finally:
        emu.stop()


def test_a_closed_stdout_means_a_quiet_exit(tmp_path: Path) -> None:
    config = write_config(tmp_path, free_port(), free_port())
    proc = subprocess.Popen(
        [*PLUGIN, str(config)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        proc.stdout.close()  # type: ignore[union-attr]  # Telegraf went away
        time.sleep(1.0)
        proc.stdin.write(b"\n")  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]
        assert proc.wait(timeout=10) == 0
        err = proc.stderr.read().decode()  # type: ignore[union-attr]
        assert "Traceback" not in err and "BrokenPipe" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdin, proc.stderr):
            with contextlib.suppress(BrokenPipeError):
                pipe.close()  # type: ignore[union-attr]


def test_check_reports_what_works_and_what_does_not(tmp_path: Path) -> None:
    design, xml = generate(GeneratorParams(seed=6))
    ports = (free_port(), free_port())
    with SimulatorThread(design, xml=xml, telnet_port=ports[0], http_port=ports[1]):
        good = write_config(tmp_path, *ports)
        result = subprocess.run([*CHECK, str(good)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"{len(design.zones)} zones" in result.stdout and "logged in" in result.stdout
        bad = tmp_path / "bad.toml"
        bad.write_text(good.read_text().replace('password = "default"', 'password = "N0pe-secret"'))
        result = subprocess.run([*CHECK, str(bad)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 1
        assert "FAIL  telnet login" in result.stdout and "bad login" in result.stdout
        assert "N0pe-secret" not in result.stdout + result.stderr


def test_a_backlog_of_newlines_makes_one_snapshot(tmp_path: Path) -> None:
    config = write_config(tmp_path, free_port(), free_port())
    proc = subprocess.Popen(
        [*PLUGIN, str(config)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        time.sleep(1.5)  # started and idle
        os.write(proc.stdin.fileno(), b"\n" * 50)  # type: ignore[union-attr]  # 50 queued ticks
        time.sleep(1.0)
        proc.stdin.close()  # type: ignore[union-attr]
        out = proc.stdout.read()  # type: ignore[union-attr]  # until the plugin exits on EOF
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    assert out.decode().count("lutron_processor,") == 1
