"""`Simulator`: a HomeWorks QS / RadioRA 2 processor on loopback sockets (telnet and HTTP).

It owns the house state, the telnet server and its sessions, the HTTP server for DbXmlInfo.xml,
and the background tasks (house activity, the session-dropping quirk, delayed commands). All of it
runs on one event loop; `SimulatorThread` gives it a loop of its own for synchronous callers.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import functools
import hmac
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Literal, cast

import telnetlib3

from telegraf_lutron.design import Area, Design, Keypad, Zone
from telegraf_lutron.simulator.activity import HouseActivity
from telegraf_lutron.simulator.house import (
    MON_ZONE,
    PRESS,
    RELEASE,
    SHADE_TRAVEL,
    SOURCE_LOCAL,
    Event,
    House,
)
from telegraf_lutron.simulator.http import XmlHttpServer
from telegraf_lutron.simulator.quirks import Quirks
from telegraf_lutron.simulator.server import TelnetSession
from telegraf_lutron.simulator.stats import EnergyAccount, LoginAttempt, SimulatorStats

log = logging.getLogger(__name__)

System = Literal["HWQS", "RA2"]
PROMPTS: dict[str, str] = {"HWQS": "QNET> ", "RA2": "GNET> "}
DEFAULT_USERS: Mapping[str, str] = {"default": "default"}


@dataclass(frozen=True, slots=True)
class Lockout:
    """Refuse every login for `duration` s after `max_failures` bad ones within `window` s.

    Real RA2 repeaters did this after repeated failures (home-assistant/core#140968,
    thecynic/pylutron#17); during the lockout even the right password gets a bad login.
    """

    max_failures: int = 5
    window: float = 60.0
    duration: float = 600.0


class Simulator:
    """A simulated processor serving `design`. Use `async with Simulator(design) as sim:`."""

    def __init__(
        self,
        design: Design,
        *,
        xml: bytes | None = None,
        users: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        telnet_port: int = 0,
        http_port: int | None = 0,
        system: System = "HWQS",
        service_time: float = 0.005,
        quirks: Quirks | None = None,
        login_timeout: float = 60.0,
        lockout: Lockout | None = None,
        sysvars: Mapping[int, int] | None = None,
        activity_rate: float = 0.0,
        seed: int = 0,
        clock: Callable[[], datetime] | None = None,
        clock_skew: float = 0.0,
        shade_travel: float = SHADE_TRAVEL,
    ):
        if system not in PROMPTS:
            raise ValueError(f"system must be HWQS or RA2, not {system!r}")
        self.system: System = system
        self.prompt = PROMPTS[system]
        self.users = dict(DEFAULT_USERS if users is None else users)
        self.host = host
        self.service_time = service_time
        self.quirks = quirks if quirks is not None else Quirks()
        self.login_timeout = login_timeout
        self.lockout = lockout
        self.seed = seed
        self.stats = SimulatorStats()
        self._clock = clock
        self.clock_skew = clock_skew  # seconds the processor's clock is ahead of the real one
        self._design_version = 1
        self._house = House(
            self._stamped(design, None, xml),
            system=system,
            sysvars=sysvars,
            shade_travel=shade_travel,
            account=EnergyAccount(self.stats),
        )
        self._xml = xml
        self._xml_cache: bytes | None = None
        self._requested_ports = (telnet_port, http_port)
        self._telnet: telnetlib3.Server | None = None
        self._http: XmlHttpServer | None = None
        self._sessions: dict[int, TelnetSession] = {}
        self._next_sid = 1
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self._failures: collections.deque[float] = collections.deque()
        self._locked_until = 0.0
        self._closing = False
        self._activity = HouseActivity(self, activity_rate, seed)

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the telnet and HTTP ports and start the background tasks."""
        telnet_port, http_port = self._requested_ports
        self._closing = False
        # BaseServer sends no telnet options, like a real processor (toolchain-notes.md). The shell
        # is a plain function so that every session task is created, and tracked, by us.
        self._telnet = await telnetlib3.create_server(
            host=self.host,
            port=telnet_port,
            encoding=False,
            protocol_factory=telnetlib3.BaseServer,
            shell=cast(Any, self._accept),
        )
        try:
            if http_port is not None:
                self._http = XmlHttpServer(self.host, http_port, self.xml, self.quirks)
                await self._http.start()
        except BaseException:
            await self.stop()
            raise
        self._spawn(self._drop_loop(), "lutron-sim-drop")
        self._activity.start()
        log.info("simulating %s on telnet %s:%d", self.system, self.host, self.telnet_port)

    async def stop(self) -> None:
        """Close every socket, session and task; idempotent."""
        self._closing = True
        await self._activity.stop()
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._telnet is not None:
            self._telnet.close()
        for session in list(self._sessions.values()):
            session.close()
        tasks = [s.task for s in self._sessions.values() if s.task is not None] + list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._sessions.clear()
        self._tasks.clear()
        if self._telnet is not None:
            await self._telnet.wait_closed()
            self._telnet = None
        if self._http is not None:
            await self._http.stop()
            self._http = None

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def telnet_port(self) -> int:
        if self._telnet is None or not self._telnet.sockets:
            raise RuntimeError("the simulator is not running")
        return int(self._telnet.sockets[0].getsockname()[1])

    @property
    def http_port(self) -> int:
        if self._http is None:
            raise RuntimeError("the simulator's HTTP server is not running")
        return self._http.port

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- sessions ---------------------------------------------------------------------------------

    def _accept(self, reader: Any, writer: Any) -> None:
        """telnetlib3's shell callback: start a tracked session task for the connection."""
        if self._closing:
            writer.close()
            return
        self.stats.connections_accepted += 1
        self.stats.live_connections += 1
        sid = self._next_sid
        self._next_sid += 1
        session = TelnetSession(self, sid, reader, writer)
        self._sessions[sid] = session
        session.task = asyncio.get_running_loop().create_task(session.run(), name=f"lutron-sim-session-{sid}")

        def done(task: asyncio.Task[None]) -> None:
            self._sessions.pop(sid, None)
            self.stats.live_connections -= 1
            # A simulator bug must show up in the log, not as "exception was never retrieved".
            if not task.cancelled() and (exc := task.exception()) is not None:
                log.error("session %d failed", sid, exc_info=exc)

        session.task.add_done_callback(done)

    @property
    def sessions(self) -> list[TelnetSession]:
        """Live connections, logged in or not."""
        return list(self._sessions.values())

    def drop_sessions(self) -> int:
        """Close every live connection now, as a processor reboot or network cut would."""
        sessions = list(self._sessions.values())
        for session in sessions:
            session.close()
        self.stats.sessions_dropped += len(sessions)
        if sessions:
            log.info("dropped %d session(s)", len(sessions))
        return len(sessions)

    async def _drop_loop(self) -> None:
        # Re-read the quirk every round so it can be switched on, off or changed at runtime.
        while True:
            every = self.quirks.drop_every
            if not every or every <= 0:
                await asyncio.sleep(0.1)
                continue
            await asyncio.sleep(every)
            if self.quirks.drop_every:
                self.drop_sessions()

    def check_login(self, user: str, password: str) -> bool:
        """Answer one login attempt, recording it and applying the lockout emulation."""
        now = time.monotonic()
        if self.lockout is not None and now < self._locked_until:
            self.stats.login_attempts.append(LoginAttempt(user, False, now, locked_out=True))
            log.info("login refused for %r: locked out", user)
            return False
        expected = self.users.get(user)
        # Constant-time compare: the simulator also runs exposed in demos.
        ok = expected is not None and hmac.compare_digest(expected.encode(), password.encode())
        self.stats.login_attempts.append(LoginAttempt(user, ok, now))
        if ok:
            log.info("login ok for %r", user)
            return True
        log.info("bad login for %r", user)
        if self.lockout is not None:
            self._failures.append(now)
            while self._failures and self._failures[0] < now - self.lockout.window:
                self._failures.popleft()
            if len(self._failures) >= self.lockout.max_failures:
                self._locked_until = now + self.lockout.duration
                self._failures.clear()
                log.warning("too many bad logins: refusing logins for %.0f s", self.lockout.duration)
        return False

    @property
    def locked_out(self) -> bool:
        return self.lockout is not None and time.monotonic() < self._locked_until

    def publish(self, events: list[Event], origin: TelnetSession | None = None) -> list[str]:
        """Send events to every logged-in session monitoring their type.

        The lines meant for `origin` are returned instead, so the sender's reply and its own events
        go out as one message with one prompt.
        """
        own: list[str] = []
        if not events:
            return own
        later = [ev for ev in events if ev.delay > 0]
        if later:
            events = [ev for ev in events if ev.delay <= 0]
            for ev in later:
                self.schedule(ev.delay, functools.partial(_due, ev))
        for session in self._sessions.values():
            if not session.logged_in:
                continue
            enabled = session.monitoring.enabled
            skip_zone = session is origin and self.quirks.no_self_echo
            lines = [
                line
                for ev in events
                if ev.monitor in enabled and not (skip_zone and ev.monitor == MON_ZONE)
                for line in ev.lines
            ]
            if session is origin:
                own = lines
            else:
                session.send_event_lines(lines)
        return own

    def schedule(self, delay: float, change: Callable[[], list[Event]]) -> None:
        """Make a change after `delay` seconds (a `#OUTPUT` with a delay) and publish it then."""
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.discard(handle)
            if not self._closing:
                self.publish(change())

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    # -- design -----------------------------------------------------------------------------------

    @property
    def house(self) -> House:
        return self._house

    @property
    def design(self) -> Design:
        return self._house.design

    @property
    def design_version(self) -> int:
        """FIRMWAREREV's design version: 1, plus one per `set_design`."""
        return self._design_version

    @property
    def revision(self) -> str:
        """What `?SYSTEM,10` reports: the design's export date and time."""
        return self._house.design.project.revision

    def now(self) -> datetime:
        """The processor's clock (local time, aware), `clock_skew` seconds off."""
        now = self._clock() if self._clock is not None else datetime.now().astimezone()
        return now + timedelta(seconds=self.clock_skew) if self.clock_skew else now

    def _stamped(self, design: Design, previous: Design | None, xml: bytes | None) -> Design:
        """The design, restamped newer than `previous` when it is not and the simulator writes its XML.

        XML given by the caller is the truth (its DbExportDate is what clients compare `?SYSTEM,10`
        with), so a design served with its own XML keeps its stamp, new or not.
        """
        project = design.project
        old = previous.project.export if previous is not None else None
        if project.export is not None and (old is None or project.export > old):
            return design
        if xml is not None:
            if project.export is None:
                log.warning("design has no export date and time; ?SYSTEM,10 reports %r", project.revision)
            else:
                log.info("design export stamp unchanged (%s): ?SYSTEM,10 stays the same", project.revision)
            return design
        stamp = self.now().replace(tzinfo=None, microsecond=0)
        if old is not None and stamp <= old:
            stamp = old + timedelta(seconds=1)
        new_project = dataclasses.replace(
            project, export_date=stamp.strftime("%m/%d/%Y"), export_time=stamp.strftime("%H:%M:%S")
        )
        return dataclasses.replace(design, project=new_project)

    def set_design(self, design: Design, xml: bytes | None = None) -> None:
        """Swap in a new design revision; zones, LEDs and areas that still exist keep their state.

        FIRMWAREREV's design version always goes up. `?SYSTEM,10` reports the design's export stamp;
        without `xml` a design whose stamp is not newer is restamped (and its XML generated to match).
        """
        self._house.replace_design(self._stamped(design, self._house.design, xml))
        self._design_version += 1
        self._xml = xml
        self._xml_cache = None
        log.info("design revision %d (%s)", self._design_version, self.revision)

    def xml(self) -> bytes | None:
        """DbXmlInfo.xml for the current design: the bytes given, or generated by designgen."""
        if self._xml is not None:
            return self._xml
        if self._xml_cache is None:
            try:
                from telegraf_lutron.simulator.designgen import design_to_xml
            except ImportError:
                log.warning("no XML given and the design generator is not available")
                return None
            self._xml_cache = design_to_xml(self._house.design)
        return self._xml_cache

    # -- runtime control (as a keypad, a sensor or someone at a dimmer would) --------------------

    def set_level(self, zone: int | Zone, level: float, *, source: int = SOURCE_LOCAL) -> None:
        """Set a zone's level as if changed locally (source 24) and report it."""
        self.publish(self._house.set_level(_iid(zone), level, source))

    def level(self, zone: int | Zone) -> float:
        return self._house.levels[_iid(zone)]

    def button(self, keypad: int | Keypad, button: int, action: int) -> None:
        """A button event (3 press, 4 release, 5 hold, 6 multi-tap, 32 hold release)."""
        self.publish(self._house.button(_iid(keypad), button, action))

    def press(self, keypad: int | Keypad, button: int) -> None:
        self.button(keypad, button, PRESS)

    def release(self, keypad: int | Keypad, button: int) -> None:
        self.button(keypad, button, RELEASE)

    def tap(self, keypad: int | Keypad, button: int) -> None:
        """Press then release, as a finger does."""
        self.press(keypad, button)
        self.release(keypad, button)

    def set_led(self, keypad: int | Keypad, led: int, state: int) -> None:
        self.publish(self._house.set_led(_iid(keypad), led, state))

    def led(self, keypad: int | Keypad, led: int) -> int:
        return self._house.leds[(_iid(keypad), led)]

    def set_occupancy(self, area: int | Area, occupied: bool, *, lights: bool = False) -> None:
        """The room's sensors see someone (True) or no one; `lights`: they switch its lights too."""
        self.publish(self._house.set_occupancy(_iid(area), occupied, lights=lights))

    def stats_now(self) -> SimulatorStats:
        """A copy of the statistics, with the energy account integrated up to now."""
        self._house.account.advance()
        return self.stats.snapshot()

    def occupancy(self, area: int | Area) -> int:
        return self._house.occupancy[_iid(area)]

    def set_sysvar(self, sysvar: int, state: int) -> None:
        self.publish(self._house.set_sysvar(sysvar, state))

    def set_input(self, device: int | Keypad, component: int, closed: bool) -> None:
        """A contact input closes (True) or opens, or a motion sensor sees someone (True) or not."""
        self.publish(self._house.set_input(_iid(device), component, closed))

    def input(self, device: int | Keypad, component: int) -> bool:
        return self._house.inputs[(_iid(device), component)] == PRESS

    def run_timeclock_event(self, clock: int, event: int) -> None:
        self.publish(self._house.run_event(clock, event))

    def set_timeclock_mode(self, clock: int, mode: int) -> None:
        self.publish(self._house.set_timeclock_mode(clock, mode))

    def enable_timeclock_event(self, clock: int, event: int, enabled: bool) -> None:
        self.publish(self._house.enable_event(clock, event, enabled))

    def set_shade_group(self, group: int, level: float) -> None:
        self.publish(self._house.set_shade_group(group, level))

    def set_tilt(self, zone: int | Zone, tilt: float, lift: float | None = None) -> None:
        self.publish(self._house.set_tilt(_iid(zone), tilt, lift))

    def set_green_mode(self, mode: int, step: int) -> None:
        self.publish(self._house.set_green_mode(mode, step))

    def set_battery(self, device: int | Keypad, status: int) -> None:
        self.publish(self._house.set_battery(_iid(device), status))

    @property
    def activity_rate(self) -> float:
        return self._activity.rate

    @activity_rate.setter
    def activity_rate(self, rate: float) -> None:
        self._activity.rate = rate


def _due(event: Event) -> list[Event]:
    """A delayed event when its time comes: sent now, unless it no longer holds."""
    if event.due is not None and not event.due():
        return []
    return [dataclasses.replace(event, delay=0.0, due=None)]


def _iid(obj: int | Zone | Keypad | Area) -> int:
    if isinstance(obj, int):
        return obj
    if isinstance(obj, Zone | Keypad):
        return obj.id
    return obj.iid
