"""What monitoring does not report, asked for: the rest of the house at each state read, batteries
and the processor's clock hourly, green modes every 15 minutes.

Uses only the session's public query API (`query_many`, `firmware`) and its listeners; the
replies reach `HouseState` like any event (state-only strategy, docs/protocol.md §4), so this module
keeps nothing about the house itself, only what is about the processor (clock offset, sunrise and
sunset, firmware). A query the processor answers with `~ERROR` (an object or action it does not
support) is not asked again, so an unsupported read costs one error per run, not one per interval.

- at every state read: contact inputs and sensors (`?DEVICE,<id>,<cci>,3`), configured system
  variables (`?SYSVAR,<id>,1`), time clock modes and whether each event is enabled
  (`?TIMECLOCK,<id>,1` and `,6,<n>`), shade groups (`?SHADEGRP,<id>,1`), blind tilt (`?OUTPUT,<id>,9`);
- after every login, then hourly: the clock (`?SYSTEM,5`, `,2`, `,1`, `,2`), sunrise and sunset
  (`?SYSTEM,7`, `,6`), batteries (`?DEVICE,<id>,1,22`), and the firmware once (`?SYSTEM,8` when
  FIRMWAREREV has not already told it);
- after every login, then every 15 minutes: green mode steps (`?MODE,<id>,1`), whose changes the
  processor does not report.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from telegraf_lutron import protocol as p
from telegraf_lutron.config import SysvarConfig
from telegraf_lutron.design import Design
from telegraf_lutron.session import CommandError, Session, SessionError

log = logging.getLogger(__name__)

HOURLY = 3600.0
GREEN_MODE_INTERVAL = 900.0
FIRMWARE_LABEL = "os firmware revision"
_OFFSET_RE = re.compile(r"^([+-]?)(\d{1,2}):(\d{2})$")
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


@dataclass
class ProcessorClock:
    """What the plugin knows about the processor itself (None / "" until read)."""

    clock_offset: float | None = None  # processor time minus the plugin host's, seconds
    sunrise: float | None = None  # seconds after local midnight
    sunset: float | None = None
    firmware: str = ""


def seconds_of_day(text: str) -> float | None:
    """`HH:MM[:SS]` -> seconds after midnight; None when it is not a time of day."""
    m = _TIME_RE.match(text.strip())
    if m is None:
        return None
    hours, minutes, seconds = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if hours > 23 or minutes > 59 or seconds > 59:
        return None
    return float(hours * 3600 + minutes * 60 + seconds)


def utc_offset(text: str) -> timezone | None:
    """`?SYSTEM,5`'s `-8:00` (the hour is not zero-padded, a plus sign optional) as a time zone."""
    m = _OFFSET_RE.match(text.strip())
    if m is None or int(m.group(3)) > 59 or int(m.group(2)) > 14:
        return None
    delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
    return timezone(-delta if m.group(1) == "-" else delta)


def processor_time(date: str, clock: str, zone: timezone) -> float | None:
    """`MM/DD/YYYY` and `HH:MM:SS` in `zone` as a Unix time, None when either is malformed."""
    try:
        local = datetime.strptime(f"{date.strip()} {clock.strip()}", "%m/%d/%Y %H:%M:%S")
    except ValueError:
        return None
    return local.replace(tzinfo=zone).timestamp()


def firmware_version(text: str) -> str:
    """`15.2.0 [Jan 10 2025 10:00:00]` -> `15.2.0` (the build date would make a series per build)."""
    return text.partition("[")[0].strip()


def sync_commands(design: Design, sysvars: Iterable[SysvarConfig]) -> list[p.Command]:
    """The state read of the rest of the house (what monitoring reports only as it changes)."""
    commands = [p.query_input(i.device, i.component) for i in design.inputs]
    commands += [p.query_sysvar(v.id) for v in sysvars]
    for clock in design.timeclocks:
        commands.append(p.query_timeclock_mode(clock.id))
        commands += [p.query_timeclock_event(clock.id, e.number) for e in clock.events]
    commands += [p.query_shade_group(g.id) for g in design.shade_groups]
    commands += [p.query_tilt(z.id) for z in design.tilt_zones]
    return commands


