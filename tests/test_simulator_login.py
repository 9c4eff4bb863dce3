"""The simulator's login dialogue (docs/protocol.md §1), byte for byte."""

from __future__ import annotations

import asyncio
import logging
import time

from sim_fixtures import RawClient, build_design

from telegraf_lutron.simulator import Lockout, Quirks, Simulator


async def test_hwqs_login_prompts_and_success_bytes(lutron_sim, raw_connect):
    c = await raw_connect(lutron_sim)
    assert await c.read_exactly(7) == b"login: "
    c.send("default")
    assert await c.read_exactly(10) == b"password: "
    c.send("default")
    assert await c.read_exactly(9) == b"\r\nQNET> \x00"
    assert await c.read_for(0.1) == b""


async def test_ra2_login_ends_with_gnet_prompt_and_nul():
    async with Simulator(build_design(), system="RA2", service_time=0) as sim:
        c = await RawClient.connect(sim.telnet_port)
        await c.login(prompt=b"GNET> ")
        await c.close()


async def test_hwqs_bad_login_says_so_and_asks_again(lutron_sim, raw_connect):
    c = await raw_connect(lutron_sim)
    await c.read_exactly(7)
    c.send("default")
    await c.read_exactly(10)
    c.send("wrong")
    assert await c.read_exactly(20) == b"\r\nbad login\r\nlogin: "
    c.send("default")
    assert await c.read_exactly(10) == b"password: "
    c.send("default")
    assert await c.read_exactly(9) == b"\r\nQNET> \x00"


async def test_ra2_bad_login_just_asks_again():
    async with Simulator(build_design(), system="RA2", service_time=0) as sim:
        c = await RawClient.connect(sim.telnet_port)
        await c.read_exactly(7)
        c.send("nobody")
        await c.read_exactly(10)
        c.send("default")
        assert await c.read_exactly(7) == b"login: "
        c.send("default")
        await c.read_exactly(10)
        c.send("default")
        assert await c.read_exactly(9) == b"\r\nGNET> \x00"
        await c.close()


async def test_custom_users_and_pipelined_credentials():
    async with Simulator(build_design(), users={"telegraf": "pw1"}, service_time=0) as sim:
        c = await RawClient.connect(sim.telnet_port)
        c.send("telegraf", "pw1", "?OUTPUT,27,1")  # all at once, before any prompt
        assert await c.read_until(b"\x00") == b"login: password: \r\nQNET> \x00"
        assert await c.read_until(b"QNET> ") == b"~OUTPUT,27,1,0.00\r\nQNET> "
        await c.close()


async def test_login_attempts_are_recorded_in_order(lutron_sim, raw_connect):
    c = await raw_connect(lutron_sim)
    await c.read_exactly(7)
    c.send("admin", "nope")
    await c.read_until(b"bad login\r\nlogin: ")
    c.send("default", "default")
    await c.read_until(b"\x00")
    attempts = lutron_sim.stats.login_attempts
    assert [(a.user, a.ok) for a in attempts] == [("admin", False), ("default", True)]
    assert attempts[0].at <= attempts[1].at <= time.monotonic()
    assert lutron_sim.stats.good_logins == 1 and lutron_sim.stats.bad_logins == 1
    assert lutron_sim.stats.connections_accepted == 1
    assert lutron_sim.stats.live_sessions == 1


async def test_idle_connection_is_closed_after_the_login_timeout():
    async with Simulator(build_design(), login_timeout=0.2, service_time=0) as sim:
        c = await RawClient.connect(sim.telnet_port)
        assert await c.read_exactly(7) == b"login: "
        assert await c.at_eof()
        await c.close()


async def test_lockout_refuses_even_the_right_password_for_a_while():
    lockout = Lockout(max_failures=2, window=60.0, duration=0.5)
    async with Simulator(build_design(), lockout=lockout, service_time=0) as sim:
        c = await RawClient.connect(sim.telnet_port)
        await c.read_exactly(7)
        for _ in range(2):
            c.send("default", "wrong")
            await c.read_until(b"bad login\r\nlogin: ")
        assert sim.locked_out
        c.send("default", "default")
        await c.read_until(b"bad login\r\nlogin: ")
        assert sim.stats.login_attempts[-1].locked_out
        await asyncio.sleep(0.55)
        c.send("default", "default")
        assert await c.read_until(b"\x00") == b"password: \r\nQNET> \x00"
        await c.close()


async def test_slow_login_delays_the_answer_to_the_password():
    async with Simulator(build_design(), quirks=Quirks(slow_login=0.3), service_time=0) as sim:
        c = await RawClient.connect(sim.telnet_port)
        await c.read_exactly(7)
        c.send("default")
        await c.read_exactly(10)
        started = time.monotonic()
        c.send("default")
        assert await c.read_exactly(9) == b"\r\nQNET> \x00"
        assert time.monotonic() - started >= 0.3
        await c.close()


async def test_concurrent_sessions_per_user_are_counted(lutron_sim, raw_connect):
    clients = [await raw_connect(lutron_sim) for _ in range(3)]
    for c in clients:
        await c.login()
    await clients[0].close()
    c = await raw_connect(lutron_sim)
    await c.login()
    assert lutron_sim.stats.max_concurrent_sessions == {"default": 3}
    await asyncio.sleep(0.05)
    assert lutron_sim.stats.sessions_per_user == {"default": 3}


async def test_the_password_is_never_logged(caplog, raw_connect):
    caplog.set_level(logging.DEBUG)
    async with Simulator(build_design(), users={"u": "s3cr3t-Pa55"}, service_time=0) as sim:
        c = await raw_connect(sim)
        await c.read_exactly(7)
        c.send("u", "s3cr3t-Pa55x")  # wrong
        await c.read_until(b"login: ")
        c.send("u", "s3cr3t-Pa55")
        await c.read_until(b"\x00")
    assert "s3cr3t" not in caplog.text
    assert "u" in {a.user for a in sim.stats.login_attempts}
