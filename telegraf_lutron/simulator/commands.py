"""Client commands: parsing a line into a `Command` and executing it against the house.

No I/O here: `execute` returns the reply lines for the sender, the events for monitoring sessions
and any delayed changes (`#OUTPUT` with a delay); the server does the rest. Error numbers follow
040249 (docs/protocol.md §4): 1 parameter count, 2 no such object, 3 invalid action, 4 out of
range, 5 malformed, 6 unsupported command.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from telegraf_lutron.simulator.house import (
    BUTTON_ACTIONS,
    HOLD,
    HOLD_RELEASE,
    PRESS,
    RELEASE,
    SOURCE_INTEGRATION,
    Event,
    House,
    format_level,
)

ERR_COUNT, ERR_OBJECT, ERR_ACTION, ERR_RANGE, ERR_MALFORMED, ERR_UNSUPPORTED = 1, 2, 3, 4, 5, 6

# Restored at every login for a user-level telnet login (040249, docs/protocol.md §2).
DEFAULT_MONITORING = frozenset({3, 4, 5, 6, 8, 11, 12, 17, 18, 23})
MON_REPLIES = 11
MON_PROMPT = 12
MON_ALL = 255  # every type except 11 and 12
MONITORING_TYPES = frozenset(range(1, 28)) | {MON_ALL}
_ALL_EXPANDED = frozenset(range(1, 28)) - {MON_REPLIES, MON_PROMPT}

MAX_FADE_SECONDS = 4 * 3600
_TIME = re.compile(r"^(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d+)?)$")


class CommandError(Exception):
    """The processor answers `~ERROR,<code>`."""

    def __init__(self, code: int):
        super().__init__(f"~ERROR,{code}")
        self.code = code


@dataclass(frozen=True, slots=True)
class Command:
    op: str  # "#", "?", "~" or "" (FIRMWAREREV is sent bare)
    name: str  # upper case
    args: tuple[str, ...]


def parse(line: str) -> Command | None:
    """Parse one received line; None for an empty one. Case, spaces and NULs are ignored."""
    text = "".join(line.replace("\x00", "").split()).upper()
    if not text:
        return None
    op = text[0] if text[0] in "#?~" else ""
    name, *args = text[len(op) :].split(",")
    return Command(op, name, tuple(args))


@dataclass(slots=True)
class Monitoring:
    """A session's monitoring switches; defaults restored at each login."""

    enabled: set[int] = field(default_factory=lambda: set(DEFAULT_MONITORING))

    def reset(self) -> None:
        self.enabled = set(DEFAULT_MONITORING)

    def set(self, kind: int, on: bool) -> None:
        kinds = _ALL_EXPANDED if kind == MON_ALL else {kind}
        if on:
            self.enabled |= kinds
        else:
            self.enabled -= kinds

    def state(self, kind: int) -> int:
        kinds = _ALL_EXPANDED if kind == MON_ALL else {kind}
        return 1 if kinds <= self.enabled else 2

    @property
    def prompt(self) -> bool:
        return MON_PROMPT in self.enabled

    @property
    def replies(self) -> bool:
        return MON_REPLIES in self.enabled


@dataclass(slots=True)
class Outcome:
    reply: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    # (delay seconds, change to make then, returning its events)
    later: list[tuple[float, Callable[[], list[Event]]]] = field(default_factory=list)


class Processor(Protocol):
    """What a command may read about the processor besides the house."""

    @property
    def system(self) -> str: ...
    @property
    def house(self) -> House: ...
    @property
    def design_version(self) -> int: ...
    @property
    def revision(self) -> str: ...
    def now(self) -> datetime: ...


FIRMWARE = "15.2.0 [Jan 10 2025 10:00:00]"
BUILD = "telegraf-lutron simulator"


def execute(cmd: Command, proc: Processor, monitoring: Monitoring) -> Outcome:
    """Run one command. Raises CommandError for anything a processor answers with `~ERROR`."""
    handler = _HANDLERS.get((cmd.op, cmd.name))
    if handler is None and cmd.name == "FIRMWAREREV" and proc.system == "HWQS":
        handler = _firmwarerev
    if handler is None:
        raise CommandError(ERR_UNSUPPORTED)
    return handler(cmd.args, proc, monitoring)


