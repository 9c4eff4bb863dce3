"""One telnet connection to a Lutron processor: opened once, logged in once, ended once.

`ProcessorConnection` is the part of a session that lives as long as one socket: it connects,
logs in, turns monitoring on, reads every byte (its reader task is the only one that reads the
socket), sends the keepalive and matches replies to the commands waiting for them. It never
reconnects: `serve()` returns why the link ended, and its owner (`session.Session`) decides when to
try again, with a new connection.

Tasks: a reader task from login to the end, a keepalive task while serving. `close()` cancels and
awaits both, fails every command still waiting and closes the socket; it is idempotent.

The errors of the session layer live here, with the connection that raises them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import telnetlib3

from telegraf_lutron import protocol as p
from telegraf_lutron.errors import TelegrafLutronError
from telegraf_lutron.processor_settings import ProcessorSettings

log = logging.getLogger("telegraf_lutron.session")  # one [session] voice in Telegraf's log

EventSink = Callable[[p.Event], None]

# Monitoring sent after every login (the processor restores the design's defaults at each login).
DEFAULT_MONITORING = (
    p.Monitoring.ZONE,
    p.Monitoring.LED,
    p.Monitoring.BUTTON,
    p.Monitoring.OCCUPANCY,
    p.Monitoring.SHADE_GROUP,
    p.Monitoring.SYSVAR,
    p.Monitoring.TIMECLOCK,
)


class SessionError(TelegrafLutronError):
    """Base of the errors a session (and each of its connections) reports."""


class LoginError(SessionError):
    """The processor rejected the user name or password."""

    def __init__(self, host: str, port: int, username: str) -> None:
        super().__init__(
            f"bad login for user {username!r} at {host}:{port}: check the username and password "
            "(the processor's integration login); retrying slowly so the account is not locked"
        )
        self.host, self.port, self.username = host, port, username


class LoginFailed(SessionError):
    """The login dialogue did not complete (no prompt, safe mode, timeout): not a password problem."""


class NotConnected(SessionError):
    """No logged-in connection to send a command on (or it was lost while waiting)."""


class CommandError(SessionError):
    def __init__(self, command: str, code: int) -> None:
        meaning = p.ERROR_MEANINGS.get(code, "unknown error")
        super().__init__(f"processor answered ~ERROR,{code} ({meaning}) to {command}")
        self.command, self.code = command, code


class CommandTimeout(SessionError):
    def __init__(self, command: str, timeout: float) -> None:
        super().__init__(f"no reply to {command} within {timeout:g} s")
        self.command = command


@dataclass
class Counters:
    """What a session counts over all its connections. The session counts connects, disconnects
    and bad logins; each connection adds its commands, replies, errors and timeouts."""

    connects: int = 0
    disconnects: int = 0
    bad_logins: int = 0
    commands: int = 0
    errors: int = 0
    timeouts: int = 0
    events: int = 0
    latency_sum: float = 0.0
    latency_count: int = 0

    def observe_latency(self, seconds: float) -> None:
        self.latency_sum += seconds
        self.latency_count += 1

    def copy(self) -> Counters:
        """The counts as they are now (a snapshot that later commands do not change)."""
        return dataclasses.replace(self)


_T = TypeVar("_T", p.Report, list[str])


@dataclass(eq=False)
class _Pending(Generic[_T]):
    command: p.Command
    future: asyncio.Future[_T]
    sent_at: float
    text_wanted: int = 0  # FIRMWAREREV answers with free-text lines, not a report
    text: list[str] = field(default_factory=list)


class ProcessorConnection:
    """One connection: `open()` (connect and log in), `start_monitoring()`, `serve()` until the
    link ends, `close()`. Not reusable: a new attempt is a new object with a new `id`.

    Every event (replies included) goes to `on_event` in arrival order, from the reader task,
    after the command it answers has been resolved.
    """

    def __init__(
        self,
        settings: ProcessorSettings,
        *,
        connection_id: int,
        counters: Counters,
        on_event: EventSink,
        monitoring: tuple[int, ...] = DEFAULT_MONITORING,
    ) -> None:
        self.settings = settings
        self.id = connection_id
        self.counters = counters
        self.monitoring = monitoring
        self.prompt_kind = ""  # "QNET" (HomeWorks QS) or "GNET" (RadioRA 2) once logged in
        self.logged_in_at: float | None = None  # time.monotonic() of the login
        self._on_event = on_event
        self._parser = p.LineParser()
        self._pending: deque[_Pending[Any]] = deque()
        self._writer: telnetlib3.TelnetWriter | None = None
        self._tasks: list[asyncio.Task[None]] = []  # reader, then keepalive
        self._last_rx = 0.0
        self._end_reason = ""
        self._opened = False
        self._ended = False  # the reader saw the link end
        self._closed = False

    @property
    def where(self) -> str:
        return self.settings.where

    # --- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect and log in; on return the reader task runs. Raises LoginError (credentials
        rejected), LoginFailed (no dialogue, safe mode), OSError, TimeoutError or EOFError."""
        if self._opened:
            raise RuntimeError("a ProcessorConnection is opened once; make a new one to reconnect")
        self._opened = True
        cfg = self.settings
        reader, writer = await asyncio.wait_for(
            telnetlib3.open_connection(
                cfg.host,
                cfg.telnet_port,
                encoding=False,
                connect_minwait=0.0,
                connect_maxwait=0.2,
                connect_timeout=cfg.connect_timeout,
                client_factory=telnetlib3.TelnetClient,
            ),
            cfg.connect_timeout + 1.0,
        )
        self._writer = writer
        leftovers = await self._login(reader, writer)
        self.logged_in_at = self._last_rx = time.monotonic()
        self._tasks.append(
            asyncio.get_running_loop().create_task(self._read_loop(reader), name="lutron-reader")
        )
        for event in leftovers:
            self._dispatch(event)

    @property
    def received_at(self) -> float:
        """time.monotonic() when the bytes being handled arrived (the last read)."""
        return self._last_rx

    async def start_monitoring(self) -> None:
        """Prompt and the design's default monitoring off, replies and our monitoring on.
        Raises EOFError when the link ends meanwhile; a type the processor refuses is logged."""
        first = [p.monitoring(p.Monitoring.PROMPT, False), p.monitoring(p.Monitoring.ALL, False)]
        wanted = [p.monitoring(p.Monitoring.REPLY, True)]
        wanted += [p.monitoring(kind, True) for kind in self.monitoring]
        # The echo of `12,2` is unverified on real processors: a missing echo is not an error.
        for cmd in first:
            try:
                await self.query(cmd, 2.0, count_timeout=False)
            except NotConnected:
                raise EOFError(f"connection to {self.where} lost while setting up monitoring") from None
            except (CommandTimeout, CommandError):
                pass
        results = await asyncio.gather(*(self.query(cmd) for cmd in wanted), return_exceptions=True)
        for cmd, result in zip(wanted, results, strict=True):
            if isinstance(result, NotConnected):
                raise EOFError(f"connection to {self.where} lost while setting up monitoring")
            if isinstance(result, BaseException):
                log.warning("monitoring set-up %s: %s", cmd.line, result)

    async def serve(self) -> str:
        """Keep the connection alive until it ends; returns why it ended (one line)."""
        if self._tasks and not self._closed:
            loop = asyncio.get_running_loop()
            self._tasks.append(loop.create_task(self._keepalive(), name="lutron-keepalive"))
            await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
        return self._end_reason or f"connection to {self.where} closed"

    async def close(self, reason: str = "") -> None:
        """Stop the tasks, fail what still waits (NotConnected), close the socket."""
        if self._closed:
            return
        self._closed = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._fail_pending(NotConnected(reason or f"connection to {self.where} lost"))
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._writer.wait_closed(), 0.25)  # never hold up a stop

    # --- commands ----------------------------------------------------------------------------

    async def query(
        self, command: p.Command, timeout: float | None = None, *, count_timeout: bool = True
    ) -> p.Report:
        """Send a query and return its reply. Raises CommandError (~ERROR), CommandTimeout or
        NotConnected."""
        future: asyncio.Future[p.Report] = asyncio.get_running_loop().create_future()
        return await self._request(_Pending(command, future, time.monotonic()), timeout, count_timeout)

    async def firmware(
        self, timeout: float | None = None, *, command: p.Command = p.FIRMWAREREV, lines: int = 3
    ) -> list[str]:
        """`FIRMWAREREV` (HomeWorks QS): its three `label = value` text lines (fewer if no more
        came before the timeout); `?SYSTEM,8` with `lines=1` (RadioRA 2 too)."""
        future: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
        entry = _Pending(command, future, time.monotonic(), text_wanted=lines)
        try:
            return await self._request(entry, timeout, True)
        except CommandTimeout:
            if entry.text:  # fewer text lines than expected: take what came
                return list(entry.text)
            raise

    async def _request(self, entry: _Pending[_T], timeout: float | None, count_timeout: bool) -> _T:
        writer = self._writer
        if writer is None or self._ended or self._closed:
            raise NotConnected(f"connection to {self.where} lost")
        self._pending.append(entry)
        self.counters.commands += 1
        writer.write(entry.command.data)
        limit = self.settings.query_timeout if timeout is None else timeout
        try:
            return await asyncio.wait_for(asyncio.shield(entry.future), limit)
        except TimeoutError:
            if count_timeout and not entry.text:
                self.counters.timeouts += 1
            raise CommandTimeout(entry.command.line, limit) from None
        finally:
            with contextlib.suppress(ValueError):
                self._pending.remove(entry)
            if not entry.future.done():
                entry.future.cancel()

    def _dispatch(self, event: p.Event) -> None:
        """Reader-task side: resolve the waiting command this event answers, then pass it on."""
        if isinstance(event, p.Report):
            self.counters.events += 1
            if isinstance(event, p.ErrorReply):
                self.counters.errors += 1
                self._resolve_error(event)
            else:
                self._resolve_reply(event)
        elif isinstance(event, p.TextLine):
            self._resolve_text(event)
        self._on_event(event)

    def _resolve_reply(self, event: p.Report) -> None:
        for entry in self._pending:
            if entry.command.answered_by(event) and not entry.future.done():
                self.counters.observe_latency(time.monotonic() - entry.sent_at)
                entry.future.set_result(event)
                return

    def _resolve_error(self, event: p.ErrorReply) -> None:
        # ~ERROR names no command: it belongs to the oldest one still waiting.
        for entry in self._pending:
            if not entry.future.done():
                entry.future.set_exception(CommandError(entry.command.line, event.code))
                return
        log.debug("~ERROR,%d with no command waiting", event.code)

    def _resolve_text(self, event: p.TextLine) -> None:
        for entry in self._pending:
            if entry.text_wanted and not entry.future.done():
                if event.label_value() is None:
                    return
                entry.text.append(event.text)
                if len(entry.text) >= entry.text_wanted:
                    entry.future.set_result(list(entry.text))
                return
        log.debug("processor text: %s", event.text[:200])

    def _fail_pending(self, exc: SessionError) -> None:
        for entry in self._pending:
            if not entry.future.done():
                entry.future.set_exception(exc)
                entry.future.exception()  # mark retrieved: the waiter may already be gone
        self._pending.clear()

    # --- the socket ----------------------------------------------------------------------------

    async def _login(self, reader: telnetlib3.TelnetReader, writer: telnetlib3.TelnetWriter) -> list[p.Event]:
        cfg = self.settings
        deadline = time.monotonic() + cfg.login_timeout
        events: deque[p.Event] = deque()

        async def next_event() -> p.Event:
            while not events:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LoginFailed(f"no login dialogue from {self.where} within {cfg.login_timeout:g} s")
                try:
                    data = await asyncio.wait_for(reader.read(4096), left)
                except TimeoutError:
                    continue
                if not data:
                    raise EOFError(f"{self.where} closed the connection during login")
                events.extend(self._parser.feed(data))
            return events.popleft()

        async def wait_for(kind: type[p.Event]) -> None:
            while True:
                event = await next_event()
                if isinstance(event, kind):
                    return
                if isinstance(event, p.Prompt) and event.kind == "SAFE":
                    raise LoginFailed(f"{self.where} is in safe mode (SAFE> prompt): it needs a restart")

        await wait_for(p.LoginPrompt)
        writer.write(cfg.username.encode("utf-8") + b"\r\n")
        await wait_for(p.PasswordPrompt)
        writer.write(cfg.password.encode("utf-8") + b"\r\n")
        while True:
            event = await next_event()
            if isinstance(event, p.Prompt):
                if event.kind == "SAFE":
                    raise LoginFailed(f"{self.where} is in safe mode (SAFE> prompt): it needs a restart")
                self.prompt_kind = event.kind
                return list(events)
            if isinstance(event, (p.BadLogin, p.LoginPrompt)):
                raise LoginError(cfg.host, cfg.telnet_port, cfg.username)

    async def _read_loop(self, reader: telnetlib3.TelnetReader) -> None:
        try:
            self._end_reason = await self._read(reader)
        finally:
            # Nothing can answer any more: what waits fails now, not at its timeout.
            self._ended = True
            self._fail_pending(NotConnected(self._end_reason or f"connection to {self.where} lost"))

    async def _read(self, reader: telnetlib3.TelnetReader) -> str:
        """Read and dispatch until the link ends; returns why it ended."""
        while True:
            try:
                data = await reader.read(65536)
            except (OSError, EOFError) as exc:
                return f"connection to {self.where} lost: {exc}"
            if not data:
                return f"{self.where} closed the connection"
            self._last_rx = time.monotonic()
            for event in self._parser.feed(data):
                if isinstance(event, p.LoginPrompt):
                    return f"{self.where} reset the session (login prompt while logged in)"
                if isinstance(event, p.Prompt) and event.kind == "SAFE":
                    return f"{self.where} entered safe mode (SAFE> prompt)"
                self._dispatch(event)

    async def _keepalive(self) -> None:
        cfg = self.settings
        while True:
            await asyncio.sleep(cfg.keepalive_interval)
            sent = time.monotonic()
            try:
                await self.query(p.query_design_revision(), timeout=cfg.keepalive_timeout)
            except CommandTimeout:
                if self._last_rx < sent:
                    self._end_reason = (
                        f"{self.where} sent nothing for {cfg.keepalive_timeout:g} s after a keepalive: "
                        "connection presumed dead, reconnecting"
                    )
                    return
            except CommandError:
                pass
            except NotConnected:
                return  # the reader has ended and says why
