"""tests/free_ports.py: every worker's ports are its own, free, and ones a browser will open."""

from __future__ import annotations

import socket

import free_ports
import pytest


def test_a_port_browsers_refuse_is_never_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    # Worker gw0's block (10000-11999) holds 10080; Chromium refused a UI server there.
    monkeypatch.setattr(free_ports, "_ports", iter([10080, 10081]))
    assert free_ports.free_port() == 10081


def test_a_port_in_use_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        busy = taken.getsockname()[1]
        with socket.socket() as probe:  # a port nothing is bound to, to follow it
            probe.bind(("127.0.0.1", 0))
            after = probe.getsockname()[1]
        monkeypatch.setattr(free_ports, "_ports", iter([busy, after]))
        assert free_ports.free_port() == after


@pytest.mark.parametrize("worker", range(free_ports.WORKERS))
def test_each_worker_has_a_block_of_its_own_below_the_ephemeral_range(
    worker: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{worker}")
    ports = free_ports._candidates()
    block = [next(ports) for _ in range(free_ports.BLOCK)]
    start = free_ports.FIRST + worker * free_ports.BLOCK
    assert sorted(block) == list(range(start, start + free_ports.BLOCK))  # each once, then it wraps
    assert start + free_ports.BLOCK <= 32768


def test_a_whole_block_handed_out_skips_10080(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    monkeypatch.setattr(free_ports, "_ports", free_ports._candidates())
    handed = {free_ports.free_port() for _ in range(free_ports.BLOCK - 1)}
    assert 10080 not in handed
    assert {10079, 10081} <= handed  # its neighbours were handed out