# -- argument helpers ---------------------------------------------------------------------------


def _need(args: tuple[str, ...], low: int, high: int | None = None) -> None:
    if not low <= len(args) <= (low if high is None else high):
        raise CommandError(ERR_COUNT)


def _int(text: str) -> int:
    if not text.isdigit():
        raise CommandError(ERR_MALFORMED)
    return int(text)


def parse_level(text: str) -> float:
    """A level 0-100 with up to two decimals (more are rounded)."""
    try:
        level = float(text)
    except ValueError:
        raise CommandError(ERR_MALFORMED) from None
    if not math.isfinite(level):  # float() accepts "nan" and "inf"; a processor would not
        raise CommandError(ERR_MALFORMED)
    if not 0.0 <= level <= 100.0:
        raise CommandError(ERR_RANGE)
    return round(level, 2)


def parse_time(text: str) -> float:
    """A fade or delay: SS, SS.ss, MM:SS or HH:MM:SS, rounded down to 0.25 s, at most 4 h."""
    m = _TIME.match(text)
    if not m:
        raise CommandError(ERR_MALFORMED)
    first, second, last = m.groups()
    if second is not None:  # HH:MM:SS
        seconds = int(first) * 3600 + int(second) * 60 + float(last)
    elif first is not None:  # MM:SS
        seconds = int(first) * 60 + float(last)
    else:
        seconds = float(last)
    if seconds > MAX_FADE_SECONDS:
        raise CommandError(ERR_RANGE)
    return math.floor(seconds * 4) / 4


# -- handlers -------------------------------------------------------------------------------------


def _query_output(args: tuple[str, ...], proc: Processor, mon: Monitoring) -> Outcome:
    _need(args, 2)
    zone_id, action = _int(args[0]), _int(args[1])
    if proc.house.zone(zone_id) is None:
        raise CommandError(ERR_OBJECT)
    if action == 9 and zone_id in proc.house.tilts:
        return Outcome(reply=[f"~OUTPUT,{zone_id},9,{format_level(proc.house.tilts[zone_id])}"])
    if action != 1:
        raise CommandError(ERR_ACTION)
    return Outcome(reply=[f"~OUTPUT,{zone_id},1,{format_level(proc.house.levels[zone_id])}"])


def _set_output(args: tuple[str, ...], proc: Processor, mon: Monitoring) -> Outcome:
    _need(args, 2, 5)
    zone_id, action = _int(args[0]), _int(args[1])
    house = proc.house
    if house.zone(zone_id) is None:
        raise CommandError(ERR_OBJECT)
    if action == 1:
        _need(args, 3, 5)
        level = parse_level(args[2])
        if len(args) > 3 and args[3]:
            parse_time(args[3])  # validated; levels jump to their target (reports show the target)
        delay = parse_time(args[4]) if len(args) > 4 and args[4] else 0.0
    elif action in (2, 3, 4):  # start raise / start lower / stop: jump to the end, or stay
        _need(args, 2)
        level = {2: 100.0, 3: 0.0, 4: house.levels[zone_id]}[action]
        delay = 0.0
    elif action in (9, 10) and zone_id in house.tilts:  # tilt, or lift and tilt (venetian blinds)
        _need(args, 3 if action == 9 else 4, 6)
        if action == 9:
            return Outcome(events=house.set_tilt(zone_id, parse_level(args[2])))
        return Outcome(events=house.set_tilt(zone_id, parse_level(args[3]), parse_level(args[2])))
    elif action == 6:  # pulse a contact closure (docs/protocol.md §5.1)
        zone = house.zone(zone_id)
        if zone is None or zone.kind != "contact":
            raise CommandError(ERR_ACTION)
        _need(args, 2, 3)
        length = parse_time(args[2]) if len(args) > 2 and args[2] else 0.5
        if zone.pulsed:
            return Outcome(events=house.pulse(zone_id, SOURCE_INTEGRATION))
        # A maintained closure closes for the pulse time, then opens again.
        return Outcome(
            events=house.set_level(zone_id, 100.0, SOURCE_INTEGRATION),
            later=[(max(length, 0.25), lambda: house.set_level(zone_id, 0.0, SOURCE_INTEGRATION))],
        )
    else:
        raise CommandError(ERR_ACTION)
    if delay > 0:
        return Outcome(later=[(delay, lambda: house.set_level(zone_id, level, SOURCE_INTEGRATION))])
    return Outcome(events=house.set_level(zone_id, level, SOURCE_INTEGRATION))


