"""The simulator at runtime: design swaps, HTTP, house activity, SimulatorThread, clean shutdown."""

from __future__ import annotations

import asyncio
import socket

import pytest
from sim_fixtures import RawClient, build_design

from telegraf_lutron.design import Design
from telegraf_lutron.simulator import Quirks, Simulator, SimulatorThread
from telegraf_lutron.simulator.activity import HouseActivity


async def http_get(port: int, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    raw = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), headers, body


# -- design changes -------------------------------------------------------------------------------


async def test_set_design_is_a_new_revision_that_keeps_surviving_state(lutron_sim, raw_client):
    await raw_client.query("#MONITORING,5,2")
    raw_client.send("#OUTPUT,27,1,50", "#OUTPUT,28,1,20")
    assert await raw_client.query("?OUTPUT,28,1") == "~OUTPUT,28,1,20.00"
    lutron_sim.set_design(
        build_design("05/01/2025", "08:00:00", extra_zone=99), xml=b"<?xml version='1.0'?><Project/>"
    )
    assert await raw_client.query("?SYSTEM,10") == "~SYSTEM,05/01/2025,08:00:00"
    raw_client.send("FIRMWAREREV")
    assert b"Design Version = 2\r\n" in await raw_client.read_until(b"Build = telegraf-lutron simulator\r\n")
    assert await raw_client.query("?OUTPUT,27,1") == "~OUTPUT,27,1,50.00"
    assert await raw_client.query("?OUTPUT,99,1") == "~OUTPUT,99,1,0.00"
    status, _, body = await http_get(lutron_sim.http_port, "/DbXmlInfo.xml")
    assert (status, body) == (200, b"<?xml version='1.0'?><Project/>")


async def test_set_design_without_xml_and_an_unchanged_stamp_is_restamped(lutron_sim, raw_client):
    lutron_sim.set_design(build_design())  # the same 04/04/2025,10:12:44 stamp
    reply = await raw_client.query("?SYSTEM,10")
    assert reply.startswith("~SYSTEM,") and reply != "~SYSTEM,04/04/2025,10:12:44"
    assert lutron_sim.design.project.revision == reply.removeprefix("~SYSTEM,")
    pytest.importorskip("telegraf_lutron.simulator.designgen")
    date, time_of_day = reply.removeprefix("~SYSTEM,").split(",")
    _, _, body = await http_get(lutron_sim.http_port, "/DbXmlInfo.xml")  # generated to match
    assert f">{date}<".encode() in body and f">{time_of_day}<".encode() in body


async def test_set_design_with_its_own_xml_keeps_the_stamp_the_xml_carries(lutron_sim, raw_client):
    lutron_sim.set_design(build_design(extra_zone=99), xml=b"<?xml version='1.0'?><Project/>")
    assert await raw_client.query("?SYSTEM,10") == "~SYSTEM,04/04/2025,10:12:44"
    assert await raw_client.query("?OUTPUT,99,1") == "~OUTPUT,99,1,0.00"
    assert lutron_sim.design_version == 2


async def test_a_removed_zone_no_longer_exists(lutron_sim, raw_client):
    smaller = build_design("05/01/2025", "08:00:00")
    smaller = Design(project=smaller.project, areas=smaller.areas, zones=smaller.zones[:1], keypads=())
    lutron_sim.set_design(smaller)
    assert await raw_client.query("?OUTPUT,28,1") == "~ERROR,2"
    assert await raw_client.query("?DEVICE,40,81,9") == "~ERROR,2"


# -- HTTP -------------------------------------------------------------------------------------


async def test_http_serves_the_xml_with_its_length():
    xml = b'<?xml version="1.0" encoding="UTF-8"?>\n<Project><ProjectName ProjectName="T"/></Project>\n'
    async with Simulator(build_design(), xml=xml) as sim:
        status, headers, body = await http_get(sim.http_port, "/DbXmlInfo.xml")
        assert status == 200
        assert int(headers["content-length"]) == len(xml)
        assert body == xml
        assert (await http_get(sim.http_port, "/other.xml"))[0] == 404
        assert (await http_get(sim.http_port, "/DbXmlInfo.xml", method="POST"))[0] == 405


async def test_http_junk_quirk_puts_bytes_before_the_declaration():
    xml = b"<?xml version='1.0'?><Project/>"
    async with Simulator(build_design(), xml=xml, quirks=Quirks(xml_junk=b"\r\n  ")) as sim:
        status, headers, body = await http_get(sim.http_port, "/DbXmlInfo.xml")
        assert status == 200
        assert body == b"\r\n  " + xml
        assert int(headers["content-length"]) == len(body)


