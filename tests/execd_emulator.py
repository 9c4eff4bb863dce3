"""Telegraf's inputs.execd, emulated for tests that run a plugin as a real subprocess.

Behaviour follows docs/telegraf.md §1.2-§1.4 and §1.7:
- start: argv without a shell, environment = os.environ + `environment` entries (later ones win);
  a failure to exec at start-up raises ExecdStartError (Telegraf aborts);
- tick(): one interval. STDIN writes one b"\\n" with a 1 s deadline and no coalescing (a full pipe or a
  dead child is logged as `writing to stdin failed`); SIGHUP/SIGUSR1/SIGUSR2 go to the direct child only;
  none does nothing; any other value logs `invalid signal: X`. The emulator never ticks on its own, so
  there is no tick at start-up unless a test sends one;
- stdout: parsed as a stream by the strict parser (telegraf_lutron/lineproto_parse.py): a metric only when its
  newline arrives (or at EOF), a bad line logged as `metric parse error: ...` and skipped;
- stderr: `E! `/`W! `/`I! `/`D! `/`T! ` at column 0 set the level, anything else is an error
  `stderr: "<Go %q>"`; a line of 64 KiB or more ends stderr reading for good
  (`error reading stderr: bufio.Scanner: token too long`) and nothing drains the pipe afterwards;
- exit, any code: `Process <path> exited: <err>`, `Restarting in <delay>...`, re-exec after
  restart_delay; with stop_on_error a non-zero exit is not restarted; a failed re-exec ends the loop;
- stop(): close stdin -> wait up to 5 s -> SIGTERM -> wait up to 5 s -> SIGKILL, and report which step
  ended the plugin and how long it took.

Deliberate differences: output the plugin wrote before exiting is always read (Telegraf may lose it to
the pipe race, influxdata/telegraf#8102); errors carry the emulator's own wording where Telegraf's exact
text is not in the contract (stop_on_error, read failures).
"""

from __future__ import annotations

import codecs
import os
import select
import shutil
import signal as signal_module
import subprocess
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from telegraf_lutron.lineproto_parse import LineProtocolParseError, Metric, StreamParser, go_quote

__all__ = [
    "STDERR_LINE_LIMIT",
    "STDIN_WRITE_TIMEOUT",
    "STOP_TIMEOUT",
    "ExecdEmulator",
    "ExecdStartError",
    "ExitRecord",
    "LogRecord",
    "ReceivedMetric",
    "StopResult",
]

STOP_TIMEOUT = 5.0  # process.go: close stdin, 5 s, SIGTERM, 5 s, SIGKILL
STDIN_WRITE_TIMEOUT = 1.0  # execd_posix.go: write deadline for the tick's "\n"
STDERR_LINE_LIMIT = 64 * 1024  # bufio.Scanner's default maximum token size
_READ_CHUNK = 65536
_POLL = 0.05  # how often idle reader threads look at the exit flag

_SIGNALS = {
    "SIGHUP": signal_module.SIGHUP,
    "SIGUSR1": signal_module.SIGUSR1,
    "SIGUSR2": signal_module.SIGUSR2,
}
_LEVEL_PREFIXES = ("E! ", "W! ", "I! ", "D! ", "T! ")
# Go's names for the signals a plugin is likely to die from (syscall.Signal.String()).
_GO_SIGNAL_NAMES = {
    signal_module.SIGHUP: "hangup",
    signal_module.SIGINT: "interrupt",
    signal_module.SIGQUIT: "quit",
    signal_module.SIGABRT: "aborted",
    signal_module.SIGKILL: "killed",
    signal_module.SIGSEGV: "segmentation fault",
    signal_module.SIGPIPE: "broken pipe",
    signal_module.SIGTERM: "terminated",
    signal_module.SIGUSR1: "user defined signal 1",
    signal_module.SIGUSR2: "user defined signal 2",
}

T = TypeVar("T")


class ExecdStartError(RuntimeError):
    """The command could not be executed at start-up: Telegraf itself would abort."""


@dataclass(frozen=True)
class ReceivedMetric:
    """A metric as execd accepted it: when it arrived (time.monotonic()) and from which process instance."""

    metric: Metric
    arrived: float
    instance: int


@dataclass(frozen=True)
class LogRecord:
    """A line of Telegraf's log. level is E, W, I, D or T; origin is "stderr" for the plugin's own lines."""

    level: str
    message: str
    time: float
    instance: int
    origin: str = "execd"


@dataclass(frozen=True)
class ExitRecord:
    """One process instance ended: Popen return code (negative = killed by that signal)."""

    instance: int
    pid: int
    returncode: int
    started: float
    ended: float
    during_stop: bool


