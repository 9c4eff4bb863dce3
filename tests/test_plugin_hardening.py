"""`telegraf-lutron run` as a subprocess under the execd emulator: signals and stopping.

A snapshot is taken on a newline and on SIGHUP/SIGUSR1/SIGUSR2 whatever `plugin.signal` says, so
a mismatch with `inputs.execd.signal` can never silence the plugin; a design download in flight
never delays stopping.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from execd_emulator import ExecdEmulator
from free_ports import free_port

from telegraf_lutron.simulator import SimulatorThread
from telegraf_lutron.simulator.designgen import GeneratorParams, generate

pytestmark = pytest.mark.subprocess

PLUGIN = [sys.executable, "-m", "telegraf_lutron", "run", "--config"]


def unreachable_config(tmp_path: Path, **plugin: str) -> Path:
    """A plugin configuration whose processor refuses connections: snapshots hold lutron_processor only."""
    extra = "".join(f"{k} = {v}\n" for k, v in plugin.items())
    path = tmp_path / "lutron.toml"
    path.write_text(
        f"""
[processor]
host = "127.0.0.1"
telnet_port = {free_port()}
http_port = {free_port()}
[plugin]
cache_dir = "{tmp_path / "cache"}"
{extra}"""
    )
    return path


@pytest.mark.parametrize(
    ("plugin_signal", "telegraf_signal"),
    [
        ("STDIN", "SIGUSR1"),
        ("STDIN", "SIGHUP"),
        ("SIGUSR1", "SIGUSR2"),
        ("SIGHUP", "STDIN"),
        ("none", "STDIN"),
        ("none", "SIGUSR1"),
    ],
)
def test_a_signal_mismatch_still_gives_one_snapshot_per_tick(
    tmp_path: Path, plugin_signal: str, telegraf_signal: str
) -> None:
    # interval = 1h: in "none" mode only the tick can have written the snapshot.
    config = unreachable_config(tmp_path, signal=f'"{plugin_signal}"', interval='"1h"')
    with ExecdEmulator([*PLUGIN, str(config)], signal=telegraf_signal, restart_delay=0.5) as emu:
        emu.wait_for(lambda: any("starting:" in m for m in emu.log_messages("I")))
        for n in (1, 2, 3):
            assert emu.tick()
            emu.wait_for(
                lambda n=n: sum(1 for m in emu.metrics if m.metric.name == "lutron_processor") >= n,
                timeout=5.0,
            )
        assert emu.exits == []
        result = emu.stop()
    assert result.step == "stdin-eof" and result.returncode == 0


class TricklingServer:
    """An HTTP server on 127.0.0.1 that answers every request one byte a second (for 60 s at most)."""

    def __init__(self) -> None:
        self.requests = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.set()
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                with_deadline = time.monotonic() + 60
                try:
                    while time.monotonic() < with_deadline:
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(1.0)
                except OSError:
                    pass

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/DbXmlInfo.xml"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def downloading(tmp_path: Path) -> Iterator[ExecdEmulator]:
    """The plugin logged in to a simulator, fetching its design from a trickling server."""
    design, xml = generate(GeneratorParams(seed=3))
    telnet = free_port()
    trickle = TricklingServer()
    sim = SimulatorThread(
        design, xml=xml, telnet_port=telnet, http_port=free_port(), service_time=0.0
    ).start()
    config = tmp_path / "lutron.toml"
    config.write_text(
        f"""
[processor]
host = "127.0.0.1"
telnet_port = {telnet}
password = "default"
xml_url = "{trickle.url}"
xml_timeout = "60s"
[plugin]
cache_dir = "{tmp_path / "cache"}"
"""
    )
    emu = ExecdEmulator([*PLUGIN, str(config)], restart_delay=30.0)
    emu.start()
    try:
        assert trickle.requests.wait(15.0), emu.log_messages()[-5:]
        time.sleep(0.3)  # the download is in flight, far from done
        yield emu
    finally:
        emu.stop()
        sim.stop()
        trickle.close()


def test_a_design_download_in_flight_does_not_delay_the_exit_on_stdin_eof(downloading: ExecdEmulator) -> None:
    result = downloading.stop()
    assert result.step == "stdin-eof" and result.returncode == 0
    assert result.took < 1.0


def test_a_design_download_in_flight_does_not_delay_the_exit_on_sigterm(downloading: ExecdEmulator) -> None:
    pid = downloading.pid
    assert pid is not None
    started = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    downloading.wait_for(lambda: downloading.exits, timeout=10.0)
    assert time.monotonic() - started < 1.0
    assert downloading.exits[0].returncode == 0
