"""Every command the simulator answers, its replies and events, and every ~ERROR code."""

from __future__ import annotations

import asyncio

import pytest
from sim_fixtures import RawClient, build_design

from telegraf_lutron.simulator import Simulator

# -- prompts and monitoring -----------------------------------------------------------------------


async def test_every_reply_is_followed_by_the_prompt_while_it_is_on(lutron_sim, raw_connect):
    c = await raw_connect(lutron_sim)
    await c.login()
    c.send("?OUTPUT,27,1")
    assert await c.read_until(b"QNET> ") == b"~OUTPUT,27,1,0.00\r\nQNET> "


async def test_an_empty_line_returns_a_bare_prompt(lutron_sim, raw_connect):
    c = await raw_connect(lutron_sim)
    await c.login()
    c.send("")
    assert await c.read_exactly(6) == b"QNET> "


async def test_a_crlf_split_between_packets_is_one_line_terminator(lutron_sim, raw_connect):
    c = await raw_connect(lutron_sim)
    await c.login()
    c.writer.write(b"?OUTPUT,27,1\r")
    await c.writer.drain()
    await asyncio.sleep(0.05)
    c.writer.write(b"\n")
    assert await c.read_until(b"QNET> ") == b"~OUTPUT,27,1,0.00\r\nQNET> "
    assert await c.read_for(0.1) == b""


async def test_an_endless_line_ends_the_session(lutron_sim, raw_connect):
    c = await raw_connect(lutron_sim)
    await c.login()
    c.writer.write(b"?" * 100_000)
    assert await c.at_eof()


async def test_a_command_without_reply_gets_a_bare_prompt(lutron_sim, raw_connect):
    c = await raw_connect(lutron_sim)
    await c.login()
    c.send("#MONITORING,5,2")
    await c.read_until(b"QNET> ")
    c.send("#OUTPUT,27,1,50")
    assert await c.read_exactly(6) == b"QNET> "
    assert await c.read_for(0.1) == b""


async def test_prompt_off_echo_still_carries_the_last_prompt_then_none(lutron_sim, raw_connect):
    c = await raw_connect(lutron_sim)
    await c.login()
    c.send("#MONITORING,12,2")
    assert await c.read_until(b"QNET> ") == b"~MONITORING,12,2\r\nQNET> "
    c.send("?OUTPUT,27,1", "")
    assert await c.read_until(b"\r\n") == b"~OUTPUT,27,1,0.00\r\n"
    assert await c.read_for(0.1) == b""


async def test_monitoring_is_echoed_and_queryable(raw_client):
    assert await raw_client.query("#MONITORING,10,1") == "~MONITORING,10,1"
    assert await raw_client.query("?MONITORING,10") == "~MONITORING,10,1"
    assert await raw_client.query("#MONITORING,5,2") == "~MONITORING,5,2"
    assert await raw_client.query("?MONITORING,5") == "~MONITORING,5,2"


async def test_monitoring_255_switches_everything_but_replies_and_prompt(raw_client):
    assert await raw_client.query("#MONITORING,255,2") == "~MONITORING,255,2"
    for kind in (3, 5, 6, 10):
        assert await raw_client.query(f"?MONITORING,{kind}") == f"~MONITORING,{kind},2"
    assert await raw_client.query("?MONITORING,11") == "~MONITORING,11,1"
    assert await raw_client.query("#MONITORING,255,1") == "~MONITORING,255,1"
    assert await raw_client.query("?MONITORING,255") == "~MONITORING,255,1"
    assert await raw_client.query("?MONITORING,12") == "~MONITORING,12,2"


async def test_monitoring_defaults_are_restored_at_each_login(lutron_sim, raw_connect):
    defaults = {3, 4, 5, 6, 8, 11, 12, 17, 18, 23}
    for _ in range(2):
        c = await raw_connect(lutron_sim)
        await c.login()
        await c.prompt_off()
        for kind in range(1, 28):
            expected = 1 if kind in defaults - {12} else 2
            assert await c.query(f"?MONITORING,{kind}") == f"~MONITORING,{kind},{expected}"
        await c.query("#MONITORING,5,2")
        await c.query("#MONITORING,10,1")
        await c.close()


