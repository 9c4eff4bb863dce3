"""The simulator speaks the rest of the house: contact inputs and sensors, time clocks, shade groups,
tilt, green modes, batteries, the clock and the sun (raw socket client, in-process)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sim_fixtures import FIXED_NOW, RawClient, raw_connect  # noqa: F401 - fixture

from telegraf_lutron.design import Design
from telegraf_lutron.simulator import Simulator
from telegraf_lutron.simulator.activity import HouseActivity
from telegraf_lutron.simulator.designgen import GeneratorParams, generate_design

DESIGN = generate_design(GeneratorParams(seed=5))
RA2 = generate_design(GeneratorParams.radiora2(seed=5))


def first(design: Design, kind: str) -> tuple[int, int]:
    i = next(i for i in design.inputs if i.kind == kind)
    return i.device, i.component


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(DESIGN, service_time=0, clock=lambda: FIXED_NOW) as s:
        yield s


@pytest.fixture
async def client(sim: Simulator, raw_connect: Callable[[Simulator], Awaitable[RawClient]]) -> RawClient:  # noqa: F811
    c = await raw_connect(sim)
    await c.login()
    await c.prompt_off()
    return c


async def test_a_door_reports_and_answers_its_state(sim: Simulator, client: RawClient) -> None:
    device, cci = first(DESIGN, "contact")
    assert await client.query(f"?DEVICE,{device},{cci},3") == f"~DEVICE,{device},{cci},4"  # open
    sim.set_input(device, cci, True)
    assert await client.read_until(b"\r\n") == f"~DEVICE,{device},{cci},3\r\n".encode()
    assert await client.query(f"?DEVICE,{device},{cci},3") == f"~DEVICE,{device},{cci},3"
    client.send(f"#DEVICE,{device},{cci},4")  # a contact can be opened over integration too
    assert await client.read_until(b"\r\n") == f"~DEVICE,{device},{cci},4\r\n".encode()


async def test_occupancy_moves_the_rooms_motion_sensor(sim: Simulator, client: RawClient) -> None:
    device, component = first(DESIGN, "motion")
    room = DESIGN.keypad(device).area_key
    sim.set_occupancy(room, True)
    seen = await client.read_for(0.2)
    assert f"~GROUP,{room},3,3\r\n".encode() in seen
    assert f"~DEVICE,{device},{component},3\r\n".encode() in seen


async def test_time_clocks_report_mode_events_and_runs(sim: Simulator, client: RawClient) -> None:
    clock = DESIGN.timeclocks[0]
    assert await client.query("#MONITORING,9,1") == "~MONITORING,9,1"  # off by default (docs/protocol.md §2)
    assert await client.query(f"?TIMECLOCK,{clock.id},1") == f"~TIMECLOCK,{clock.id},1,1"
    assert await client.query(f"?TIMECLOCK,{clock.id},6,2") == f"~TIMECLOCK,{clock.id},6,2,1"
    assert await client.query(f"?TIMECLOCK,{clock.id},6,99") == "~ERROR,4"
    assert await client.query(f"?TIMECLOCK,{clock.id},2") == f"~TIMECLOCK,{clock.id},2,06:32"
    sim.enable_timeclock_event(clock.id, 2, False)
    assert await client.read_until(b"\r\n") == f"~TIMECLOCK,{clock.id},6,2,2\r\n".encode()
    sim.set_timeclock_mode(clock.id, 2)
    assert await client.read_until(b"\r\n") == f"~TIMECLOCK,{clock.id},1,2\r\n".encode()
    sim.run_timeclock_event(clock.id, 3)  # "Evening Lights": a zone goes on, source 16
    seen = await client.read_for(0.2)
    assert seen.startswith(f"~TIMECLOCK,{clock.id},5,3\r\n".encode()) and b",29,16\r\n" in seen


async def test_shade_groups_tilt_and_green_modes(sim: Simulator, client: RawClient) -> None:
    group = DESIGN.shade_groups[0]
    assert await client.query(f"?SHADEGRP,{group.id},1") == f"~SHADEGRP,{group.id},1,0.00"
    client.send(f"#SHADEGRP,{group.id},1,40")
    seen = await client.read_for(0.2)
    assert seen.startswith(f"~SHADEGRP,{group.id},1,40.00\r\n".encode())
    green = DESIGN.green_modes[0]
    assert await client.query(f"?MODE,{green.id},1") == f"~MODE,{green.id},1,1"
    sim.set_green_mode(green.id, 3)
    assert await client.read_for(0.1) == b""  # green mode changes are not reported
    assert await client.query(f"?MODE,{green.id},1") == f"~MODE,{green.id},1,3"
    blind = next((z for z in DESIGN.zones if z.output_type == "VENETIAN_BLIND"), None)
    if blind is not None:
        assert await client.query(f"?OUTPUT,{blind.id},9") == f"~OUTPUT,{blind.id},9,50.00"
        sim.set_tilt(blind.id, 20.0, lift=80.0)
        assert await client.read_until(b"\r\n") == f"~OUTPUT,{blind.id},10,80.00,20.00\r\n".encode()


async def test_batteries_clock_and_sun(raw_connect: Callable[[Simulator], Awaitable[RawClient]]) -> None:  # noqa: F811
    async with Simulator(RA2, system="RA2", service_time=0, clock=lambda: FIXED_NOW, clock_skew=90) as s:
        c = await raw_connect(s)
        await c.login(prompt=b"GNET> ")
        await c.prompt_off(b"GNET> ")
        pico = next(k for k in RA2.battery_devices)
        assert await c.query(f"?DEVICE,{pico.id},1,22") == f"~DEVICE,{pico.id},1,22,0,1,2,0"
        s.set_battery(pico.id, 3)
        assert await c.query(f"?DEVICE,{pico.id},1,22") == f"~DEVICE,{pico.id},1,22,0,1,3,0"
        assert await c.query("?SYSTEM,1") == "~SYSTEM,1,10:14:14"  # 90 s ahead of FIXED_NOW
        assert await c.query("?SYSTEM,5") == "~SYSTEM,5,-8:00"
        assert await c.query("?SYSTEM,7") == "~SYSTEM,7,06:32:00"
        assert await c.query("?SYSTEM,6") == "~SYSTEM,6,19:47:00"
        assert await c.query("?SHADEGRP,1,1") == "~ERROR,6"  # HomeWorks QS only


async def test_activity_opens_doors_runs_time_clocks_and_drains_a_battery(
    raw_connect: Callable[[Simulator], Awaitable[RawClient]],  # noqa: F811
) -> None:
    async with Simulator(DESIGN, service_time=0) as s:
        c = await raw_connect(s)
        await c.login()
        await c.prompt_off()
        assert await c.query("#MONITORING,9,1") == "~MONITORING,9,1"  # time clocks: off by default
        activity = HouseActivity(s, rate=0, seed=3)
        for _ in range(400):
            activity.step()
        seen = await c.read_for(0.3)
        contacts = [i for i in DESIGN.inputs if i.kind == "contact"]
        assert contacts and any(f"~DEVICE,{i.device},{i.component},".encode() in seen for i in contacts)
        assert b"~TIMECLOCK," in seen and b",5," in seen
        assert any(status != 2 for status in s.house.batteries.values())
