"""Quirks of real processors, switched on in the simulator, and the serial service time."""

from __future__ import annotations

import asyncio
import re
import time

from sim_fixtures import RawClient, build_design

from telegraf_lutron.simulator import Quirks, Simulator

PROMPT = re.compile(rb"[GQ]NET> ")


async def test_pipelined_commands_are_served_one_service_time_each():
    async with Simulator(build_design(), service_time=0.005) as sim:
        c = await RawClient.connect(sim.telnet_port)
        await c.login()
        await c.prompt_off()
        started = time.monotonic()
        c.send(*["?OUTPUT,27,1"] * 100)
        for _ in range(100):
            assert await c.read_until(b"\r\n") == b"~OUTPUT,27,1,0.00\r\n"
        assert time.monotonic() - started >= 100 * 0.005
        assert sim.stats.commands_total == 101  # and the #MONITORING
        await c.close()


async def test_service_time_is_spent_per_connection():
    async with Simulator(build_design(), service_time=0.01) as sim:
        clients = [await RawClient.connect(sim.telnet_port) for _ in range(2)]

        async def run(c: RawClient) -> float:
            await c.login()
            await c.prompt_off()
            started = time.monotonic()
            c.send(*["?SYSTEM,10"] * 20)
            for _ in range(20):
                await c.read_until(b"\r\n")
            return time.monotonic() - started

        elapsed = await asyncio.gather(*(run(c) for c in clients))
        assert all(e >= 20 * 0.01 for e in elapsed)
        assert sorted(sim.stats.commands_per_session.values()) == [21, 21]
        for c in clients:
            await c.close()


async def test_split_packets_cut_output_anywhere_but_keep_every_byte(lutron_sim, raw_client):
    lutron_sim.quirks.split_packets = True
    raw_client.send("FIRMWAREREV")
    reads = []
    data = b""
    while not data.endswith(b"Build = telegraf-lutron simulator\r\n"):
        chunk = await asyncio.wait_for(raw_client.reader.read(65536), 5)
        assert chunk
        reads.append(chunk)
        data += chunk
    assert data == (
        b"OS Firmware Revision = 15.2.0 [Jan 10 2025 10:00:00]\r\nDesign Version = 1\r\n"
        b"Build = telegraf-lutron simulator\r\n"
    )
    assert len(reads) > 1
    assert all(len(r) < len(data) for r in reads)


async def test_split_packets_also_cut_the_login_prompts():
    async with Simulator(build_design(), quirks=Quirks(split_packets=True), service_time=0) as sim:
        c = await RawClient.connect(sim.telnet_port)
        await c.login()  # the byte-exact helper reassembles across reads
        c.send("")
        assert await c.read_exactly(6) == b"QNET> "
        await c.close()


async def test_glued_prompts_land_before_and_inside_lines(lutron_sim, raw_client):
    lutron_sim.quirks.glued_prompts = True
    raw_client.send(*["?OUTPUT,27,1"] * 60)
    lines = [await raw_client.read_until(b"\r\n") for _ in range(60)]
    assert any(line.startswith(b"QNET> ~OUTPUT,27,1,0.00") for line in lines)
    assert any(line == b"~OUTPUT,QNET> 27,1,0.00\r\n" for line in lines)
    assert {PROMPT.sub(b"", line) for line in lines} == {b"~OUTPUT,27,1,0.00\r\n"}


async def test_drop_sessions_closes_every_connection_and_logins_work_after(lutron_sim, raw_connect):
    a, b = await raw_connect(lutron_sim), await raw_connect(lutron_sim)
    await a.login()
    await b.read_exactly(7)  # still logging in
    assert lutron_sim.drop_sessions() == 2
    assert await a.at_eof() and await b.at_eof()
    assert lutron_sim.stats.sessions_dropped == 2
    c = await raw_connect(lutron_sim)
    await c.login()
    await asyncio.sleep(0.05)
    assert lutron_sim.stats.live_connections == 1


async def test_drop_every_closes_sessions_periodically(lutron_sim, raw_connect):
    c = await raw_connect(lutron_sim)
    await c.login()
    lutron_sim.quirks.drop_every = 0.2
    assert await c.at_eof()
    lutron_sim.quirks.drop_every = None
    d = await raw_connect(lutron_sim)
    await d.login()


async def test_silent_processor_reads_but_never_answers(lutron_sim, raw_client):
    lutron_sim.quirks.silent = True
    raw_client.send("?OUTPUT,27,1", "?SYSTEM,10", "")
    lutron_sim.set_level(27, 50)
    assert await raw_client.read_for(0.3) == b""
    assert lutron_sim.stats.commands_total == 3  # #MONITORING,12,2 and the two queries
    lutron_sim.quirks.silent = False
    assert await raw_client.query("?OUTPUT,27,1") == "~OUTPUT,27,1,50.00"


async def test_silent_processor_does_not_even_ask_for_a_login():
    async with Simulator(build_design(), quirks=Quirks(silent=True), service_time=0) as sim:
        c = await RawClient.connect(sim.telnet_port)
        assert await c.read_for(0.2) == b""
        assert sim.stats.connections_accepted == 1
        await c.close()
