"""The web UI in a real browser, Debian's Chromium driven by Playwright. Each page's URL opened first
on a fresh `telegraf-lutron ui` server (the installed package's app, started outside the checkout)
must draw its charts, finish its script run, show no Streamlit exception, show only the app's own
navigation and fetch nothing from outside the server. On `streamlit run webui/app.py`: a widget
reruns the page, the Why page links to its zones, an unreachable database is a page. Screenshots
go to test-artifacts/.

The hostile house's browser tests are a module of their own (test_webui_browser_hostile), so that
pytest-xdist runs the two on two workers at once; ui_fixtures has what they share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_fixtures import (
    ARTIFACTS,
    BROWSER_PAGES,
    UiSetup,
    free_port,
    outside_requests,
    render_page,
    screenshot,
    streamlit_server,
    ui_env,
    ui_server,
)

pytest_plugins = ["ui_fixtures"]  # the UI fixtures; the database ones come from conftest (pg_fixtures)
# Most tests here also read the module's database (`ui_setup`); every one starts Streamlit.
pytestmark = [pytest.mark.browser, pytest.mark.subprocess, pytest.mark.db]


@pytest.fixture(scope="module")
def server(ui_setup: UiSetup) -> Iterator[str]:
    with streamlit_server(ui_setup.env, ARTIFACTS / "webui-streamlit.log") as url:
        yield url


NAVIGATION = [
    ("Now", "/"),
    ("Energy", "/energy"),
    ("Zones", "/zones"),
    ("Why", "/why"),
    ("Design", "/design"),
]


def navigation(page: Any, base: str) -> list[tuple[str, str]]:
    """(text, path) of every link in the sidebar's navigation (its icon's name left out)."""
    links = page.query_selector_all("[data-testid='stSidebarNav'] a")
    return [
        (a.inner_text().strip().splitlines()[-1], (a.get_attribute("href") or "").removeprefix(base))
        for a in links
    ]


@pytest.mark.parametrize("name", list(BROWSER_PAGES))
def test_every_page_opened_first_on_a_fresh_server_renders_offline_with_only_the_apps_navigation(
    name: str, ui_setup: UiSetup, page: Any, tmp_path: Path
) -> None:
    path, charts = BROWSER_PAGES[name]
    with ui_server(ui_setup.env, ARTIFACTS / f"webui-fresh-{name}.log", cwd=tmp_path) as url:
        outside = outside_requests(page, url)
        rendered = render_page(page, f"{url}/{path}", charts)  # the first request this server sees
        screenshot(page, ARTIFACTS / f"webui-{name}.png")
        nav = navigation(page, url)
        text = page.locator("body").inner_text()
        title = page.locator("h1").first.inner_text().strip()
    assert rendered.exceptions == []
    assert "ModuleNotFoundError" not in text and "Traceback" not in text
    assert rendered.charts == charts
    assert title == name.capitalize()
    assert nav == NAVIGATION  # no "app" page, no lowercase automatic navigation from a pages/ folder
    assert outside == []  # works offline: no fonts, icons or telemetry from the internet


def test_a_widget_reruns_the_page_over_the_websocket(server: str, page: Any) -> None:
    render_page(page, f"{server}/energy", BROWSER_PAGES["energy"][1])
    page.get_by_text("24 h", exact=True).click()
    page.locator(".js-plotly-plot").get_by_text("Energy per hour by area").wait_for(timeout=30_000)
    page.wait_for_selector("[data-testid='stStatusWidget']", state="detached", timeout=30_000)
    assert page.query_selector_all("[data-testid='stException']") == []
    screenshot(page, ARTIFACTS / "webui-energy-24h.png")


def test_the_why_page_draws_its_figures_and_links_each_to_its_zones(server: str, page: Any) -> None:
    outside = outside_requests(page, server)
    rendered = render_page(page, f"{server}/why", 2)  # energy by cause, energy in empty rooms
    screenshot(page, ARTIFACTS / "webui-why.png")
    links = page.eval_on_selector_all(
        "[data-testid='stMain'] a",
        "els => els.map(e => [e.href, e.textContent])",  # resolved
    )
    assert rendered.exceptions == []
    assert rendered.charts == 2
    assert page.locator("h1").first.inner_text().strip() == "Why"
    to_zones = [(href, text) for href, text in links if href.startswith(f"{server}/zones?zone=")]
    # every cause, source, room and night links to its zones (up to 8 links a section)
    assert len(to_zones) >= 4, links
    assert all(" zone" in text for _, text in to_zones)
    assert outside == []


def test_an_unreachable_database_is_a_page_not_a_traceback(tmp_path: Path, page: Any) -> None:
    env = ui_env(f"host=127.0.0.1 port={free_port()} user=ui password=hidden dbname=history", tmp_path)
    with streamlit_server(env, ARTIFACTS / "webui-streamlit-unreachable.log") as url:
        rendered = render_page(page, url, 0)
        screenshot(page, ARTIFACTS / "webui-state-unreachable.png")
        text = page.locator("[data-testid='stMain']").inner_text()
    assert rendered.exceptions == []
    assert "cannot be reached" in text
    assert "hidden" not in text
