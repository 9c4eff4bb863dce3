"""`telegraf-lutron run`: the program Telegraf's inputs.execd starts and keeps running for months.

The execd contract (docs/telegraf.md §1), all of it:
- One snapshot per newline on stdin and per SIGHUP/SIGUSR1/SIGUSR2, in every `signal` mode, so
  a mismatch with `inputs.execd.signal` never silences us; newlines that queue up while a
  snapshot is being written are coalesced into one more snapshot. The signal handlers are
  installed by `cli.py` before anything slow is imported. `signal = "none"` adds our own
  interval (and, optionally, each change as it happens); the other values change nothing.
- stdin is read in every mode: EOF means Telegraf is stopping us, so we exit within a second.
  SIGTERM and SIGINT stop cleanly too. A broken stdout pipe means a quiet exit.
- Every line ends in `\\n` and each batch is flushed. Logs go to stderr, one line each, prefixed.
- An unreachable processor or a rejected login never makes us exit (Telegraf would restart-loop
  us): we keep writing `lutron_processor up=0` and the session keeps trying, politely.

The processor is watched through monitoring events; an interval costs it no queries. A full
state read happens after every login and every `resync_interval`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from telegraf_lutron import log as tlog
from telegraf_lutron import protocol as p
from telegraf_lutron.changes import HOUSE_INTERVAL, ChangeRows, next_boundary
from telegraf_lutron.cli import EARLY_SIGNALS
from telegraf_lutron.config import Config, ConfigError, load_config
from telegraf_lutron.design import Design, Project, normalize_revision
from telegraf_lutron.design_cache import DesignCache, DesignFollower, DesignSource
from telegraf_lutron.files import private_dir
from telegraf_lutron.live import live_document, write_live
from telegraf_lutron.metrics import CounterStarts, MetricSet, ProcessorHealth
from telegraf_lutron.polls import HousePolls
from telegraf_lutron.session import Session, SessionError
from telegraf_lutron.state import CAUSE_WAIT, CounterStore, HouseState, leds_to_query, zones_to_query
from telegraf_lutron.wattage import apply_overrides, unmatched_message

log = logging.getLogger("telegraf_lutron.run")

TICK_SIGNALS = {"SIGHUP": signal.SIGHUP, "SIGUSR1": signal.SIGUSR1, "SIGUSR2": signal.SIGUSR2}
COUNTER_SAVE_INTERVAL = 60.0
LIVE_WRITE_INTERVAL = 60.0  # live.json at least this often, and after any snapshot with a change


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", required=True, help="the plugin's TOML configuration file")


def main(args: argparse.Namespace) -> int:
    tlog.setup(logging.INFO)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    tlog.setup(config.plugin.log_level.upper())
    try:
        return asyncio.run(Plugin(config).run())
    except BrokenPipeError:
        return 0


class LoginLock:
    """One session per login: an advisory lock in cache_dir, so two plugin instances (a reload
    overlapping, a second Telegraf) never share a processor login."""

    def __init__(self, cache_dir: Path, host: str, user: str) -> None:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{host}-{user}")
        self.path = cache_dir / f"session-{safe}.lock"
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        private_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class StdinWatcher:
    """Reads stdin in a daemon thread (works for pipes, files, ttys and /dev/null alike) and
    reports newlines and EOF to the event loop."""

    def __init__(
        self,
        stream: BinaryIO,
        loop: asyncio.AbstractEventLoop,
        on_line: Callable[[], None],
        on_eof: Callable[[], None],
    ) -> None:
        self._stream, self._loop = stream, loop
        self._on_line, self._on_eof = on_line, on_eof
        self._thread = threading.Thread(target=self._run, name="stdin", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        # os.read on the descriptor, not the buffered stream: a daemon thread blocked inside
        # BufferedReader holds its lock, and interpreter shutdown then aborts (SIGABRT).
        try:
            fd = self._stream.fileno()
        except (OSError, ValueError, AttributeError):
            fd = -1
        try:
            while True:
                chunk = os.read(fd, 65536) if fd >= 0 else self._stream.read(1)
                if not chunk:
                    break
                if b"\n" in chunk:  # newlines already queued together make one collection
                    self._loop.call_soon_threadsafe(self._on_line)
        except (OSError, ValueError):
            pass
        with contextlib.suppress(RuntimeError):  # the loop may already be closed
            self._loop.call_soon_threadsafe(self._on_eof)


class Plugin:
    def __init__(
        self, config: Config, *, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None
    ) -> None:
        self.config = config
        self.stdin = stdin or sys.stdin.buffer
        self.stdout = stdout or sys.stdout.buffer
        pc, gc = config.processor, config.plugin
        self.follower = DesignFollower(
            DesignSource(url=pc.design_url, timeout=pc.xml_timeout), DesignCache(gc.cache_dir)
        )
        self.counter_store = CounterStore(gc.cache_dir)
        self.state = HouseState(Design(Project("")), now=time.monotonic())
        self.state.rest.set_sysvars(v.id for v in config.sysvars)
        self.starts = CounterStarts()  # outlives each design's MetricSet
        self.metrics = MetricSet(
            self.state.design, gc.site, pc.host, config.sysvars, design_loaded=False, starts=self.starts
        )
        self.changes = ChangeRows(self.state.design, gc.site)  # PostgreSQL's rows (changes.py)
        self._baseline_on: int | None = None  # the connection whose baseline rows were written
        self.have_design = False
        self._synced_on: int | None = None  # the connection id the last full read completed on
        self.session = Session(config.processor, on_connected=self._on_connected)
        self.session.add_listener(self._on_event)
        self.polls = HousePolls(
            self.session, lambda: self.state.design, config.sysvars, ready=lambda: self.synced
        )
        self._live_mark: tuple[int, bool, float] = (-1, False, 0.0)  # changes, current, written at
        self._live_task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._tick = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._design_task: asyncio.Task[None] | None = None
        self._latency_mark = (0.0, 0)
        self._last_latency = 0.0
        self._changed_zones: set[int] = set()
        self._pending_change_lines: list[str] = []
        self._flush_scheduled = False
        self._broken_pipe = False

    # --- lifecycle -----------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        gc = self.config.plugin
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        # Every tick signal takes a snapshot, whatever plugin.signal says: a mismatch with
        # inputs.execd.signal must not silence us (and Python's default action would kill us).
        for sig in TICK_SIGNALS.values():
            loop.add_signal_handler(sig, self._tick.set)
        if EARLY_SIGNALS:
            self._tick.set()
        stdin = StdinWatcher(self.stdin, loop, self._on_stdin_line, self._on_stdin_eof)
        stdin.start()
        log.info("starting: processor %s, site %r, signal %s", self.session.where, gc.site, gc.signal)
        lock = LoginLock(gc.cache_dir, self.config.processor.host, self.config.processor.username)
        try:
            await self._load_cached_design()
            self._tasks.append(loop.create_task(self._emitter(), name="emitter"))
            if gc.signal == "none":
                self._tasks.append(loop.create_task(self._own_interval(), name="interval"))
            self._tasks.append(loop.create_task(self._start_session(lock), name="session-start"))
            self._tasks.append(loop.create_task(self._resync_loop(), name="resync"))
            self._tasks.append(loop.create_task(self._save_loop(), name="save-counters"))
            self._tasks.append(loop.create_task(self.polls.run(), name="polls"))
            self._tasks.append(loop.create_task(self._change_clock(), name="checkpoints"))
            await self._stop.wait()
        finally:
            await self._shutdown(lock)
        return 0

    async def _shutdown(self, lock: LoginLock) -> None:
        for task in self._tasks:
            task.cancel()
        if self._design_task is not None:
            self._design_task.cancel()
        others = [t for t in (self._design_task, self._live_task) if t is not None]
        for task in [*self._tasks, *others]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.session.close()
        lock.release()
        self._save_counters()
        log.info("stopped")

    async def _start_session(self, lock: LoginLock) -> None:
        warned = False
        while not lock.try_acquire():
            if not warned:
                self.session.last_error = (
                    f"another telegraf-lutron holds the login {self.config.processor.username!r} "
                    f"for {self.session.where} ({lock.path}); waiting for it to stop"
                )
                log.error("%s", self.session.last_error)
                warned = True
            await asyncio.sleep(5.0)
        self.session.start()

    def _on_stdin_line(self) -> None:
        self._tick.set()  # in every signal mode: Telegraf's STDIN ticks are never ignored

    def _on_stdin_eof(self) -> None:
        log.info("stdin closed: stopping")
        self._stop.set()

    # --- output --------------------------------------------------------------------------

    def _write(self, text: str) -> None:
        if not text or self._broken_pipe:
            return
        try:
            self.stdout.write(text.encode("utf-8"))
            self.stdout.flush()
        except BrokenPipeError:
            # Telegraf is gone: leave quietly (and keep Python from complaining at exit).
            self._broken_pipe = True
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), self.stdout.fileno())
            self._stop.set()

    async def _emitter(self) -> None:
        while True:
            await self._tick.wait()
            self._tick.clear()  # newlines arriving while we write make exactly one more snapshot
            self.emit_snapshot()
            await asyncio.sleep(0)

    async def _own_interval(self) -> None:
        interval = self.config.plugin.interval
        while True:
            await asyncio.sleep(interval - (time.time() % interval))
            self._tick.set()

    @property
    def synced(self) -> bool:
        """The state was read in full on the current connection. While the processor is away (or
        until the read after a reconnect completes) only `lutron_processor` is written: stale
        levels are not reported as current. Energy keeps integrating the last known levels."""
        on = self.session.connection_id
        return on is not None and on == self._synced_on

    def health(self) -> ProcessorHealth:
        c = self.session.counters
        total, count = self._latency_mark
        if c.latency_count > count:
            self._last_latency = (c.latency_sum - total) / (c.latency_count - count)
            self._latency_mark = (c.latency_sum, c.latency_count)
        clock = self.polls.processor
        return ProcessorHealth(
            self.session.connected,
            c.copy(),
            self._last_latency,
            clock_offset=clock.clock_offset,
            sunrise=clock.sunrise,
            sunset=clock.sunset,
            firmware=clock.firmware,
            unknown_events=self.state.unknown_events,
        )

    def emit_snapshot(self) -> None:
        self.state.advance(time.monotonic())
        house = self.have_design and self.synced
        self._write(self.metrics.snapshot(self.state, self.health(), time.time_ns(), house=house))
        self._write_live(house)

    def _write_live(self, current: bool) -> None:
        """live.json for the web UI, after a snapshot that saw a change, else once a minute."""
        if not self.have_design or (self._live_task is not None and not self._live_task.done()):
            return
        changes, was_current, written = self._live_mark
        now = time.monotonic()
        if (changes, was_current) == (
            self.state.rest.changes,
            current,
        ) and now - written < LIVE_WRITE_INTERVAL:
            return
        self._live_mark = (self.state.rest.changes, current, now)
        processor = {
            "host": self.config.processor.host,
            "up": self.session.connected,
            "clock_offset_seconds": self.polls.processor.clock_offset,
            "sunrise_seconds": self.polls.processor.sunrise,
            "sunset_seconds": self.polls.processor.sunset,
            "firmware": self.polls.processor.firmware,
        }
        doc = live_document(
            self.state,
            self.config.sysvars,
            processor,
            site=self.config.plugin.site,
            written_at=time.time(),
            current=current,
        )
        self._live_task = asyncio.get_running_loop().create_task(
            asyncio.to_thread(self._write_live_file, doc), name="live-state"
        )

    def _write_live_file(self, doc: dict[str, object]) -> None:
        try:
            write_live(self.config.plugin.cache_dir, doc)
        except OSError as exc:
            log.warning("cannot write the live state to %s: %s", self.config.plugin.cache_dir, exc.strerror)

    # --- events from the processor -------------------------------------------------------

    def _event_time(self) -> tuple[float, float]:
        """(monotonic, wall) time of the event being handled: when its bytes arrived. Events of one
        read share it (the processor sent them together), so writing the rows of the first does not
        delay the others: a room's vacancy and the lights it switches off stay one instant."""
        mono = time.monotonic()
        rx = self.session.received_at
        if rx is None or not 0.0 <= mono - rx < 1.0:
            return mono, time.time()
        return rx, time.time() - (mono - rx)

    def _on_event(self, event: p.Event) -> None:
        now, wall = self._event_time()
        if isinstance(event, p.SystemReport):
            if event.design_revision and self.synced:  # keepalive replies carry the revision
                self._schedule_design_check(event.design_revision)
            return
        changed = self.state.apply(event, now, wall)
        if changed and self.synced and self.have_design:
            self._write_change_row(event)
        if (
            changed
            and self.config.plugin.emit_on_change
            and self.config.plugin.signal == "none"
            and self.synced
        ):
            self._queue_change(event)

    def _write_change_row(self, event: p.Event) -> None:
        """PostgreSQL's rows for this change, stamped with the event's own time: at once, except a
        level change's, which waits for its cause at most CAUSE_WAIT (docs/protocol.md §11)."""
        ts = time.time_ns()
        if isinstance(event, p.OutputSource):
            self._write(self.changes.cause_known(self.state, event.zone))
        elif isinstance(event, p.OutputTilt) and event.lift is None:
            self._write(self.changes.zone_row(self.state, event.zone, ts))  # a tilt: the level stays
        elif isinstance(event, p.OutputLevel | p.OutputTilt):
            # set_level integrated the zone's energy up to this event: the counter is at `ts`
            text = self.changes.level_change(self.state, event.zone, ts)
            self._write(text + self.changes.zone_area_change(self.state, event.zone, ts))
            if self.changes.waiting:
                asyncio.get_running_loop().call_later(CAUSE_WAIT + 0.05, self._rows_due)
        else:
            text = self.changes.event_row(self.state, event, ts)
            if isinstance(event, p.OccupancyState):
                text += self.changes.area_change(self.state, event.group, ts)
            self._write(text)

    def _rows_due(self) -> None:
        """Change rows whose cause did not come in time: written with cause unknown."""
        self.state.advance(time.monotonic())
        self._write(self.changes.due(self.state))

    async def _change_clock(self) -> None:
        """The house row every minute and the checkpoints, both clock-aligned (changes.py)."""
        every = self.config.plugin.checkpoint_interval
        while True:
            now = time.time()
            boundary = next_boundary(now, HOUSE_INTERVAL)
            await asyncio.sleep(boundary - now)
            if not (self.have_design and self.synced):
                continue
            self.state.advance(time.monotonic())
            self._write(self.changes.on_the_minute(self.state, boundary, every, time.time_ns()))

    def _queue_change(self, event: p.Event) -> None:
        ts = f" {time.time_ns()}"
        m = self.metrics
        if isinstance(event, p.OutputSource):
            return  # a cause: no line of the zone, its area or the house changes
        if isinstance(event, p.OutputLevel | p.OutputReport):
            self._changed_zones.add(event.zone)  # its area and the house total follow at the flush
            text = ""
        elif isinstance(event, p.LedState):
            text = m.led_line((event.device, event.led), event.state, ts)
        elif (
            isinstance(event, p.ButtonEvent)
            and self.state.design.input(event.device, event.component) is None
        ):
            key = (event.device, event.component)
            text = m.button_line(key, self.state.buttons[key], ts)
        elif isinstance(event, p.OccupancyState):
            text = m.occupancy_line(event.group, event.occupied, ts)
        elif isinstance(event, p.OutputTilt):
            self._changed_zones.add(event.zone)
            text = ""
        else:
            text = m.change_lines(self.state, event, ts)  # inputs, time clocks, sysvars, shades, ...
            if not text:
                return
        if text:
            self._pending_change_lines.append(text)
        if not self._flush_scheduled:
            # Events that arrive in one read are written together, right after it.
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_changes)

    def _flush_changes(self) -> None:
        self._flush_scheduled = False
        if self._changed_zones:
            self.state.advance(time.monotonic())
            zones, self._changed_zones = self._changed_zones, set()
            self._pending_change_lines.append(
                self.metrics.zone_change_lines(self.state, zones, time.time_ns())
            )
        text = "".join(self._pending_change_lines)
        self._pending_change_lines.clear()
        self._write(text)

    # --- design --------------------------------------------------------------------------

    async def _load_cached_design(self) -> None:
        update = await self.follower.start()
        if update.design is not None:
            self._use_design(update.design)

    def _use_design(self, design: Design) -> None:
        design, unmatched = apply_overrides(design, self.config.zones)
        for entry in unmatched:
            log.warning("%s", unmatched_message(entry))
        self.state.set_design(design, time.monotonic())
        if not self.have_design:
            self.counter_store.load_into(self.state)
            self.starts.capture(self.state)
        self.metrics = MetricSet(
            design,
            self.config.plugin.site,
            self.config.processor.host,
            self.config.sysvars,
            starts=self.starts,
        )
        self._write(self.changes.flush(self.state))  # rows still waiting for their cause
        self.changes = ChangeRows(design, self.config.plugin.site)
        self._baseline_on = None  # a new design: a new baseline after its read
        self.have_design = True

    def _schedule_design_check(self, revision: str) -> None:
        if normalize_revision(revision) == self.follower.revision:
            return
        if self._design_task is None or self._design_task.done():
            self._design_task = asyncio.get_running_loop().create_task(self._follow_revision(revision, None))

    async def _follow_revision(self, revision: str, design_version: int | None) -> None:
        """Load the design of `revision` (cache or processor); on a change, re-read the state."""
        update = await self.follower.ensure(revision, design_version)
        if update.changed and update.design is not None:
            self._use_design(update.design)
            if self.session.connected:
                await self._sync()

    async def _design_version(self) -> int | None:
        """HomeWorks QS `FIRMWAREREV` design version (second line `<label> = <integer>`)."""
        if self.session.prompt_kind != "QNET":
            return None
        try:
            lines = await self.session.firmware()
        except SessionError:
            return None
        for text in lines[1:2]:
            value = text.rpartition("=")[2].strip()
            if value.isdigit():
                return int(value)
        return None

    async def _on_connected(self) -> None:
        """After every login: make sure the design matches the processor's, then read all state."""
        reply = await self.session.query(p.query_design_revision())
        revision = reply.design_revision if isinstance(reply, p.SystemReport) else None
        if revision:
            if self._design_task is not None and not self._design_task.done():
                await self._design_task
            version = await self._design_version()
            update = await self.follower.ensure(revision, version)
            if update.changed and update.design is not None:
                self._use_design(update.design)
        if not self.have_design:
            log.error("no design available (see earlier errors): only lutron_processor is reported")
            return
        await self._sync()
        await self.polls.after_login()

    async def _sync(self) -> None:
        design = self.state.design
        commands = [p.query_output_level(zone) for zone in zones_to_query(design)]
        commands += [p.query_led(d, c) for d, c in leds_to_query(design)]
        commands += [p.query_occupancy(a.iid) for a in design.occupancy_areas]
        started = time.monotonic()
        connection = self.session.connection_id  # the read counts for this connection only
        results = await self.session.query_many(commands, window=self.config.processor.window)
        failed = [r for r in results if isinstance(r, SessionError)]
        if failed and len(failed) == len(results):
            raise failed[0]
        await self.polls.sync()
        self._synced_on = connection
        if connection is not None and connection != self._baseline_on:
            # Levels may have changed while we were away: every zone's row starts the connection.
            self._baseline_on = connection
            self.state.advance(time.monotonic())
            self._write(self.changes.all_zones(self.state, time.time_ns()))
        log.info(
            "state read: %d queries in %.2f s, %d failed%s",
            len(commands),
            time.monotonic() - started,
            len(failed),
            f" (first: {failed[0]})" if failed else "",
        )

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.plugin.resync_interval)
            if self.session.connected and self.have_design:
                with contextlib.suppress(SessionError):
                    await self._sync()

    async def _save_loop(self) -> None:
        while True:
            await asyncio.sleep(COUNTER_SAVE_INTERVAL)
            if self.have_design:
                self.state.advance(time.monotonic())
                doc = self.state.counters_document()  # built here: the loop owns the state
                await asyncio.to_thread(self._write_counters, doc)

    def _save_counters(self) -> None:
        if self.have_design:
            self.state.advance(time.monotonic())
            self._write_counters(self.state.counters_document())

    def _write_counters(self, doc: dict[str, object]) -> None:
        try:
            self.counter_store.write(doc)
        except OSError as exc:
            log.warning("cannot save counters to %s: %s", self.counter_store.path, exc.strerror)
