"""The sans-I/O protocol layer: framing, prompts, every report type, commands."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telegraf_lutron import protocol as p


def feed_all(chunks: list[bytes]) -> list[p.Event]:
    parser = p.LineParser()
    events: list[p.Event] = []
    for chunk in chunks:
        events += parser.feed(chunk)
    return events


def test_login_dialogue_prompts_without_newlines() -> None:
    assert feed_all([b"login: "]) == [p.LoginPrompt()]
    assert feed_all([b"password: "]) == [p.PasswordPrompt()]
    assert feed_all([b"\r\nQNET> \x00"]) == [p.Prompt("QNET")]
    assert feed_all([b"\r\nGNET> \x00"]) == [p.Prompt("GNET")]


def test_bad_login_hwqs_then_new_login_prompt() -> None:
    assert feed_all([b"\r\nbad login\r\nlogin: "]) == [p.BadLogin(), p.LoginPrompt()]


def test_prompt_split_across_reads_waits_for_the_rest() -> None:
    parser = p.LineParser()
    assert parser.feed(b"\r\nQN") == []
    assert parser.feed(b"ET") == []
    assert parser.feed(b"> ") == [p.Prompt("QNET")]
    assert parser.feed(b"\x00") == []
    assert parser.pending == b""


def test_prompt_glued_in_front_of_a_line() -> None:
    events = feed_all([b"QNET> ~OUTPUT,27,1,75.00\r\n"])
    assert events == [p.Prompt("QNET"), p.OutputLevel(("27", "1", "75.00"), 27, 75.0)]


def test_prompt_glued_inside_a_line() -> None:
    events = feed_all([b"~OUTPUT,GNET> 10,1,0.00\r\n"])
    assert events[0] == p.Prompt("GNET")
    level = events[1]
    assert isinstance(level, p.OutputLevel) and level.zone == 10 and level.level == 0.0


def test_line_split_across_any_number_of_reads() -> None:
    data = b"~OUTPUT,31,1,100.00\r\n~DEVICE,40,83,9,1\n"
    whole = feed_all([data])
    for size in (1, 2, 3, 7):
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        assert feed_all(chunks) == whole
    assert [type(e) for e in whole] == [p.OutputLevel, p.LedState]


def test_crlf_lf_and_extra_carriage_returns() -> None:
    events = feed_all([b"~GROUP,5,3,3\n~GROUP,6,3,4\r\n~GROUP,7,3,255\r\r\n"])
    assert [(e.group, e.occupied) for e in events if isinstance(e, p.OccupancyState)] == [
        (5, True),
        (6, False),
        (7, None),
    ]


def test_nul_bytes_anywhere_are_dropped() -> None:
    assert feed_all([b"\x00\x00~SYSVAR,\x002,1,3\r\n"]) == [p.SysvarState(("2", "1", "3"), 2, 3)]


def test_output_reports() -> None:
    (ev,) = feed_all([b"~OUTPUT,450,29,6\r\n"])
    assert isinstance(ev, p.OutputReport) and (ev.zone, ev.action) == (450, 29)
    (ev,) = feed_all([b"~OUTPUT,31,30,1,100.00\r\n"])
    assert isinstance(ev, p.OutputReport) and ev.action == 30


@pytest.mark.parametrize(
    ("code", "cause"),
    [
        (0, "unknown"),
        (6, "integration"),
        (7, "app"),
        (8, "keypad"),
        (10, "occupancy"),
        (11, "occupancy"),
        (15, "sequence"),
        (16, "timeclock"),
        (24, "local"),
        (1, "unknown"),  # any code not listed
        (99, "unknown"),
    ],
)
def test_the_change_source_line_is_a_typed_cause(code: int, cause: str) -> None:
    (ev,) = feed_all([f"~OUTPUT,450,29,{code:02d}\r\n".encode()])
    assert isinstance(ev, p.OutputSource) and (ev.zone, ev.action, ev.code) == (450, 29, code)
    assert ev.cause == cause and cause in p.CAUSE_NAMES


def test_a_malformed_change_source_is_unknown_text() -> None:
    (ev,) = feed_all([b"~OUTPUT,450,29,x\r\n"])
    assert isinstance(ev, p.Unknown)
    (ev,) = feed_all([b"~OUTPUT,450,29\r\n"])  # no code: an ordinary report, not a cause
    assert type(ev) is p.OutputReport


def test_device_reports() -> None:
    events = feed_all([b"~DEVICE,40,3,3\r\n~DEVICE,40,3,4\r\n~DEVICE,40,83,9,2\r\n~DEVICE,7,00000,1,1\r\n"])
    press, release, led, enable = events
    assert press == p.ButtonEvent(("40", "3", "3"), 40, 3, p.ButtonAction.PRESS)
    assert isinstance(release, p.ButtonEvent) and release.action == p.ButtonAction.RELEASE
    assert isinstance(led, p.LedState) and (led.device, led.led, led.state) == (40, 83, 2)
    assert isinstance(enable, p.DeviceReport) and enable.component == 0


def test_system_10_reply_without_action_number() -> None:
    (ev,) = feed_all([b"~SYSTEM,04/04/2025,17:34:22\r\n"])
    assert isinstance(ev, p.SystemReport)
    assert ev.action == 10
    assert ev.design_revision == "04/04/2025,17:34:22"
    assert p.query_design_revision().answered_by(ev)


def test_system_reply_with_action() -> None:
    (ev,) = feed_all([b"~SYSTEM,1,11:05:00\r\n"])
    assert isinstance(ev, p.SystemReport) and ev.action == 1 and ev.values == ("11:05:00",)
    assert ev.design_revision is None
    assert not p.query_design_revision().answered_by(ev)


def test_monitoring_error_area_shadegrp_timeclock() -> None:
    events = feed_all(
        [
            b"~MONITORING,5,1\r\n~ERROR,2\r\n~AREA,2,6,2\r\n~SHADEGRP,2,6,2\r\n"
            b"~TIMECLOCK,2,2,05:32\r\n~HVAC,1,1,070\r\n"
        ]
    )
    mon, err, area, shade, clock, hvac = events
    assert mon == p.MonitoringState(("5", "1"), 5, 1)
    assert err == p.ErrorReply(("2",), 2)
    assert isinstance(area, p.GenericReport) and area.name == "AREA" and area.key == (2, 6, 2)
    assert isinstance(shade, p.GenericReport) and shade.name == "SHADEGRP"  # a preset, not a level
    assert clock == p.TimeclockReport(("2", "2", "05:32"), 2, 2, ("05:32",))
    assert isinstance(hvac, p.GenericReport) and hvac.key == (1, 1, 70)


def test_firmwarerev_free_text_lines() -> None:
    lines = feed_all(
        [
            b"OS Firmware Revision = 10.2.0 [Jan 01 2024 10:00:00]\r\n",
            b"Design Version = 42\r\nBuild = release\r\n",
        ]
    )
    assert all(isinstance(e, p.TextLine) for e in lines)
    assert [e.label_value() for e in lines if isinstance(e, p.TextLine)] == [
        ("OS Firmware Revision", "10.2.0 [Jan 01 2024 10:00:00]"),
        ("Design Version", "42"),
        ("Build", "release"),
    ]


def test_diagnostics_are_text_and_utf8_is_decoded_with_replacement() -> None:
    events = feed_all([b"Diag Error On Line 413 of dns_private.cpp\r\nK\xc3\xbcche \xff\r\n"])
    assert events == [p.TextLine("Diag Error On Line 413 of dns_private.cpp"), p.TextLine("Küche \ufffd")]


def test_malformed_reports_become_unknown_not_exceptions() -> None:
    for raw in (b"~OUTPUT\r\n", b"~OUTPUT,x,1,5\r\n", b"~OUTPUT,1,1,nan\r\n", b"~DEVICE,1\r\n", b"~\r\n"):
        (ev,) = feed_all([raw])
        assert isinstance(ev, p.Unknown), raw


def test_out_of_range_level_is_unknown() -> None:
    (ev,) = feed_all([b"~OUTPUT,1,1,150.00\r\n"])
    assert isinstance(ev, p.Unknown)


def test_transcript_from_the_protocol_doc() -> None:
    chunks = [
        b"login: ",
        b"password: ",
        b"\r\nQNET> \x00",
        b"~MONITORING,12,2\r\nQNET> ",
        b"~MONITORING,255,2\r\n",
        b"~MONITORING,11,1\r\n~MONITORING,5,1\r\n~MONITORING,4,1\r\n~MO",
        b"NITORING,3,1\r\n~MONITORING,6,1\r\n",
        b"~SYSTEM,04/04/2025,10:12:44\r\n",
        b"~DEVICE,40,3,3\r\n",
        b"~OUTPUT,31,1,100.00\r\n~OUTPUT,31,29,8\r\n~OUTPUT,31,30,1,100.00\r\n",
        b"~DEVICE,40,3,4\r\n~DEVICE,40,83,9,1\r\n",
        b"~OUTPUT,27,1,75.00\r\n",
        b"~ERROR,2\r\n",
    ]
    events = feed_all(chunks)
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "LoginPrompt",
        "PasswordPrompt",
        "Prompt",
        "MonitoringState",
        "Prompt",
        "MonitoringState",
        "MonitoringState",
        "MonitoringState",
        "MonitoringState",
        "MonitoringState",
        "MonitoringState",
        "SystemReport",
        "ButtonEvent",
        "OutputLevel",
        "OutputSource",
        "OutputReport",
        "ButtonEvent",
        "LedState",
        "OutputLevel",
        "ErrorReply",
    ]
    assert p.query_output_level(27).answered_by(events[-2])
    assert not p.query_output_level(27).answered_by(events[13])


def test_commands_and_reply_matching_ignore_leading_zeros() -> None:
    assert p.query_output_level(27).data == b"?OUTPUT,27,1\r\n"
    assert p.query_led(40, 83).data == b"?DEVICE,40,83,9\r\n"
    assert p.query_occupancy(5).data == b"?GROUP,5,3\r\n"
    assert p.monitoring(5, True).data == b"#MONITORING,5,1\r\n"
    (ev,) = feed_all([b"~DEVICE,040,083,9,0\r\n"])
    assert p.query_led(40, 83).answered_by(ev)
    assert not p.query_led(40, 84).answered_by(ev)
    (echo,) = feed_all([b"~MONITORING,5,1\r\n"])
    assert p.monitoring(5, True).answered_by(echo)
    assert not p.monitoring(5, False).answered_by(echo)


def test_overlong_line_without_newline_is_dropped_with_an_event() -> None:
    parser = p.LineParser()
    events = parser.feed(b"x" * (p.MAX_LINE_BYTES + 10))
    assert len(events) == 1 and isinstance(events[0], p.Unknown)
    assert parser.pending == b""
    assert parser.feed(b"~GROUP,1,3,3\r\n") == [p.OccupancyState(("1", "3", "3"), 1, 3)]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=20))
def test_any_byte_sequence_never_crashes(chunks: list[bytes]) -> None:
    events = feed_all(chunks)
    assert all(isinstance(e, p.Event) for e in events)


_line = st.one_of(
    st.sampled_from(
        [
            b"~OUTPUT,1,1,50.00",
            b"~DEVICE,2,81,9,1",
            b"~GROUP,3,3,4",
            b"QNET> ~OUTPUT,4,1,0.00",
            b"~SYSTEM,01/02/2025,03:04:05",
            b"bad login",
            b"FLASH WRITE",
            b"~ERROR,6",
        ]
    ),
    st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_line, min_size=1, max_size=12), st.integers(min_value=1, max_value=9))
def test_events_do_not_depend_on_how_bytes_are_split(lines: list[bytes], size: int) -> None:
    data = b"".join(line + b"\r\n" for line in lines)
    whole = feed_all([data])
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    assert feed_all(chunks) == whole


def test_the_rest_of_the_house_parses_into_typed_reports() -> None:
    events = feed_all(
        [
            b"~SHADEGRP,61,1,45.50\r\n~TIMECLOCK,7,5,3\r\n~TIMECLOCK,7,6,2,2\r\n~TIMECLOCK,7,1,2\r\n",
            b"~MODE,12,1,3\r\n~OUTPUT,33,9,60.00\r\n~OUTPUT,33,10,20.00,75.00\r\n",
            b"~DEVICE,90,1,22,0,2,3,0\r\n~DEVICE,41,25,3\r\n",
        ]
    )
    shade, run, disabled, mode, green, tilt, lift_tilt, battery, contact = events
    assert shade == p.ShadeGroupLevel(("61", "1", "45.50"), 61, 45.5)
    assert (run.clock, run.action, run.values) == (7, p.TIMECLOCK_RUN_EVENT, ("3",))
    assert (disabled.action, disabled.values) == (p.TIMECLOCK_EVENT_STATE, ("2", "2"))
    assert (mode.action, mode.values) == (p.TIMECLOCK_MODE, ("2",))
    assert green == p.GreenModeStep(("12", "1", "3"), 12, 3)
    assert tilt == p.OutputTilt(("33", "9", "60.00"), 33, 60.0)
    assert lift_tilt == p.OutputTilt(("33", "10", "20.00", "75.00"), 33, 75.0, 20.0)
    assert battery == p.BatteryReport(("90", "1", "22", "0", "2", "3", "0"), 90, p.BATTERY_LOW)
    # A contact closure looks exactly like a button press: the design tells them apart.
    assert contact == p.ButtonEvent(("41", "25", "3"), 41, 25, 3)


def test_queries_of_the_rest_of_the_house_match_their_replies() -> None:
    (battery,) = feed_all([b"~DEVICE,90,1,22,0,2,2,0\r\n"])
    assert p.query_battery(90).answered_by(battery)
    (closed,) = feed_all([b"~DEVICE,41,25,4\r\n"])
    assert p.query_input(41, 25).answered_by(closed) and not p.query_input(41, 26).answered_by(closed)
    (event,) = feed_all([b"~TIMECLOCK,7,6,2,1\r\n"])
    assert p.query_timeclock_event(7, 2).answered_by(event)
    assert not p.query_timeclock_event(7, 3).answered_by(event)
    (green,) = feed_all([b"~MODE,12,1,2\r\n"])
    assert p.query_green_mode(12).answered_by(green)
    (shade,) = feed_all([b"~SHADEGRP,61,1,0.00\r\n"])
    assert p.query_shade_group(61).answered_by(shade)
    (tilt,) = feed_all([b"~OUTPUT,33,9,10.00\r\n"])
    assert p.query_tilt(33).answered_by(tilt)


class _CountingBuffer(bytearray):
    """The parser's buffer, counting the bytes each search, decode, strip or slice touches.

    Regular-expression matches on the buffer are not counted (they cannot be intercepted); the
    parser only ever anchors them at the start of the buffer.
    """

    touched = 0

    def find(self, sub, start=None, end=None):  # type: ignore[no-untyped-def, override]
        begin = 0 if start is None else start
        stop = len(self) if end is None else end
        found = super().find(sub, start, end)
        self.touched += (found + len(sub) if found >= 0 else stop) - begin
        return found

    def decode(self, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        self.touched += len(self)
        return super().decode(*args, **kwargs)

    def strip(self, *args):  # type: ignore[no-untyped-def, override]
        self.touched += len(self)
        return super().strip(*args)

    def __getitem__(self, key):  # type: ignore[no-untyped-def, override]
        result = super().__getitem__(key)
        if isinstance(key, slice):
            self.touched += len(result)
        return result


def _work(chunks: list[bytes]) -> tuple[int, list[p.Event]]:
    parser = p.LineParser()
    buffer = _CountingBuffer()
    parser._buf = buffer  # the test looks inside: it counts the work, not the time
    events: list[p.Event] = []
    for chunk in chunks:
        events += parser.feed(chunk)
    return buffer.touched, events


def test_leading_whitespace_then_a_byte_at_a_time_costs_linear_work() -> None:
    """60 KB of whitespace, then a line trickling in one byte per read (a core burnt before)."""
    chunks = [b" " * 60_000 + b"~"] + [b"x"] * 3000 + [b"\r\n"]
    fed = sum(map(len, chunks))
    work, events = _work(chunks)
    assert len(events) == 1 and isinstance(events[0], p.GenericReport)
    assert work < 3 * fed, f"{work} bytes touched for {fed} bytes fed"


def test_a_long_line_in_single_bytes_costs_linear_work() -> None:
    line = b"~OUTPUT,27,1,75.00," + b"9" * 20_000 + b"\r\n"
    work, events = _work([line[i : i + 1] for i in range(len(line))])
    assert len(events) == 1 and isinstance(events[0], p.OutputLevel)
    assert work < 3 * len(line), f"{work} bytes touched for {len(line)} bytes fed"


def test_many_short_reads_of_many_lines_cost_linear_work() -> None:
    data = b"".join(b"~OUTPUT,%d,1,50.00\r\nQNET> " % i for i in range(2000))
    work, events = _work([data[i : i + 7] for i in range(0, len(data), 7)])
    assert sum(isinstance(e, p.OutputLevel) for e in events) == 2000
    assert work < 3 * len(data), f"{work} bytes touched for {len(data)} bytes fed"
