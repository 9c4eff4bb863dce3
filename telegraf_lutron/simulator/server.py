"""The telnet side: one `TelnetSession` per connection, from `login: ` to the last byte.

A session reads one line at a time and answers it before reading the next, spending the
simulator's service time on each, so a pipelining client is served serially as by a real
processor. Everything it writes (replies, events, prompts) goes through one ordered queue drained
by a writer task, which is where the packet-splitting quirk lives.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
from typing import TYPE_CHECKING, Any

from telegraf_lutron.simulator.commands import CommandError, Monitoring, execute, parse

if TYPE_CHECKING:
    from telegraf_lutron.simulator.core import Simulator

log = logging.getLogger(__name__)

# A client that stops reading gets dropped once this much output waits for it; a real processor
# drops such clients too, and the simulator must not grow without bound.
MAX_BACKLOG = 4 * 1024 * 1024
# Above this many bytes in the socket buffer, wait for the client before writing more.
HIGH_WATER = 256 * 1024
# Integration commands are short; a longer "line" is a confused client and ends the session.
MAX_LINE = 8192


class LineTooLong(ValueError):
    pass


class LineReader:
    """Lines ending in LF (CRLF or LF, the CR dropped), at most MAX_LINE bytes each.

    telnetlib3's own readline also ends a line at a lone CR, so a CRLF split between two packets
    would read as an extra empty line, and it buffers an endless line without limit.
    """

    def __init__(self, reader: Any, limit: int = MAX_LINE):
        self._reader = reader
        self._limit = limit
        self._buffer = bytearray()
        self._eof = False

    async def readline(self) -> bytes | None:
        """The next line without its terminator; a final unterminated line; None at EOF."""
        while True:
            i = self._buffer.find(b"\n")
            if i >= 0:
                line = bytes(self._buffer[:i])
                del self._buffer[: i + 1]
                return line.removesuffix(b"\r")
            if len(self._buffer) > self._limit:
                raise LineTooLong(f"line longer than {self._limit} bytes")
            if self._eof:
                if not self._buffer:
                    return None
                line = bytes(self._buffer)
                self._buffer.clear()
                return line
            data: bytes = await self._reader.read(4096)
            if data:
                self._buffer += data
            else:
                self._eof = True


class TelnetSession:
    """One integration connection: login dialogue, then commands, replies and events."""

    def __init__(self, sim: Simulator, sid: int, reader: Any, writer: Any):
        self.sim = sim
        self.sid = sid
        self.user: str | None = None  # set once logged in
        self.monitoring = Monitoring()
        self.task: asyncio.Task[None] | None = None
        self._lines = LineReader(reader)
        self._writer = writer
        self._queue: collections.deque[bytes] = collections.deque()
        self._queued = 0
        self._wakeup = asyncio.Event()
        self._closed = False
        # Quirk randomness per session, reproducible from the simulator's seed.
        self._rng = random.Random(f"{sim.seed}:{sid}")

    @property
    def logged_in(self) -> bool:
        return self.user is not None

    # -- output -------------------------------------------------------------------------------

    def _emit(self, data: bytes) -> None:
        if self._closed or self.sim.quirks.silent:
            return
        self._queue.append(data)
        self._queued += len(data)
        if self._queued > MAX_BACKLOG:
            log.warning(
                "session %d: client is not reading (%d bytes waiting), dropping it", self.sid, self._queued
            )
            self.close()
            return
        self._wakeup.set()

    def _message(self, lines: list[str], prompt: bool) -> bytes:
        """Lines, each ending CRLF, then the prompt if it is on: how a processor frames output."""
        p = self.sim.prompt
        parts = []
        glue = self.sim.quirks.glued_prompts
        for line in lines:
            if glue:
                r = self._rng.random()
                if r < 0.3:
                    line = p + line
                elif r < 0.4 and "," in line:
                    cut = line.index(",") + 1
                    line = line[:cut] + p + line[cut:]
            parts.append(line + "\r\n")
        if prompt:
            parts.append(p)
        return "".join(parts).encode("utf-8")

    def send_event_lines(self, lines: list[str]) -> None:
        """Unsolicited report lines (already filtered by monitoring type), with the prompt if on."""
        if lines:
            self._emit(self._message(lines, self.monitoring.prompt))

    async def _write_loop(self) -> None:
        writer = self._writer
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                if self.sim.quirks.split_packets:
                    data = self._queue.popleft()
                    self._queued -= len(data)
                    await self._write_split(data)
                else:
                    # Everything waiting goes out in one write, as a busy processor would send it.
                    data = b"".join(self._queue)
                    self._queue.clear()
                    self._queued = 0
                    writer.write(data)
                transport = writer.transport
                if transport is not None and transport.get_write_buffer_size() > HIGH_WATER:
                    await writer.drain()

    async def _write_split(self, data: bytes) -> None:
        i = 0
        while i < len(data):
            n = self._rng.randint(1, 8)
            self._writer.write(data[i : i + n])
            i += n
            # A pause between chunks makes them separate TCP segments the client reads apart.
            await asyncio.sleep(self._rng.uniform(0.0002, 0.001))

    def close(self) -> None:
        """Close the connection now; `run` then finishes on its own."""
        if self._closed:
            return
        self._closed = True
        self._queue.clear()
        self._writer.close()

    # -- input ----------------------------------------------------------------------------------

    async def run(self) -> None:
        writer_task = asyncio.create_task(self._write_loop(), name=f"lutron-sim-writer-{self.sid}")
        try:
            if await self._login():
                await self._serve()
        except (ConnectionError, LineTooLong) as exc:
            # A client that vanished or sent an endless line: close it like a processor would.
            log.debug("session %d ended: %s", self.sid, exc)
        finally:
            if self.user is not None:
                self.sim.stats.session_ended(self.user)
            self.close()
            writer_task.cancel()
            await asyncio.gather(writer_task, return_exceptions=True)

    async def _read_login_line(self, deadline: float) -> str | None:
        """A login line, or None on EOF or when the login timeout expires."""
        remaining = deadline - asyncio.get_running_loop().time()
        try:
            raw = await asyncio.wait_for(self._lines.readline(), max(remaining, 0.0))
        except TimeoutError:
            log.info("session %d: no login within %.0f s, closing", self.sid, self.sim.login_timeout)
            return None
        if raw is None:
            return None
        return raw.decode("utf-8", "replace").replace("\x00", "").strip()

    async def _login(self) -> bool:
        loop = asyncio.get_running_loop()
        while not self._closed:
            self._emit(b"login: ")
            deadline = loop.time() + self.sim.login_timeout
            user = await self._read_login_line(deadline)
            if user is None:
                return False
            self._emit(b"password: ")
            password = await self._read_login_line(deadline)
            if password is None:
                return False
            if self.sim.quirks.slow_login > 0:
                await asyncio.sleep(self.sim.quirks.slow_login)
            if self.sim.check_login(user, password):
                self.user = user
                self.monitoring.reset()
                self.sim.stats.session_started(user)
                # The first prompt ends with NUL (docs/protocol.md §1).
                self._emit(b"\r\n" + self.sim.prompt.encode() + b"\x00")
                return True
            if self.sim.system == "HWQS":
                self._emit(b"\r\nbad login\r\n")
        return False

    async def _serve(self) -> None:
        stats = self.sim.stats
        stats.commands_per_session.setdefault(self.sid, 0)
        self._busy_until = 0.0
        while True:
            waited_from = time.monotonic()
            raw = await self._lines.readline()
            if raw is None:
                return
            cmd = parse(raw.decode("utf-8", "replace"))
            if cmd is not None:
                stats.commands_total += 1
                stats.commands_per_session[self.sid] += 1
                if cmd.op == "?" and cmd.name == "OUTPUT" and cmd.args and cmd.args[0].isdigit():
                    zone = int(cmd.args[0])
                    stats.output_queries[zone] = stats.output_queries.get(zone, 0) + 1
            if self.sim.service_time > 0:
                # Serial service: a command that was already waiting starts when the previous one
                # completed, so timer overshoot does not accumulate while commands queue up.
                now = time.monotonic()
                queued = now - waited_from < 0.0002 and now - self._busy_until < self.sim.service_time
                self._busy_until = (self._busy_until if queued else now) + self.sim.service_time
                await asyncio.sleep(max(0.0, self._busy_until - now))
            if self.sim.quirks.silent:
                continue  # a processor that stopped answering does nothing at all
            # The prompt that follows a command is decided before it runs: `#MONITORING,12,2`
            # is still answered with a prompt (docs/protocol.md §10).
            prompt = self.monitoring.prompt
            lines: list[str] = []
            if cmd is not None:
                try:
                    outcome = execute(cmd, self.sim, self.monitoring)
                except CommandError as err:
                    reply, own = [f"~ERROR,{err.code}"], []
                else:
                    reply = outcome.reply
                    own = self.sim.publish(outcome.events, origin=self)
                    for delay, change in outcome.later:
                        self.sim.schedule(delay, change)
                # Monitoring type 11 off silences every reply, errors included; events still flow.
                lines = (reply if self.monitoring.replies else []) + own
            if lines or prompt:
                self._emit(self._message(lines, prompt))
