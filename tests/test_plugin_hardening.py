"""`telegraf-lutron run` as a subprocess under the execd emulator: signals and stopping.

A snapshot is taken on a newline and on SIGHUP/SIGUSR1/SIGUSR2 whatever `plugin.signal` says, so
a mismatch with `inputs.execd.signal` can never silence the plugin; a design download in flight
never delays stopping.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
from execd_emulator import ExecdEmulator

pytestmark = pytest.mark.subprocess

PLUGIN = [sys.executable, "-m", "telegraf_lutron", "run", "--config"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
