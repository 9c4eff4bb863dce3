"""Free TCP ports on 127.0.0.1 for servers a test starts later (a simulator, the plugin's processor,
Streamlit, Prometheus) and for addresses where nothing may answer.

Asking the kernel for port 0 and closing the socket is racy when several pytest processes run at
once (pytest-xdist workers, `scripts/test.sh -n`): the kernel may hand the same port to another
worker before this one's server binds it, and then a test talks to another test's server. So each
worker takes ports from its own block below the kernel's ephemeral range (where the kernel never
picks ports for bind(0) or connect), one after another without reuse until the block wraps, and
skips any port something is bound to now (another program on the machine) and any port a browser
refuses to load a page from (Chromium: net::ERR_UNSAFE_PORT)."""

from __future__ import annotations

import itertools
import os
import re
import socket
from collections.abc import Iterator

FIRST = 10000  # the lowest port used
BLOCK = 2000  # ports per worker: far more than one run uses
WORKERS = 11  # blocks between FIRST and the kernel's default ephemeral range (32768)
# The Fetch Standard's "bad ports", which browsers never connect to, from FIRST up: only 10080
# (amanda) is in that range. A Streamlit server there cannot be opened in Chromium.
BAD_PORTS = frozenset({10080})


def _worker_index() -> int:
    """0 for the controller or a run without xdist, n for pytest-xdist's worker gw<n>."""
    match = re.fullmatch(r"gw(\d+)", os.environ.get("PYTEST_XDIST_WORKER", ""))
    return int(match.group(1)) if match else 0


def _ephemeral_start() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _candidates() -> Iterator[int]:
    index = _worker_index()
    if index >= WORKERS:
        raise RuntimeError(f"free_ports has blocks for {WORKERS} pytest-xdist workers, not {index + 1}")
    start = FIRST + index * BLOCK
    if start + BLOCK > _ephemeral_start():
        raise RuntimeError(f"port block {start}-{start + BLOCK - 1} reaches the kernel's ephemeral range")
    offset = os.getpid() % BLOCK  # a second run at the same time (another checkout) starts elsewhere
    for i in itertools.count():
        yield start + (offset + i) % BLOCK


_ports = _candidates()  # checks the block on first use, not on import


def free_port() -> int:
    """A port on 127.0.0.1 that nothing is bound to now and that no other test of this run gets."""
    for _ in range(BLOCK):
        port = next(_ports)
        if port in BAD_PORTS:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use (or in TIME_WAIT): the next one
            return port
    raise RuntimeError("no free port in this worker's block")
