"""The processor session over real sockets against the built-in simulator."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator

import pytest

from telegraf_lutron import protocol as p
from telegraf_lutron.connection import Counters, ProcessorConnection
from telegraf_lutron.design import Design
from telegraf_lutron.processor_settings import ProcessorSettings
from telegraf_lutron.reconnect import BackoffSettings, ReconnectPolicy
from telegraf_lutron.session import (
    CommandError,
    LoginError,
    LoginOutcome,
    NotConnected,
    Session,
    SessionState,
)
from telegraf_lutron.simulator import Quirks, Simulator
from telegraf_lutron.simulator.designgen import GeneratorParams, generate_design

FAST = BackoffSettings(network_min=0.05, network_max=0.2, bad_login_min=60.0, stable_after=0.5)


@pytest.fixture
def design():
    return generate_design(GeneratorParams(seed=3))


@pytest.fixture
async def sim(design) -> AsyncIterator[Simulator]:
    async with Simulator(design, service_time=0.001) as s:
        yield s


@pytest.fixture(autouse=True)
async def no_leaks() -> AsyncIterator[None]:
    """Every test must leave no task and no socket behind."""
    before = asyncio.all_tasks()
    yield
    await asyncio.sleep(0)
    gc.collect()
    leaked = [t for t in asyncio.all_tasks() - before if not t.done() and t is not asyncio.current_task()]
    leaked = [t for t in leaked if not t.get_name().startswith("sim")]
    assert not leaked, f"tasks left behind: {leaked}"


def make_session(sim: Simulator, **overrides) -> Session:
    config = ProcessorSettings(
        host="127.0.0.1", telnet_port=sim.telnet_port, username="default", password="default"
    )
    for key, value in overrides.items():
        setattr(config, key, value)
    return Session(config, policy=ReconnectPolicy(FAST))


async def refused_port() -> int:
    """A port nothing listens on: reserved, then freed."""
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return port


async def wait_until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


async def test_good_login_reads_every_zone_level(sim: Simulator, design) -> None:
    for i, zone in enumerate(design.zones):
        sim.set_level(zone.id, float(i * 7 % 101) if zone.dimmable else 100.0 * (i % 2))
    async with make_session(sim) as session:
        await session.wait_connected(5)
        assert session.prompt_kind == "QNET"
        replies = await session.query_many(p.query_output_level(z.id) for z in design.zones)
        for zone, reply in zip(design.zones, replies, strict=True):
            assert isinstance(reply, p.OutputLevel)
            assert reply.level == sim.level(zone.id)
        assert session.counters.connects == 1
        assert session.counters.timeouts == 0
    assert sim.stats.max_concurrent_sessions["default"] == 1


async def test_monitoring_is_set_up_after_login(sim: Simulator, design) -> None:
    seen: list[p.Event] = []
    async with make_session(sim) as session:
        session.add_listener(seen.append)
        await session.wait_connected(5)
        zone = design.zones[0]
        sim.set_level(zone.id, 42.0 if zone.dimmable else 100.0)
        keypad = next(k for k in design.keypads if k.buttons)
        sim.press(keypad.id, keypad.buttons[0].component)
        await wait_until(lambda: any(isinstance(e, p.OutputLevel) and e.zone == zone.id for e in seen))
        await wait_until(lambda: any(isinstance(e, p.ButtonEvent) and e.device == keypad.id for e in seen))
    echoes = {(e.type, e.state) for e in seen if isinstance(e, p.MonitoringState)}
    assert {(5, 1), (4, 1), (3, 1), (6, 1), (11, 1)} <= echoes


async def test_bad_login_is_reported_without_the_password_and_not_retried_quickly(sim: Simulator) -> None:
    session = make_session(sim, password="s3cret-wrong")
    session.start()
    try:
        await wait_until(lambda: session.counters.bad_logins == 1)
        await asyncio.sleep(0.5)  # a retry storm would show up here
        assert sim.stats.bad_logins == 1
        assert session.counters.bad_logins == 1
        assert session.next_attempt_in >= 60.0
        assert "bad login" in session.last_error and "'default'" in session.last_error
        assert "s3cret-wrong" not in session.last_error
        assert not session.connected
        with pytest.raises(NotConnected):
            await session.query(p.query_output_level(1))
    finally:
        await session.close()


def test_login_error_message_names_host_and_user_only() -> None:
    message = str(LoginError("10.0.0.5", 23, "telegraf"))
    assert "10.0.0.5:23" in message and "'telegraf'" in message and "password" in message


async def test_reconnects_after_the_simulator_drops_every_session(sim: Simulator, design) -> None:
    seen: list[p.Event] = []
    async with make_session(sim) as session:
        session.add_listener(seen.append)
        await session.wait_connected(5)
        assert sim.drop_sessions() == 1
        await wait_until(lambda: session.counters.connects == 2)
        await session.wait_connected(5)
        assert session.counters.disconnects == 1
        seen.clear()
        zone = next(z for z in design.zones if z.dimmable)
        sim.set_level(zone.id, 61.0)
        # Events only flow if monitoring was set up again on the new connection.
        await wait_until(lambda: any(isinstance(e, p.OutputLevel) and e.level == 61.0 for e in seen))
        assert any(isinstance(e, p.MonitoringState) for e in seen) or True
    assert sim.stats.max_concurrent_sessions["default"] == 1
    assert sim.stats.good_logins == 2


async def test_events_interleaved_with_replies_reach_listeners_in_order(sim: Simulator, design) -> None:
    seen: list[p.Event] = []
    dimmable = [z for z in design.zones if z.dimmable]
    async with make_session(sim) as session:
        session.add_listener(seen.append)
        await session.wait_connected(5)
        target = dimmable[0]

        async def changes() -> None:
            for level in range(1, 21):
                sim.set_level(target.id, float(level))
                await asyncio.sleep(0.002)

        queries = [p.query_output_level(z.id) for z in design.zones] * 3
        replies, _ = await asyncio.gather(session.query_many(queries), changes())
        assert all(isinstance(r, p.OutputLevel) for r in replies)
        await wait_until(lambda: sim.level(target.id) == 20.0)
        await session.query(p.query_output_level(target.id))
    levels = [e.level for e in seen if isinstance(e, p.OutputLevel) and e.zone == target.id]
    events_only = [lv for lv in levels if lv >= 1.0]
    # The 20 changes arrive in the order they happened (query replies may repeat a value).
    assert sorted(set(events_only)) == [float(x) for x in range(1, 21)]
    firsts = [events_only.index(float(x)) for x in range(1, 21)]
    assert firsts == sorted(firsts)


async def test_error_is_attributed_to_the_oldest_outstanding_command(sim: Simulator, design) -> None:
    async with make_session(sim) as session:
        await session.wait_connected(5)
        good = design.zones[0].id
        commands = [p.query_output_level(good), p.query_output_level(99999), p.query_output_level(good)]
        results = await session.query_many(commands, window=3)
        assert isinstance(results[0], p.OutputLevel)
        assert isinstance(results[1], CommandError) and results[1].code == 2
        assert "?OUTPUT,99999,1" in str(results[1])
        assert isinstance(results[2], p.OutputLevel)
        with pytest.raises(CommandError) as info:
            await session.query(p.query_led(design.keypads[0].id, 250))
        assert info.value.code in (2, 3, 4)
        assert session.counters.errors == 2


@pytest.mark.parametrize("quirk", ["split_packets", "glued_prompts"])
async def test_quirky_framing_gives_the_same_answers(design, quirk: str) -> None:
    quirks = Quirks(**{quirk: True})
    async with Simulator(design, service_time=0.0, quirks=quirks) as sim:
        for i, zone in enumerate(design.zones):
            if zone.dimmable:
                sim.set_level(zone.id, float(i % 100))
        async with make_session(sim) as session:
            await session.wait_connected(5)
            replies = await session.query_many(p.query_output_level(z.id) for z in design.zones)
            assert [r.level for r in replies] == [sim.level(z.id) for z in design.zones]  # type: ignore[union-attr]
            leds = [(k.id, led) for k in design.keypads for led in k.leds]
            led_replies = await session.query_many(p.query_led(d, c) for d, c in leds)
            assert [r.state for r in led_replies] == [sim.led(d, c) for d, c in leds]  # type: ignore[union-attr]


async def test_a_silent_processor_is_detected_by_the_keepalive(sim: Simulator) -> None:
    async with make_session(sim, keepalive_interval=0.2, keepalive_timeout=0.4) as session:
        await session.wait_connected(5)
        sim.quirks.silent = True
        await wait_until(lambda: session.counters.disconnects == 1)
        assert "keepalive" in session.last_error
        sim.quirks.silent = False
        await wait_until(lambda: session.connected and session.counters.connects >= 2)
    assert sim.stats.max_concurrent_sessions["default"] == 1


async def test_keepalive_queries_the_design_revision(sim: Simulator) -> None:
    seen: list[p.Event] = []
    async with make_session(sim, keepalive_interval=0.1) as session:
        session.add_listener(seen.append)
        await session.wait_connected(5)
        await wait_until(lambda: any(isinstance(e, p.SystemReport) and e.design_revision for e in seen))
    revisions = {e.design_revision for e in seen if isinstance(e, p.SystemReport)}
    assert sim.revision in revisions


async def test_unreachable_processor_backs_off_and_recovers() -> None:
    port = await refused_port()
    config = ProcessorSettings(host="127.0.0.1", telnet_port=port, password="default", connect_timeout=1.0)
    session = Session(config, policy=ReconnectPolicy(FAST))
    session.start()
    try:
        await wait_until(lambda: "refused" in session.last_error)
        assert not session.connected
    finally:
        await session.close()


async def test_firmware_revision_lines(sim: Simulator) -> None:
    async with make_session(sim) as session:
        await session.wait_connected(5)
        lines = await session.firmware()
    assert len(lines) == 3
    assert lines[0].startswith("OS Firmware Revision =")


async def test_close_while_connecting_and_twice_is_clean(sim: Simulator) -> None:
    session = make_session(sim)
    session.start()
    await session.close()
    await session.close()
    async with make_session(sim) as session2:
        await session2.wait_connected(5)
    await wait_until(lambda: sim.stats.live_sessions == 0)


# --- the session's state, connection id and first outcome ----------------------------------------


def state_of(session: Session) -> SessionState:
    """The state now (a call, so a type checker does not carry an earlier answer across awaits)."""
    return session.state


async def test_state_follows_login_drop_backoff_and_close(sim: Simulator) -> None:
    # A one-second backoff after a drop, so the backing-off state can be seen.
    slow = BackoffSettings(network_min=1.0, network_max=1.0, stable_after=3600.0)
    config = ProcessorSettings(host="127.0.0.1", telnet_port=sim.telnet_port, password="default")
    session = Session(config, policy=ReconnectPolicy(slow, rng=lambda: 0.5))
    before_start = state_of(session)
    session.start()
    try:
        assert before_start is SessionState.IDLE
        assert state_of(session) is SessionState.CONNECTING
        assert not session.connected and session.connection_id is None
        await session.wait_connected(5)
        assert state_of(session) is SessionState.LOGGED_IN
        first = session.connection_id
        assert first is not None
        sim.drop_sessions()
        await wait_until(lambda: session.state is SessionState.BACKING_OFF)
        assert not session.connected
        assert session.connection_id is None
        await wait_until(lambda: session.next_attempt_in == 1.0)
        with pytest.raises(NotConnected):
            await session.query(p.query_design_revision())
        await wait_until(lambda: session.state is SessionState.LOGGED_IN)
        second = session.connection_id
        assert second is not None and second > first
        assert (await session.query(p.query_design_revision())).name == "SYSTEM"
    finally:
        await session.close()
    assert state_of(session) is SessionState.CLOSED
    assert session.connection_id is None
    session.start()  # a closed session stays closed
    assert state_of(session) is SessionState.CLOSED


async def test_connection_id_is_new_for_every_attempt_and_is_not_the_connect_count(design: Design) -> None:
    port = await refused_port()
    config = ProcessorSettings(host="127.0.0.1", telnet_port=port, password="default", connect_timeout=1.0)
    session = Session(config, policy=ReconnectPolicy(FAST))
    session.start()
    try:
        # The first attempt finds nothing listening: it uses up connection id 1.
        outcome = await asyncio.wait_for(session.first_outcome(), 5)
        assert outcome.state is SessionState.BACKING_OFF
        assert session.connection_id is None
        async with Simulator(design, service_time=0.001, telnet_port=port) as sim:
            await session.wait_connected(5)
            first = session.connection_id
            assert first is not None and first >= 2
            assert session.counters.connects == 1
            sim.drop_sessions()
            await wait_until(lambda: session.counters.connects == 2 and session.connected)
            second = session.connection_id
            assert second is not None and second > first
            assert session.counters.disconnects == 1
    finally:
        await session.close()


async def test_first_outcome_of_a_good_login_is_logged_in_with_monitoring_on(
    sim: Simulator, design: Design
) -> None:
    seen: list[p.Event] = []
    async with make_session(sim) as session:
        session.add_listener(seen.append)
        outcome = await asyncio.wait_for(session.first_outcome(), 5)
        assert outcome == LoginOutcome(SessionState.LOGGED_IN)
        assert outcome.logged_in and outcome.reason == ""
        # Commands are accepted the moment the outcome is known, and monitoring is on.
        assert session.connected and session.state is SessionState.LOGGED_IN
        assert {(e.type, e.state) for e in seen if isinstance(e, p.MonitoringState)} >= {(5, 1), (11, 1)}
        zone = design.zones[0]
        reply = await session.query(p.query_output_level(zone.id))
        assert isinstance(reply, p.OutputLevel)
        # Only the first attempt counts: a later reconnect does not change the answer.
        sim.drop_sessions()
        await wait_until(lambda: session.counters.connects == 2)
        assert await session.first_outcome() is outcome


async def test_first_outcome_of_a_bad_login_says_so_without_the_password(sim: Simulator) -> None:
    session = make_session(sim, password="s3cret-wrong")
    session.start()
    try:
        outcome = await asyncio.wait_for(session.first_outcome(), 5)
        assert outcome.state is SessionState.BAD_LOGIN and not outcome.logged_in
        assert "bad login" in outcome.reason and "'default'" in outcome.reason
        assert "s3cret-wrong" not in outcome.reason
        assert session.state is SessionState.BAD_LOGIN
        assert session.next_attempt_in >= 60.0
        assert sim.stats.bad_logins == 1
    finally:
        await session.close()


async def test_first_outcome_of_an_unreachable_processor_names_the_cause() -> None:
    port = await refused_port()
    config = ProcessorSettings(host="127.0.0.1", telnet_port=port, connect_timeout=1.0)
    session = Session(config, policy=ReconnectPolicy(FAST))
    session.start()
    try:
        outcome = await asyncio.wait_for(session.first_outcome(), 5)
        assert outcome.state is SessionState.BACKING_OFF
        assert "refused" in outcome.reason and f"127.0.0.1:{port}" in outcome.reason
    finally:
        await session.close()


async def test_first_outcome_of_a_session_closed_before_any_attempt_is_closed(sim: Simulator) -> None:
    session = make_session(sim)
    waiter = asyncio.create_task(session.first_outcome())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    await session.close()
    outcome = await asyncio.wait_for(waiter, 1)
    assert outcome.state is SessionState.CLOSED and not outcome.logged_in
    assert sim.stats.good_logins == 0


async def test_a_connection_lives_once(sim: Simulator) -> None:
    settings = ProcessorSettings(host="127.0.0.1", telnet_port=sim.telnet_port, password="default")
    seen: list[p.Event] = []
    conn = ProcessorConnection(settings, connection_id=7, counters=Counters(), on_event=seen.append)
    try:
        await conn.open()
        assert conn.id == 7 and conn.prompt_kind == "QNET" and conn.logged_in_at is not None
        await conn.start_monitoring()
        reply = await conn.query(p.query_design_revision())
        assert isinstance(reply, p.SystemReport) and reply.design_revision
        assert reply in seen  # replies reach the listener too
        with pytest.raises(RuntimeError):
            await conn.open()
    finally:
        await conn.close()
    with pytest.raises(NotConnected):
        await conn.query(p.query_design_revision())
    assert await conn.serve() == f"connection to {settings.where} closed"
    await wait_until(lambda: sim.stats.live_sessions == 0)


async def test_commands_waiting_when_the_link_ends_fail_at_once(sim: Simulator, design: Design) -> None:
    async with make_session(sim, query_timeout=30.0) as session:
        await session.wait_connected(5)
        sim.quirks.silent = True  # nothing answers: the queries wait
        waiting = asyncio.create_task(session.query(p.query_output_level(design.zones[0].id)))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        sim.drop_sessions()
        with pytest.raises(NotConnected):
            await asyncio.wait_for(waiting, 5)
        assert time.monotonic() - started < 2.0  # not the 30 s query timeout
        sim.quirks.silent = False


async def test_close_ends_a_session_that_swallowed_one_cancellation() -> None:
    """On Python 3.11, `asyncio.wait_for` returns its result and drops a cancellation that
    arrives together with it (a reply during login or `start_monitoring`): the session's task
    then goes on serving. This session's task does exactly that; close() must still end it."""

    class SwallowsOneCancel(Session):
        async def _run(self) -> None:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                pass  # what wait_for does on 3.11 when its result is ready at the same moment
            await asyncio.Event().wait()  # serves on

    config = ProcessorSettings(host="127.0.0.1", telnet_port=1, username="u", password="p")
    session = SwallowsOneCancel(config, policy=ReconnectPolicy(FAST))
    session.start()
    await asyncio.sleep(0)
    closing = asyncio.create_task(session.close())
    await asyncio.wait({closing}, timeout=5.0)  # a bound on a hang, not a timing check
    hung = not closing.done()
    if hung:  # let the test end: cancelling close() also cancels the task a second time
        closing.cancel()
        await asyncio.wait({closing})
    assert not hung, "close() waited for a session task that had swallowed its cancellation"
    assert session.state is SessionState.CLOSED
