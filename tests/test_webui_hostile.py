"""Every page with a hostile house (names that are HTML, Markdown links, bare URLs, e-mail addresses,
`javascript:`, icons and spreadsheet formulas; a revision that is a Markdown image), run by AppTest:
nothing a name holds becomes a link, an image, an icon, markup or a formula. And a page that fails
tells the visitor so without the exception's details.

The Design page and the failing page need no database (fast loop); the history pages are `db`."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from ui_fixtures import (
    HOSTILE_FLOOR,
    HOSTILE_NAMES,
    HOSTILE_REVISION,
    OUR_TAGS,
    UiSetup,
    app_test,
    autolinks,
    free_port,
    hostile_house,
    markdown_text,
    plotly_shows,
    plotly_tags,
    store_hostile_designs,
    strings,
    ui_env,
)

from telegraf_lutron.webui import data
from telegraf_lutron.webui.escape import WORD_JOINER, md

pytest_plugins = ["ui_fixtures"]  # the UI fixtures; the database ones come from conftest (pg_fixtures)


def markdown_sources(at: Any) -> list[str]:
    """Everything of the page that Streamlit renders as Markdown: markdown, captions, alerts,
    headings, expander labels, metric labels, the sidebar."""
    parts: list[str] = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success", "title", "subheader"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [e.label for e in at.expander]
    parts += [m.label for m in at.metric]
    parts += [str(e.value) for e in at.sidebar.markdown]
    return parts


def no_exceptions(at: Any) -> None:
    assert not at.exception, [e.value for e in at.exception]


def unreachable_env(cache_dir: Path) -> dict[str, str]:
    return ui_env(f"host=127.0.0.1 port={free_port()} user=ui dbname=history connect_timeout=2", cache_dir)


# --- no database ------------------------------------------------------------------------------------


def test_the_design_page_shows_hostile_names_and_revisions_as_text(
    ui_environ: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    design, xml = hostile_house()
    store_hostile_designs(tmp_path, design, xml)
    at = app_test(unreachable_env(tmp_path), ui_environ, "design")
    no_exceptions(at)
    sources = markdown_sources(at)
    assert [link for s in sources for link in autolinks(s)] == []
    text = "\n".join(sources).replace("\u00a0", " ")
    assert f"revision **{md(HOSTILE_REVISION)}**" in text
    assert f"**{md(design.project.name)}**" in text
    assert f"What changed in {md(HOSTILE_REVISION)}" in text  # the expander label
    assert any(label.startswith(md(HOSTILE_FLOOR)) for label in (e.label for e in at.expander))
    for z in design.zones:
        assert f"| {md(z.name)} |" in text
    for k in design.keypads:
        assert f"**{md(k.name)}**" in text
    for t in design.timeclocks:  # the rest of the house: time clocks and shade groups
        assert any(e.label.startswith(f"{md(t.name)} (IID {t.id})") for e in at.expander)
    for g in design.shade_groups:
        assert f"Shade group **{md(g.name)}**" in text
    # Tables hold the names as they are (st.dataframe draws text as text).
    history = next(df.value for df in at.dataframe if "Revision" in df.value.columns)
    assert history["Revision"].iloc[0] == HOSTILE_REVISION
    at.text_input(key="design_query").set_value("evil.example").run()
    no_exceptions(at)
    found = next(df.value for df in at.dataframe if "Kind" in df.value.columns)
    assert set(HOSTILE_NAMES[:4]) <= set(found["Name"])
    assert [link for s in markdown_sources(at) for link in autolinks(s)] == []


def test_a_failing_page_shows_no_exception_details(ui_environ: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = "/srv/private/owner-password.txt"

    def broken(cache_dir: Path) -> data.DesignInfo:
        raise RuntimeError(f"cannot read {secret}")

    ui_environ.setattr(data, "design_info", broken)
    at = app_test(unreachable_env(tmp_path), ui_environ, "design")
    assert len(at.exception) == 1
    shown = at.exception[0]
    assert secret not in shown.message and "RuntimeError" not in shown.message
    assert shown.stack_trace == []


# --- the history pages ------------------------------------------------------------------------------


def plotly_problems(at: Any) -> list[str]:
    """Strings of the page's charts that plotly would draw as markup other than our own."""
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return [t for spec in specs for t in strings(spec) if not plotly_tags(t) <= OUR_TAGS]


def charted_names(at: Any) -> str:
    return "\n".join(
        plotly_shows(t) for c in at.get("plotly_chart") for t in strings(json.loads(c.proto.spec))
    )


@pytest.mark.db
@pytest.mark.parametrize("page", ["now", "energy", "zones", "why"])
def test_history_pages_show_hostile_names_as_text(
    page: str, hostile_setup: UiSetup, ui_environ: pytest.MonkeyPatch
) -> None:
    at = app_test(hostile_setup.env, ui_environ, page)
    no_exceptions(at)
    assert at.get("plotly_chart")
    assert plotly_problems(at) == []
    assert [link for s in markdown_sources(at) for link in autolinks(s)] == []
    on = HOSTILE_NAMES[0]  # on throughout: in the zones-on tables
    if page == "now":
        assert on in set(at.dataframe[0].value["Zone"])
        areas = {z.area for z in hostile_setup.design.zones}
        assert set(charted_names(at).splitlines()) & areas  # the area bars name hostile areas, as text
    if page == "energy":
        shown = charted_names(at)
        assert all(z.name in shown for z in hostile_setup.design.zones if z.rated_watts)
    if page == "why":
        # The links to the zones carry names in their labels (Markdown): escaped, never a link.
        labels = [e.proto.label for e in at.get("page_link")]
        assert labels and [link for label in labels for link in autolinks(label)] == []
        names = {markdown_text(label).replace(WORD_JOINER, "").rsplit(" · ", 1)[0] for label in labels}
        hostile = {z.area for z in hostile_setup.design.zones} | {
            f"{z.name} ({z.area})" for z in hostile_setup.design.zones
        }
        assert names & hostile  # shown as the text they are
    if page == "zones":
        at.number_input(key="left_on_hours").set_value(1).run()  # the history is 6 h long
        assert plotly_problems(at) == []
        assert on in set(next(df.value for df in at.dataframe if "On since" in df.value.columns)["Zone"])


@pytest.mark.db
def test_zones_search_for_a_hostile_name_shows_it_as_text(
    hostile_setup: UiSetup, ui_environ: pytest.MonkeyPatch
) -> None:
    at = app_test(hostile_setup.env, ui_environ, "zones")
    at.text_input(key="zone_query").set_value(HOSTILE_NAMES[1]).run()
    no_exceptions(at)
    assert at.selectbox(key="zone_pick").options[0].startswith(HOSTILE_NAMES[1])  # plain text
    assert plotly_problems(at) == []
    at.text_input(key="zone_query").set_value("[x](https://evil.example/query)").run()
    assert [link for s in markdown_sources(at) for link in autolinks(s)] == []
    assert any("No zone matches" in i.value for i in at.info)


@pytest.mark.db
def test_energy_csv_downloads_neutralise_formulas(
    hostile_setup: UiSetup, ui_environ: pytest.MonkeyPatch, csv_downloads: list[bytes]
) -> None:
    at = app_test(hostile_setup.env, ui_environ, "energy")
    no_exceptions(at)
    assert len(csv_downloads) == 3
    cells = [cell for c in csv_downloads for row in csv.reader(io.StringIO(c.decode())) for cell in row]
    formulas = [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r") or (c[:1] == "-" and not _number(c))]
    assert formulas == []
    assert "'" + HOSTILE_NAMES[7] in cells  # =HYPERLINK(...) as text


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
