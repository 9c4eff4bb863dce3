"""A long-lived session with a Lutron processor: one connection after another, until `close()`.

The session is the part that outlives connections: the retry policy (`ReconnectPolicy`), the
listeners, the counters, an explicit `state` and the `connection_id` of the connection it is logged
in on. Each attempt is a new `connection.ProcessorConnection` (connect, log in, monitoring, read
loop, keepalive, pending replies), which lives once and ends; the session logs why, asks the policy
how long to wait, and makes the next one. What the events mean is for the layers above.

`first_outcome()` is awaitable: it returns once the first attempt has logged in (monitoring on),
been refused, or failed otherwise, with the reason; `check` waits on it instead of polling.

Tasks: one manager task per session (attempt, wait, repeat) and, per connection, the
`on_connected` hook besides the connection's own tasks. Each is cancelled and awaited by its
owner, so `close()` leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from telegraf_lutron import protocol as p
from telegraf_lutron.connection import (
    DEFAULT_MONITORING,
    CommandError,
    CommandTimeout,
    Counters,
    LoginError,
    LoginFailed,
    NotConnected,
    ProcessorConnection,
    SessionError,
)
from telegraf_lutron.processor_settings import ProcessorSettings
from telegraf_lutron.reconnect import ReconnectPolicy

__all__ = [
    "DEFAULT_MONITORING",
    "CommandError",
    "CommandTimeout",
    "ConnectedHook",
    "Counters",
    "Listener",
    "LoginError",
    "LoginFailed",
    "LoginOutcome",
    "NotConnected",
    "Session",
    "SessionError",
    "SessionState",
]

log = logging.getLogger(__name__)

Listener = Callable[[p.Event], None]
ConnectedHook = Callable[[], Awaitable[None]]


class SessionState(enum.Enum):
    """Where a session is in its life. Only `LOGGED_IN` accepts commands."""

    IDLE = "idle"  # made, not started
    CONNECTING = "connecting"  # opening the socket, logging in, turning monitoring on
    LOGGED_IN = "logged-in"  # monitoring on, events flowing, commands accepted
    BACKING_OFF = "backing-off"  # the connection failed or ended: waiting before the next attempt
    BAD_LOGIN = "bad-login"  # the processor refused the credentials: waiting (slowly) to try again
    CLOSED = "closed"  # close() was called: no more attempts


@dataclass(frozen=True, slots=True)
class LoginOutcome:
    """How the first attempt ended: `LOGGED_IN`, `BAD_LOGIN`, `BACKING_OFF` (any other failure)
    or `CLOSED` (the session was closed first). `reason` is one line, never a secret."""

    state: SessionState
    reason: str = ""

    @property
    def logged_in(self) -> bool:
        return self.state is SessionState.LOGGED_IN


class Session:
    """A processor session that reconnects forever until `close()`.

    `add_listener(fn)`: fn(event) is called for every event in arrival order, replies included,
    from the reader task; it must not block. `on_connected`: awaited in its own task after each
    login and monitoring set-up (the place for a full state sync).
    """

    def __init__(
        self,
        settings: ProcessorSettings,
        *,
        policy: ReconnectPolicy | None = None,
        on_connected: ConnectedHook | None = None,
        monitoring: tuple[int, ...] = DEFAULT_MONITORING,
    ) -> None:
        self.settings = settings
        self.policy = policy or ReconnectPolicy()
        self.on_connected = on_connected
        self.monitoring = monitoring
        self.counters = Counters()
        self._state = SessionState.IDLE
        self.prompt_kind = ""  # "QNET" (HomeWorks QS) or "GNET" (RadioRA 2) once logged in
        self.last_error = ""  # one line, why the session is not connected (never a secret)
        self.next_attempt_in = 0.0
        self._listeners: list[Listener] = []
        self._connection: ProcessorConnection | None = None  # the current attempt's
        self._attempts = 0  # connection ids: one per attempt, so never reused
        self._manager: asyncio.Task[None] | None = None
        self._closing = False
        self._connected_event = asyncio.Event()
        self._outcome: LoginOutcome | None = None
        self._outcome_event = asyncio.Event()

    # --- public API ------------------------------------------------------------------------

    @property
    def where(self) -> str:
        return self.settings.where

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def connected(self) -> bool:
        return self.state is SessionState.LOGGED_IN

    @property
    def connection_id(self) -> int | None:
        """The id of the connection the session is logged in on, None while it is not.

        Every attempt gets a new id, so "this happened on the current connection" is
        `recorded_id == session.connection_id`; `counters.connects` is a metric, not an id."""
        conn = self._connection
        return conn.id if conn is not None and self.state is SessionState.LOGGED_IN else None

    @property
    def received_at(self) -> float | None:
        """time.monotonic() when the bytes whose events are being handled arrived, None without a
        connection: events parsed from one read share it (the processor sent them together)."""
        conn = self._connection
        return conn.received_at if conn is not None else None

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def start(self) -> None:
        if self._manager is None and not self._closing:
            self._set_state(SessionState.CONNECTING)
            self._manager = asyncio.get_running_loop().create_task(self._run(), name="lutron-session")

    async def close(self) -> None:
        """Log out (close the socket), stop every task, fail what is still waiting."""
        self._closing = True
        manager = self._manager
        if manager is not None:
            # Cancel until the task has ended: on Python 3.11 `asyncio.wait_for` returns its
            # result and drops the cancellation when both arrive together (a reply during the
            # login or `start_monitoring`), and the session would then serve on while this
            # waited for it forever.
            while not manager.done():
                manager.cancel()
                await asyncio.wait({manager}, timeout=0.5)
            with contextlib.suppress(asyncio.CancelledError):
                await manager
            self._manager = None
        self._set_state(SessionState.CLOSED)
        self._settle(LoginOutcome(SessionState.CLOSED, f"session with {self.where} closed"))

    async def __aenter__(self) -> Session:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def wait_connected(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._connected_event.wait(), timeout)

    async def first_outcome(self) -> LoginOutcome:
        """Wait until the first attempt has ended and say how (at once if it already has).

        Logged in means monitoring is on and commands are accepted. A session that is never
        started never answers; bound the wait with `asyncio.wait_for` or `asyncio.timeout`."""
        while self._outcome is None:
            await self._outcome_event.wait()
        return self._outcome

    async def query(self, command: p.Command, timeout: float | None = None) -> p.Report:
        """Send a query and return its reply. Raises CommandError (~ERROR), CommandTimeout or
        NotConnected. The reply also reaches the listeners."""
        return await self._current().query(command, timeout)

    async def query_many(
        self, commands: Iterable[p.Command], window: int | None = None, timeout: float | None = None
    ) -> list[p.Report | SessionError]:
        """Pipelined queries, at most `window` in flight; results (or errors) in command order."""
        gate = asyncio.Semaphore(window or self.settings.window)

        async def one(cmd: p.Command) -> p.Report | SessionError:
            async with gate:
                try:
                    return await self.query(cmd, timeout)
                except SessionError as exc:
                    return exc

        return list(await asyncio.gather(*(one(c) for c in commands)))

    async def firmware(
        self, timeout: float | None = None, *, command: p.Command = p.FIRMWAREREV, lines: int = 3
    ) -> list[str]:
        """`FIRMWAREREV` (HomeWorks QS): its three `label = value` text lines; `?SYSTEM,8` with
        `lines=1` (any processor)."""
        return await self._current().firmware(timeout, command=command, lines=lines)

    # --- internals ---------------------------------------------------------------------------

    def _current(self) -> ProcessorConnection:
        conn = self._connection
        if conn is None or self.state is not SessionState.LOGGED_IN:
            raise NotConnected(f"not connected to {self.where}: {self.last_error or 'connecting'}")
        return conn

    def _set_state(self, state: SessionState) -> None:
        if state is not self._state:
            log.debug("session with %s: %s -> %s", self.where, self._state.value, state.value)
            self._state = state

    def _settle(self, outcome: LoginOutcome) -> None:
        """Record the first attempt's outcome (later ones are not first)."""
        if self._outcome is None:
            self._outcome = outcome
            self._outcome_event.set()

    def _notify(self, event: p.Event) -> None:
        for listener in tuple(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("listener failed on %r", event)

    async def _run(self) -> None:
        delay = 0.0
        while not self._closing:
            if delay > 0:
                self.next_attempt_in = delay
                log.info("next attempt to reach %s in %.0f s", self.where, delay)
                await asyncio.sleep(delay)
            self.next_attempt_in = 0.0
            delay = await self._attempt()

    async def _attempt(self) -> float:
        """One connection, from connect to its end; returns the delay before the next one."""
        self._attempts += 1
        conn = ProcessorConnection(
            self.settings,
            connection_id=self._attempts,
            counters=self.counters,
            on_event=self._notify,
            monitoring=self.monitoring,
        )
        self._connection = conn
        self._set_state(SessionState.CONNECTING)
        try:
            await self._serve(conn)
        except LoginError as exc:
            self.counters.bad_logins += 1
            self.last_error = str(exc)
            delay = self.policy.bad_login()
            self._set_state(SessionState.BAD_LOGIN)
            self._settle(LoginOutcome(SessionState.BAD_LOGIN, self.last_error))
            log.error("%s (next attempt in %.0f s)", exc, delay)
            return delay
        except (OSError, TimeoutError, EOFError, LoginFailed) as exc:
            self.last_error = _describe(exc, self.where)
            log.warning("%s", self.last_error)
        except Exception as exc:  # a bug must not end the session for good
            self.last_error = f"unexpected error talking to {self.where}: {type(exc).__name__}: {exc}"
            log.exception("unexpected error talking to %s", self.where)
        self._set_state(SessionState.BACKING_OFF)
        self._settle(LoginOutcome(SessionState.BACKING_OFF, self.last_error))
        if conn.logged_in_at is None:
            return self.policy.network_failure()
        return self.policy.connection_ended(time.monotonic() - conn.logged_in_at)

    async def _serve(self, conn: ProcessorConnection) -> None:
        """Log in, set up monitoring, run the hook, then serve until the link ends."""
        hook: asyncio.Task[None] | None = None
        try:
            await conn.open()
            self.policy.logged_in()
            self.counters.connects += 1
            self.prompt_kind = conn.prompt_kind
            await conn.start_monitoring()
            self.last_error = ""
            self._set_state(SessionState.LOGGED_IN)
            self._connected_event.set()
            self._settle(LoginOutcome(SessionState.LOGGED_IN))
            log.info("logged in to %s as %r (%s)", self.where, self.settings.username, self.prompt_kind)
            if self.on_connected is not None:
                hook = asyncio.get_running_loop().create_task(
                    self._run_hook(self.on_connected), name="lutron-sync"
                )
            self.last_error = await conn.serve()
            log.warning("%s", self.last_error)
        finally:
            if self.state is SessionState.LOGGED_IN:
                self._set_state(SessionState.BACKING_OFF)
            self._connected_event.clear()
            if hook is not None:
                hook.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await hook
            await conn.close()
            self._connection = None
            if conn.logged_in_at is not None:
                self.counters.disconnects += 1

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
