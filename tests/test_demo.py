"""The README's first command: `telegraf-lutron demo` against the built-in simulator."""

from __future__ import annotations

import re
import subprocess
import sys


def test_demo_logs_in_reads_the_house_and_prints_live_events() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "telegraf_lutron", "demo", "--duration", "3", "--activity", "10"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "logged in (QNET)" in out
    m = re.search(r"read (\d+) values in [\d.]+ s: (\d+) of (\d+) zones on", out)
    assert m and int(m.group(1)) > int(m.group(3)) > 0
    live = [
        line for line in out.splitlines() if re.match(r"\d\d:\d\d:\d\d  (light|button|led|motion) ", line)
    ]
    assert len(live) >= 5
    assert "stopped:" in out.splitlines()[-1]
    assert "default" not in result.stderr  # nothing about credentials is logged
