"""Lutron Integration Protocol, sans I/O: bytes in, typed events out; commands out as bytes.

`LineParser.feed(data)` accepts whatever the socket delivered (any split, any bytes) and returns the
events completed by it. Framing rules (docs/protocol.md §1, §4):

- every 0x00 is dropped (a NUL follows the first prompt; some processors send leading NULs);
- lines end in `\\n`, any trailing `\\r`s are stripped; text is UTF-8, decoded with replacement;
- prompts (`QNET> `, `GNET> `, `SAFE> `) may stand alone without a newline, be glued in front of a
  line (`QNET> ~OUTPUT,...`) or even inside one (`~OUTPUT,GNET> 10,1,0.00`): all are cut out and
  reported as `Prompt` events;
- `login: ` and `password: ` arrive without a newline;
- `~` lines are reports (replies and events share one grammar); anything else is free text.

Nothing here raises on input: a line that cannot be understood becomes an `Unknown` event.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

# A prompt anywhere in a line: `QNET> ` (HWQS), `GNET> ` (RA2), `SAFE> ` (RA2 safe mode).
_PROMPT_RE = re.compile(r"(QNET|GNET|SAFE)> ?")
# What may wait at the start of the buffer without a newline (after its leading whitespace).
_PENDING_PROMPT_RE = re.compile(rb"(QNET|GNET|SAFE)> ?|(login): ?|(password): ?")
_LEADING_SPACE_RE = re.compile(rb"[ \t\n\r\x0b\x0c]*")
# Cap on a line without a newline: a hostile or broken peer must not grow the buffer forever.
MAX_LINE_BYTES = 64 * 1024


class Monitoring(IntEnum):
    """`#MONITORING` types used by this project (docs/protocol.md §2)."""

    DIAGNOSTIC = 1
    EVENT = 2
    BUTTON = 3
    LED = 4
    ZONE = 5
    OCCUPANCY = 6
    SCENE = 8
    TIMECLOCK = 9
    SYSVAR = 10
    REPLY = 11
    PROMPT = 12
    SHADE_GROUP = 23
    ALL = 255


class ButtonAction(IntEnum):
    PRESS = 3
    RELEASE = 4
    HOLD = 5
    MULTITAP = 6
    HOLD_RELEASE = 32


OCCUPIED = 3
UNOCCUPIED = 4

# `~DEVICE,<id>,<component>,22,<x>,<power>,<status>,<x>` battery status (docs/protocol.md §5.2).
BATTERY_GOOD = 2
BATTERY_LOW = 3
BATTERY_MISSING = 4

# `~TIMECLOCK` actions (docs/protocol.md §5.3).
TIMECLOCK_MODE = 1
TIMECLOCK_SUNRISE = 2
TIMECLOCK_SUNSET = 3
TIMECLOCK_RUN_EVENT = 5
TIMECLOCK_EVENT_STATE = 6


# --- events ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    """Base of everything the parser emits."""


@dataclass(frozen=True, slots=True)
class Prompt(Event):
    kind: str  # "QNET", "GNET" or "SAFE"


@dataclass(frozen=True, slots=True)
class LoginPrompt(Event):
    pass


@dataclass(frozen=True, slots=True)
class PasswordPrompt(Event):
    pass


@dataclass(frozen=True, slots=True)
class BadLogin(Event):
    pass


@dataclass(frozen=True, slots=True)
class TextLine(Event):
    """Free text without `~`: FIRMWAREREV lines, `?SYSTEM,8`, diagnostics."""

    text: str

    def label_value(self) -> tuple[str, str] | None:
        """`OS Firmware Revision = 10.2.0` -> ("OS Firmware Revision", "10.2.0")."""
        label, sep, value = self.text.partition("=")
        if not sep:
            return None
        return label.strip(), value.strip()


@dataclass(frozen=True, slots=True)
class Report(Event):
    """A `~` line. `fields` are the comma-separated values after the command name.

    `key` normalises the fields (integers without leading zeros, upper-case text) so a query can
    match its reply by prefix: `?DEVICE,40,083,9` is answered by `~DEVICE,40,83,9,1`.
    """

    command: ClassVar[str] = ""
    fields: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.command

    @property
    def key(self) -> tuple[int | str, ...]:
        return normalise_fields(self.fields)


@dataclass(frozen=True, slots=True)
class OutputLevel(Report):
    """`~OUTPUT,<zone>,1,<level>`: a zone's level (reply or event)."""

    command: ClassVar[str] = "OUTPUT"
    zone: int
    level: float


