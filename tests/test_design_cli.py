"""`telegraf-lutron design show`, run as a user runs it: the installed command in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from free_ports import free_port

from telegraf_lutron.simulator.designgen import GeneratorParams, generate

pytestmark = pytest.mark.subprocess

# The installed console script when there is one, else the same code through `python -m`.
_SCRIPT = Path(sys.executable).with_name("telegraf-lutron")
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "telegraf_lutron"]
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "example-hwqs.xml"  # synthetic, no real house


def run(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*COMMAND, "design", "show", *args], capture_output=True, timeout=60, check=False)


def test_json_of_the_shared_fixture() -> None:
    result = run("--file", str(FIXTURE), "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.decode("utf-8"))
    assert set(data) == {"project", "areas", "zones", "keypads"}
    assert data["project"]["name"] == "Synthetic Project 80"
    assert data["project"]["export"] == "2025-05-16T17:34:22"
    assert data["areas"][3] == {"id": 115, "name": "茶室 20", "floor": "Level 2"}
    assert data["zones"][0] == {
        "id": 103,
        "name": "Office Pendants 1",
        "area": "Office 10",
        "floor": "Level 1",
        "output_type": "CEILING_FAN_TYPE",
        "rated_watts": 60.0,
        "dimmable": False,
        "kind": "fan",
    }
    pid = data["keypads"][0]
    assert {k: pid[k] for k in ("id", "name", "device_type", "area")} == {
        "id": 101,
        "name": "Office 10 Door 1",
        "device_type": "PID_SWITCH",
        "area": "Office 10",
    }
    assert pid["buttons"] == [
        {"component": 6, "engraving": "Shades", "name": "Shades", "led_component": None}
    ]
    tabletop = next(k for k in data["keypads"] if k["id"] == 106)
    assert tabletop["buttons"][9] == {
        "component": 10,
        "engraving": "Guest 1",
        "name": "Guest 1",
        "led_component": 90,
    }


def test_json_matches_the_generated_design(tmp_path: Path) -> None:
    design, xml = generate(GeneratorParams(seed=9, hostile_names=True, junk_prefix=b"\x00junk\r\n"))
    path = tmp_path / "DbXmlInfo.xml"
    path.write_bytes(xml)
    data = json.loads(run("--file", str(path), "--format", "json").stdout.decode("utf-8"))
    assert [z["name"] for z in data["zones"]] == [z.name for z in design.zones]
    assert [k["id"] for k in data["keypads"]] == [k.id for k in design.keypads]
    assert all(isinstance(a["id"], int) and a["id"] > 0 for a in data["areas"])


def test_tree_shows_floors_rooms_zones_keypads_and_leds() -> None:
    result = run("--file", str(FIXTURE))
    assert result.returncode == 0
    lines = result.stdout.decode("utf-8").splitlines()
    assert lines[0].startswith("Synthetic Project 80")
    assert lines[1:3] == ["Floor 001", "  Level 1"]
    assert "    Office 10 [area 100, occupancy group 1001]" in lines
    assert "      zone 103 Office Pendants 1: fan, CEILING_FAN_TYPE, speeds, 60 W" in lines
    assert '        button 17 "Guest 1", LED 97' in lines
    assert "        LED 65281 (no button)" in lines


def test_missing_file_is_one_line_and_exit_1(tmp_path: Path) -> None:
    result = run("--file", str(tmp_path / "nope.xml"))
    assert result.returncode == 1 and result.stdout == b""
    assert result.stderr.decode().count("\n") == 1 and str(tmp_path / "nope.xml") in result.stderr.decode()


def test_hostile_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.xml"
    path.write_bytes(
        b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><Project>&x;</Project>'
    )
    result = run("--file", str(path), "--format", "json")
    assert result.returncode == 1 and b"refused for safety" in result.stderr and b"root:" not in result.stdout


def test_unreachable_host_names_the_url() -> None:
    port = free_port()  # nothing listens there
    result = run("--host", "127.0.0.1", "--http-port", str(port), "--timeout", "5")
    assert result.returncode == 1
    assert f"http://127.0.0.1:{port}/DbXmlInfo.xml" in result.stderr.decode()


@pytest.mark.parametrize(
    "args",
    [(), ("--file", "a", "--url", "http://x/"), ("--file", "a", "--format", "yaml")],
    ids=["no-source", "two-sources", "bad-format"],
)
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    assert run(*args).returncode == 2
