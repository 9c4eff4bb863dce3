"""`check` and `design show` in-process: credentials never shown, secrets' file modes, and nothing
from the processor or the design reaches the terminal raw."""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from free_ports import free_port

from telegraf_lutron import design_cli
from telegraf_lutron.check import run_check
from telegraf_lutron.config import load_config
from telegraf_lutron.design import Design
from telegraf_lutron.execd import LoginLock
from telegraf_lutron.live import write_live
from telegraf_lutron.simulator import SimulatorThread
from telegraf_lutron.simulator.designgen import GeneratorParams, design_to_xml, generate_design
from telegraf_lutron.state import CounterStore, HouseState

# What a hostile processor or design file might slip into a name: a C1 CSI (XML allows it), a
# right-to-left override and DEL. A raw ESC cannot be in XML, but a telnet reply can carry it.
HOSTILE = "Kitchen\x9b2J\u202eevil\x7f"
RAW_CONTROLS = ("\x1b", "\x9b", "\u202e", "\x7f")


class Server:
    """HTTP on 127.0.0.1 serving one export, behind basic authentication when `auth` is given."""

    def __init__(self, body: bytes, auth: tuple[str, str] | None = None) -> None:
        token = "Basic " + base64.b64encode(":".join(auth).encode()).decode() if auth else None

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if token is not None and self.headers.get("Authorization") != token:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, userinfo: str = "") -> str:
        return f"http://{userinfo}127.0.0.1:{self.port}/DbXmlInfo.xml"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def hostile_design() -> tuple[Design, bytes]:
    params = GeneratorParams(seed=5)
    design = generate_design(params)
    zones = (replace(design.zones[0], name=HOSTILE), *design.zones[1:])
    design = replace(design, project=replace(design.project, name=HOSTILE), zones=zones)
    return design, design_to_xml(design, params)


@pytest.fixture
def export() -> Iterator[tuple[Design, Server]]:
    design, xml = hostile_design()
    server = Server(xml, auth=("lutron", "S3cret pw@x"))
    yield design, server
    server.close()


def write_config(tmp_path: Path, text: str, *, mode: int = 0o600) -> Path:
    path = tmp_path / "lutron.toml"
    path.write_text(text)
    path.chmod(mode)
    return path


def check_output(config_path: Path) -> tuple[int, str]:
    out = io.StringIO()
    code = asyncio.run(run_check(load_config(config_path, env={}), out))
    return code, out.getvalue()


# --- item 1: user:password@ in xml_url ------------------------------------------------------------


def test_check_reads_a_design_behind_basic_auth_and_never_prints_the_credentials(
    tmp_path: Path, export: tuple[Design, Server]
) -> None:
    _, server = export
    url = server.url("lutron:S3cret%20pw%40x@")
    config = write_config(
        tmp_path,
        f'[processor]\nhost = "127.0.0.1"\ntelnet_port = {free_port()}\nxml_url = "{url}"\n'
        f'[plugin]\ncache_dir = "{tmp_path / "cache"}"\n',
    )
    code, text = check_output(config)
    assert code == 1  # nothing listens on the telnet port
    assert f"  ok    design '{HOSTILE[:7]}" in text, text
    assert "S3cret" not in text and "lutron:" not in text