def _query_device(args: tuple[str, ...], proc: Processor, mon: Monitoring) -> Outcome:
    _need(args, 3)
    kp_id, component, action = _int(args[0]), _int(args[1]), _int(args[2])
    house = proc.house
    if house.keypad(kp_id) is None:
        raise CommandError(ERR_OBJECT)
    if action in (PRESS, RELEASE) and house.is_input(kp_id, component):
        # A contact input's or sensor's state: 3 closed / occupied, 4 open / vacant.
        return Outcome(reply=[f"~DEVICE,{kp_id},{component},{house.inputs[(kp_id, component)]}"])
    if action == 22:
        if component != 1 or kp_id not in house.batteries:
            raise CommandError(ERR_ACTION)
        # `~DEVICE,<id>,1,22,<x>,<power>,<status>,<x>` (docs/protocol.md §5.2)
        return Outcome(reply=[f"~DEVICE,{kp_id},1,22,0,1,{house.batteries[kp_id]},0"])
    if action != 9:
        raise CommandError(ERR_ACTION)
    if not house.has_led(kp_id, component):
        raise CommandError(ERR_OBJECT)
    return Outcome(reply=[f"~DEVICE,{kp_id},{component},9,{house.leds[(kp_id, component)]}"])


def _set_device(args: tuple[str, ...], proc: Processor, mon: Monitoring) -> Outcome:
    _need(args, 3, 4)
    kp_id, component, action = _int(args[0]), _int(args[1]), _int(args[2])
    house = proc.house
    if house.keypad(kp_id) is None:
        raise CommandError(ERR_OBJECT)
    if action == 9:
        _need(args, 4)
        state = _int(args[3])
        if not house.has_led(kp_id, component):
            raise CommandError(ERR_OBJECT)
        if state > (1 if proc.system == "RA2" else 3):
            raise CommandError(ERR_RANGE)
        return Outcome(events=house.set_led(kp_id, component, state))
    if action not in BUTTON_ACTIONS or (proc.system == "RA2" and action in (HOLD, HOLD_RELEASE)):
        raise CommandError(ERR_ACTION)
    _need(args, 3)
    if not (house.has_button(kp_id, component) or house.is_input(kp_id, component)):
        raise CommandError(ERR_OBJECT)
    return Outcome(events=house.button(kp_id, component, action))


def _query_group(args: tuple[str, ...], proc: Processor, mon: Monitoring) -> Outcome:
    _need(args, 2)
    area_iid, action = _int(args[0]), _int(args[1])
    if not proc.house.has_room(area_iid):
        raise CommandError(ERR_OBJECT)
    if action != 3:
        raise CommandError(ERR_ACTION)
    return Outcome(reply=[f"~GROUP,{area_iid},3,{proc.house.occupancy[area_iid]}"])


def _sysvar_check(args: tuple[str, ...], proc: Processor, count: int) -> int:
    if proc.system != "HWQS":
        raise CommandError(ERR_UNSUPPORTED)
    _need(args, 2, count)
    sysvar_id, action = _int(args[0]), _int(args[1])
    if sysvar_id not in proc.house.sysvars:
        raise CommandError(ERR_OBJECT)
    if action != 1:
        raise CommandError(ERR_ACTION)
    _need(args, count)
    return sysvar_id


def _query_sysvar(args: tuple[str, ...], proc: Processor, mon: Monitoring) -> Outcome:
    sysvar_id = _sysvar_check(args, proc, 2)
    return Outcome(reply=[f"~SYSVAR,{sysvar_id},1,{proc.house.sysvars[sysvar_id]}"])


