"""The execd emulator against docs/telegraf.md §1.2-§1.4 and §1.7, driven by tiny fake plugins.

Only the contract's own lower bounds are timed (SIGTERM no earlier than 5 s after stdin closes, SIGKILL no
earlier than 5 s after that, a failed stdin write no earlier than its 1 s deadline, a restart no earlier
than restart_delay). Two tests are slow by nature (5 s and 10 s): the stop escalation itself; their
stops run at once (`escalations`).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from execd_emulator import STDERR_LINE_LIMIT, ExecdEmulator, ExecdStartError, StopResult

from telegraf_lutron.lineproto_parse import Metric

pytestmark = pytest.mark.subprocess

PLUGINS = Path(__file__).parent / "fake_plugins"

Run = Callable[..., ExecdEmulator]


def plugin(name: str, *args: str) -> list[str]:
    return [sys.executable, str(PLUGINS / f"{name}.py"), *args]


@pytest.fixture
def run() -> Iterator[Run]:
    """Start emulators; every one is stopped at teardown, whatever the test did."""
    started: list[ExecdEmulator] = []

    def start(argv: list[str], **options: object) -> ExecdEmulator:
        emulator = ExecdEmulator(argv, **options)  # type: ignore[arg-type]
        started.append(emulator)
        emulator.start()
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


def names(emulator: ExecdEmulator) -> list[str]:
    return [received.metric.name for received in emulator.metrics]


def logged(emulator: ExecdEmulator, level: str, text: str) -> bool:
    return any(text in message for message in emulator.log_messages(level))


# -- ticks --------------------------------------------------------------------------------------


def test_no_tick_at_start_up_and_one_collection_per_tick(run: Run) -> None:
    emulator = run(plugin("stdin_plugin"))
    emulator.wait_for(lambda: logged(emulator, "I", "fake plugin started"))
    assert emulator.metrics == []
    assert emulator.tick()
    first = emulator.wait_for(lambda: emulator.metrics)
    # Had the emulator ticked at start-up, this would be the second collection.
    assert first[0].metric == Metric("fake", {"plugin": "stdin"}, {"collection": 1}, None)
    assert emulator.tick()
    assert emulator.tick()
    emulator.wait_for(lambda: len(emulator.metrics) == 3)
    assert [m.metric.fields["collection"] for m in emulator.metrics] == [1, 2, 3]
    assert all(m.instance == 1 for m in emulator.metrics)


def test_slow_first_collection_still_receives_every_tick_uncoalesced(run: Run) -> None:
    emulator = run(plugin("slow_first"))
    assert [emulator.tick() for _ in range(3)] == [True, True, True]
    emulator.wait_for(lambda: sum(m.metric.fields["ticks_seen"] for m in emulator.metrics) >= 3)  # type: ignore[misc]
    emulator.stop()
    assert sum(m.metric.fields["ticks_seen"] for m in emulator.metrics) == 3  # type: ignore[misc]


def test_full_stdin_pipe_fails_each_tick_after_the_1_s_deadline(run: Run) -> None:
    emulator = run(plugin("no_stdin_reader"))
    emulator.wait_for(lambda: emulator.metrics)
    delivered = 0
    while True:
        began = time.monotonic()
        if not emulator.tick():
            took = time.monotonic() - began
            break
        delivered += 1
        assert delivered <= 16 * 1024 * 1024, "the stdin pipe never filled"
    assert delivered >= 4096  # a pipe holds at least one page of queued ticks
    assert took >= 1.0
    assert emulator.log_messages("E") == ["Error in plugin: writing to stdin failed: write |1: i/o timeout"]
    assert emulator.stop().step == "stdin-eof"


def test_tick_to_a_dead_plugin_fails_and_is_logged(run: Run) -> None:
    emulator = run(plugin("crasher"), restart_delay=60.0)
    emulator.wait_for(lambda: emulator.exits)
    assert not emulator.tick()
    assert logged(emulator, "E", "writing to stdin failed: write |1: file already closed")


@pytest.mark.parametrize("mode", ["SIGHUP", "SIGUSR1", "SIGUSR2"])
def test_signal_mode_signals_the_plugin_at_each_tick(run: Run, mode: str) -> None:
    emulator = run(plugin("signal_plugin"), signal=mode)
    emulator.wait_for(lambda: logged(emulator, "I", "handlers installed"))
    assert emulator.tick()
    emulator.wait_for(lambda: emulator.metrics)
    assert emulator.tick()
    emulator.wait_for(lambda: len(emulator.metrics) == 2)
    assert [m.metric.tags["signal"] for m in emulator.metrics] == [mode, mode]
    assert [m.metric.fields["count"] for m in emulator.metrics] == [1, 2]


def test_signal_without_a_handler_kills_the_plugin_which_is_restarted(run: Run) -> None:
    emulator = run(plugin("stdin_plugin"), signal="SIGUSR1", restart_delay=0.2)
    emulator.wait_for(lambda: logged(emulator, "I", "fake plugin started"))
    assert emulator.tick()
    emulator.wait_for(lambda: emulator.restarts >= 1)
    assert emulator.exits[0].returncode == -signal.SIGUSR1
    assert logged(emulator, "E", "exited: signal: user defined signal 1")


def test_none_mode_sends_nothing(run: Run) -> None:
    emulator = run(plugin("stdin_plugin"), signal="none")
    emulator.wait_for(lambda: logged(emulator, "I", "fake plugin started"))
    assert emulator.tick()
    result = emulator.stop()  # stop reads everything the plugin wrote before it exited
    assert result.step == "stdin-eof"
    assert emulator.metrics == []


def test_invalid_signal_is_logged_at_every_tick(run: Run) -> None:
    emulator = run(plugin("stdin_plugin"), signal="stdin")  # case-sensitive: not "STDIN"
    assert not emulator.tick()
    assert not emulator.tick()
    assert emulator.log_messages("E") == ["Error in plugin: invalid signal: stdin"] * 2
    emulator.stop()
    assert emulator.metrics == []


# -- stdout ---------------------------------------------------------------------------------------


def test_stdout_is_parsed_as_a_stream(run: Run) -> None:
    emulator = run(plugin("stream_cases"))
    emulator.wait_for(lambda: len(emulator.metrics) == 3)
    assert [m.metric for m in emulator.metrics] == [
        Metric("good", {"plugin": "stream_cases"}, {"value": 1.0}, None),  # the line after the bad one
        Metric("multi", {}, {"text": "first\nsecond"}, None),  # raw newline inside a string field
        Metric("utf8", {"city": "Zürich 🔌"}, {"value": 2.0}, None),  # UTF-8 split across two reads
    ]
    # The bad line is logged once and skipped; the comment and the blank line are ignored silently.
    assert emulator.log_messages("E") == [
        'Error in plugin: metric parse error: expected field at 1:5: "m a="'
    ]
    assert emulator.stop().returncode == 0
    assert names(emulator)[-1] == "tail"  # written without newline: a metric only at EOF


def test_last_line_without_newline_waits_for_eof(run: Run) -> None:
    emulator = run(plugin("stream_cases"))
    emulator.wait_for(lambda: "utf8" in names(emulator))
    assert "tail" not in names(emulator)
    emulator.stop()
    assert "tail" in names(emulator)


# -- stderr ---------------------------------------------------------------------------------------


def test_stderr_prefixes_map_to_log_levels(run: Run) -> None:
    emulator = run(plugin("stderr_levels"))
    emulator.wait_for(lambda: logged(emulator, "E", "bad byte"))
    plugin_lines = [(r.level, r.message) for r in emulator.logs if r.origin == "stderr"]
    assert plugin_lines == [
        ("E", "an error"),
        ("W", "a warning"),
        ("I", "some info"),
        ("D", "debugging"),
        ("T", "tracing"),
        ("E", 'stderr: "no prefix here"'),
        ("E", 'stderr: "E!missing space"'),
        ("E", 'stderr: " I! indented"'),
        ("E", 'stderr: "e! lowercase"'),
        ("E", 'stderr: "quote \\" and tab\\t"'),
        ("I", "crlf line"),
        ("E", 'stderr: "bad byte \\xff"'),
    ]


def test_stderr_line_just_under_64_kib_is_logged(run: Run) -> None:
    emulator = run(plugin("long_stderr", str(STDERR_LINE_LIMIT - 1)))
    emulator.wait_for(lambda: logged(emulator, "I", "after"))
    assert logged(emulator, "E", 'stderr: "' + "x" * (STDERR_LINE_LIMIT - 1) + '"')
    assert not logged(emulator, "E", "token too long")


def test_stderr_line_of_64_kib_ends_stderr_reading_for_good(run: Run) -> None:
    emulator = run(plugin("long_stderr", str(STDERR_LINE_LIMIT)))
    emulator.wait_for(lambda: logged(emulator, "E", "token too long") and emulator.metrics)
    assert names(emulator) == ["done"]  # stdout is unaffected
    emulator.stop()
    assert logged(emulator, "E", "Error in plugin: error reading stderr: bufio.Scanner: token too long")
    assert emulator.log_messages("I").count("before") == 1
    assert "after" not in emulator.log_messages("I")


def test_stderr_fails_once_64_kib_are_buffered_without_a_newline(run: Run) -> None:
    # bufio.Scanner gives up when its 64 KiB buffer is full, before the newline ever arrives.
    emulator = run(plugin("long_stderr", str(STDERR_LINE_LIMIT), "hold"))
    emulator.wait_for(lambda: logged(emulator, "E", "token too long"))
    emulator.stop()
    assert "after" not in emulator.log_messages("I")


def test_python_traceback_becomes_one_error_per_line(run: Run) -> None:
    emulator = run(plugin("crasher"), restart_delay=60.0)
    emulator.wait_for(lambda: emulator.exits)
    traceback = [r.message for r in emulator.logs if r.origin == "stderr"]
    assert traceback[0] == 'stderr: "Traceback (most recent call last):"'
    assert traceback[-1] == 'stderr: "RuntimeError: simulated crash"'
    assert all(r.level == "E" for r in emulator.logs if r.origin == "stderr")


# -- exits and restarts ----------------------------------------------------------------------------


def test_crash_is_logged_and_restarted_after_restart_delay(run: Run) -> None:
    emulator = run(plugin("crasher"), restart_delay=0.2)
    emulator.wait_for(lambda: len(emulator.exits) >= 2)
    first, second = emulator.exits[:2]
    assert (first.returncode, second.returncode) == (1, 1)
    assert (first.instance, second.instance) == (1, 2)
    assert second.started - first.ended >= 0.2
    assert emulator.restarts >= 1
    assert [m.instance for m in emulator.metrics[:2]] == [1, 2]
    assert logged(emulator, "E", "exited: exit status 1")
    assert logged(emulator, "I", "Restarting in 200ms...")


def test_exit_zero_is_restarted_even_with_stop_on_error(run: Run) -> None:
    emulator = run(plugin("crasher"), environment=["FAKE_EXIT_CODE=0"], restart_delay=0.1, stop_on_error=True)
    emulator.wait_for(lambda: emulator.restarts >= 1)
    assert emulator.exits[0].returncode == 0
    assert logged(emulator, "E", "exited: <nil>")


def test_stop_on_error_leaves_a_failed_plugin_dead(run: Run) -> None:
    emulator = run(plugin("crasher"), environment=["FAKE_EXIT_CODE=3"], restart_delay=0.1, stop_on_error=True)
    emulator.wait_for(lambda: logged(emulator, "E", "stop_on_error"))
    assert [e.returncode for e in emulator.exits] == [3]
    assert emulator.restarts == 0
    assert emulator.pid is None
    assert emulator.stop().step == "not-running"


def test_failed_re_exec_ends_the_restart_loop(run: Run, tmp_path: Path) -> None:
    script = tmp_path / "vanishing_plugin"
    script.write_text(f"#!{sys.executable}\nimport os, sys\nos.remove(__file__)\nsys.exit(1)\n")
    script.chmod(0o755)
    emulator = run([str(script)], restart_delay=0.1)
    emulator.wait_for(lambda: logged(emulator, "E", "Process quit with message: error starting process"))
    assert emulator.restarts == 0
    assert emulator.pid is None


def test_exec_failure_at_start_up_raises(tmp_path: Path) -> None:
    with pytest.raises(ExecdStartError):
        ExecdEmulator([str(tmp_path / "missing")]).start()
    with pytest.raises(ExecdStartError, match="one string with spaces"):
        ExecdEmulator([f"{sys.executable} {PLUGINS / 'stdin_plugin.py'}"]).start()


def test_environment_is_appended_and_argv_is_not_shell_expanded(run: Run, tmp_path: Path) -> None:
    emulator = run(
        plugin("env_probe", "*", "~", "$HOME"),
        environment=["FAKE_VAR=first", "FAKE_VAR=last one wins"],
        cwd=tmp_path,
    )
    fields = emulator.wait_for(lambda: emulator.metrics)[0].metric.fields
    assert fields["var"] == "last one wins"
    assert json.loads(str(fields["argv"])) == ["*", "~", "$HOME"]
    assert fields["cwd"] == str(tmp_path)


# -- stop ------------------------------------------------------------------------------------------


def test_stop_closes_stdin_and_a_well_behaved_plugin_exits_zero(run: Run) -> None:
    emulator = run(plugin("stdin_plugin"))
    emulator.wait_for(lambda: logged(emulator, "I", "fake plugin started"))
    pid = emulator.pid
    assert pid is not None
    result = emulator.stop()
    assert (result.step, result.returncode) == ("stdin-eof", 0)
    assert logged(emulator, "I", "stdin closed, exiting")
    assert logged(emulator, "I", "shut down")
    assert [(e.returncode, e.during_stop) for e in emulator.exits] == [(0, True)]
    assert emulator.restarts == 0
    assert emulator.stop() is result  # idempotent
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped: no zombie left behind
    assert not [t for t in threading.enumerate() if t.name.startswith("execd-") and t.is_alive()]


def test_stop_during_restart_delay_cancels_the_restart(run: Run) -> None:
    emulator = run(plugin("crasher"), restart_delay=60.0)
    emulator.wait_for(lambda: logged(emulator, "I", "Restarting in 1m0s..."))
    assert emulator.stop().step == "not-running"
    assert emulator.restarts == 0


IGNORES_EOF = "test_plugin_ignoring_stdin_eof_is_sigtermed_after_5_s"
IGNORES_SIGTERM = "test_plugin_ignoring_sigterm_is_killed_after_another_5_s"


@pytest.fixture(scope="module")
def escalations(request: pytest.FixtureRequest) -> Iterator[dict[str, Future[StopResult]]]:
    """The two slow stops, started together: for each of the two tests below that this session runs,
    its plugin under an emulator, stopped (once it has written a metric) in a thread of its own.
    They overlap (10 s in all instead of 15 s); each test judges its own stop."""
    plugins = {IGNORES_EOF: "ignores_eof", IGNORES_SIGTERM: "ignores_sigterm"}
    selected = {item.originalname for item in request.session.items if item.module is request.module}
    stops: dict[str, Future[StopResult]] = {}
    with ThreadPoolExecutor(max_workers=len(plugins), thread_name_prefix="stop-") as pool:
        unstopped: list[ExecdEmulator] = []
        try:
            for test, name in plugins.items():
                if test in selected:
                    emulator = ExecdEmulator(plugin(name))
                    unstopped.append(emulator)
                    emulator.start()
                    emulator.wait_for(lambda: emulator.metrics)  # noqa: B023 (called at once)
                    stops[test] = pool.submit(emulator.stop)
                    unstopped.remove(emulator)
            yield stops
        finally:
            for emulator in unstopped:  # started, but its stop was never submitted
                emulator.stop()
    # Leaving the pool waited for every stop.


def test_plugin_ignoring_stdin_eof_is_sigtermed_after_5_s(
    escalations: dict[str, Future[StopResult]],
) -> None:
    result = escalations[IGNORES_EOF].result()
    assert (result.step, result.returncode) == ("SIGTERM", -signal.SIGTERM)
    assert result.took >= 5.0


def test_plugin_ignoring_sigterm_is_killed_after_another_5_s(
    escalations: dict[str, Future[StopResult]],
) -> None:
    result = escalations[IGNORES_SIGTERM].result()
    assert (result.step, result.returncode) == ("SIGKILL", -signal.SIGKILL)
    assert result.took >= 10.0


def test_wait_for_raises_timeout_error_with_recent_log_lines(run: Run) -> None:
    emulator = run(plugin("stdin_plugin"))
    with pytest.raises(TimeoutError, match="Starting process"):
        emulator.wait_for(lambda: False, timeout=0.1)