@dataclass(frozen=True, slots=True)
class OutputTilt(Report):
    """`~OUTPUT,<zone>,9,<tilt>` or `~OUTPUT,<zone>,10,<lift>,<tilt>`: a venetian blind's tilt
    (and, for action 10, its lift, which is its level)."""

    command: ClassVar[str] = "OUTPUT"
    zone: int
    tilt: float
    lift: float | None = None


@dataclass(frozen=True, slots=True)
class OutputReport(Report):
    """Any other `~OUTPUT` action (30, 32, flash, ...; 29 is `OutputSource`)."""

    command: ClassVar[str] = "OUTPUT"
    zone: int
    action: int


# `~OUTPUT,<id>,29,<code>`: what caused a zone's last change (docs/protocol.md §5.1, §11).
CAUSES: dict[int, str] = {
    0: "unknown",
    6: "integration",
    7: "app",
    8: "keypad",
    10: "occupancy",
    11: "occupancy",
    15: "sequence",
    16: "timeclock",
    24: "local",
}
CAUSE_NAMES: tuple[str, ...] = (
    "keypad",
    "timeclock",
    "occupancy",
    "integration",
    "app",
    "sequence",
    "local",
    "unknown",
)


def cause_name(code: int) -> str:
    """The cause a change-source code stands for; any code not listed is `unknown`."""
    return CAUSES.get(code, "unknown")


@dataclass(frozen=True, slots=True)
class OutputSource(OutputReport):
    """`~OUTPUT,<zone>,29,<code>`: the source of the change just reported for the zone (it follows
    the `~OUTPUT,<zone>,1` line), e.g. 8 keypad, 16 time clock (docs/protocol.md §11)."""

    code: int

    @property
    def cause(self) -> str:
        return cause_name(self.code)


@dataclass(frozen=True, slots=True)
class ButtonEvent(Report):
    """`~DEVICE,<device>,<component>,3|4|5|6|32`: press, release, hold, multi-tap, hold release."""

    command: ClassVar[str] = "DEVICE"
    device: int
    component: int
    action: int


@dataclass(frozen=True, slots=True)
class LedState(Report):
    """`~DEVICE,<device>,<led>,9,<state>`: 0 off, 1 on, 2 flash, 3 rapid flash, 255 unknown."""

    command: ClassVar[str] = "DEVICE"
    device: int
    led: int
    state: int


@dataclass(frozen=True, slots=True)
class BatteryReport(Report):
    """`~DEVICE,<device>,<component>,22,<x>,<power>,<status>,<x>` (RadioRA 2 wireless devices):
    status 2 good, 3 low, 4 missing or not reporting."""

    command: ClassVar[str] = "DEVICE"
    device: int
    status: int


@dataclass(frozen=True, slots=True)
class DeviceReport(Report):
    """Any other `~DEVICE` line (enable state, battery, scene, light level, ...)."""

    command: ClassVar[str] = "DEVICE"
    device: int
    component: int
    action: int


@dataclass(frozen=True, slots=True)
class OccupancyState(Report):
    """`~GROUP,<area>,3,<state>`: 3 occupied, 4 unoccupied, 255 (or 2) unknown."""

    command: ClassVar[str] = "GROUP"
    group: int
    state: int

    @property
    def occupied(self) -> bool | None:
        if self.state == OCCUPIED:
            return True
        if self.state == UNOCCUPIED:
            return False
        return None


@dataclass(frozen=True, slots=True)
class SysvarState(Report):
    command: ClassVar[str] = "SYSVAR"
    sysvar: int
    state: int


@dataclass(frozen=True, slots=True)
class ShadeGroupLevel(Report):
    """`~SHADEGRP,<group>,1,<level>`: a shade group's level (HomeWorks QS)."""

    command: ClassVar[str] = "SHADEGRP"
    group: int
    level: float