def _set_sysvar(args: tuple[str, ...], proc: Processor, mon: Monitoring) -> Outcome:
    sysvar_id = _sysvar_check(args, proc, 3)
    state = _int(args[2])
    if state > 255:
        raise CommandError(ERR_RANGE)
    return Outcome(events=proc.house.set_sysvar(sysvar_id, state))


def _hwqs_object(args: tuple[str, ...], proc: Processor, known: Container[int], count: int) -> int:
    """The id of a HomeWorks QS-only object (shade group, green mode) with action 1."""
    if proc.system != "HWQS":
        raise CommandError(ERR_UNSUPPORTED)
    _need(args, 2, count)
    object_id, action = _int(args[0]), _int(args[1])
    if object_id not in known:
        raise CommandError(ERR_OBJECT)
    if action != 1:
        raise CommandError(ERR_ACTION)
    _need(args, count)
    return object_id


def _query_shadegrp(args: tuple[str, ...], proc: Processor, mon: Monitoring) -> Outcome:
    group = _hwqs_object(args, proc, proc.house.shade_groups, 2)
    return Outcome(reply=[f"~SHADEGRP,{group},1,{format_level(proc.house.shade_groups[group])}"])


def _set_shadegrp(args: tuple[str, ...], proc: Processor, mon: Monitoring) -> Outcome:
    if len(args) == 4:  # a delay is allowed: ignored, the group moves now
        args = args[:3]
    group = _hwqs_object(args, proc, proc.house.shade_groups, 3)
    return Outcome(events=proc.house.set_shade_group(group, parse_level(args[2])))


def _query_mode(args: tuple[str, ...], proc: Processor, mon: Monitoring) -> Outcome:
    mode = _hwqs_object(args, proc, proc.house.green_steps, 2)
    return Outcome(reply=[f"~MODE,{mode},1,{proc.house.green_steps[mode]}"])


def _set_mode(args: tuple[str, ...], proc: Processor, mon: Monitoring) -> Outcome:
    mode = _hwqs_object(args, proc, proc.house.green_steps, 3)
    return Outcome(events=proc.house.set_green_mode(mode, _int(args[2])))


def _timeclock_args(args: tuple[str, ...], proc: Processor) -> tuple[int, int]:
    _need(args, 2, 4)
    clock, action = _int(args[0]), _int(args[1])
    if clock not in proc.house.clock_modes:
        raise CommandError(ERR_OBJECT)
    return clock, action


def _event_number(proc: Processor, clock: int, text: str) -> int:
    number = _int(text)
    if (clock, number) not in proc.house.events_enabled:
        raise CommandError(ERR_RANGE)
    return number


def _query_timeclock(args: tuple[str, ...], proc: Processor, mon: Monitoring) -> Outcome:
    clock, action = _timeclock_args(args, proc)
    house = proc.house
    if action == 1:
        _need(args, 2)
        return Outcome(reply=[f"~TIMECLOCK,{clock},1,{house.clock_modes[clock]}"])
    if action in (2, 3):  # sunrise, sunset
        _need(args, 2)
        hh_mm = (SUNRISE if action == 2 else SUNSET)[:5]  # `~TIMECLOCK,2,2,05:32` (docs/protocol.md §5.3)
        return Outcome(reply=[f"~TIMECLOCK,{clock},{action},{hh_mm}"])
    if action == 6:
        _need(args, 3)
        number = _event_number(proc, clock, args[2])
        state = 1 if house.events_enabled[(clock, number)] else 2
        return Outcome(reply=[f"~TIMECLOCK,{clock},6,{number},{state}"])
    raise CommandError(ERR_ACTION)