@dataclass(frozen=True)
class StopResult:
    """How stop() ended the plugin.

    step: "stdin-eof" (exited within 5 s of stdin closing), "SIGTERM", "SIGKILL", or "not-running".
    took: seconds from closing stdin until the process was reaped (0.0 when not running).
    """

    step: str
    took: float
    returncode: int | None


def go_duration(seconds: float) -> str:
    """Format like Go's time.Duration.String() for the values tests use: 10s, 1.5s, 200ms, 1m30s."""
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    minutes, rest = divmod(seconds, 60)
    if minutes:
        return f"{int(minutes)}m{rest:g}s"
    return f"{seconds:g}s"


def go_exit_error(returncode: int) -> str:
    """The text of exec.Cmd.Wait()'s error for a return code: `<nil>`, `exit status 1`, `signal: killed`."""
    if returncode == 0:
        return "<nil>"
    if returncode > 0:
        return f"exit status {returncode}"
    number = -returncode
    try:
        name = _GO_SIGNAL_NAMES.get(signal_module.Signals(number)) or signal_module.strsignal(number)
    except ValueError:
        name = None
    return f"signal: {name or f'signal {number}'}"


class _Instance:
    """One run of the plugin: the process, its reader threads and its exit."""

    def __init__(self, number: int, proc: subprocess.Popen[bytes]) -> None:
        self.number = number
        self.proc = proc
        self.started = time.monotonic()
        self.reaped = threading.Event()  # set once the return code is known
        self.done = threading.Event()  # set once readers are finished and pipes are closed
        self.ended = 0.0
        self.returncode: int | None = None
        self.stdin_lock = threading.Lock()
        self.threads: list[threading.Thread] = []


