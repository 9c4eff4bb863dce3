"""HousePolls against the simulator in-process: the clock offset, the sun, the firmware, batteries,
green modes, the rest-of-the-house read, and queries the processor does not answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sim_fixtures import FIXED_NOW

from telegraf_lutron import protocol as p
from telegraf_lutron.config import SysvarConfig
from telegraf_lutron.polls import HousePolls, processor_time, seconds_of_day, sync_commands, utc_offset
from telegraf_lutron.processor_settings import ProcessorSettings
from telegraf_lutron.reconnect import BackoffSettings, ReconnectPolicy
from telegraf_lutron.session import Session
from telegraf_lutron.simulator import Simulator
from telegraf_lutron.simulator.designgen import GeneratorParams, generate_design
from telegraf_lutron.state import HouseState

HWQS = generate_design(GeneratorParams(seed=5))
RA2 = generate_design(GeneratorParams.radiora2(seed=5))
FAST = BackoffSettings(network_min=0.05, network_max=0.2, bad_login_min=60.0, stable_after=0.5)


class Rig:
    def __init__(self, sim: Simulator, design, sysvars=()) -> None:  # type: ignore[no-untyped-def]
        config = ProcessorSettings(host="127.0.0.1", telnet_port=sim.telnet_port, password="default")
        self.sim = sim
        self.session = Session(config, policy=ReconnectPolicy(FAST))
        self.state = HouseState(design)
        self.state.rest.set_sysvars(v.id for v in sysvars)
        self.session.add_listener(lambda e: self.state.apply(e, 0.0, 0.0))
        self.polls = HousePolls(self.session, lambda: self.state.design, sysvars)


@pytest.fixture
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    system, skew = getattr(request, "param", ("HWQS", 0.0))
    design = HWQS if system == "HWQS" else RA2
    async with Simulator(design, system=system, service_time=0, sysvars={5: 2}, clock_skew=skew) as sim:
        r = Rig(sim, design, (SysvarConfig(5, "Away"),))
        r.session.start()
        await r.session.wait_connected(5)
        yield r
        await r.session.close()


def test_time_helpers() -> None:
    assert seconds_of_day("06:32:00") == 23520.0 and seconds_of_day("6:32") == 23520.0
    assert seconds_of_day("25:00:00") is None and seconds_of_day("") is None
    assert utc_offset("-8:00").utcoffset(None).total_seconds() == -8 * 3600  # type: ignore[union-attr]
    assert utc_offset("5:30").utcoffset(None).total_seconds() == 5.5 * 3600  # type: ignore[union-attr]
    assert utc_offset("+1:00") is not None and utc_offset("x") is None and utc_offset("-8:75") is None
    assert processor_time("04/04/2025", "10:12:44", utc_offset("-8:00")) == FIXED_NOW.timestamp()  # type: ignore[arg-type]
    assert processor_time("13/45/2025", "10:12:44", utc_offset("-8:00")) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("rig", [("RA2", 437.0)], indirect=True)
async def test_after_login_reads_clock_sun_firmware_and_batteries(rig: Rig) -> None:
    await rig.polls.after_login()
    clock = rig.polls.processor
    assert clock.clock_offset == pytest.approx(437.0, abs=1.5)  # measured, whole-second replies
    assert (clock.sunrise, clock.sunset) == (23520.0, 71220.0)
    assert clock.firmware == "15.2.0"  # from ?SYSTEM,8 (RadioRA 2 has no FIRMWAREREV)
    assert set(rig.state.rest.batteries) == {k.id for k in RA2.battery_devices}
    assert set(rig.state.rest.batteries.values()) == {0}


async def test_the_sync_reads_inputs_sysvars_time_clocks_and_shades(rig: Rig) -> None:
    contact = next(i for i in HWQS.inputs if i.kind == "contact")
    rig.sim.set_input(contact.device, contact.component, True)
    rig.sim.enable_timeclock_event(HWQS.timeclocks[0].id, 2, False)
    rig.sim.set_shade_group(HWQS.shade_groups[0].id, 30.0)
    await asyncio.sleep(0.1)
    rig.state.rest.inputs.clear()  # forget the events: the read alone must bring it back
    rig.state.rest.events_enabled.clear()
    rig.state.rest.shade_levels.clear()
    await rig.polls.sync()
    rest = rig.state.rest
    assert rest.inputs[(contact.device, contact.component)] is True
    assert len(rest.inputs) == len(HWQS.inputs)
    assert rest.sysvars == {5: 2}
    assert rest.clock_modes == {t.id: 1 for t in HWQS.timeclocks}
    assert rest.events_enabled[(HWQS.timeclocks[0].id, 2)] is False
    assert rest.shade_levels[HWQS.shade_groups[0].id] == 30.0
    assert rig.polls.unsupported == set()


async def test_green_modes_are_asked_for_since_they_are_not_reported(rig: Rig) -> None:
    green = HWQS.green_modes[0]
    rig.sim.set_green_mode(green.id, 2)
    await rig.polls.read_green_modes()
    assert rig.state.rest.green_steps[green.id] == 2


async def test_a_query_the_processor_refuses_is_not_asked_again(rig: Rig) -> None:
    refused = p.query_sysvar(77)  # not a variable the simulator has: ~ERROR,2
    results = await rig.polls.ask([refused, p.query_system(5)])
    assert results[0] is None and isinstance(results[1], p.SystemReport)
    assert rig.polls.unsupported == {refused.line}
    commands = rig.sim.stats.commands_total
    assert await rig.polls.ask([refused]) == []
    assert rig.sim.stats.commands_total == commands


def test_the_sync_asks_for_every_design_item() -> None:
    lines = {c.line for c in sync_commands(HWQS, [SysvarConfig(5, "Away")])}
    assert {f"?DEVICE,{i.device},{i.component},3" for i in HWQS.inputs} <= lines
    assert "?SYSVAR,5,1" in lines
    assert {f"?SHADEGRP,{g.id},1" for g in HWQS.shade_groups} <= lines
    assert {f"?TIMECLOCK,{t.id},6,{e.number}" for t in HWQS.timeclocks for e in t.events} <= lines