def _set_timeclock(args: tuple[str, ...], proc: Processor, mon: Monitoring) -> Outcome:
    clock, action = _timeclock_args(args, proc)
    house = proc.house
    if action == 1:
        _need(args, 3)
        return Outcome(events=house.set_timeclock_mode(clock, _int(args[2])))
    if action == 5:
        _need(args, 3)
        return Outcome(events=house.run_event(clock, _event_number(proc, clock, args[2])))
    if action == 6:
        _need(args, 4)
        number = _event_number(proc, clock, args[2])
        if args[3] not in ("1", "2"):
            raise CommandError(ERR_RANGE)
        return Outcome(events=house.enable_event(clock, number, args[3] == "1"))
    raise CommandError(ERR_ACTION)


# The simulated processor's sun: the same every day (a real one computes it from its location).
SUNRISE = "06:32:00"
SUNSET = "19:47:00"


def _utc_offset(now: datetime) -> str:
    """`-8:00` style (HWQS does not zero-pad the hour); positive offsets without a sign."""
    offset = now.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "-" if minutes < 0 else ""
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours}:{mins:02d}"


def _query_system(args: tuple[str, ...], proc: Processor, mon: Monitoring) -> Outcome:
    _need(args, 1)
    action = _int(args[0])
    now = proc.now()
    if action == 1:
        return Outcome(reply=[f"~SYSTEM,1,{now:%H:%M:%S}"])
    if action == 2:
        return Outcome(reply=[f"~SYSTEM,2,{now:%m/%d/%Y}"])
    if action == 5:
        return Outcome(reply=[f"~SYSTEM,5,{_utc_offset(now)}"])
    if action == 6:
        return Outcome(reply=[f"~SYSTEM,6,{SUNSET}"])
    if action == 7:
        return Outcome(reply=[f"~SYSTEM,7,{SUNRISE}"])
    if action == 8:
        return Outcome(reply=[f"OS Firmware Revision = {FIRMWARE}"])
    if action == 10:
        return Outcome(reply=[f"~SYSTEM,{proc.revision}"])  # no action number echoed (docs/protocol.md §5.4)
    raise CommandError(ERR_ACTION)


def _firmwarerev(args: tuple[str, ...], proc: Processor, mon: Monitoring) -> Outcome:
    _need(args, 0)
    return Outcome(
        reply=[
            f"OS Firmware Revision = {FIRMWARE}",
            f"Design Version = {proc.design_version}",
            f"Build = {BUILD}",
        ]
    )


def _monitoring_type(text: str) -> int:
    kind = _int(text)
    if kind not in MONITORING_TYPES:
        raise CommandError(ERR_RANGE)
    return kind


def _set_monitoring(args: tuple[str, ...], proc: Processor, mon: Monitoring) -> Outcome:
    _need(args, 2)
    kind, state = _monitoring_type(args[0]), _int(args[1])
    if state not in (1, 2):
        raise CommandError(ERR_RANGE)
    mon.set(kind, state == 1)
    return Outcome(reply=[f"~MONITORING,{kind},{state}"])


def _query_monitoring(args: tuple[str, ...], proc: Processor, mon: Monitoring) -> Outcome:
    _need(args, 1)
    kind = _monitoring_type(args[0])
    return Outcome(reply=[f"~MONITORING,{kind},{mon.state(kind)}"])


_Handler = Callable[[tuple[str, ...], Processor, Monitoring], Outcome]
# #RESET is deliberately absent: on a real processor it reboots (docs/protocol.md §5.5).
_HANDLERS: dict[tuple[str, str], _Handler] = {
    ("?", "OUTPUT"): _query_output,
    ("#", "OUTPUT"): _set_output,
    ("?", "DEVICE"): _query_device,
    ("#", "DEVICE"): _set_device,
    ("?", "GROUP"): _query_group,
    ("?", "SYSVAR"): _query_sysvar,
    ("#", "SYSVAR"): _set_sysvar,
    ("?", "SYSTEM"): _query_system,
    ("?", "SHADEGRP"): _query_shadegrp,
    ("#", "SHADEGRP"): _set_shadegrp,
    ("?", "MODE"): _query_mode,
    ("#", "MODE"): _set_mode,
    ("?", "TIMECLOCK"): _query_timeclock,
    ("#", "TIMECLOCK"): _set_timeclock,
    ("#", "MONITORING"): _set_monitoring,
    ("?", "MONITORING"): _query_monitoring,
}
