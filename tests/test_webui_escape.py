"""Names as text: the escaping helpers for Markdown, plotly and CSV, and every chart drawn with
hostile names. No database, no browser: the fast loop.

The oracles (ui_fixtures: what GitHub-flavoured Markdown links, what plotly treats as markup and
how it decodes entities; here: what a spreadsheet runs as a formula) are written from those tools'
own rules, independently of `webui/escape.py` on purpose: do not merge them with it.
"""

from __future__ import annotations

import csv
import io
import re

import pandas as pd
import plotly.graph_objects as go
import pytest
from ui_fixtures import (
    HOSTILE_FLOOR,
    HOSTILE_NAMES,
    HOSTILE_REVISION,
    OUR_TAGS,
    autolinks,
    markdown_text,
    plotly_shows,
    plotly_tags,
    strings,
)

from telegraf_lutron.simulator import designgen
from telegraf_lutron.webui import charts, common, escape

NAMES = [*HOSTILE_NAMES, HOSTILE_FLOOR, HOSTILE_REVISION]


def spreadsheet_runs(cell: str) -> bool:
    """Excel, LibreOffice and Sheets treat a cell starting with these as a formula (OWASP)."""
    return cell[:1] in ("=", "+", "-", "@", "\t", "\r")


# --- Markdown ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_hostile_names_are_links_in_naive_markdown(name: str) -> None:
    # The oracle finds what the fix must defuse (else the tests below would prove nothing).
    plain = re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~:$&=\"'])", r"\\\1", name)  # escaping alone
    if any(s in name for s in ("http", "www", "WWW", "@evil", ":material")):
        assert autolinks(plain)


@pytest.mark.parametrize("name", NAMES)
def test_md_leaves_nothing_to_link_and_shows_the_name(name: str) -> None:
    escaped = escape.md(name)
    assert autolinks(escaped) == []
    assert markdown_text(escaped).replace(escape.WORD_JOINER, "") == name
    bare = re.sub(r"\\.", "", escaped)  # what is left outside escape pairs
    assert not set(bare) & set("\\`*_{}[]()#+-.!|<>~:$&=\"'")


# The simulator's hostile room names, and what Streamlit's Markdown adds (directives, LaTeX).
@pytest.mark.parametrize("name", [*designgen._HOSTILE_ROOMS, ":red[x] :smile:", "$x$", "*a* _b_ |c|"])
def test_md_escapes_everything_markdown_and_streamlit_could_act_on(name: str) -> None:
    escaped = escape.md(name)
    assert markdown_text(escaped).replace(escape.WORD_JOINER, "") == name  # the text comes back
    bare = re.sub(r"\\.", "", escaped)
    assert not set(bare) & set("\\`*_{}[]()#+-.!|<>~:$&=\"'")


def test_md_keeps_a_name_on_one_line() -> None:
    assert "\n" not in escape.md("Hall\nway\r\n- item")


def test_common_formats_with_the_same_md() -> None:
    assert common.md is escape.md


# --- plotly -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_plotly_text_is_drawn_as_the_name_with_no_markup(name: str) -> None:
    text = escape.plotly_text(name)
    assert plotly_tags(text) == set()
    assert plotly_shows(text) == name
    assert not text.startswith("$")  # no LaTeX where MathJax is loaded


def hostile_frames() -> dict[str, pd.DataFrame]:
    n = len(HOSTILE_NAMES)
    start = pd.Timestamp("2025-05-16 00:00", tz="Europe/Berlin")
    return {
        "areas": pd.DataFrame(
            {"name": HOSTILE_NAMES, "watts": range(1, n + 1), "floor": [HOSTILE_FLOOR] * n}
        ),
        "stacked": pd.DataFrame(
            {
                "start": [start + pd.Timedelta(days=i % 2) for i in range(n)],
                "area": HOSTILE_NAMES,
                "floor": [HOSTILE_FLOOR] * n,
                "energy_kwh": [1.0 + i for i in range(n)],
            }
        ),
        "zones": pd.DataFrame(
            {
                "floor": [HOSTILE_FLOOR] * n,
                "area": list(reversed(HOSTILE_NAMES)),
                "zone": HOSTILE_NAMES,
                "energy_kwh": [1.0 + i for i in range(n)],
            }
        ),
    }


