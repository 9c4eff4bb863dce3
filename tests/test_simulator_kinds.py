"""The simulator plays every kind of output as a real processor does: fans at speed steps, pulsed
contact closures answering 100 and reporting only their pulse, shades reporting their position while
they move, and house activity that opens shades by day and runs fans."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from sim_fixtures import FIXED_NOW, PACIFIC, RawClient, build_design

from telegraf_lutron.design import Design, Zone, is_dimmable
from telegraf_lutron.simulator import Simulator
from telegraf_lutron.simulator.activity import HouseActivity

FAN, GATE, SHADE, PUMP = 60, 61, 62, 63


@pytest.fixture
def sim_design() -> Design:
    base = build_design()

    def zone(iid: int, name: str, otype: str) -> Zone:
        return Zone(iid, name, 10, "Kitchen", "House", otype, 0.0, is_dimmable(otype))

    extra = (
        zone(FAN, "Fan", "CEILING_FAN_TYPE"),
        zone(GATE, "Gate", "CCO_PULSED"),
        zone(SHADE, "Shade", "SYSTEM_SHADE"),
        zone(PUMP, "Pump", "CCO_MAINTAINED"),
    )
    return Design(base.project, base.areas, base.zones + extra, base.keypads)


@pytest.fixture
async def lutron_sim(sim_design: Design) -> AsyncIterator[Simulator]:
    async with Simulator(sim_design, service_time=0, clock=lambda: FIXED_NOW, shade_travel=0.4) as s:
        yield s


async def test_a_ceiling_fan_moves_between_speed_steps(raw_client: RawClient) -> None:
    raw_client.send("#OUTPUT,60,1,30")
    assert await raw_client.read_until(b"~OUTPUT,60,30,1,25.00\r\n")
    for asked, step in (("60", "50.00"), ("80", "75.00"), ("100", "100.00"), ("10", "25.00"), ("0", "0.00")):
        raw_client.send(f"#OUTPUT,60,1,{asked}")
        await raw_client.read_until(f"~OUTPUT,60,30,1,{step}\r\n".encode())
        assert await raw_client.query("?OUTPUT,60,1") == f"~OUTPUT,60,1,{step}"


async def test_a_pulsed_contact_answers_100_and_reports_only_its_pulse(
    lutron_sim: Simulator, raw_client: RawClient
) -> None:
    assert await raw_client.query("?OUTPUT,61,1") == "~OUTPUT,61,1,100.00"
    raw_client.send("#OUTPUT,61,6")
    assert (
        await raw_client.read_until(b"~OUTPUT,61,29,6\r\n") == b"~OUTPUT,61,1,100.00\r\n~OUTPUT,61,29,6\r\n"
    )
    lutron_sim.set_level(GATE, 100.0)
    assert (
        await raw_client.read_until(b"~OUTPUT,61,29,24\r\n") == b"~OUTPUT,61,1,100.00\r\n~OUTPUT,61,29,24\r\n"
    )
    lutron_sim.set_level(GATE, 0.0)  # it has no "off" to report
    assert await raw_client.read_for(0.3) == b""
    assert await raw_client.query("?OUTPUT,61,1") == "~OUTPUT,61,1,100.00"


async def test_a_maintained_contact_pulse_closes_then_opens(raw_client: RawClient) -> None:
    raw_client.send("#OUTPUT,63,6,0.25")
    await raw_client.read_until(b"~OUTPUT,63,30,1,100.00\r\n")
    await raw_client.read_until(b"~OUTPUT,63,30,1,0.00\r\n", timeout=2.0)
    raw_client.send("#OUTPUT,27,6")  # a light has no pulse
    assert await raw_client.query("?OUTPUT,27,1") == "~ERROR,3"


async def test_a_moving_shade_reports_its_target_then_its_position(
    lutron_sim: Simulator, raw_client: RawClient
) -> None:
    lutron_sim.set_level(SHADE, 30.0)
    first = await raw_client.read_until(b"~OUTPUT,62,30,1,30.00\r\n")
    assert first.startswith(b"~OUTPUT,62,1,30.00\r\n")  # the target first (docs/protocol.md §5.1)
    moves = await raw_client.read_until(b"~OUTPUT,62,32,2,30.00\r\n", timeout=2.0)
    assert moves == b"~OUTPUT,62,32,2,10.00\r\n~OUTPUT,62,32,2,20.00\r\n~OUTPUT,62,32,2,30.00\r\n"
    assert lutron_sim.level(SHADE) == 30.0


async def test_a_shade_sent_elsewhere_stops_reporting_its_old_travel(
    lutron_sim: Simulator, raw_client: RawClient
) -> None:
    lutron_sim.set_level(SHADE, 100.0)
    lutron_sim.set_level(SHADE, 0.0)  # at once back: the first travel must not report on
    received = await raw_client.read_for(0.8)
    assert b",32,2," not in received  # it had not moved yet: no travel at all
    lutron_sim.set_level(SHADE, 20.0)
    received = await raw_client.read_for(0.5)
    assert received.endswith(b"~OUTPUT,62,32,2,10.00\r\n~OUTPUT,62,32,2,20.00\r\n")


@pytest.mark.parametrize(("hour", "open_by_day"), [(10, True), (23, False)])
async def test_activity_opens_shades_by_day_and_runs_fans_at_speeds(
    sim_design: Design, hour: int, open_by_day: bool
) -> None:
    clock = datetime(2025, 4, 4, hour, 0, tzinfo=PACIFIC)
    async with Simulator(sim_design, service_time=0, clock=lambda: clock) as sim:
        activity = HouseActivity(sim, 0.0, seed=1)
        shade, fan = sim_design.zone(SHADE), sim_design.zone(FAN)
        assert shade is not None and fan is not None
        shade_levels = {activity.level_for(shade) for _ in range(50)}
        fan_levels = {activity.level_for(fan) for _ in range(50)}
        assert (min(shade_levels) > 0) if open_by_day else (shade_levels == {0.0})
        assert fan_levels == {0.0, 25.0, 50.0, 75.0, 100.0}