@dataclass(frozen=True, slots=True)
class TimeclockReport(Report):
    """`~TIMECLOCK,<clock>,<action>,<values...>`: 1 mode, 2 sunrise, 3 sunset, 5 event run,
    6 event enabled (1) or disabled (2)."""

    command: ClassVar[str] = "TIMECLOCK"
    clock: int
    action: int
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GreenModeStep(Report):
    """`~MODE,<id>,1,<step>`: the green mode step (its changes are not reported, only queried)."""

    command: ClassVar[str] = "MODE"
    area: int
    step: int


@dataclass(frozen=True, slots=True)
class MonitoringState(Report):
    """`~MONITORING,<type>,<1 enabled|2 disabled>`, the echo of `#MONITORING` and `?MONITORING`."""

    command: ClassVar[str] = "MONITORING"
    type: int
    state: int


@dataclass(frozen=True, slots=True)
class SystemReport(Report):
    """`~SYSTEM,<action>,<values...>`. The `?SYSTEM,10` reply echoes no action number
    (`~SYSTEM,04/04/2025,17:34:22`); it is reported here as action 10 with its two values."""

    command: ClassVar[str] = "SYSTEM"
    action: int
    values: tuple[str, ...]

    @property
    def key(self) -> tuple[int | str, ...]:
        return (self.action, *normalise_fields(self.values))

    @property
    def design_revision(self) -> str | None:
        """`MM/DD/YYYY,HH:MM:SS` for a `?SYSTEM,10` reply, else None."""
        if self.action == 10 and len(self.values) == 2:
            return f"{self.values[0]},{self.values[1]}"
        return None


@dataclass(frozen=True, slots=True)
class ErrorReply(Report):
    """`~ERROR,<n>`: 1 parameter count, 2 no such object, 3 bad action, 4 out of range,
    5 malformed, 6 unsupported. Names no command: it answers the oldest outstanding one."""

    command: ClassVar[str] = "ERROR"
    code: int


@dataclass(frozen=True, slots=True)
class GenericReport(Report):
    """A well-formed `~` line of a command this module has no special type for
    (`~AREA`, `~SHADEGRP`, `~TIMECLOCK`, `~HVAC`, `~INTEGRATIONID`, ...)."""

    report_name: str

    @property
    def name(self) -> str:
        return self.report_name


@dataclass(frozen=True, slots=True)
class Unknown(Event):
    """A line that could not be understood; kept verbatim for logging."""

    text: str


ERROR_MEANINGS = {
    1: "parameter count mismatch",
    2: "object does not exist",
    3: "invalid action number",
    4: "parameter data out of range",
    5: "parameter data malformed",
    6: "unsupported command",
}


def normalise_fields(fields: Iterable[str]) -> tuple[int | str, ...]:
    """Fields as the processor compares them: integers ignore leading zeros, text ignores case."""
    out: list[int | str] = []
    for f in fields:
        f = f.strip()
        if f.isdigit():
            out.append(int(f))
        else:
            out.append(f.upper())
    return tuple(out)


# --- parsing ---------------------------------------------------------------------------------


def _int(text: str) -> int:
    text = text.strip()
    if not text.isdigit():  # rejects signs, blanks and non-ASCII digits the processor never sends
        raise ValueError(text)
    return int(text)


def _level(text: str) -> float:
    value = float(text.strip())
    if not 0.0 <= value <= 100.0:  # also rejects NaN
        raise ValueError(text)
    return value


