"""Kinds end to end: `telegraf-lutron run` under the execd emulator against the simulator, on a
generated house that holds every OutputType (lights, ceiling and exhaust fans, shades and blinds,
motors, pulsed and maintained contact closures), with `[[zone]]` overrides in its TOML."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
from execd_emulator import ExecdEmulator, ReceivedMetric
from free_ports import free_port

from telegraf_lutron.design import OUTPUT_KINDS, Zone
from telegraf_lutron.simulator import SimulatorThread
from telegraf_lutron.simulator.designgen import GeneratorParams, generate

pytestmark = [pytest.mark.subprocess]

PLUGIN = [sys.executable, "-m", "telegraf_lutron", "run", "--config"]
COMMAND = [sys.executable, "-m", "telegraf_lutron"]
Snapshot = dict[str, list[ReceivedMetric]]


class KindsHouse:
    """A simulated house with every kind of output, and the plugin under the execd emulator."""

    def __init__(self, tmp_path: Path, seed: int = 11) -> None:
        self.design, self.xml = generate(GeneratorParams(seed=seed))
        assert set(OUTPUT_KINDS) <= {z.output_type for z in self.design.zones}
        self.tmp_path = tmp_path
        self.ports = (free_port(), free_port())
        self.sim = SimulatorThread(
            self.design,
            xml=self.xml,
            telnet_port=self.ports[0],
            http_port=self.ports[1],
            service_time=0.0,
            shade_travel=0.3,
        ).start()
        self.emu: ExecdEmulator | None = None

    def config(self, zones: str = "") -> Path:
        path = self.tmp_path / "lutron.toml"
        path.write_text(
            f"""