async def test_replies_off_silences_replies_and_errors_but_not_events(lutron_sim, raw_client):
    raw_client.send("#MONITORING,11,2", "?OUTPUT,27,1", "?OUTPUT,999,1")
    assert await raw_client.read_for(0.2) == b""
    lutron_sim.set_level(28, 10)
    assert await raw_client.read_until(b"~OUTPUT,28,30,1,10.00\r\n") == (
        b"~OUTPUT,28,1,10.00\r\n~OUTPUT,28,29,24\r\n~OUTPUT,28,30,1,10.00\r\n"
    )
    assert await raw_client.query("#MONITORING,11,1") == "~MONITORING,11,1"


# -- OUTPUT -------------------------------------------------------------------------------------


async def test_query_output_reports_the_level_with_two_decimals(lutron_sim, raw_client):
    lutron_sim.set_level(27, 33.5)
    await raw_client.read_until(b"~OUTPUT,27,30,1,33.50\r\n")
    assert await raw_client.query("?OUTPUT,27,1") == "~OUTPUT,27,1,33.50"


async def test_set_output_reports_level_source_and_action_30_to_zone_monitors(
    lutron_sim, raw_client, raw_connect
):
    other = await raw_connect(lutron_sim)
    await other.login()
    await other.prompt_off()
    raw_client.send("#OUTPUT,27,1,75")
    expected = b"~OUTPUT,27,1,75.00\r\n~OUTPUT,27,29,6\r\n~OUTPUT,27,30,1,75.00\r\n"
    assert await other.read_until(b"30,1,75.00\r\n") == expected
    assert await raw_client.read_until(b"30,1,75.00\r\n") == expected  # HWQS echo to the sender
    assert lutron_sim.level(27) == 75.0


async def test_commands_ignore_case_spaces_and_leading_zeros_and_accept_bare_newlines(raw_client):
    raw_client.send("#output, 027 ,1, 050.5", end=b"\n")
    await raw_client.read_until(b"~OUTPUT,27,30,1,50.50\r\n")
    raw_client.send(" ?Output,0027,01 ", end=b"\n")
    assert (await raw_client.read_until(b"\r\n")) == b"~OUTPUT,27,1,50.50\r\n"


async def test_non_dimmable_zones_snap_to_0_or_100(raw_client):
    await raw_client.query("#MONITORING,5,2")
    raw_client.send("#OUTPUT,29,1,30")
    assert await raw_client.query("?OUTPUT,29,1") == "~OUTPUT,29,1,100.00"
    raw_client.send("#OUTPUT,29,1,0")
    assert await raw_client.query("?OUTPUT,29,1") == "~OUTPUT,29,1,0.00"


async def test_output_delay_applies_the_level_later(lutron_sim, raw_client):
    raw_client.send("#OUTPUT,31,1,40,1,2")
    assert await raw_client.query("?OUTPUT,31,1") == "~OUTPUT,31,1,0.00"
    assert await raw_client.read_until(b"~OUTPUT,31,30,1,40.00\r\n")
    assert lutron_sim.level(31) == 40.0


async def test_raise_and_lower_go_to_the_ends(raw_client):
    await raw_client.query("#MONITORING,5,2")
    raw_client.send("#OUTPUT,27,2")
    assert await raw_client.query("?OUTPUT,27,1") == "~OUTPUT,27,1,100.00"
    raw_client.send("#OUTPUT,27,3")
    assert await raw_client.query("?OUTPUT,27,1") == "~OUTPUT,27,1,0.00"


async def test_no_self_echo_quirk_hides_a_sessions_own_output_events(lutron_sim, raw_client):
    lutron_sim.quirks.no_self_echo = True
    raw_client.send("#OUTPUT,27,1,20")
    assert await raw_client.query("?OUTPUT,27,1") == "~OUTPUT,27,1,20.00"


# -- DEVICE -------------------------------------------------------------------------------------


async def test_led_query_and_set(lutron_sim, raw_client):
    assert await raw_client.query("?DEVICE,40,82,9") == "~DEVICE,40,82,9,0"
    assert await raw_client.query("#DEVICE,40,82,9,2") == "~DEVICE,40,82,9,2"  # an LED monitor sees it
    assert await raw_client.query("?DEVICE,40,82,9") == "~DEVICE,40,82,9,2"
    assert lutron_sim.led(40, 82) == 2