class HousePolls:
    """Owns the periodic queries; `run()` is a task its owner cancels."""

    def __init__(
        self,
        session: Session,
        design: Callable[[], Design],
        sysvars: Sequence[SysvarConfig] = (),
        *,
        ready: Callable[[], bool] | None = None,
        hourly: float = HOURLY,
        green_interval: float = GREEN_MODE_INTERVAL,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.session = session
        self.design = design
        self.sysvars = tuple(sysvars)
        self.ready = ready or (lambda: session.connected)
        self.hourly, self.green_interval = hourly, green_interval
        self.wall = wall
        self.processor = ProcessorClock()
        self.unsupported: set[str] = set()  # command lines the processor answered with ~ERROR
        self._next_hourly = float("inf")
        self._next_green = float("inf")
        session.add_listener(self.on_event)

    # --- events ------------------------------------------------------------------------------

    def on_event(self, event: p.Event) -> None:
        """FIRMWAREREV's and `?SYSTEM,8`'s `OS Firmware Revision = ...` line (free text)."""
        if isinstance(event, p.TextLine) and (pair := event.label_value()) is not None:
            if pair[0].casefold() == FIRMWARE_LABEL and (version := firmware_version(pair[1])):
                self.processor.firmware = version

    # --- queries -----------------------------------------------------------------------------

    async def ask(self, commands: Iterable[p.Command], window: int | None = None) -> list[p.Report | None]:
        """Replies in order (None for an error or a timeout); `~ERROR` marks the command unsupported."""
        wanted = [c for c in commands if c.line not in self.unsupported]
        if not wanted:
            return []
        results = await self.session.query_many(wanted, window=window)
        out: list[p.Report | None] = []
        new = 0
        for command, result in zip(wanted, results, strict=True):
            if isinstance(result, CommandError):
                self.unsupported.add(command.line)
                new += 1
            out.append(result if isinstance(result, p.Report) else None)
        if new:
            log.info(
                "the processor does not answer %d of %d queries (not asked again): %s",
                new,
                len(wanted),
                ", ".join(c.line for c in wanted if c.line in self.unsupported)[:200],
            )
        return out

    async def sync(self) -> None:
        """Read the rest of the house (called with the full state read)."""
        await self.ask(sync_commands(self.design(), self.sysvars))

    async def after_login(self) -> None:
        """Clock, firmware, batteries and green modes once now, then at their intervals."""
        now = time.monotonic()
        self._next_hourly = now + self.hourly
        self._next_green = now + self.green_interval
        await self.read_firmware()
        await self.hourly_reads()
        await self.read_green_modes()

    async def hourly_reads(self) -> None:
        await self.read_clock()
        await self.read_batteries()

    async def read_batteries(self) -> None:
        await self.ask(p.query_battery(k.id) for k in self.design().battery_devices)

    async def read_green_modes(self) -> None:
        await self.ask(p.query_green_mode(g.id) for g in self.design().green_modes)

    async def read_firmware(self) -> None:
        if self.processor.firmware:
            return  # FIRMWAREREV (HomeWorks QS, at every login) already said it
        # `?SYSTEM,8` answers with one free-text line (docs/protocol.md §5.4); the listener reads it.
        with contextlib.suppress(SessionError):
            for line in await self.session.firmware(5.0, command=p.Command("?SYSTEM,8"), lines=1):
                self.on_event(p.TextLine(line))

    async def read_clock(self) -> None:
        """Processor time minus host time, from `?SYSTEM,2` (date), `,1` (time) and `,5` (zone)."""
        zone_reply, date_before = await self.ask([p.query_system(5), p.query_system(2)], window=1)
        zone = utc_offset(_value(zone_reply))
        sent = self.wall()
        (clock_reply,) = await self.ask([p.query_system(1)], window=1)
        received = self.wall()
        (date_after,) = await self.ask([p.query_system(2)], window=1)
        clock = _value(clock_reply)
        date = _value(date_before)
        if _value(date_after) != date and clock < "12":  # midnight passed between the two dates
            date = _value(date_after)
        stamp = processor_time(date, clock, zone) if zone is not None else None
        if stamp is not None:
            # The reply is whole seconds: the processor's time was in [stamp, stamp + 1).
            self.processor.clock_offset = stamp + 0.5 - (sent + received) / 2
        sunrise, sunset = await self.ask([p.query_system(7), p.query_system(6)], window=1)
        self.processor.sunrise = seconds_of_day(_value(sunrise))
        self.processor.sunset = seconds_of_day(_value(sunset))

    # --- the schedule ------------------------------------------------------------------------

    async def run(self) -> None:
        """Hourly and 15-minute reads while the state is current; after_login() sets the clock."""
        while True:
            now = time.monotonic()
            due = min(self._next_hourly, self._next_green)
            await asyncio.sleep(min(max(due - now, 0.0), 60.0))
            now = time.monotonic()
            if now >= self._next_hourly:
                self._next_hourly = now + self.hourly
                if self.ready():
                    with contextlib.suppress(SessionError):
                        await self.hourly_reads()
            if now >= self._next_green:
                self._next_green = now + self.green_interval
                if self.ready():
                    with contextlib.suppress(SessionError):
                        await self.read_green_modes()


def _value(reply: p.Report | None) -> str:
    """The first value of a `~SYSTEM,<action>,<value>` reply, "" when there is none."""
    if isinstance(reply, p.SystemReport) and reply.values:
        return reply.values[0]
    return ""
