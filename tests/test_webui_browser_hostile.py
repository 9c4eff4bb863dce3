"""A hostile house in Debian's Chromium (`streamlit run webui/app.py` on a free port): no name becomes
a link, an image or markup on any page, and nothing is fetched from a name's URL. Screenshots go to
test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ui_fixtures import (
    ARTIFACTS,
    BROWSER_PAGES,
    HOSTILE_NAMES,
    UiSetup,
    outside_requests,
    render_page,
    screenshot,
    streamlit_server,
)

from telegraf_lutron.webui.escape import WORD_JOINER

pytest_plugins = ["ui_fixtures"]  # the UI fixtures; the database ones come from conftest (pg_fixtures)
pytestmark = [pytest.mark.browser, pytest.mark.subprocess, pytest.mark.db]


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