class ExecdEmulator:
    """Runs `argv` as Telegraf's inputs.execd would; see the module docstring for the rules."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        signal: str = "STDIN",
        environment: Sequence[str] = (),
        restart_delay: float = 10.0,
        stop_on_error: bool = False,
        cwd: str | os.PathLike[str] | None = None,
    ) -> None:
        if isinstance(argv, str) or not argv or not all(isinstance(arg, str) for arg in argv):
            raise TypeError("argv must be a non-empty list of str (Telegraf's `command` is an argv list)")
        self.argv = list(argv)
        self.signal = signal
        self.restart_delay = restart_delay
        self.stop_on_error = stop_on_error
        self.cwd = cwd
        self.env = dict(os.environ)
        for entry in environment:
            key, sep, value = entry.partition("=")
            if not sep or not key:
                raise ValueError(f"environment entry {entry!r} is not KEY=value")
            self.env[key] = value
        # exec.Command() resolves the name through PATH; the log shows the resolved path.
        self.path = self.argv[0] if os.sep in self.argv[0] else shutil.which(self.argv[0]) or self.argv[0]

        self._cond = threading.Condition(threading.RLock())
        self._metrics: list[ReceivedMetric] = []
        self._logs: list[LogRecord] = []
        self._exits: list[ExitRecord] = []
        self._starts: list[float] = []
        self._current: _Instance | None = None
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._stop_result: StopResult | None = None

    # -- public API ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the plugin (no tick is sent). Raises ExecdStartError if it cannot be executed."""
        if self._supervisor is not None:
            raise RuntimeError("ExecdEmulator.start() called twice")
        try:
            instance = self._spawn()
        except OSError as exc:
            hint = ""
            if len(self.argv) == 1 and " " in self.argv[0]:
                hint = " (the command is one string with spaces: give each argument separately)"
            raise ExecdStartError(f"error starting process: {exc}{hint}") from exc
        self._supervisor = threading.Thread(
            target=self._supervise, args=(instance,), name="execd-supervisor", daemon=True
        )
        self._supervisor.start()

    def tick(self) -> bool:
        """Do what Telegraf does at one interval; True if the tick reached the plugin, False if it failed."""
        if self.signal == "none":
            return True
        if self.signal == "STDIN":
            return self._write_stdin()
        if self.signal in _SIGNALS:
            instance = self._current
            if instance is None or instance.reaped.is_set():
                return False
            try:
                instance.proc.send_signal(_SIGNALS[self.signal])  # the direct child only
            except ProcessLookupError:
                return False
            return True
        self._log("E", f"Error in plugin: invalid signal: {self.signal}")
        return False

    def stop(self) -> StopResult:
        """Stop like Telegraf: cancel restarts, close stdin, 5 s, SIGTERM, 5 s, SIGKILL; clean up everything."""
        if self._stop_result is not None:
            return self._stop_result
        with self._cond:
            self._stopping.set()
            instance = self._current
        result = StopResult("not-running", 0.0, None)
        if instance is not None and not instance.reaped.is_set():
            began = time.monotonic()
            self._close_stdin(instance)
            step = "stdin-eof"
            if not instance.reaped.wait(STOP_TIMEOUT):
                step = "SIGTERM"
                self._signal(instance, signal_module.SIGTERM)
                if not instance.reaped.wait(STOP_TIMEOUT):
                    step = "SIGKILL"
                    self._signal(instance, signal_module.SIGKILL)
                    instance.reaped.wait()
            result = StopResult(step, instance.ended - began, instance.returncode)
        if self._supervisor is not None:
            self._supervisor.join()
        self._stop_result = result
        return result

    def wait_for(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:
        """Wait until `predicate()` is truthy and return its value; raise TimeoutError after `timeout` s.

        The predicate is re-evaluated whenever a metric, log record or exit arrives.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    recent = "; ".join(f"{r.level}! {r.message}" for r in self._logs[-5:])
                    raise TimeoutError(f"condition not met within {timeout} s; last log lines: {recent}")
                self._cond.wait(min(remaining, 0.5))

    @property
    def metrics(self) -> list[ReceivedMetric]:
        """Every metric accepted so far, in arrival order."""
        with self._cond:
            return list(self._metrics)

    @property
    def logs(self) -> list[LogRecord]:
        """Every log record so far (the emulator's own and the plugin's stderr), in order."""
        with self._cond:
            return list(self._logs)

    def log_messages(self, level: str | None = None) -> list[str]:
        """The messages of the log records, optionally only those of one level (E, W, I, D, T)."""
        return [r.message for r in self.logs if level is None or r.level == level]

    @property
    def exits(self) -> list[ExitRecord]:
        """Every process exit observed, in order."""
        with self._cond:
            return list(self._exits)

    @property
    def restarts(self) -> int:
        """How many times the plugin was re-executed after an exit."""
        with self._cond:
            return max(len(self._starts) - 1, 0)

    @property
    def pid(self) -> int | None:
        """Process id of the running instance, None while none is running."""
        instance = self._current
        return None if instance is None or instance.reaped.is_set() else instance.proc.pid

    def __enter__(self) -> ExecdEmulator:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- process lifecycle -----------------------------------------------------------------------

    def _spawn(self) -> _Instance:
        with self._cond:
            number = len(self._starts) + 1
            self._log("I", f"Starting process: {self.argv[0]} [{' '.join(self.argv[1:])}]", number)
            proc = subprocess.Popen(  # argv list, no shell: as Telegraf runs it
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self.env,
                cwd=self.cwd,
                bufsize=0,
                close_fds=True,
            )
            assert proc.stdin is not None
            os.set_blocking(proc.stdin.fileno(), False)  # writes get a deadline instead of blocking
            instance = _Instance(number, proc)
            self._starts.append(instance.started)
            self._current = instance
        for target, name in ((self._read_stdout, "stdout"), (self._read_stderr, "stderr")):
            thread = threading.Thread(
                target=target, args=(instance,), name=f"execd-{name}-{number}", daemon=True
            )
            instance.threads.append(thread)
            thread.start()
        return instance

    def _supervise(self, instance: _Instance) -> None:
        while True:
            returncode = instance.proc.wait()
            instance.ended = time.monotonic()
            instance.returncode = returncode
            instance.reaped.set()
            for thread in instance.threads:
                thread.join()
            self._close_pipes(instance)
            stopping = self._stopping.is_set()
            with self._cond:
                self._exits.append(
                    ExitRecord(
                        instance.number,
                        instance.proc.pid,
                        returncode,
                        instance.started,
                        instance.ended,
                        stopping,
                    )
                )
                instance.done.set()
                if stopping:
                    self._log("I", f"Process {self.path} shut down", instance.number)
                    return
                self._log("E", f"Process {self.path} exited: {go_exit_error(returncode)}", instance.number)
                if self.stop_on_error and returncode != 0:
                    self._log(
                        "E", "Process not restarted: it failed and stop_on_error is set", instance.number
                    )
                    return
                self._log("I", f"Restarting in {go_duration(self.restart_delay)}...", instance.number)
            if self._stopping.wait(self.restart_delay):
                return
            with self._cond:
                if self._stopping.is_set():
                    return
                try:
                    instance = self._spawn()
                except OSError as exc:
                    self._log("E", f"Process quit with message: error starting process: {exc}")
                    self._current = None
                    return

    def _close_stdin(self, instance: _Instance) -> None:
        with instance.stdin_lock:
            if instance.proc.stdin is not None and not instance.proc.stdin.closed:
                instance.proc.stdin.close()

    def _close_pipes(self, instance: _Instance) -> None:
        self._close_stdin(instance)
        for pipe in (instance.proc.stdout, instance.proc.stderr):
            if pipe is not None:
                pipe.close()

    @staticmethod
    def _signal(instance: _Instance, sig: int) -> None:
        if not instance.reaped.is_set():
            try:
                instance.proc.send_signal(sig)
            except ProcessLookupError:
                pass

    def _write_stdin(self) -> bool:
        instance = self._current
        if instance is None or instance.reaped.is_set():
            # Go closes the stdin pipe once Wait() has seen the exit.
            self._log("E", "Error in plugin: writing to stdin failed: write |1: file already closed")
            return False
        with instance.stdin_lock:
            stdin = instance.proc.stdin
            if stdin is None or stdin.closed:
                self._log("E", "Error in plugin: writing to stdin failed: write |1: file already closed")
                return False
            fd = stdin.fileno()
            deadline = time.monotonic() + STDIN_WRITE_TIMEOUT
            while True:
                try:
                    if os.write(fd, b"\n") == 1:
                        return True
                except BlockingIOError:
                    pass
                except BrokenPipeError:
                    self._log("E", "Error in plugin: writing to stdin failed: write |1: broken pipe")
                    return False
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._log("E", "Error in plugin: writing to stdin failed: write |1: i/o timeout")
                    return False
                select.select([], [fd], [], remaining)

    # -- readers ---------------------------------------------------------------------------------

    def _chunks(self, instance: _Instance, fd: int) -> Generator[bytes, None, bool]:
        """Yield what the plugin writes to fd; stop at EOF, or once it exited and the pipe is drained.

        The generator's return value is True at a real EOF, False when cut off (a child of the plugin
        still holds the pipe open: Telegraf closes its end after Wait(), losing the rest).
        """
        while True:
            exited = instance.reaped.is_set()
            ready, _, _ = select.select([fd], [], [], 0 if exited else _POLL)
            if not ready:
                if exited:
                    return False
                continue
            data = os.read(fd, _READ_CHUNK)
            if not data:
                return True
            yield data

    def _read_stdout(self, instance: _Instance) -> None:
        assert instance.proc.stdout is not None
        decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        parser = StreamParser()
        chunks = self._chunks(instance, instance.proc.stdout.fileno())
        while True:
            try:
                data = next(chunks)
            except StopIteration as end:
                if end.value:
                    self._accept(instance, parser.feed(decoder.decode(b"", final=True)) + parser.close())
                return
            self._accept(instance, parser.feed(decoder.decode(data)))

    def _accept(self, instance: _Instance, events: list[Metric | LineProtocolParseError]) -> None:
        if not events:
            return
        now = time.monotonic()
        with self._cond:
            for event in events:
                if isinstance(event, Metric):
                    self._metrics.append(ReceivedMetric(event, now, instance.number))
                else:
                    self._log("E", f"Error in plugin: {event}", instance.number)
            self._cond.notify_all()

    def _read_stderr(self, instance: _Instance) -> None:
        assert instance.proc.stderr is not None
        pending = b""
        chunks = self._chunks(instance, instance.proc.stderr.fileno())
        while True:
            try:
                data = next(chunks)
            except StopIteration as end:
                if end.value and pending:
                    self._stderr_line(instance, pending)  # bufio.ScanLines returns the last unterminated line
                return
            pending += data
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                if len(raw) >= STDERR_LINE_LIMIT:
                    self._stderr_too_long(instance)
                    return
                self._stderr_line(instance, raw)
            if len(pending) >= STDERR_LINE_LIMIT:
                self._stderr_too_long(instance)
                return

    def _stderr_too_long(self, instance: _Instance) -> None:
        # Reading stops for good; the pipe stays open and undrained until the process ends.
        self._log(
            "E", "Error in plugin: error reading stderr: bufio.Scanner: token too long", instance.number
        )

    def _stderr_line(self, instance: _Instance, raw: bytes) -> None:
        if raw.endswith(b"\r"):
            raw = raw[:-1]  # bufio.ScanLines drops a trailing CR
        text = raw.decode("utf-8", "surrogateescape")
        if text[:3] in _LEVEL_PREFIXES:
            self._log(text[0], text[3:], instance.number, origin="stderr")
        else:
            self._log("E", f"stderr: {go_quote(text)}", instance.number, origin="stderr")

    def _log(self, level: str, message: str, instance: int | None = None, origin: str = "execd") -> None:
        with self._cond:
            number = instance if instance is not None else (self._current.number if self._current else 0)
            self._logs.append(LogRecord(level, message, time.monotonic(), number, origin))
            self._cond.notify_all()