[processor]
host = "127.0.0.1"
telnet_port = {self.ports[0]}
http_port = {self.ports[1]}
password = "default"
keepalive_interval = "0.5s"
keepalive_timeout = "3s"  # not 1 s: a CPU shared with other tests can delay a reply that long
[plugin]
cache_dir = "{self.tmp_path / "cache"}"
site = "kinds"
{zones}"""
        )
        return path

    def start(self, zones: str = "") -> ExecdEmulator:
        self.emu = ExecdEmulator([*PLUGIN, str(self.config(zones))], signal="STDIN", restart_delay=0.5)
        self.emu.start()
        self.emu.wait_for(lambda: any("starting:" in m for m in self.emu.log_messages("I")))  # type: ignore[union-attr]
        return self.emu

    def stop(self) -> None:
        if self.emu is not None:
            self.emu.stop()
            self.emu = None

    def close(self) -> None:
        self.stop()
        self.sim.stop()

    def snapshot(self, timeout: float = 10.0) -> Snapshot:
        emu = self.emu
        assert emu is not None
        before = len(emu.metrics)
        assert emu.tick()
        first = emu.wait_for(
            lambda: next((m for m in emu.metrics[before:] if m.metric.name == "lutron_processor"), None),
            timeout,
        )
        ts = first.metric.ts
        seen = -1
        while seen != (seen := sum(1 for m in emu.metrics[before:] if m.metric.ts == ts)):
            time.sleep(0.1)
        out: Snapshot = {}
        for m in emu.metrics[before:]:
            if m.metric.ts == ts:
                out.setdefault(m.metric.name, []).append(m)
        return out

    def wait_up(self, timeout: float = 20.0) -> Snapshot:
        deadline = time.monotonic() + timeout
        while True:
            snap = self.snapshot()
            if snap["lutron_processor"][0].metric.fields["up"] == 1.0 and "lutron_zone" in snap:
                return snap
            assert time.monotonic() < deadline, self.emu.log_messages()[-5:] if self.emu else ""
            time.sleep(0.2)

    def settled(self) -> Snapshot:
        """A snapshot once every change sent so far (shades travel 0.3 s) has reached the plugin."""
        time.sleep(0.8)
        return self.snapshot()

    def of_kind(self, kind: str) -> list[Zone]:
        return [z for z in self.design.zones if z.kind == kind]


def zones(snap: Snapshot) -> dict[int, dict[str, object]]:
    return {int(m.metric.tags["zone_id"]): m.metric.fields for m in snap["lutron_zone"]}


def areas(snap: Snapshot) -> dict[str, dict[str, object]]:
    return {m.metric.tags["area_id"]: m.metric.fields for m in snap["lutron_area"]}


def power(snap: Snapshot) -> dict[str, object]:
    return snap["lutron_power"][0].metric.fields


def ts(snap: Snapshot) -> float:
    stamp = snap["lutron_power"][0].metric.ts
    assert stamp is not None
    return stamp / 1e9


@pytest.fixture
def house(tmp_path: Path) -> Iterator[KindsHouse]:
    h = KindsHouse(tmp_path)
    yield h
    h.close()


def test_every_zone_carries_its_kind_and_lights_total_counts_lights(house: KindsHouse) -> None:
    house.start()
    snap = house.wait_up()
    tags = {int(m.metric.tags["zone_id"]): m.metric.tags["kind"] for m in snap["lutron_zone"]}
    assert tags == {z.id: z.kind for z in house.design.zones}
    assert set(tags.values()) == {"light", "fan", "shade", "motor", "contact"}
    assert power(snap)["lights_total"] == float(len(house.of_kind("light")))
    assert "zones_on" not in power(snap) and "zones_total" not in power(snap)


def test_opening_every_shade_changes_lights_on_and_watts_by_nothing(house: KindsHouse) -> None:
    lights = [z for z in house.of_kind("light") if z.rated_watts > 0][:4]
    for zone in lights:
        house.sim.set_level(zone.id, 60.0)
    house.start()
    house.wait_up()
    before = house.settled()
    shades = house.of_kind("shade")
    assert len(shades) >= 4
    for shade in shades:
        house.sim.set_level(shade.id, 100.0)
    after = house.settled()
    assert [zones(after)[s.id]["level"] for s in shades] == [100.0] * len(shades)
    assert power(before)["shades_open"] == 0.0 and power(after)["shades_open"] == float(len(shades))
    for field in ("lights_on", "watts", "fans_on", "lights_total"):
        assert power(after)[field] == power(before)[field], field
    assert power(before)["lights_on"] == float(len(lights))
    for area_id, fields in areas(after).items():
        assert fields["lights_on"] == areas(before)[area_id]["lights_on"]
        assert fields["watts"] == areas(before)[area_id]["watts"]
    assert all(zones(after)[s.id]["watts"] == 0.0 for s in shades)


def test_a_fan_at_low_draws_its_low_speed_watts(house: KindsHouse) -> None:
    fans = [z for z in house.of_kind("fan") if z.output_type == "CEILING_FAN_TYPE"]
    stepped, plain = fans[0], next(z for z in fans[1:] if z.rated_watts > 0)
    house.start(f"[[zone]]\nid = {stepped.id}\nspeed_watts = [0, 15, 30, 45, 60]\n")
    house.wait_up()
    house.sim.set_level(stepped.id, 25.0)
    house.sim.set_level(plain.id, 25.0)
    snap = house.settled()
    assert zones(snap)[stepped.id]["level"] == 25.0
    assert zones(snap)[stepped.id]["watts"] == 15.0
    assert zones(snap)[plain.id]["watts"] == pytest.approx(plain.rated_watts * 0.25)
    assert power(snap)["fans_on"] == 2.0
    house.sim.set_level(stepped.id, 60.0)  # the processor snaps it to medium
    snap = house.settled()
    assert (zones(snap)[stepped.id]["level"], zones(snap)[stepped.id]["watts"]) == (50.0, 30.0)


def test_a_pulsed_contact_is_never_queried_never_on_and_counts_its_pulses(house: KindsHouse) -> None:
    gate = next(z for z in house.design.zones if z.pulsed)
    house.start()
    first = house.wait_up()
    assert house.sim.stats.output_queries.get(gate.id, 0) == 0
    assert sum(house.sim.stats.output_queries.values()) >= len(house.design.zones) - 1
    lights_on = power(first)["lights_on"]
    for _ in range(3):
        house.sim.set_level(gate.id, 100.0)
        time.sleep(0.1)
    snap = house.settled()
    fields = zones(snap)[gate.id]
    assert (fields["level"], fields["watts"], fields["pulses_total"]) == (0.0, 0.0, 3.0)
    assert power(snap)["lights_on"] == lights_on
    assert not any("pulses_total" in f for zid, f in zones(snap).items() if zid != gate.id)
    house.stop()  # pulses survive a restart, like energy
    house.start()
    assert zones(house.wait_up())[gate.id]["pulses_total"] == 3.0


def test_overrides_by_id_and_glob_change_power_and_energy_from_the_next_snapshot(house: KindsHouse) -> None:
    unknown = [z for z in house.of_kind("light") if z.rated_watts == 0]
    by_id = unknown[0]
    glob = f"{unknown[1].area}/{unknown[1].name[:-1]}*"
    by_glob = [z for z in house.design.zones if fnmatchcase(f"{z.area}/{z.name}", glob)]
    assert unknown[1] in by_glob and by_id not in by_glob
    for zone in (by_id, *by_glob):
        house.sim.set_level(zone.id, 100.0)
    house.start()
    house.wait_up()
    old = house.settled()
    assert all(zones(old)[z.id]["watts"] == 0.0 for z in (by_id, *by_glob))
    old_energy = {z.id: zones(old)[z.id]["energy_joules_total"] for z in (by_id, *by_glob)}
    house.stop()

    entries = f'[[zone]]\nid = {by_id.id}\nwatts = 100\n[[zone]]\nname = "{glob}"\nwatts = 50\n'
    entries += '[[zone]]\nname = "Nowhere/*"\nwatts = 5\n'
    emu = house.start(entries)
    first = house.wait_up()
    assert zones(first)[by_id.id]["watts"] == 100.0 and zones(first)[by_id.id]["rated_watts"] == 100.0
    assert all(zones(first)[z.id]["watts"] == 50.0 for z in by_glob)
    # Energy counted before the override stays as it was; from here on it grows at the new watts.
    for zone in (by_id, *by_glob):
        assert zones(first)[zone.id]["energy_joules_total"] >= old_energy[zone.id]
    # A counter's first line carries where it started (metrics.CounterStarts): measure from the next.
    first = house.snapshot()
    time.sleep(2.0)
    second = house.snapshot()
    seconds = ts(second) - ts(first)
    delta = {
        z.id: zones(second)[z.id]["energy_joules_total"] - zones(first)[z.id]["energy_joules_total"]
        for z in house.design.zones
    }  # type: ignore[operator]
    assert delta[by_id.id] == pytest.approx(100.0 * seconds, rel=0.02)
    for zone in by_glob:
        assert delta[zone.id] == pytest.approx(50.0 * seconds, rel=0.02)
    area = str(by_id.area_key)
    members = [z for z in house.design.zones if z.area_key == by_id.area_key]
    assert areas(second)[area]["watts"] == pytest.approx(sum(zones(second)[z.id]["watts"] for z in members))  # type: ignore[misc]
    area_delta = areas(second)[area]["energy_joules_total"] - areas(first)[area]["energy_joules_total"]  # type: ignore[operator]
    assert area_delta == pytest.approx(sum(delta[z.id] for z in members), rel=1e-6)
    house_delta = power(second)["energy_joules_total"] - power(first)["energy_joules_total"]  # type: ignore[operator]
    assert house_delta == pytest.approx(sum(delta.values()), rel=1e-6)
    assert power(second)["watts"] == pytest.approx(sum(f["watts"] for f in zones(second).values()))  # type: ignore[misc]
    warnings = [m for m in emu.log_messages("W") if "[[zone]]" in m]
    assert len(warnings) == 1 and "Nowhere/*" in warnings[0]


def test_a_bad_zone_entry_stops_run_with_exit_2_and_one_line(house: KindsHouse) -> None:
    path = house.config('[[zone]]\nid = 27\nwatts = "sixty"\n')
    result = subprocess.run(
        [*PLUGIN, str(path)], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert (
        len(lines) == 1
        and lines[0].startswith("E! ")
        and "[[zone]] #1: watts: expected a number of watts" in lines[0]
    )
    assert "default" not in lines[0]  # no secret


def test_design_wattage_and_check_speak_of_lights_fans_and_loads(house: KindsHouse) -> None:
    url = f"http://127.0.0.1:{house.ports[1]}/DbXmlInfo.xml"
    template = subprocess.run(
        [*COMMAND, "design", "wattage", "--url", url], capture_output=True, timeout=60, check=True
    ).stdout.decode()
    missing = [z for z in house.design.zones if z.kind in ("light", "fan") and z.rated_watts == 0]
    missing_ids = [
        int(line.split("=")[1])
        for line in template.split("# --- wattage known")[0].splitlines()
        if line.startswith("id = ")
    ]
    assert missing_ids == [z.id for z in missing]
    light = next(z for z in missing if z.kind == "light")
    path = house.config(f"[[zone]]\nid = {light.id}\nwatts = 40\n[[zone]]\nid = 99999\nwatts = 1\n")
    report = subprocess.run(
        [*COMMAND, "check", "--config", str(path)], capture_output=True, text=True, timeout=60
    ).stdout
    lights = sum(1 for z in missing if z.kind == "light") - 1
    fans = sum(1 for z in missing if z.kind == "fan")
    n_lights, n_fans = len(house.of_kind("light")), len(house.of_kind("fan"))
    assert f"no wattage for {lights} of {n_lights} lights, {fans} of {n_fans} fans and 0 of 0 loads" in report
    assert "[[zone]] #2 (id = 99999) matches no zone" in report
    assert "design wattage" in report