def hostile_figures() -> dict[str, go.Figure]:
    f = hostile_frames()
    title = HOSTILE_NAMES[0]
    return {
        "areas_now_bar": charts.areas_now_bar(f["areas"], top=len(HOSTILE_NAMES)),
        "energy_stacked by area": charts.energy_stacked(f["stacked"], by="area", groups=len(HOSTILE_NAMES)),
        "energy_stacked by hour": charts.energy_stacked(f["stacked"], by="area", resolution="hour"),
        "energy_treemap": charts.energy_treemap(f["zones"]),
        "top_zones_bar": charts.top_zones_bar(f["zones"], top=len(HOSTILE_NAMES)),
        "power_line titled": charts.power_line(
            pd.DataFrame(
                {"time": [pd.Timestamp("2025-05-16", tz="UTC")], "avg_watts": [1.0], "max_watts": [2.0]}
            ),
            title,
        ),
        "empty_figure": charts.empty_figure(title, HOSTILE_NAMES[1]),
    }


@pytest.mark.parametrize("chart", list(hostile_figures()))
def test_charts_draw_hostile_names_as_text(chart: str) -> None:
    fig = hostile_figures()[chart]
    texts = list(strings(fig.to_plotly_json()))
    for text in texts:
        assert plotly_tags(text) <= OUR_TAGS, text
    shown = "\n".join(plotly_shows(t) for t in texts)
    expected = {
        "areas_now_bar": [*HOSTILE_NAMES, HOSTILE_FLOOR],
        "energy_stacked by area": HOSTILE_NAMES,
        "energy_treemap": [*HOSTILE_NAMES, HOSTILE_FLOOR],
        "top_zones_bar": HOSTILE_NAMES,
        "power_line titled": [HOSTILE_NAMES[0]],
        "empty_figure": HOSTILE_NAMES[:2],
    }.get(chart, [])
    for name in expected:
        assert name in shown, name


# --- CSV --------------------------------------------------------------------------------------------


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode())))


def test_csv_cells_a_spreadsheet_would_run_are_text() -> None:
    df = pd.DataFrame(
        {
            "zone": HOSTILE_NAMES,
            "area": pd.array(list(reversed(HOSTILE_NAMES)), dtype="string"),
            "energy_kwh": [-1.5 if i % 2 else 2.0 for i in range(len(HOSTILE_NAMES))],
            "count": [-3] * len(HOSTILE_NAMES),
        }
    )
    header, *rows = read_csv(common.csv_bytes(df))
    assert header == ["zone", "area", "energy_kwh", "count"]
    assert [r[0] for r in rows if spreadsheet_runs(r[0])] == []
    assert [r[1] for r in rows if spreadsheet_runs(r[1])] == []
    for row, name in zip(rows, HOSTILE_NAMES, strict=True):
        assert row[0] == ("'" + name if name[0] in "=+-@" else name)
    assert {r[2] for r in rows} == {"-1.5", "2.0"}  # numbers stay numbers, negative ones too
    assert {r[3] for r in rows} == {"-3"}


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1"])
def test_csv_text_neutralises_every_formula_start(cell: str) -> None:
    assert escape.csv_text(cell) == "'" + cell
    assert escape.csv_text(-1) == -1 and escape.csv_text(-1.5) == -1.5
    assert escape.csv_text("Kitchen") == "Kitchen"


def test_csv_keeps_missing_text_empty() -> None:
    df = pd.DataFrame({"zone": ["=x", None], "floor": pd.array([None, "-y"], dtype="string")})
    assert read_csv(common.csv_bytes(df))[1:] == [["'=x", ""], ["", "'-y"]]
