"""States a person meets get a page that says what is going on and what to do, never a traceback:
the database down, not set up, or empty; no design cache; a design without wattages; late data;
settings that make no sense. Each test gets its own database (pg_fixtures)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ui_fixtures import app_test, free_port, house, seed_history, store_designs, ui_env

from telegraf_lutron.db.cli import telegraf_block
from telegraf_lutron.simulator.designgen import GeneratorParams, generate
from telegraf_lutron.webui import common

pytest_plugins = ["ui_fixtures"]  # the UI fixtures; the database ones come from conftest (pg_fixtures)

SECRET = "s3cret-pw"
PAGES = ("now", "energy", "zones", "design", "why")


def all_text(at: Any) -> str:
    """Everything a page shows as text: markdown, alerts, code, metrics, captions, sidebar."""
    parts: list[str] = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success", "code", "title", "subheader"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    parts += [str(e.value) for e in at.sidebar.markdown]
    return "\n".join(parts)


def no_exceptions(at: Any) -> None:
    assert not at.exception, [e.value for e in at.exception]


def small_house(**overrides: Any) -> Any:
    params = {"seed": 5, "floors": 1, "rooms_per_floor": 2, "zones_per_room": 2, "keypads_per_room": 1}
    return generate(GeneratorParams(**(params | overrides)))


def test_unreachable_database_gets_a_page_on_every_page_and_hides_the_password(
    ui_environ: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    design, xml = small_house()
    store_designs(tmp_path, [(design, xml)])
    dsn = f"host=127.0.0.1 port={free_port()} user=lights password={SECRET} dbname=history"
    env = ui_env(dsn, tmp_path)
    for page in ("now", "energy", "zones"):
        at = app_test(env, ui_environ, page)
        no_exceptions(at)
        assert any("cannot be reached" in e.value for e in at.error), page
        text = all_text(at)
        assert "127.0.0.1" in text and "password=****" in text
        assert SECRET not in text
        assert not at.get("plotly_chart")
    at = app_test(env, ui_environ, "design")  # needs no database
    no_exceptions(at)
    assert "Levels now: the history database is not available." in all_text(at)
    assert any(m.label == "Zones" and m.value == str(len(design.zones)) for m in at.metric)


def test_a_malformed_connection_string_is_not_shown_anywhere(
    ui_environ: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # libpq's parse error quotes the bad token: here the password (a bare % and a space in a URI).
    secret = "My%Secret pw"
    env = ui_env(f"postgresql://lutron:{secret}@db.example/lutron", tmp_path)
    for page in PAGES:
        at = app_test(env, ui_environ, page)
        no_exceptions(at)
        text = all_text(at)
        assert "invalid connection string (not shown)" in text, page
        assert "Secret" not in text, page
    assert "Secret" not in caplog.text  # nor in a log line (psycopg_pool logs every failed attempt)


@pytest.mark.db
def test_database_not_initialised_says_how_to_set_it_up(
    pg_dsn: str,
    ui_environ: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    at = app_test(ui_env(pg_dsn, tmp_path), ui_environ, "energy")
    no_exceptions(at)
    assert any("not set up for telegraf-lutron" in w.value for w in at.warning)
    code = [c.value for c in at.code]
    assert any(c.startswith("telegraf-lutron db init --dsn ") for c in code)
    assert telegraf_block(pg_dsn, "public") in code


@pytest.mark.db
def test_empty_database_shows_how_to_wire_telegraf_without_the_password(
    pg_lutron_dsn: str,
    ui_environ: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    dsn = f"{pg_lutron_dsn} password={SECRET}"  # trust authentication ignores it
    at = app_test(ui_env(dsn, tmp_path), ui_environ, "now")
    no_exceptions(at)
    assert any("No lighting data yet" in i.value for i in at.info)
    block = telegraf_block(dsn, "public")
    assert "[[outputs.postgresql]]" in block and "password=${PGPASSWORD}" in block
    assert block in [c.value for c in at.code]
    assert SECRET not in all_text(at)
    assert not at.metric


@pytest.mark.db
def test_no_design_cache_yet(
    pg_lutron_dsn: str,
    ui_environ: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    design, _ = small_house()
    seed_history(pg_lutron_dsn, design, duration=timedelta(hours=2))
    env = ui_env(pg_lutron_dsn, tmp_path / "not-there")
    at = app_test(env, ui_environ, "design")
    no_exceptions(at)
    assert any("No design yet" in i.value and "not-there" in i.value for i in at.info)
    for page in ("now", "energy", "zones"):  # the history pages work without a design
        at = app_test(env, ui_environ, page)
        no_exceptions(at)
        assert at.get("plotly_chart"), page
    at = app_test(env, ui_environ, "now")
    assert any("No design yet" in i.value for i in at.info)


@pytest.mark.db
def test_design_without_wattages_says_energy_is_unknown(
    pg_lutron_dsn: str,
    ui_environ: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    design, xml = small_house(missing_wattage=0.5, zero_wattage=0.5)
    assert all(z.rated_watts == 0 for z in design.zones)
    store_designs(tmp_path, [(design, xml)])
    seed_history(pg_lutron_dsn, design, duration=timedelta(hours=2))
    env = ui_env(pg_lutron_dsn, tmp_path)
    at = app_test(env, ui_environ, "energy")
    no_exceptions(at)
    power = sum(1 for z in design.zones if z.draws_power)
    assert any(
        w.value.startswith(f"**Energy unknown:** none of the {power} lights, fans and loads has a wattage")
        and "[[zone]]" in w.value
        for w in at.warning
    )
    assert {m.label: m.value for m in at.metric}["Energy"] == "unknown"
    at = app_test(env, ui_environ, "design")
    assert {m.label: m.value for m in at.metric}["Zones without wattage"] == str(power)
    assert any("Energy unknown" in w.value for w in at.warning)


@pytest.mark.db
def test_zero_power_without_a_design_says_energy_is_unknown(
    pg_lutron_dsn: str,
    ui_environ: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    design, _ = small_house(missing_wattage=0.5, zero_wattage=0.5)
    seed_history(pg_lutron_dsn, design, duration=timedelta(hours=2))
    at = app_test(ui_env(pg_lutron_dsn, tmp_path / "none"), ui_environ, "energy")
    no_exceptions(at)
    # No design: what the plugin reports (kinds, no wattage anywhere) says energy is unknown.
    assert any("Energy unknown" in w.value and "[[zone]]" in w.value for w in at.warning)


@pytest.mark.db
def test_late_data_is_flagged_and_shown_as_of_its_time(
    pg_lutron_dsn: str,
    ui_environ: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    design, xml = small_house()
    store_designs(tmp_path, [(design, xml)])
    end = datetime.now(UTC) - timedelta(hours=3)
    seed_history(pg_lutron_dsn, design, duration=timedelta(hours=2), end=end)
    at = app_test(ui_env(pg_lutron_dsn, tmp_path), ui_environ, "now")
    no_exceptions(at)
    late = [w.value for w in at.warning if w.value.startswith("**Data is late:**")]
    assert late and re.search(r"\(3 h 0\d min ago\)", late[0]), late
    assert "**Data:** late" in all_text(at)


@pytest.mark.db
def test_nonsense_settings_are_reported_and_ignored(
    pg_lutron_dsn: str,
    ui_environ: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    design, _ = small_house()
    seed_history(pg_lutron_dsn, design, duration=timedelta(hours=1))
    env = ui_env(pg_lutron_dsn, tmp_path, TL_TARIFF="cheap", TL_TIMEZONE="Mars/Olympus_Mons")
    at = app_test(env, ui_environ, "energy")
    no_exceptions(at)
    warnings = [w.value for w in at.warning]
    assert any("TL_TARIFF='cheap' is not a price" in w for w in warnings)
    assert any("TL_TIMEZONE='Mars/Olympus_Mons' is not an IANA time zone" in w for w in warnings)
    assert {m.label: m.value for m in at.metric}["Cost"] == "–"
    assert "Time zone: " + common.md("Europe/Berlin") in all_text(at)  # the database's


@pytest.mark.db
def test_settings_come_from_streamlit_secrets_when_the_environment_has_none(
    pg_lutron_dsn: str,
    ui_environ: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from streamlit.testing.v1 import AppTest
    from ui_fixtures import APP

    design, xml = house(seed=4)
    store_designs(tmp_path, [(design, xml)])
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.secrets.update({"dsn": pg_lutron_dsn, "cache_dir": str(tmp_path), "tariff": 0.25, "currency": "CHF"})
    at.run()
    at.switch_page("views/design.py").run()
    no_exceptions(at)
    text = all_text(at)
    assert "0\\.25 CHF/kWh" in text
    assert any(m.label == "Zones" and m.value == str(len(design.zones)) for m in at.metric)


@pytest.mark.db
def test_names_that_break_naive_markdown_render_literally(
    pg_lutron_dsn: str,
    ui_environ: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    design, xml = small_house(hostile_names=True, rooms_per_floor=6, seed=2)
    hostile = [a.name for a in design.rooms if any(c in a.name for c in "\"=\\,<&'🎉")]
    assert hostile
    store_designs(tmp_path, [(design, xml)])
    at = app_test(ui_env(pg_lutron_dsn, tmp_path), ui_environ, "design")
    no_exceptions(at)
    text = all_text(at)
    for name in hostile:
        assert common.md(name) in text
    at.text_input(key="design_query").set_value(hostile[0]).run()
    no_exceptions(at)
    assert hostile[0] in set(at.dataframe[0].value["Name"])


@pytest.mark.db
def test_a_house_with_many_areas_stacks_energy_by_floor_first(
    pg_lutron_dsn: str,
    ui_environ: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    design, _ = small_house(floors=2, rooms_per_floor=8, zones_per_room=1, keypads_per_room=0)
    assert len({z.area_key for z in design.zones}) > 12
    seed_history(pg_lutron_dsn, design, duration=timedelta(minutes=30))
    at = app_test(ui_env(pg_lutron_dsn, tmp_path), ui_environ, "energy")
    no_exceptions(at)
    assert at.radio(key="energy_by").value == "floor"