def parse_report(line: str) -> Event:
    """Parse one `~` line (prompts already removed) into a typed event; never raises."""
    body = line[1:]
    parts = [p.strip() for p in body.split(",")]
    name = parts[0].upper()
    fields = tuple(parts[1:])
    try:
        if name == "OUTPUT":
            zone, action = _int(fields[0]), _int(fields[1])
            if action == 1 and len(fields) >= 3:
                return OutputLevel(fields, zone, _level(fields[2]))
            if action == 9 and len(fields) >= 3:
                return OutputTilt(fields, zone, _level(fields[2]))
            if action == 10 and len(fields) >= 4:
                return OutputTilt(fields, zone, _level(fields[3]), _level(fields[2]))
            if action == 29 and len(fields) >= 3:
                return OutputSource(fields, zone, action, _int(fields[2]))
            return OutputReport(fields, zone, action)
        if name == "DEVICE":
            device, component, action = _int(fields[0]), _int(fields[1]), _int(fields[2])
            if action == 9 and len(fields) >= 4:
                return LedState(fields, device, component, _int(fields[3]))
            if action in (3, 4, 5, 6, 32):
                return ButtonEvent(fields, device, component, action)
            if action == 22 and len(fields) >= 6:
                return BatteryReport(fields, device, _int(fields[5]))
            return DeviceReport(fields, device, component, action)
        if name == "GROUP":
            if _int(fields[1]) == 3 and len(fields) >= 3:
                return OccupancyState(fields, _int(fields[0]), _int(fields[2]))
        elif name == "SYSVAR":
            if _int(fields[1]) == 1 and len(fields) >= 3:
                return SysvarState(fields, _int(fields[0]), _int(fields[2]))
        elif name == "SHADEGRP":
            if _int(fields[1]) == 1 and len(fields) >= 3:
                return ShadeGroupLevel(fields, _int(fields[0]), _level(fields[2]))
        elif name == "TIMECLOCK":
            return TimeclockReport(fields, _int(fields[0]), _int(fields[1]), fields[2:])
        elif name == "MODE":
            if _int(fields[1]) == 1 and len(fields) >= 3:
                return GreenModeStep(fields, _int(fields[0]), _int(fields[2]))
        elif name == "MONITORING":
            return MonitoringState(fields, _int(fields[0]), _int(fields[1]))
        elif name == "ERROR":
            return ErrorReply(fields, _int(fields[0]))
        elif name == "SYSTEM":
            if "/" in fields[0]:  # `?SYSTEM,10` answers `~SYSTEM,<date>,<time>` without the action
                return SystemReport(fields, 10, fields[:2])
            return SystemReport(fields, _int(fields[0]), fields[1:])
    except (IndexError, ValueError):
        return Unknown(line)
    if not name or not name.isalnum():
        return Unknown(line)
    return GenericReport(fields, name)


def parse_line(line: str) -> Event | None:
    """Classify one complete line (prompts already removed). None for an empty line."""
    line = line.strip()
    if not line:
        return None
    if line.startswith("~"):
        return parse_report(line)
    lower = line.lower()
    if lower == "bad login":
        return BadLogin()
    if lower.rstrip(":") == "login":
        return LoginPrompt()
    if lower.rstrip(":") == "password":
        return PasswordPrompt()
    return TextLine(line)


