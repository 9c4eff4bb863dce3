"""The simulator tells what made each change (`~OUTPUT,<id>,29,<source>`, docs/protocol.md §11) and
keeps its own account of energy by cause and in vacant rooms (raw socket client, in-process)."""

from __future__ import annotations

import re

import pytest
from sim_fixtures import FIXED_NOW, build_design, lutron_sim, raw_client, raw_connect, sim_design  # noqa: F401

from telegraf_lutron import protocol as p
from telegraf_lutron.simulator import Simulator
from telegraf_lutron.simulator.activity import HouseActivity
from telegraf_lutron.simulator.designgen import GeneratorParams, generate_design
from telegraf_lutron.simulator.house import House
from telegraf_lutron.simulator.stats import EnergyAccount, SimulatorStats
from telegraf_lutron.state import HouseState

KITCHEN_LIGHTS = (27, 28, 29)  # build_design: the kitchen (IID 10) has occupancy sensors


async def test_sensors_switch_a_rooms_lights_with_source_10(lutron_sim: Simulator, raw_client) -> None:  # noqa: F811
    lutron_sim.set_occupancy(10, True, lights=True)
    expected = b"~GROUP,10,3,3\r\n" + b"".join(
        f"~OUTPUT,{z},1,100.00\r\n~OUTPUT,{z},29,10\r\n~OUTPUT,{z},30,1,100.00\r\n".encode()
        for z in KITCHEN_LIGHTS
    )
    assert await raw_client.read_until(b"~OUTPUT,29,30,1,100.00\r\n") == expected
    lutron_sim.set_level(27, 0.0)  # someone switches one off at the dimmer
    await raw_client.read_until(b"~OUTPUT,27,30,1,0.00\r\n")
    lutron_sim.set_occupancy(10, False, lights=True)  # only the lights still on go off
    expected = b"~GROUP,10,3,4\r\n" + b"".join(
        f"~OUTPUT,{z},1,0.00\r\n~OUTPUT,{z},29,10\r\n~OUTPUT,{z},30,1,0.00\r\n".encode() for z in (28, 29)
    )
    assert await raw_client.read_until(b"~OUTPUT,29,30,1,0.00\r\n") == expected
    lutron_sim.set_occupancy(10, True)  # without lights: the report only
    assert await raw_client.read_for(0.2) == b"~GROUP,10,3,3\r\n"


async def test_an_integration_command_says_so(raw_client) -> None:  # noqa: F811
    # Source 6 for any integration session's command, the plugin's own included.
    assert await raw_client.query("#OUTPUT,28,1,40") == "~OUTPUT,28,1,40.00"
    assert await raw_client.read_until(b"\r\n") == b"~OUTPUT,28,29,6\r\n"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_account_integrates_energy_by_cause_and_in_vacant_rooms() -> None:
    clock, stats = Clock(), SimulatorStats()
    house = House(build_design(), account=EnergyAccount(stats, clock))  # every zone 100 W at 100 %
    house.button(40, 1, 3)  # keypad 40 button 1 turns zone 27 on (source 8)
    clock.now = 10.0
    house.set_level(28, 50.0, 6)  # an integration command: 50 W
    clock.now = 20.0
    house.set_level(28, 50.0, 24)  # set again at the same level: no change, the cause stays
    house.set_level(31, 100.0, 24)  # the hall (no sensors), local control
    clock.now = 30.0
    house.set_occupancy(10, True, lights=True)  # 29 on, source 10 (27 and 28 are on already)
    clock.now = 40.0
    house.set_occupancy(10, False)  # vacant, the lights stay on
    clock.now = 50.0
    house.set_occupancy(10, False, lights=True)  # the sensors switch them off
    clock.now = 60.0
    house.account.advance()
    assert stats.energy_by_cause == {
        "keypad": pytest.approx(100.0 * 50),  # zone 27 from 0 to 50 s (switched off by the sensors)
        "integration": pytest.approx(50.0 * 40),  # zone 28 at 50 % from 10 to 50 s
        "local": pytest.approx(100.0 * 40),  # the hall from 20 to 60 s
        "occupancy": pytest.approx(100.0 * 20),  # zone 29 from 30 to 50 s
    }
    # The kitchen starts vacant (its sensors say so); occupied from 30 to 40 s.
    expected_vacant = 100.0 * 10 + (100.0 + 50.0) * 20 + (100.0 + 50.0 + 100.0) * 10
    assert stats.unoccupied_energy == {10: pytest.approx(expected_vacant)}
    assert sum(stats.energy_by_cause.values()) == pytest.approx(sum(stats.zone_energy.values()))


