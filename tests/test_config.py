"""The plugin configuration: every mistake is one line naming the key; the password never shows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from telegraf_lutron.config import ConfigError, load_config, parse_config

GOOD = """
[processor]
host = "192.168.1.40"
telnet_port = 23
http_port = 80
username = "telegraf"
password = "hunter2"
[plugin]
cache_dir = "/var/lib/telegraf-lutron"
site = "home"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lutron.toml"
    path.write_text(text)
    return path


def test_the_documented_example_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), env={})
    assert config.processor.host == "192.168.1.40"
    assert config.processor.password == "hunter2"
    assert config.plugin.cache_dir == Path("/var/lib/telegraf-lutron")
    assert config.plugin.signal == "STDIN"
    assert config.processor.design_url == "http://192.168.1.40/DbXmlInfo.xml"
    assert "hunter2" not in repr(config)


def test_the_design_url_follows_host_and_http_port_unless_xml_url_is_set() -> None:
    def url(**processor: object) -> str:
        return parse_config({"processor": {"host": "192.168.1.40", **processor}}, env={}).processor.design_url

    assert url(http_port=8080) == "http://192.168.1.40:8080/DbXmlInfo.xml"
    assert url(host="fe80::1") == "http://[fe80::1]/DbXmlInfo.xml"
    assert url(xml_url="https://proc.lan/export.xml") == "https://proc.lan/export.xml"


def test_password_file_and_environment(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("from-file\n")
    text = GOOD.replace('password = "hunter2"', 'password_file = "secret"')
    assert load_config(write(tmp_path, text), env={}).processor.password == "from-file"
    env = {"LUTRON_PASSWORD": "from-env"}
    assert load_config(write(tmp_path, text), env=env).processor.password == "from-env"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("[plugin]", "[plugin]\ncolour = 1"), "unknown key plugin.colour; allowed: "),
        (("[processor]", "[processor]\nhots = 1"), "unknown key processor.hots"),
        (("telnet_port = 23", "telnet_port = 99999"), "processor.telnet_port: expected a port number"),
        (("telnet_port = 23", 'telnet_port = "23"'), "processor.telnet_port: expected a port number"),
        (('site = "home"', 'site = "home"\nsignal = "stdin"'), "plugin.signal: expected one of STDIN, none"),
        (('site = "home"', 'site = "home"\ninterval = "10 parsecs"'), "plugin.interval: expected a duration"),
        (
            ('site = "home"', 'site = "home"\nemit_on_change = "yes"'),
            "plugin.emit_on_change: expected true or false",
        ),
        (('host = "192.168.1.40"', ""), "processor.host is required"),
        (('password = "hunter2"', 'password = "hunter2"\npassword_file = "x"'), "set only one of them"),
        (
            ('password = "hunter2"', 'password_file = "/nonexistent/secret"'),
            "cannot read /nonexistent/secret",
        ),
        (("[plugin]", "[plugins]"), "unknown section or key 'plugins'"),
        (('username = "telegraf"', 'username = "a\\nb"'), "processor.username: must not contain line breaks"),
    ],
)
def test_mistakes_are_one_line_naming_the_key(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, GOOD.replace(*change)), env={})
    message = str(info.value)
    assert expected in message
    assert "\n" not in message
    assert "hunter2" not in message


def test_an_xml_url_with_user_and_password_is_accepted_and_never_shown(tmp_path: Path) -> None:
    text = GOOD.replace("[plugin]", 'xml_url = "http://lutron:S3CRET@192.168.1.40/DbXmlInfo.xml"\n[plugin]')
    config = load_config(write(tmp_path, text), env={})
    assert config.processor.design_url == "http://lutron:S3CRET@192.168.1.40/DbXmlInfo.xml"
    assert "S3CRET" not in repr(config)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://lutron:S3CRET@192.168.1.40/DbXmlInfo.xml",
        "http://lutron:S3/CRET@192.168.1.40/DbXmlInfo.xml",
        "http://lutron:S3CRET@192.168.1.40:80:80/DbXmlInfo.xml",
        "http://lutron:S3CRET@/DbXmlInfo.xml",
    ],
)
def test_a_bad_xml_url_is_one_line_that_does_not_echo_it(tmp_path: Path, url: str) -> None:
    text = GOOD.replace("[plugin]", f'xml_url = "{url}"\n[plugin]')
    with pytest.raises(ConfigError, match=r"processor\.xml_url: ") as info:
        load_config(write(tmp_path, text), env={})
    assert "S3" not in str(info.value) and "\n" not in str(info.value)


def test_not_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(write(tmp_path, "[processor\nhost="), env={})


def test_durations() -> None:
    doc = {
        "processor": {"host": "h", "keepalive_interval": "2m"},
        "plugin": {"interval": "500ms", "resync_interval": 60},
    }
    config = parse_config(doc, env={})
    assert config.processor.keepalive_interval == 120.0
    assert config.plugin.interval == 0.5
    assert config.plugin.resync_interval == 60.0


@pytest.mark.subprocess
def test_run_with_a_bad_config_exits_2_with_one_line_and_no_secret(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("[plugin]", "[plugin]\ncolour = 1"))
    result = subprocess.run(
        [sys.executable, "-m", "telegraf_lutron", "run", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("E! ")
    assert "plugin.colour" in lines[0]
    assert "hunter2" not in result.stderr + result.stdout


def test_sysvars_are_named_in_the_config() -> None:
    doc = {
        "processor": {"host": "h"},
        "sysvar": [
            {"id": 5, "name": "Away", "states": ["Home", "Away", "Night"]},
            {"id": 9, "name": "Guests"},
        ],
    }
    config = parse_config(doc, env={})
    away, guests = config.sysvars
    assert (away.id, away.name, away.states) == (5, "Away", ("Home", "Away", "Night"))
    assert away.state_name(2) == "Away" and away.state_name(4) == "" and guests.state_name(1) == ""
    assert parse_config({"processor": {"host": "h"}}, env={}).sysvars == ()


@pytest.mark.parametrize(
    ("sysvar", "expected"),
    [
        ({"id": 5, "name": "A", "colour": "red"}, "unknown key sysvar #1.colour"),
        ({"id": "5", "name": "A"}, "sysvar #1.id: expected the variable's integration id"),
        ({"id": 5, "name": "A", "states": "Home"}, "sysvar #1.states: expected a list"),
        ({"id": 5, "name": ""}, "sysvar #1.name"),
    ],
)
def test_sysvar_mistakes_name_the_key(sysvar: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"processor": {"host": "h"}, "sysvar": [sysvar]}, env={})
    assert expected in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="listed twice"):
        parse_config({"processor": {"host": "h"}, "sysvar": [{"id": 1}, {"id": 1}]}, env={})
    with pytest.raises(ConfigError, match=r"\[\[sysvar\]\]"):
        parse_config({"processor": {"host": "h"}, "sysvar": {"id": 1}}, env={})
