"""The web UI in a real browser: `streamlit run webui/app.py` (or `telegraf-lutron ui`) on a free port,
Debian's Chromium driven by Playwright. Every page must draw its charts, finish its script run, show
no Streamlit exception, and fetch nothing from outside the server; each page's URL opened first on
a fresh server shows only the app's own navigation; a hostile house's names never become a link,
an image or markup. Screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_fixtures import (
    ARTIFACTS,
    BROWSER_PAGES,
    CHROMIUM,
    HOSTILE_NAMES,
    UiSetup,
    chromium,
    free_port,
    render_page,
    screenshot,
    streamlit_server,
    ui_env,
    ui_server,
)

pytest_plugins = ["ui_fixtures"]  # the UI fixtures; the database ones come from conftest (pg_fixtures)
# Most tests here also read the module's database (`ui_setup`); every one starts Streamlit.
pytestmark = [pytest.mark.browser, pytest.mark.subprocess, pytest.mark.db]
NAVIGATION = [
    ("Now", "/"),
    ("Energy", "/energy"),
    ("Zones", "/zones"),
    ("Why", "/why"),
    ("Design", "/design"),
]
WORD_JOINER = "\u2060"


@pytest.fixture(scope="module")
def server(ui_setup: UiSetup) -> Iterator[str]:
    with streamlit_server(ui_setup.env, ARTIFACTS / "webui-streamlit.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():  # fail, never skip: a missing browser must not pass as a green run
        pytest.fail(
            f"Debian's Chromium ({CHROMIUM}) is not installed: apt-get install -y chromium "
            "(scripts/test.sh does), or leave these tests out with -m 'not browser'"
        )
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-GB")
    p = context.new_page()
    try:
        yield p
    finally:
        context.close()


def outside_requests(page: Any, base: str) -> list[str]:
    """Collects every request the page makes to anything but the Streamlit server."""
    seen: list[str] = []
    page.on("request", lambda r: None if r.url.startswith((base, "data:", "blob:")) else seen.append(r.url))
    return seen


@pytest.mark.parametrize("name", list(BROWSER_PAGES))
def test_every_page_renders_in_chromium(name: str, server: str, page: Any) -> None:
    path, charts = BROWSER_PAGES[name]
    outside = outside_requests(page, server)
    rendered = render_page(page, f"{server}/{path}", charts)
    screenshot(page, ARTIFACTS / f"webui-{name}.png")
    assert rendered.exceptions == []
    assert rendered.charts == charts
    assert page.locator("h1").first.inner_text().strip() == name.capitalize()
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


# --- every page URL on a fresh server -----------------------------------------------------------------


def navigation(page: Any, base: str) -> list[tuple[str, str]]:
    """(text, path) of every link in the sidebar's navigation (its icon's name left out)."""
    links = page.query_selector_all("[data-testid='stSidebarNav'] a")
    return [
        (a.inner_text().strip().splitlines()[-1], (a.get_attribute("href") or "").removeprefix(base))
        for a in links
    ]


@pytest.mark.parametrize("name", list(BROWSER_PAGES))
def test_each_page_url_opened_first_on_a_fresh_server_has_only_the_apps_navigation(
    name: str, ui_setup: UiSetup, page: Any, tmp_path: Path
) -> None:
    path, charts = BROWSER_PAGES[name]
    with ui_server(ui_setup.env, ARTIFACTS / f"webui-fresh-{name}.log", cwd=tmp_path) as url:
        rendered = render_page(page, f"{url}/{path}", charts)  # the first request this server sees
        nav = navigation(page, url)
        text = page.locator("body").inner_text()
        title = page.locator("h1").first.inner_text().strip()
    assert rendered.exceptions == []
    assert "ModuleNotFoundError" not in text and "Traceback" not in text
    assert nav == NAVIGATION  # no "app" page, no lowercase automatic navigation from a pages/ folder
    assert title == name.capitalize()


# --- a hostile house ------------------------------------------------------------------------------------

HOSTILE_CHARTS = {"now": 2, "energy": 4, "zones": 3, "design": 0}


@pytest.fixture(scope="module")
def hostile_server(hostile_setup: UiSetup) -> Iterator[str]:
    with streamlit_server(hostile_setup.env, ARTIFACTS / "webui-streamlit-hostile.log") as url:
        yield url


@pytest.mark.parametrize("name", list(BROWSER_PAGES))
def test_no_link_image_or_markup_comes_from_a_name(
    name: str, hostile_server: str, hostile_setup: UiSetup, page: Any
) -> None:
    path, _ = BROWSER_PAGES[name]
    outside = outside_requests(page, hostile_server)
    rendered = render_page(page, f"{hostile_server}/{path}", HOSTILE_CHARTS[name])
    links = page.eval_on_selector_all(
        "a",
        "els => els.map(e => [e.getAttribute('href') || e.getAttribute('xlink:href') || '', e.textContent])",
    )
    evil = page.eval_on_selector_all(
        "[href*='evil']:not([href^='#']), [src*='evil'], [*|href*='evil']:not([href^='#']), "
        "[href^='javascript'], [href^='mailto'], "
        ".js-plotly-plot a, .js-plotly-plot b, [data-testid='stMain'] img",
        "els => els.map(e => e.outerHTML.slice(0, 200))",
    )
    text = page.locator("[data-testid='stMain']").inner_text().replace(WORD_JOINER, "")
    drawn = page.eval_on_selector_all(
        ".js-plotly-plot text", "els => els.map(e => e.textContent).join('\\n')"
    )
    screenshot(page, ARTIFACTS / f"webui-hostile-{name}.png")
    assert rendered.exceptions == []
    assert evil == []
    # Only the navigation, the skip link and heading anchors (in-page, "#...") are links.
    assert [(h, t) for h, t in links if not h.startswith((hostile_server, "#"))] == []
    assert outside == []  # no image or anything else fetched from a name's URL
    if name == "design":
        for zone in hostile_setup.design.zones:
            assert zone.name.replace("\n", " ") in text, zone.name  # shown as the text it is
    elif name in ("now", "energy"):
        assert any(n in drawn for n in HOSTILE_NAMES)  # chart labels drawn as the text they are
