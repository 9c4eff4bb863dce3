"""The rest of the house end to end: `telegraf-lutron run` under the execd emulator against the
simulator. Contact inputs and motion sensors, time clocks, system variables, shade groups, tilt,
green modes, batteries and the processor's clock, each in the plugin's lines; contact and motion
events are not counted as button presses."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from execd_emulator import ExecdEmulator, ReceivedMetric
from test_plugin_e2e import PLUGIN, free_port, no_parse_errors, write_config

from telegraf_lutron.design import Design
from telegraf_lutron.simulator import SimulatorThread
from telegraf_lutron.simulator.designgen import GeneratorParams, generate

pytestmark = [pytest.mark.subprocess]

SKEW = 600.0  # the simulated processor's clock runs 10 minutes ahead
SYSVARS = '\n[[sysvar]]\nid = 5\nname = "Away"\nstates = ["Home", "Away", "Night"]\n'


class Rest:
    def __init__(self, tmp_path: Path, params: GeneratorParams, system: str = "HWQS") -> None:
        self.design, xml = generate(params)
        self.tmp_path = tmp_path
        ports = (free_port(), free_port())
        self.sim = SimulatorThread(
            self.design,
            xml=xml,
            system=system,
            telnet_port=ports[0],
            http_port=ports[1],
            service_time=0.0,
            sysvars={5: 1},
            clock_skew=SKEW,
        ).start()
        config = write_config(tmp_path, *ports)
        config.write_text(config.read_text() + SYSVARS)
        self.emu = ExecdEmulator([*PLUGIN, str(config)], restart_delay=0.5)
        self.emu.start()

    def close(self) -> None:
        self.emu.stop()
        self.sim.stop()

    def snapshot(self) -> dict[str, list[ReceivedMetric]]:
        before = len(self.emu.metrics)
        assert self.emu.tick()
        first = self.emu.wait_for(
            lambda: next((m for m in self.emu.metrics[before:] if m.metric.name == "lutron_processor"), None)
        )
        seen = -1
        while seen != len(self.emu.metrics):
            seen = len(self.emu.metrics)
            time.sleep(0.1)
        out: dict[str, list[ReceivedMetric]] = {}
        for m in self.emu.metrics[before:]:
            if m.metric.ts == first.metric.ts:
                out.setdefault(m.metric.name, []).append(m)
        return out

    def until(self, check, timeout: float = 15.0) -> dict[str, list[ReceivedMetric]]:  # type: ignore[no-untyped-def]
        """Snapshots until `check(snapshot)` is true; the snapshot that passed."""
        deadline = time.monotonic() + timeout
        while True:
            snap = self.snapshot()
            try:
                if check(snap):
                    return snap
            except (KeyError, StopIteration, ValueError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"not reached: {sorted(snap)} {self.emu.log_messages()[-5:]}")
            time.sleep(0.2)


def series(snap: dict[str, list[ReceivedMetric]], name: str, **tags: object) -> dict[str, object]:
    (m,) = [m for m in snap.get(name, []) if all(m.metric.tags.get(k) == str(v) for k, v in tags.items())]
    return m.metric.fields


@pytest.fixture(scope="module")
def hwqs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rest]:
    rest = Rest(tmp_path_factory.mktemp("hwqs"), GeneratorParams(seed=5))
    yield rest
    rest.close()


@pytest.fixture(scope="module")
def ra2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rest]:
    params = GeneratorParams.radiora2(seed=5)
    design, _ = generate(params)
    rest = Rest(tmp_path_factory.mktemp("ra2"), params, system="RA2")
    rest.sim.set_battery(design.battery_devices[0].id, 3)  # low before the plugin's first read
    yield rest
    rest.close()


def contact(design: Design) -> tuple[int, int]:
    i = next(i for i in design.inputs if i.kind == "contact")
    return i.device, i.component


def test_contacts_and_motion_are_inputs_and_never_button_presses(hwqs: Rest) -> None:
    device, cci = contact(hwqs.design)
    sensor = next(i for i in hwqs.design.inputs if i.kind == "motion")
    snap = hwqs.until(lambda s: "active" in series(s, "lutron_input", device_id=device, component=cci))
    assert series(snap, "lutron_input", device_id=device, component=cci) == {
        "active": 0.0,
        "changes_total": 0.0,
    }
    presses = {
        (m.metric.tags["keypad_id"], m.metric.tags["component"]): m.metric.fields["presses_total"]
        for m in snap["lutron_button"]
    }
    hwqs.sim.set_input(device, cci, True)  # the door closes
    hwqs.sim.set_input(device, cci, False)  # and opens again
    hwqs.sim.set_input(device, cci, True)
    hwqs.sim.set_occupancy(sensor.area_key, True)  # the room's sensor reports ~DEVICE,<id>,2,3
    snap = hwqs.until(  # the door: open, closed, open, closed; and the sensor's own report
        lambda s: (
            series(s, "lutron_input", device_id=device, component=cci)["changes_total"] == 3.0
            and series(s, "lutron_input", device_id=sensor.device, component=2).get("active") == 1.0
        )
    )
    assert series(snap, "lutron_input", device_id=device, component=cci)["active"] == 1.0
    motion = series(snap, "lutron_input", device_id=sensor.device, component=2)
    assert motion["active"] == 1.0
    tags = next(
        m.metric.tags for m in snap["lutron_input"] if m.metric.tags["device_id"] == str(sensor.device)
    )
    assert tags["input"] == "motion" and tags["area_id"] == str(sensor.area_key)
    after = {
        (m.metric.tags["keypad_id"], m.metric.tags["component"]): m.metric.fields["presses_total"]
        for m in snap["lutron_button"]
    }
    assert after == presses  # not one press counted
    assert (str(device), str(cci)) not in after
    no_parse_errors(hwqs.emu)


def test_time_clocks_run_events_and_change_mode(hwqs: Rest) -> None:
    clock = hwqs.design.timeclocks[0]
    hwqs.until(lambda s: series(s, "lutron_timeclock", timeclock_id=clock.id)["mode"] == 1.0)
    hwqs.sim.run_timeclock_event(clock.id, 3)
    hwqs.sim.run_timeclock_event(clock.id, 1)
    hwqs.sim.set_timeclock_mode(clock.id, 2)
    snap = hwqs.until(lambda s: series(s, "lutron_timeclock", timeclock_id=clock.id)["mode"] == 2.0)
    assert series(snap, "lutron_timeclock", timeclock_id=clock.id)["events_run_total"] == 2.0


def test_sysvars_are_read_at_sync_then_follow_events(hwqs: Rest) -> None:
    snap = hwqs.until(lambda s: "lutron_sysvar" in s)
    assert series(snap, "lutron_sysvar", sysvar_id=5, sysvar="Away") == {"state": 1.0}
    hwqs.sim.set_sysvar(5, 3)
    hwqs.until(lambda s: series(s, "lutron_sysvar", sysvar_id=5)["state"] == 3.0)


def test_shade_groups_move_and_green_modes_are_read(hwqs: Rest) -> None:
    group = hwqs.design.shade_groups[0]
    green = hwqs.design.green_modes[0]
    snap = hwqs.until(lambda s: series(s, "lutron_shade_group", shadegroup_id=group.id)["level"] == 0.0)
    assert series(snap, "lutron_green_mode", area_id=green.id) == {"step": 1.0}  # read after login
    hwqs.sim.set_shade_group(group.id, 65.0)
    hwqs.until(lambda s: series(s, "lutron_shade_group", shadegroup_id=group.id)["level"] == 65.0)


def test_the_processor_clock_sun_and_firmware(hwqs: Rest) -> None:
    snap = hwqs.until(lambda s: "clock_offset_seconds" in s["lutron_processor"][0].metric.fields)
    fields = snap["lutron_processor"][0].metric.fields
    assert fields["clock_offset_seconds"] == pytest.approx(SKEW, abs=2.0)
    assert (fields["sunrise_seconds"], fields["sunset_seconds"]) == (23520.0, 71220.0)
    (info,) = snap["lutron_processor_info"]
    assert info.metric.tags == {"site": "test house", "host": "127.0.0.1", "firmware": "15.2.0"}
    assert info.metric.fields == {"info": 1.0}


def test_the_live_state_file_shows_what_is_open_now(hwqs: Rest) -> None:
    device, cci = contact(hwqs.design)
    hwqs.sim.set_input(device, cci, False)
    deadline = time.monotonic() + 15
    while True:
        hwqs.snapshot()
        doc = json.loads((hwqs.tmp_path / "cache" / "live.json").read_text())
        row = next(r for r in doc["inputs"] if (r["device_id"], r["component"]) == (device, cci))
        if row["active"] is False:
            break
        assert time.monotonic() < deadline, row
        time.sleep(0.2)
    assert doc["current"] is True and doc["sysvars"][0]["name"] == "Away"
    assert {t["id"] for t in doc["timeclocks"]} == {t.id for t in hwqs.design.timeclocks}


def test_ra2_batteries_are_read_after_login(ra2: Rest) -> None:
    low, *good = ra2.design.battery_devices
    snap = ra2.until(lambda s: len(s["lutron_battery"]) == len(ra2.design.battery_devices))
    assert series(snap, "lutron_battery", device_id=low.id) == {"status": 1.0}
    tags = next(m.metric.tags for m in snap["lutron_battery"] if m.metric.tags["device_id"] == str(low.id))
    assert tags["area_id"] == str(low.area_key) and tags["device"] == low.name
    assert all(series(snap, "lutron_battery", device_id=k.id) == {"status": 0.0} for k in good)
    assert "lutron_shade_group" not in snap and "lutron_green_mode" not in snap  # none on RadioRA 2
    no_parse_errors(ra2.emu)
