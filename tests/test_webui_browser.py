"""The web UI in a real browser: `streamlit run webui/app.py` on a free port, Debian's Chromium driven
by Playwright. Every page must draw its charts, finish its script run, show no Streamlit exception,
and fetch nothing from outside the server. Screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_fixtures import (
    ARTIFACTS,
    BROWSER_PAGES,
    CHROMIUM,
    UiSetup,
    chromium,
    free_port,
    render_page,
    screenshot,
    streamlit_server,
    ui_env,
)

pytest_plugins = ["ui_fixtures"]  # the UI fixtures; the database ones come from conftest (pg_fixtures)
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's Chromium (/usr/bin/chromium) is not installed: apt-get install -y chromium",
)


@pytest.fixture(scope="module")
def server(ui_setup: UiSetup) -> Iterator[str]:
    with streamlit_server(ui_setup.env, ARTIFACTS / "webui-streamlit.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
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


def test_an_unreachable_database_is_a_page_not_a_traceback(tmp_path: Path, page: Any) -> None:
    env = ui_env(f"host=127.0.0.1 port={free_port()} user=ui password=hidden dbname=history", tmp_path)
    with streamlit_server(env, ARTIFACTS / "webui-streamlit-unreachable.log") as url:
        rendered = render_page(page, url, 0)
        screenshot(page, ARTIFACTS / "webui-state-unreachable.png")
        text = page.locator("[data-testid='stMain']").inner_text()
    assert rendered.exceptions == []
    assert "cannot be reached" in text
    assert "hidden" not in text