async def test_button_press_toggles_its_led_and_zones_and_is_reported(lutron_sim, raw_client):
    raw_client.send("#DEVICE,40,1,3")
    assert await raw_client.read_until(b"~DEVICE,40,81,9,1\r\n") == (
        b"~DEVICE,40,1,3\r\n"
        b"~OUTPUT,27,1,100.00\r\n~OUTPUT,27,29,8\r\n~OUTPUT,27,30,1,100.00\r\n"
        b"~DEVICE,40,81,9,1\r\n"
    )
    assert await raw_client.query("#DEVICE,40,1,4") == "~DEVICE,40,1,4"
    raw_client.send("#DEVICE,40,1,3")
    assert await raw_client.read_until(b"~DEVICE,40,81,9,0\r\n") == (
        b"~DEVICE,40,1,3\r\n~OUTPUT,27,1,0.00\r\n~OUTPUT,27,29,8\r\n~OUTPUT,27,30,1,0.00\r\n~DEVICE,40,81,9,0\r\n"
    )


@pytest.mark.parametrize("action", [5, 6, 32])
async def test_hold_multitap_and_hold_release_are_reported(raw_client, action):
    assert await raw_client.query(f"#DEVICE,40,2,{action}") == f"~DEVICE,40,2,{action}"


async def test_buttons_without_leds_only_report(raw_client):
    assert await raw_client.query("#DEVICE,50,2,3") == "~DEVICE,50,2,3"
    assert await raw_client.query("#DEVICE,40,18,3") == "~DEVICE,40,18,3"
    assert await raw_client.read_for(0.1) == b""


async def test_ra2_acts_on_release_has_no_hold_and_two_led_states():
    async with Simulator(build_design(), system="RA2", service_time=0) as sim:
        c = await RawClient.connect(sim.telnet_port)
        await c.login(prompt=b"GNET> ")
        await c.prompt_off(prompt=b"GNET> ")
        assert await c.query("#DEVICE,40,1,3") == "~DEVICE,40,1,3"
        assert await c.query("?DEVICE,40,81,9") == "~DEVICE,40,81,9,0"
        c.send("#DEVICE,40,1,4")
        assert (await c.read_until(b"~DEVICE,40,81,9,1\r\n")).startswith(
            b"~DEVICE,40,1,4\r\n~OUTPUT,27,1,100.00"
        )
        assert await c.query("#DEVICE,40,1,5") == "~ERROR,3"
        assert await c.query("#DEVICE,40,82,9,3") == "~ERROR,4"
        await c.close()


# -- GROUP, SYSVAR, SYSTEM, FIRMWAREREV --------------------------------------------------------------


async def test_occupancy_query_by_area_iid(lutron_sim, raw_client):
    assert await raw_client.query("?GROUP,10,3") == "~GROUP,10,3,4"
    assert await raw_client.query("?GROUP,20,3") == "~GROUP,20,3,255"  # no occupancy group
    lutron_sim.set_occupancy(10, True)
    assert await raw_client.read_until(b"\r\n") == b"~GROUP,10,3,3\r\n"
    assert await raw_client.query("?GROUP,10,3") == "~GROUP,10,3,3"


async def test_sysvar_query_set_and_report_to_type_10_monitors(raw_client):
    assert await raw_client.query("?SYSVAR,7,1") == "~SYSVAR,7,1,0"
    raw_client.send("#SYSVAR,7,1,3")
    assert await raw_client.query("?SYSVAR,7,1") == "~SYSVAR,7,1,3"  # type 10 is off by default
    await raw_client.query("#MONITORING,10,1")
    assert await raw_client.query("#SYSVAR,7,1,4") == "~SYSVAR,7,1,4"


async def test_system_time_date_and_time_zone_come_from_the_clock(raw_client):
    assert await raw_client.query("?SYSTEM,1") == "~SYSTEM,1,10:12:44"
    assert await raw_client.query("?SYSTEM,2") == "~SYSTEM,2,04/04/2025"
    assert await raw_client.query("?SYSTEM,5") == "~SYSTEM,5,-8:00"


async def test_system_10_reports_the_design_export_without_an_action_number(raw_client):
    assert await raw_client.query("?SYSTEM,10") == "~SYSTEM,04/04/2025,10:12:44"


async def test_firmwarerev_prints_three_text_lines(raw_client):
    raw_client.send("FIRMWAREREV")
    text = (await raw_client.read_until(b"Build = telegraf-lutron simulator\r\n")).decode()
    assert text.splitlines() == [
        "OS Firmware Revision = 15.2.0 [Jan 10 2025 10:00:00]",
        "Design Version = 1",
        "Build = telegraf-lutron simulator",
    ]


