"""One long-lived telnet session with a Lutron processor (asyncio + telnetlib3).

The session owns the socket and nothing else: it logs in, turns monitoring on after every login,
keeps the connection alive, reconnects by `ReconnectPolicy`, correlates queries with replies and
hands every event to its listeners. What the events mean is for the layers above.

Tasks: one manager task per session (connect, log in, wait, back off, repeat); per connection a
reader task (the only one that reads the socket), a keepalive task and the `on_connected` hook.
Each is cancelled and awaited by its owner, so `close()` leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import telnetlib3

from telegraf_lutron import protocol as p
from telegraf_lutron.reconnect import ReconnectPolicy

log = logging.getLogger(__name__)

Listener = Callable[[p.Event], None]
ConnectedHook = Callable[[], Awaitable[None]]

# Monitoring sent after every login (the processor restores the design's defaults at each login).
DEFAULT_MONITORING = (
    p.Monitoring.ZONE,
    p.Monitoring.LED,
    p.Monitoring.BUTTON,
    p.Monitoring.OCCUPANCY,
    p.Monitoring.SHADE_GROUP,
    p.Monitoring.SYSVAR,
)


class SessionError(Exception):
    """Base of the errors a session reports."""


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
class SessionConfig:
    host: str
    port: int = 23
    username: str = "default"
    password: str = field(default="", repr=False)
    connect_timeout: float = 10.0
    login_timeout: float = 10.0
    query_timeout: float = 5.0
    keepalive_interval: float = 60.0
    keepalive_timeout: float = 30.0
    window: int = 8
    monitoring: tuple[int, ...] = DEFAULT_MONITORING


@dataclass
class Counters:
    connects: int = 0
    disconnects: int = 0
    bad_logins: int = 0
    commands: int = 0
    errors: int = 0
    timeouts: int = 0
    events: int = 0
    latency_sum: float = 0.0
    latency_count: int = 0
    last_latency: float = 0.0

    def observe_latency(self, seconds: float) -> None:
        self.latency_sum += seconds
        self.latency_count += 1
        self.last_latency = seconds


@dataclass
class _Pending:
    command: p.Command
    future: asyncio.Future[p.Report | list[str]]
    sent_at: float
    text_wanted: int = 0  # FIRMWAREREV answers with free-text lines, not a report
    text: list[str] = field(default_factory=list)


class Session:
    """A processor session that reconnects forever until `close()`.

    `add_listener(fn)`: fn(event) is called for every event in arrival order, replies included,
    from the reader task; it must not block. `on_connected`: awaited in its own task after each
    login and monitoring set-up (the place for a full state sync).
    """

    def __init__(
        self,
        config: SessionConfig,
        *,
        policy: ReconnectPolicy | None = None,
        on_connected: ConnectedHook | None = None,
    ) -> None:
        self.config = config
        self.policy = policy or ReconnectPolicy()
        self.on_connected = on_connected
        self.counters = Counters()
        self.connected = False
        self.prompt_kind = ""  # "QNET" (HomeWorks QS) or "GNET" (RadioRA 2) once logged in
        self.last_error = ""  # one line, why the session is not connected (never a secret)
        self.next_attempt_in = 0.0
        self._listeners: list[Listener] = []
        self._pending: deque[_Pending] = deque()
        self._writer: telnetlib3.TelnetWriter | None = None
        self._manager: asyncio.Task[None] | None = None
        self._closing = False
        self._connected_event = asyncio.Event()
        self._last_rx = 0.0
        self._end_reason = ""
        self._logged_in_at: float | None = None

    # --- public API ------------------------------------------------------------------------

    @property
    def where(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def start(self) -> None:
        if self._manager is None:
            self._manager = asyncio.get_running_loop().create_task(self._run(), name="lutron-session")

    async def close(self) -> None:
        """Log out (close the socket), stop every task, fail what is still waiting."""
        self._closing = True
        if self._manager is not None:
            self._manager.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._manager
            self._manager = None
        self._fail_pending(NotConnected("session closed"))

    async def __aenter__(self) -> Session:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def wait_connected(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._connected_event.wait(), timeout)

    async def query(self, command: p.Command, timeout: float | None = None) -> p.Report:
        """Send a query and return its reply. Raises CommandError (~ERROR), CommandTimeout or
        NotConnected. The reply also reaches the listeners."""
        result = await self._submit(command, timeout)
        assert isinstance(result, p.Report)
        return result

    async def execute(self, command: p.Command, timeout: float = 1.0) -> None:
        """Send a `#` command that answers only on error. Succeeds when a later reply arrives
        or `timeout` passes without a `~ERROR` (silence is success once the prompt is off)."""
        with contextlib.suppress(CommandTimeout):
            await self._submit(command, timeout, count_timeout=False)

    async def query_many(
        self, commands: Iterable[p.Command], window: int | None = None, timeout: float | None = None
    ) -> list[p.Report | SessionError]:
        """Pipelined queries, at most `window` in flight; results (or errors) in command order."""
        gate = asyncio.Semaphore(window or self.config.window)

        async def one(cmd: p.Command) -> p.Report | SessionError:
            async with gate:
                try:
                    return await self.query(cmd, timeout)
                except SessionError as exc:
                    return exc

        return list(await asyncio.gather(*(one(c) for c in commands)))

    async def firmware(self, timeout: float | None = None) -> list[str]:
        """`FIRMWAREREV` (HomeWorks QS): its three `label = value` text lines."""
        result = await self._submit(p.FIRMWAREREV, timeout, text_wanted=3)
        assert isinstance(result, list)
        return result

    # --- commands ----------------------------------------------------------------------------

    async def _submit(
        self,
        command: p.Command,
        timeout: float | None,
        *,
        text_wanted: int = 0,
        count_timeout: bool = True,
        during_setup: bool = False,
    ) -> p.Report | list[str]:
        writer = self._writer
        if writer is None or not (self.connected or during_setup):
            raise NotConnected(f"not connected to {self.where}: {self.last_error or 'connecting'}")
        future: asyncio.Future[p.Report | list[str]] = asyncio.get_running_loop().create_future()
        entry = _Pending(command, future, time.monotonic(), text_wanted)
        self._pending.append(entry)
        self.counters.commands += 1
        writer.write(command.data)
        limit = self.config.query_timeout if timeout is None else timeout
        try:
            return await asyncio.wait_for(asyncio.shield(future), limit)
        except TimeoutError:
            if entry.text and text_wanted:  # fewer text lines than expected: take what came
                return list(entry.text)
            if count_timeout:
                self.counters.timeouts += 1
            raise CommandTimeout(command.line, limit) from None
        finally:
            with contextlib.suppress(ValueError):
                self._pending.remove(entry)
            if not future.done():
                future.cancel()

    def _dispatch(self, event: p.Event) -> None:
        """Reader-task side: resolve the waiting command this event answers, then tell listeners."""
        if isinstance(event, p.Report):
            self.counters.events += 1
            if isinstance(event, p.ErrorReply):
                self.counters.errors += 1
                self._resolve_error(event)
            else:
                self._resolve_reply(event)
        elif isinstance(event, p.TextLine):
            self._resolve_text(event)
        for listener in tuple(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("listener failed on %r", event)

    def _resolve_reply(self, event: p.Report) -> None:
        for i, entry in enumerate(self._pending):
            if entry.command.answered_by(event) and not entry.future.done():
                now = time.monotonic()
                self.counters.observe_latency(now - entry.sent_at)
                entry.future.set_result(event)
                # Replies come in order: commands sent before this one that expect no reply
                # (silent `#` commands) have succeeded.
                for earlier in list(self._pending)[:i]:
                    if earlier.command.expect is None and not earlier.text_wanted:
                        if not earlier.future.done():
                            earlier.future.set_result(event)
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

    # --- connection lifecycle ----------------------------------------------------------------

    async def _run(self) -> None:
        delay = 0.0
        while not self._closing:
            if delay > 0:
                self.next_attempt_in = delay
                log.info("next attempt to reach %s in %.0f s", self.where, delay)
                await asyncio.sleep(delay)
            self.next_attempt_in = 0.0
            self._logged_in_at = None
            try:
                await self._connection()
                self.last_error = self._end_reason or f"connection to {self.where} closed"
                log.warning("%s", self.last_error)
            except LoginError as exc:
                self.counters.bad_logins += 1
                self.last_error = str(exc)
                delay = self.policy.bad_login()
                log.error("%s (next attempt in %.0f s)", exc, delay)
                continue
            except (OSError, TimeoutError, EOFError, LoginFailed) as exc:
                self.last_error = _describe(exc, self.where)
                log.warning("%s", self.last_error)
            except Exception as exc:  # a bug must not end the session for good
                self.last_error = f"unexpected error talking to {self.where}: {type(exc).__name__}: {exc}"
                log.exception("unexpected error talking to %s", self.where)
            if self._logged_in_at is None:
                delay = self.policy.network_failure()
            else:
                delay = self.policy.connection_ended(time.monotonic() - self._logged_in_at)

    async def _connection(self) -> None:
        """Connect, log in, set up monitoring, then serve until the link ends."""
        cfg = self.config
        reader, writer = await asyncio.wait_for(
            telnetlib3.open_connection(
                cfg.host,
                cfg.port,
                encoding=False,
                connect_minwait=0.0,
                connect_maxwait=0.2,
                connect_timeout=cfg.connect_timeout,
                client_factory=telnetlib3.TelnetClient,
            ),
            cfg.connect_timeout + 1.0,
        )
        tasks: list[asyncio.Task[None]] = []
        parser = p.LineParser()
        self._end_reason = ""
        try:
            leftovers = await self._login(reader, writer, parser)
            self.policy.logged_in()
            self._logged_in_at = time.monotonic()
            self.counters.connects += 1
            self._writer = writer
            self._last_rx = time.monotonic()
            loop = asyncio.get_running_loop()
            tasks.append(loop.create_task(self._read_loop(reader, parser), name="lutron-reader"))
            for event in leftovers:
                self._dispatch(event)
            await self._setup_monitoring()
            self.connected = True
            self.last_error = ""
            self._connected_event.set()
            log.info("logged in to %s as %r (%s)", self.where, cfg.username, self.prompt_kind)
            tasks.append(loop.create_task(self._keepalive(), name="lutron-keepalive"))
            if self.on_connected is not None:
                tasks.append(loop.create_task(self._run_hook(self.on_connected), name="lutron-sync"))
            await asyncio.wait(tasks[:2], return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.connected = False
            self._connected_event.clear()
            self._writer = None
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self._fail_pending(NotConnected(f"connection to {self.where} lost"))
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 0.25)  # never hold up a stop
            if self._logged_in_at is not None:
                self.counters.disconnects += 1

    async def _login(
        self, reader: telnetlib3.TelnetReader, writer: telnetlib3.TelnetWriter, parser: p.LineParser
    ) -> list[p.Event]:
        cfg = self.config
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
                events.extend(parser.feed(data))
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
                raise LoginError(cfg.host, cfg.port, cfg.username)

    async def _setup_monitoring(self) -> None:
        first = [p.monitoring(p.Monitoring.PROMPT, False), p.monitoring(p.Monitoring.ALL, False)]
        wanted = [p.monitoring(p.Monitoring.REPLY, True)]
        wanted += [p.monitoring(kind, True) for kind in self.config.monitoring]
        # The echo of `12,2` is unverified on real processors: a missing echo is not an error.
        for cmd in first:
            with contextlib.suppress(CommandTimeout, CommandError):
                await self._submit(cmd, 2.0, count_timeout=False, during_setup=True)
        results = await asyncio.gather(
            *(self._submit(cmd, None, during_setup=True) for cmd in wanted), return_exceptions=True
        )
        for cmd, result in zip(wanted, results, strict=True):
            if isinstance(result, NotConnected):
                raise EOFError(f"connection to {self.where} lost while setting up monitoring")
            if isinstance(result, BaseException):
                log.warning("monitoring set-up %s: %s", cmd.line, result)

    async def _read_loop(self, reader: telnetlib3.TelnetReader, parser: p.LineParser) -> None:
        while True:
            try:
                data = await reader.read(65536)
            except (OSError, EOFError) as exc:
                self._end_reason = f"connection to {self.where} lost: {exc}"
                return
            if not data:
                self._end_reason = f"{self.where} closed the connection"
                return
            self._last_rx = time.monotonic()
            for event in parser.feed(data):
                if isinstance(event, p.LoginPrompt):
                    self._end_reason = f"{self.where} reset the session (login prompt while logged in)"
                    return
                if isinstance(event, p.Prompt) and event.kind == "SAFE":
                    self._end_reason = f"{self.where} entered safe mode (SAFE> prompt)"
                    return
                self._dispatch(event)

    async def _keepalive(self) -> None:
        cfg = self.config
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

    async def _run_hook(self, hook: ConnectedHook) -> None:
        try:
            await hook()
        except SessionError as exc:
            log.warning("after login: %s", exc)
        except Exception:
            log.exception("after-login hook failed")


def _describe(exc: BaseException, where: str) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return f"cannot connect to {where}: connection refused (is the host and telnet port right?)"
    if isinstance(exc, TimeoutError):
        return f"cannot connect to {where}: timed out (is the processor on the network?)"
    if isinstance(exc, OSError):
        return f"cannot connect to {where}: {exc.strerror or exc}"
    return str(exc) or f"{type(exc).__name__} talking to {where}"