def test_house_activity_uses_every_cause_and_leaves_lights_on_in_vacant_rooms() -> None:
    design = generate_design(GeneratorParams(seed=5))
    sim = Simulator(design, service_time=0, clock=lambda: FIXED_NOW)
    sources: set[str] = set()
    left_on = 0

    def publish(events, origin=None):  # type: ignore[no-untyped-def]
        for event in events:
            for line in event.lines:
                if m := re.fullmatch(r"~OUTPUT,\d+,29,(\d+)", line):
                    sources.add(m.group(1))
        return []

    sim.publish = publish  # type: ignore[method-assign]
    activity = HouseActivity(sim, rate=0, seed=3)
    house = sim.house
    rooms = list(house.occupancy_areas())
    assert rooms
    for _ in range(600):
        activity.step()
        left_on += any(
            house.occupancy[room] == 4 and any(house.levels[z] > 0 for z in house.area_lights(room))
            for room in rooms
        )
    assert {"8", "16", "10", "6", "24"} <= sources
    assert left_on > 0  # a vacant room with a light on, now and then


def test_the_plugins_state_fed_the_simulators_lines_agrees_with_its_account_exactly() -> None:
    """The activity's report lines, given to the plugin's HouseState at the instants the simulator
    made them: energy by cause and in vacant rooms equal the simulator's own account (no delivery
    delay here, so exactly)."""
    design = generate_design(GeneratorParams(seed=11))
    sim = Simulator(design, service_time=0, clock=lambda: FIXED_NOW)
    clock = Clock()
    sim.house.account.clock = clock
    state = HouseState(design, now=0.0)
    for zone in design.zones:  # what the plugin reads at connect: every level, every occupancy
        state.apply(p.OutputLevel((), zone.id, sim.house.levels[zone.id]), 0.0)
    for area in design.occupancy_areas:
        state.apply(p.OccupancyState((), area.iid, sim.house.occupancy[area.iid]), 0.0)

    def publish(events, origin=None):  # type: ignore[no-untyped-def]
        for event in events:
            if event.delay <= 0:  # a moving shade's later positions: 0 W, left out
                for line in event.lines:
                    parsed = p.parse_line(line)
                    assert parsed is not None
                    state.apply(parsed, clock.now)
        return []

    sim.publish = publish  # type: ignore[method-assign]
    activity = HouseActivity(sim, rate=0, seed=4)
    for step in range(1500):
        clock.now = 5.0 + step * 0.37
        activity.step()
    clock.now += 10.0
    state.advance(clock.now)
    sim.house.account.advance()
    stats = sim.stats
    for cause in p.CAUSE_NAMES:
        assert state.cause_energy[cause] == pytest.approx(stats.energy_by_cause.get(cause, 0.0), rel=1e-9), (
            cause
        )
    assert {c for c, v in stats.energy_by_cause.items() if v > 0} >= {
        "keypad",
        "occupancy",
        "integration",
        "local",
    }
    for area in design.occupancy_areas:
        assert state.unoccupied_energy[area.key] == pytest.approx(stats.unoccupied_energy[area.iid], rel=1e-9)
    assert sum(stats.unoccupied_energy.values()) > 0