def test_design_show_fetches_with_basic_auth_and_a_wrong_password_is_one_line_without_it(
    export: tuple[Design, Server], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    _, server = export
    args = argparse.Namespace(
        file=None,
        host=None,
        url=server.url("lutron:S3cret%20pw%40x@"),
        format="json",
        http_port=80,
        timeout=5.0,
    )
    assert design_cli.main(args) == 0
    out = capsysbinary.readouterr()
    assert json.loads(out.out.decode())["project"]["name"] == HOSTILE
    args.url = server.url("lutron:Wr0ng@")
    assert design_cli.main(args) == 1
    err = capsysbinary.readouterr().err.decode()
    assert "HTTP 401" in err and "Wr0ng" not in err and "lutron:" not in err and err.count("\n") == 1


# --- item 9: file modes ---------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "warned"), [(0o600, False), (0o640, True), (0o644, True)])
def test_check_warns_when_others_can_read_the_password_file(tmp_path: Path, mode: int, warned: bool) -> None:
    secret = tmp_path / "lutron_password"
    secret.write_text("pw\n")
    secret.chmod(mode)
    config = write_config(
        tmp_path,
        f'[processor]\nhost = "127.0.0.1"\ntelnet_port = {free_port()}\nhttp_port = {free_port()}\n'
        f'password_file = "{secret}"\n[plugin]\ncache_dir = "{tmp_path / "cache"}"\n',
        mode=0o644,  # holds no password itself: no warning about it
    )
    _, text = check_output(config)
    assert ("WARN  the password file" in text) is warned, text
    assert "WARN  the configuration" not in text
    if warned:
        assert f"chmod 600 {secret}" in text


@pytest.mark.parametrize(
    "holding",
    ['password = "pw"', 'xml_url = "http://u:pw@127.0.0.1:1/DbXmlInfo.xml"'],
    ids=["password", "xml_url"],
)
def test_check_warns_when_others_can_read_a_config_holding_a_password(tmp_path: Path, holding: str) -> None:
    text = (
        f'[processor]\nhost = "127.0.0.1"\ntelnet_port = {free_port()}\nhttp_port = {free_port()}\n{holding}\n'
        f'[plugin]\ncache_dir = "{tmp_path / "cache"}"\n'
    )
    _, loose = check_output(write_config(tmp_path, text, mode=0o644))
    assert "WARN  the configuration (it holds a password)" in loose and "everyone" in loose
    _, tight = check_output(write_config(tmp_path, text, mode=0o600))
    assert "WARN" not in tight


def test_the_cache_directory_is_created_private(tmp_path: Path) -> None:
    lock = LoginLock(tmp_path / "a" / "cache", "h", "u")
    assert lock.try_acquire()
    lock.release()
    assert (tmp_path / "a" / "cache").stat().st_mode & 0o777 == 0o700
    CounterStore(tmp_path / "b").save(HouseState(generate_design(GeneratorParams(seed=1))))
    assert (tmp_path / "b").stat().st_mode & 0o777 == 0o700
    write_live(tmp_path / "l", {})
    assert (tmp_path / "l").stat().st_mode & 0o777 == 0o700
    config = write_config(
        tmp_path,
        f'[processor]\nhost = "127.0.0.1"\ntelnet_port = {free_port()}\nhttp_port = {free_port()}\n'
        f'[plugin]\ncache_dir = "{tmp_path / "c"}"\n',
    )
    _, text = check_output(config)
    assert (tmp_path / "c").stat().st_mode & 0o777 == 0o700
    assert "cache directory" in text and "WARN  cache directory" not in text
    os.chmod(tmp_path / "c", 0o755)
    _, text = check_output(config)
    assert "WARN  cache directory" in text and f"chmod 700 {tmp_path / 'c'}" in text


# --- item 9: control characters -------------------------------------------------------------------


def test_check_never_prints_control_characters_from_the_processor_or_the_design(
    tmp_path: Path, export: tuple[Design, Server]
) -> None:
    design, server = export
    # The processor answers ?SYSTEM,10 with an escape sequence in the revision.
    sim_design = replace(design, project=replace(design.project, export_date="\x1b[2J05/16/2025"))
    telnet = free_port()
    sim = SimulatorThread(
        sim_design, xml=b"<Project/>", telnet_port=telnet, http_port=free_port(), service_time=0.0
    )
    with sim:
        config = write_config(
            tmp_path,
            f'[processor]\nhost = "127.0.0.1"\ntelnet_port = {telnet}\npassword = "default"\n'
            f'xml_url = "{server.url("lutron:S3cret%20pw%40x@")}"\n'
            f'[plugin]\ncache_dir = "{tmp_path / "cache"}"\n',
        )
        _, text = check_output(config)
    assert "logged in" in text and "design revision" in text, text
    assert not any(c in text for c in RAW_CONTROLS), repr(text)
    assert "\\x1b[2J" in text and "\\x9b" in text and "\\u202e" in text


def test_design_show_tree_and_json_never_print_control_characters(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    _, xml = hostile_design()
    path = tmp_path / "DbXmlInfo.xml"
    path.write_bytes(xml)
    args = argparse.Namespace(file=str(path), host=None, url=None, format="tree", http_port=80, timeout=5.0)
    assert design_cli.main(args) == 0
    tree = capsysbinary.readouterr().out.decode()
    assert not any(c in tree for c in RAW_CONTROLS)
    assert "Kitchen\\x9b2J\\u202eevil\\x7f" in tree
    args.format = "json"
    assert design_cli.main(args) == 0
    text = capsysbinary.readouterr().out.decode()
    assert not any(c in text for c in RAW_CONTROLS)
    data = json.loads(text)  # the escapes are JSON's own: the data is exact
    assert data["project"]["name"] == HOSTILE and data["zones"][0]["name"] == HOSTILE