class LineParser:
    """Incremental parser: feed it bytes as they arrive, get events in arrival order.

    The cost is linear in the bytes fed, however they are split: every byte is searched for a
    newline once and decoded once (with its line), and only the start of an incomplete line is
    looked at for a prompt, so a peer trickling a long line a byte at a time cannot make each
    read rescan what came before.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._searched = 0  # the first bytes of _buf known to hold no newline

    def feed(self, data: bytes) -> list[Event]:
        if b"\x00" in data:
            data = data.replace(b"\x00", b"")
        buf = self._buf
        buf += data
        events: list[Event] = []
        start = 0
        nl = buf.find(b"\n", self._searched)
        while nl >= 0:
            self._line(buf[start:nl].decode("utf-8", "replace").rstrip("\r"), events)
            start = nl + 1
            nl = buf.find(b"\n", start)
        if start:
            del buf[:start]  # from the front of a bytearray: no copy of the rest
        self._pending(events)
        self._searched = len(buf)  # what is left holds no newline
        return events

    @property
    def pending(self) -> bytes:
        """Bytes received after the last complete line (for diagnostics)."""
        return bytes(self._buf)

    def _line(self, text: str, events: list[Event]) -> None:
        if "NET>" in text or "SAFE>" in text:
            for m in _PROMPT_RE.finditer(text):
                events.append(Prompt(m.group(1)))
            text = _PROMPT_RE.sub("", text)
        event = parse_line(text)
        if event is not None:
            events.append(event)

    def _pending(self, events: list[Event]) -> None:
        # Prompts that arrive without a newline: consume them from the front of the buffer.
        # Leading whitespace of an incomplete line goes first (a line is stripped anyway), so
        # it is looked at once, not at every read.
        buf = self._buf
        while buf:
            space = _LEADING_SPACE_RE.match(buf)
            if space is not None and space.end():
                del buf[: space.end()]
            m = _PENDING_PROMPT_RE.match(buf)
            if m is None:
                break
            if m.group(1):
                events.append(Prompt(m.group(1).decode("ascii")))
            elif m.group(2):
                events.append(LoginPrompt())
            else:
                events.append(PasswordPrompt())
            del buf[: m.end()]
        if len(buf) > MAX_LINE_BYTES:
            events.append(Unknown(self._buf[:200].decode("utf-8", "replace") + "..."))
            self._buf.clear()


# --- commands --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Command:
    """A command line and what answers it.

    `expect` is (report name, key prefix): the first report with that name whose normalised key
    starts with the prefix is the reply. None means no report answers it (`FIRMWAREREV` answers
    with free-text lines, which the session collects).
    """

    line: str
    expect: tuple[str, tuple[int | str, ...]] | None = None

    @property
    def data(self) -> bytes:
        return self.line.encode("ascii") + b"\r\n"

    def answered_by(self, event: Event) -> bool:
        if self.expect is None or not isinstance(event, Report):
            return False
        name, prefix = self.expect
        return event.name == name and event.key[: len(prefix)] == prefix


def query_output_level(zone: int) -> Command:
    return Command(f"?OUTPUT,{zone},1", ("OUTPUT", (zone, 1)))


def query_led(device: int, led: int) -> Command:
    return Command(f"?DEVICE,{device},{led},9", ("DEVICE", (device, led, 9)))


def query_occupancy(area: int) -> Command:
    return Command(f"?GROUP,{area},3", ("GROUP", (area, 3)))


def query_sysvar(sysvar: int) -> Command:
    return Command(f"?SYSVAR,{sysvar},1", ("SYSVAR", (sysvar, 1)))


def query_input(device: int, component: int) -> Command:
    """A contact closure input's or sensor's state: answered `~DEVICE,<id>,<cci>,3|4` (closed or
    occupied / open or vacant) where the processor supports it, else `~ERROR`."""
    return Command(f"?DEVICE,{device},{component},3", ("DEVICE", (device, component)))


def query_battery(device: int) -> Command:
    """`?DEVICE,<id>,1,22`: a RadioRA 2 wireless device's battery (docs/protocol.md §5.2)."""
    return Command(f"?DEVICE,{device},1,22", ("DEVICE", (device, 1, 22)))


def query_tilt(zone: int) -> Command:
    return Command(f"?OUTPUT,{zone},9", ("OUTPUT", (zone, 9)))


def query_shade_group(group: int) -> Command:
    return Command(f"?SHADEGRP,{group},1", ("SHADEGRP", (group, 1)))


def query_timeclock_mode(clock: int) -> Command:
    return Command(f"?TIMECLOCK,{clock},1", ("TIMECLOCK", (clock, 1)))


def query_timeclock_event(clock: int, event: int) -> Command:
    """Whether event `event` of a time clock is enabled: `~TIMECLOCK,<id>,6,<n>,1|2`."""
    return Command(f"?TIMECLOCK,{clock},6,{event}", ("TIMECLOCK", (clock, 6, event)))


def query_green_mode(area: int) -> Command:
    return Command(f"?MODE,{area},1", ("MODE", (area, 1)))


def query_system(action: int) -> Command:
    return Command(f"?SYSTEM,{action}", ("SYSTEM", (action,)))


def query_design_revision() -> Command:
    """`?SYSTEM,10`: the design export date and time, also our keepalive."""
    return query_system(10)


def monitoring(kind: int, enable: bool) -> Command:
    state = 1 if enable else 2
    return Command(f"#MONITORING,{kind},{state}", ("MONITORING", (kind, state)))


FIRMWAREREV = Command("FIRMWAREREV")