async def test_ra2_has_no_firmwarerev_or_sysvars():
    async with Simulator(build_design(), system="RA2", service_time=0, sysvars={7: 0}) as sim:
        c = await RawClient.connect(sim.telnet_port)
        await c.login(prompt=b"GNET> ")
        await c.prompt_off(prompt=b"GNET> ")
        assert await c.query("FIRMWAREREV") == "~ERROR,6"
        assert await c.query("?SYSVAR,7,1") == "~ERROR,6"
        await c.close()


@pytest.mark.parametrize(
    ("command", "code"),
    [
        ("?OUTPUT", 1),
        ("?OUTPUT,27", 1),
        ("?OUTPUT,27,1,5", 1),
        ("#OUTPUT,27", 1),
        ("#OUTPUT,27,1", 1),
        ("#OUTPUT,27,1,50,1,0,9", 1),
        ("?DEVICE,40,81", 1),
        ("#MONITORING,5", 1),
        ("?SYSTEM", 1),
        ("FIRMWAREREV,1", 1),
        ("#OUTPUT,1234,1,100.00", 2),
        ("?OUTPUT,9999,1", 2),
        ("?DEVICE,41,81,9", 2),
        ("?DEVICE,40,99,9", 2),
        ("#DEVICE,40,7,3", 2),
        ("?GROUP,0,3", 2),
        ("?SYSVAR,8,1", 2),
        ("#OUTPUT,27,99,1", 3),
        ("?OUTPUT,27,2", 3),
        ("?DEVICE,40,81,1", 3),
        ("#DEVICE,40,1,99", 3),
        ("?GROUP,10,1", 3),
        ("?SYSTEM,99", 3),
        ("#OUTPUT,27,1,120.00", 4),
        ("#OUTPUT,27,1,-1", 4),
        ("#OUTPUT,27,1,50,5:00:00", 4),
        ("#DEVICE,40,81,9,4", 4),
        ("#MONITORING,99,1", 4),
        ("#MONITORING,5,3", 4),
        ("#SYSVAR,7,1,256", 4),
        ("#OUTPUT,27,1,abc", 5),
        ("#OUTPUT,27,1,nan", 5),
        ("?OUTPUT,x,1", 5),
        ("#OUTPUT,27,1,50,1:2:3:4", 5),
        ("?FOO,1", 6),
        ("#RESET,0", 6),
        ("HELLO", 6),
        ("~OUTPUT,27,1,5", 6),
    ],
)
async def test_error_codes(raw_client, command, code):
    assert await raw_client.query(command) == f"~ERROR,{code}"


# -- who gets events --------------------------------------------------------------------------------


async def test_events_go_only_to_logged_in_sessions_monitoring_their_type(lutron_sim, raw_connect):
    watching = await raw_connect(lutron_sim)
    await watching.login()
    await watching.prompt_off()
    not_zone = await raw_connect(lutron_sim)
    await not_zone.login()
    await not_zone.prompt_off()
    await not_zone.query("#MONITORING,5,2")
    logging_in = await raw_connect(lutron_sim)
    await logging_in.read_exactly(7)

    lutron_sim.set_level(31, 60)
    assert await watching.read_until(b"~OUTPUT,31,30,1,60.00\r\n")
    assert await not_zone.read_for(0.2) == b""
    assert await logging_in.read_for(0.01) == b""

    lutron_sim.tap(40, 3)  # zone 29 is a zone event, the button and LED lines are not
    assert await not_zone.read_until(b"~DEVICE,40,3,4\r\n") == (
        b"~DEVICE,40,3,3\r\n~DEVICE,40,83,9,1\r\n~DEVICE,40,3,4\r\n"
    )


async def test_control_events_carry_the_prompt_when_it_is_on(lutron_sim, raw_connect):
    c = await raw_connect(lutron_sim)
    await c.login()
    lutron_sim.set_led(40, 83, 1)
    assert await c.read_until(b"QNET> ") == b"~DEVICE,40,83,9,1\r\nQNET> "
    lutron_sim.release(40, 3)
    assert await c.read_until(b"QNET> ") == b"~DEVICE,40,3,4\r\nQNET> "
