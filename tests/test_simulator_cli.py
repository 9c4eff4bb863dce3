"""`telegraf-lutron simulate` as a user runs it: a subprocess, stopped by a signal."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.subprocess

LISTEN = re.compile(r"^telnet 127\.0\.0\.1:(\d+)  http://127\.0\.0\.1:(\d+)/DbXmlInfo\.xml  user (\S+)$")


def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "telegraf_lutron",
            "simulate",
            "--telnet-port",
            "0",
            "--http-port",
            "0",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def login(port: int, user: str, password: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"{user}\r\n{password}\r\n".encode())
        data = b""
        while not data.endswith((b"\x00", b"login: ")) or data == b"login: ":
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return data


def stop(proc: subprocess.Popen[str], sig: signal.Signals) -> tuple[int, str, str]:
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=20)
    return proc.returncode, out, err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_simulate_prints_where_it_listens_and_stops_on_a_signal(sig):
    proc = start("--user", "telegraf", "--seed", "2", env={"LUTRON_PASSWORD": "env-Secret-1"})
    try:
        assert proc.stdout is not None
        m = LISTEN.match(proc.stdout.readline().rstrip("\n"))
        assert m, "no listening line"
        telnet, http, user = int(m[1]), int(m[2]), m[3]
        assert user == "telegraf"
        assert login(telnet, "telegraf", "env-Secret-1").endswith(b"\r\nQNET> \x00")
        with urllib.request.urlopen(f"http://127.0.0.1:{http}/DbXmlInfo.xml", timeout=10) as resp:
            assert resp.read().lstrip().startswith(b"<?xml")
    finally:
        rc, out, err = stop(proc, sig)
    assert rc == 0, err
    assert "env-Secret-1" not in out + err


def test_simulate_reads_the_password_from_a_file_and_speaks_ra2(tmp_path: Path):
    secret = tmp_path / "pw"
    secret.write_text("file-Secret-2\n")
    proc = start("--system", "RA2", "--password-file", str(secret), "--split-packets", "--activity", "2")
    try:
        assert proc.stdout is not None
        m = LISTEN.match(proc.stdout.readline().rstrip("\n"))
        assert m
        assert login(int(m[1]), "default", "file-Secret-2").endswith(b"\r\nGNET> \x00")
        assert login(int(m[1]), "default", "wrong").endswith(b"login: ")
    finally:
        rc, out, err = stop(proc, signal.SIGTERM)
    assert rc == 0, err
    assert "file-Secret-2" not in out + err


def test_simulate_reports_a_bad_option_without_a_traceback(tmp_path: Path):
    proc = start("--password-file", str(tmp_path / "missing"))
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert err.startswith("E! ") and "Traceback" not in err


def test_simulate_serves_a_given_design_file(tmp_path: Path):
    designgen = pytest.importorskip("telegraf_lutron.simulator.designgen")
    design, xml = designgen.generate(designgen.GeneratorParams(seed=5))
    path = tmp_path / "DbXmlInfo.xml"
    path.write_bytes(xml)
    proc = start("--design-file", str(path))
    try:
        assert proc.stdout is not None
        m = LISTEN.match(proc.stdout.readline().rstrip("\n"))
        assert m
        with urllib.request.urlopen(f"http://127.0.0.1:{m[2]}/DbXmlInfo.xml", timeout=10) as resp:
            assert resp.read() == xml
        zone = design.zones[0].id
        with socket.create_connection(("127.0.0.1", int(m[1])), timeout=10) as s:
            s.sendall(f"default\r\ndefault\r\n?OUTPUT,{zone},1\r\n".encode())
            data = b""
            while b"QNET> " not in data.partition(b"\x00")[2]:
                data += s.recv(4096)
            assert f"~OUTPUT,{zone},1,0.00\r\nQNET> ".encode() in data
    finally:
        rc, _, err = stop(proc, signal.SIGTERM)
    assert rc == 0, err


def test_simulate_rejects_a_file_that_is_not_a_design(tmp_path: Path):
    path = tmp_path / "not.xml"
    path.write_bytes(b"hello")
    proc = start("--design-file", str(path))
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert err.startswith("E! ") and "Traceback" not in err