async def test_http_generates_the_xml_when_none_is_given():
    designgen = pytest.importorskip("telegraf_lutron.simulator.designgen")
    design = designgen.generate_design(designgen.GeneratorParams(seed=3))
    async with Simulator(design) as sim:
        status, _, body = await http_get(sim.http_port, "/DbXmlInfo.xml")
        assert status == 200
        assert body == designgen.design_to_xml(design)


async def test_http_can_be_switched_off():
    async with Simulator(build_design(), http_port=None) as sim:
        with pytest.raises(RuntimeError):
            _ = sim.http_port


# -- house activity ---------------------------------------------------------------------------------


async def test_activity_moves_levels_buttons_and_occupancy(lutron_sim, raw_client):
    activity = HouseActivity(lutron_sim, rate=0, seed=7)
    for _ in range(60):
        activity.step()
    seen = await raw_client.read_for(0.3)
    assert b"~OUTPUT," in seen and b",29,24\r\n" in seen
    assert b"~DEVICE,40," in seen and b",9," in seen
    assert b"~GROUP,10,3," in seen


async def test_activity_rate_runs_in_the_background(lutron_sim, raw_client):
    lutron_sim.activity_rate = 200
    assert await raw_client.read_until(b"\r\n")
    lutron_sim.activity_rate = 0


# -- shutdown -------------------------------------------------------------------------------------


async def test_stop_closes_every_socket_and_task():
    sim = Simulator(build_design(), quirks=Quirks(slow_login=30), activity_rate=5)
    await sim.start()
    port, http_port = sim.telnet_port, sim.http_port
    logged_in = await RawClient.connect(port)
    sim.quirks.slow_login = 0
    await logged_in.login()
    logged_in.send(*["?OUTPUT,27,1"] * 50)  # commands in flight
    sim.quirks.slow_login = 30
    waiting = await RawClient.connect(port)  # stuck in the slow login
    await waiting.read_exactly(7)
    waiting.send("default", "default")
    _, http_writer = await asyncio.open_connection("127.0.0.1", http_port)  # idle HTTP client
    await asyncio.sleep(0.05)

    await sim.stop()

    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert await logged_in.at_eof() and await waiting.at_eof()
    for p in (port, http_port):
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", p)
    await sim.stop()  # idempotent
    for c in (logged_in, waiting):
        await c.close()
    http_writer.close()
    await http_writer.wait_closed()


# -- SimulatorThread ----------------------------------------------------------------------------------


def recv_until(sock: socket.socket, sep: bytes) -> bytes:
    data = b""
    while sep not in data:
        chunk = sock.recv(4096)
        assert chunk, f"EOF after {data!r}"
        data += chunk
    return data


def test_simulator_thread_serves_and_controls_from_another_thread():
    with SimulatorThread(build_design(), service_time=0) as st:
        with socket.create_connection(("127.0.0.1", st.telnet_port), timeout=5) as s:
            s.sendall(b"default\r\ndefault\r\n")
            assert recv_until(s, b"\x00") == b"login: password: \r\nQNET> \x00"
            st.set_level(27, 12.5)
            assert recv_until(s, b"QNET> ") == (
                b"~OUTPUT,27,1,12.50\r\n~OUTPUT,27,29,24\r\n~OUTPUT,27,30,1,12.50\r\nQNET> "
            )
            st.tap(40, 2)
            assert b"~DEVICE,40,82,9,1\r\n" in recv_until(s, b"~DEVICE,40,2,4\r\nQNET> ")
            assert st.led(40, 82) == 1 and st.level(28) == 100.0
            st.set_occupancy(10, True)
            assert st.occupancy(10) == 3
            st.set_quirks(glued_prompts=True)
            assert st.quirks.glued_prompts
            stats = st.stats
            assert stats.live_sessions == 1 and stats.good_logins == 1
            assert st.drop_sessions() == 1
        port = st.telnet_port
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert st.stats.good_logins == 1  # still readable after the stop
    with pytest.raises(RuntimeError):
        st.set_level(27, 1)


def test_simulator_thread_reports_a_port_in_use_and_stops_cleanly():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        st = SimulatorThread(build_design(), telnet_port=busy.getsockname()[1])
        with pytest.raises(OSError):
            st.start()
    st.stop()  # nothing left to stop


def test_simulator_thread_rejects_unknown_quirks():
    with SimulatorThread(build_design()) as st:
        with pytest.raises(AttributeError):
            st.set_quirks(no_such_quirk=True)
