"""UI settings, formatting helpers and the `telegraf-lutron ui` command."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from ui_fixtures import APP, free_port

from telegraf_lutron import cli, ui_cli
from telegraf_lutron.webui import common
from telegraf_lutron.webui.settings import DEFAULT_CACHE_DIR, Settings, load_settings
from telegraf_lutron.webui.settings_map import DEFAULT_OVERNIGHT, SETTINGS

# --- settings ---------------------------------------------------------------------------------------


def test_environment_wins_over_secrets_and_defaults_fill_the_rest() -> None:
    s = load_settings(
        {"TL_DSN": "host=db", "TL_TARIFF": "0,32", "TL_TIMEZONE": "Europe/Zurich"},
        {"dsn": "host=other", "currency": "CHF", "cache_dir": "/srv/cache"},
    )
    assert s.dsn == "host=db"
    assert s.tariff == pytest.approx(0.32)  # a decimal comma is fine
    assert s.timezone == "Europe/Zurich"
    assert s.currency == "CHF"
    assert s.cache_dir == Path("/srv/cache")
    assert s.warnings == ()
    assert s.cost(10) == pytest.approx(3.2)


def test_defaults_and_the_plugins_dsn_variable() -> None:
    s = load_settings({"TELEGRAF_LUTRON_DSN": "host=db2"}, {})
    assert (s.dsn, s.cache_dir, s.timezone, s.tariff, s.currency) == (
        "host=db2",
        DEFAULT_CACHE_DIR,
        None,
        None,
        "EUR",
    )
    assert s.cost(5) is None


@pytest.mark.parametrize("tariff", ["cheap", "-1", "nan", "inf"])
def test_a_tariff_that_is_not_a_price_is_a_warning(tariff: str) -> None:
    s = load_settings({"TL_TARIFF": tariff}, {})
    assert s.tariff is None
    assert "TL_TARIFF" in s.warnings[0]


@pytest.mark.parametrize(
    ("text", "hours"), [("23-6", (23, 6)), ("22:00 - 07:00", (22, 7)), ("0-5", (0, 5)), ("1–4", (1, 4))]
)
def test_overnight_hours_are_two_hours_of_the_day(text: str, hours: tuple[int, int]) -> None:
    s = load_settings({"TL_OVERNIGHT": text}, {})
    assert (s.overnight, s.warnings) == (hours, ())


@pytest.mark.parametrize("text", ["night", "23", "6-6", "24-6", "23-6-7", "23:30-6"])
def test_overnight_hours_that_are_not_hours_are_a_warning(text: str) -> None:
    s = load_settings({"TL_OVERNIGHT": text}, {})
    assert s.overnight == DEFAULT_OVERNIGHT
    assert "TL_OVERNIGHT" in s.warnings[0]


def test_an_unknown_time_zone_is_a_warning() -> None:
    s = load_settings({"TL_TIMEZONE": "Europe/Atlantis"}, {})
    assert s.timezone is None
    assert "not an IANA time zone" in s.warnings[0]


def test_the_dsn_is_shown_without_its_password() -> None:
    s = load_settings({"TL_DSN": "host=db user=ui password=hunter2 dbname=lights"}, {})
    assert "hunter2" not in s.masked_dsn
    assert "password=****" in s.masked_dsn
    url = load_settings({"TL_DSN": "postgresql://ui:hunter2@db/lights"}, {})
    assert "hunter2" not in url.masked_dsn


# --- formatting -------------------------------------------------------------------------------------


def test_number_and_time_formats() -> None:
    assert common.watts(1234.4) == "1,234 W"
    assert common.watts(7.25) == "7.2 W"
    assert common.watts(None) == "–"
    assert common.watts(0.0) == "0 W"
    assert common.kwh(12.345) == "12.35 kWh"
    assert common.kwh(123.45) == "123.5 kWh"  # fewer decimals as numbers grow: the card shows the unit
    assert common.kwh(1234.567) == "1,235 kWh"
    assert common.money(3.456, "EUR") == "3.46 EUR"
    assert common.money(12345.6, "EUR") == "12,346 EUR"
    assert common.duration(timedelta(minutes=59)) == "59 min"
    assert common.duration(timedelta(hours=3, minutes=5)) == "3 h 05 min"
    assert common.duration(timedelta(days=3, hours=2)) == "3 d 2 h"
    now = pd.Timestamp("2024-06-03 15:00", tz="Europe/Berlin")
    assert common.when(pd.Timestamp("2024-06-03 09:30:05", tz="Europe/Berlin"), now) == "09:30:05"
    assert common.when(pd.Timestamp("2024-06-01 09:30", tz="Europe/Berlin"), now) == "Sat 01 Jun 2024 09:30"


def test_csv_keeps_the_local_offset() -> None:
    df = pd.DataFrame(
        {
            "start": pd.to_datetime(["2024-06-03T10:00:00Z"], utc=True).tz_convert("Europe/Berlin"),
            "kwh": [1.5],
        }
    )
    assert common.csv_bytes(df).decode().splitlines() == ["start,kwh", "2024-06-03T12:00:00+02:00,1.5"]


# --- telegraf-lutron ui -----------------------------------------------------------------------------


def test_the_app_is_found_next_to_the_package() -> None:
    assert ui_cli.find_app(None, {}) == APP.resolve()


def test_an_explicit_app_path_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ui_cli.UiError, match="--app"):
        ui_cli.find_app(str(tmp_path / "nope.py"), {})
    app = tmp_path / "app.py"
    app.write_text("")
    assert ui_cli.find_app(None, {"TL_UI_APP": str(app)}) == app.resolve()


def test_options_become_the_apps_environment_and_streamlit_flags() -> None:
    parser = argparse.ArgumentParser()
    ui_cli.add_arguments(parser)
    args = parser.parse_args(["--dsn", "host=db password=x", "--tariff", "0.3", "--port", "9000"])
    env = ui_cli.app_environment(args, {"PATH": "/bin"})
    assert env == {"PATH": "/bin", "TL_DSN": "host=db password=x", "TL_TARIFF": "0.3"}
    command = ui_cli.streamlit_command(APP, args.host, args.port)
    assert command[:5] == [sys.executable, "-m", "streamlit", "run", str(APP)]
    flags = dict(zip(command[5::2], command[6::2], strict=True))
    assert flags["--server.address"] == "127.0.0.1"
    assert flags["--server.port"] == "9000"
    assert flags["--server.headless"] == "true"
    assert flags["--browser.gatherUsageStats"] == "false"
    assert flags["--client.toolbarMode"] == "viewer"  # no Deploy button
    assert flags["--client.showErrorDetails"] == "none"  # visitors see no exception details
    assert flags["--client.disableDataExport"] == "true"  # tables export no raw names
    assert "password" not in " ".join(command)  # the DSN travels in the environment


def test_every_ui_option_reaches_the_setting_it_names() -> None:
    """One map (settings_map.SETTINGS) names each setting for the CLI and for the app."""
    parser = argparse.ArgumentParser()
    ui_cli.add_arguments(parser)
    given = {
        "dsn": "host=db",
        "cache_dir": "/srv/c",
        "timezone": "Europe/Zurich",
        "tariff": "0.5",
        "currency": "CHF",
        "overnight": "22-7",
    }
    assert set(given) == {s.key for s in SETTINGS} == set(Settings.__dataclass_fields__) - {"warnings"}
    args = parser.parse_args([word for s in SETTINGS for word in (s.option, given[s.key])])
    loaded = load_settings(ui_cli.app_environment(args, {}), {})
    assert (
        loaded.dsn,
        str(loaded.cache_dir),
        loaded.timezone,
        loaded.tariff,
        loaded.currency,
        loaded.overnight,
    ) == ("host=db", "/srv/c", "Europe/Zurich", 0.5, "CHF", (22, 7))
    secrets = load_settings({}, {s.key: given[s.key] for s in SETTINGS})  # the same keys in secrets
    assert (secrets.dsn, secrets.currency) == ("host=db", "CHF")


def test_ui_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["ui", "--help"])
    out = capsys.readouterr().out
    for option in (
        "--host",
        "--port",
        "--dsn",
        "--cache-dir",
        "--timezone",
        "--tariff",
        "--currency",
        "--app",
    ):
        assert option in out


@pytest.mark.subprocess
def test_telegraf_lutron_ui_serves_the_app(tmp_path: Path) -> None:
    port = free_port()
    script = Path(sys.executable).parent / "telegraf-lutron"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "telegraf_lutron"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TL_") or k == "TL_TEST_DSN"}
    proc = subprocess.Popen(
        [*command, "ui", "--port", str(port), "--cache-dir", str(tmp_path)],
        env=env,
        cwd=tmp_path,  # found next to the package, not via the working directory
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
                    assert r.read() == b"ok"
                    break
            except OSError:
                assert time.monotonic() < deadline, "the UI did not come up within 30 s"
                time.sleep(0.2)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=15)
    text = out.decode()
    assert f"http://localhost:{port}/" in text
    assert proc.returncode in (0, -15)
