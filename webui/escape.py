"""Names as text, in every place the UI puts them.

Every name the UI shows (zones, areas, floors, keypads, engravings, the project, its revision) comes
from a design file or a processor we do not control, and every place that shows text interprets
some of it. Each place gets its own escaping:

- Markdown (`st.markdown`, captions, alerts, expander labels): `md()`.
- plotly (axis and treemap labels, hover text, legends, titles): `plotly_text()`.
- CSV downloads, which spreadsheets open and whose formulas they run: `csv_safe()`.
- `st.dataframe` draws cells as plain text; its own CSV export cannot neutralise formulas, so the
  app turns it off (`client.disableDataExport` in app.py and `telegraf-lutron ui`).

This module needs neither Streamlit nor plotly, so the charts and the pages share it.
"""

from __future__ import annotations

import re

import pandas as pd

# Everything Markdown, Streamlit's directives (`:red[...]`, `:material/...:`) or LaTeX (`$`) acts on.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$&=\"'])")
WORD_JOINER = "\u2060"  # invisible, not a space, not a word character: breaks a pattern, not a line
# GitHub-flavoured Markdown links bare URLs (`http://`, `https://`, `www.`) and e-mail addresses
# after backslash escapes are resolved, and Streamlit draws `:material/name:` as an icon the same
# way: a word joiner after every ':' and '@' and between "www" and "." leaves nothing to match.
_AUTOLINK = re.compile(r"(?<=[:@])|(?i:(?<=www)(?=\.))")


def md(text: object) -> str:
    """`text` as literal Markdown: every character Markdown, Streamlit or LaTeX could act on is
    escaped, bare URLs, e-mail addresses and icon names are broken by an invisible word joiner,
    newlines become spaces."""
    flat = str(text).replace("\r", " ").replace("\n", " ")
    return _MD_SPECIAL.sub(r"\\\1", _AUTOLINK.sub(WORD_JOINER, flat))


def plotly_text(text: object) -> str:
    """`text` as literal plotly text. plotly draws a subset of HTML in labels, hover text, legends
    and titles (`<a href>` links, `<b>`, `<br>`, `<span style>`) and decodes entities, so `&`, `<`
    and `>` become entities; `$` too, since text between dollars is typeset as LaTeX where MathJax
    is loaded."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("$", "&#36;")


# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets (tab and
# carriage return too, as OWASP's "CSV injection" advice lists).
CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula, with a `'` in front (shown as text);
    anything else, numbers included (a negative number stays a number), unchanged."""
    if isinstance(value, str) and value.startswith(CSV_FORMULA_START):
        return "'" + value
    return value


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` whose text cells are `csv_text`; numeric, boolean and time columns untouched."""
    out = df.copy()
    for column in out.columns:
        series = out[column]
        if pd.api.types.is_object_dtype(series.dtype) or pd.api.types.is_string_dtype(series.dtype):
            out[column] = series.map(csv_text, na_action="ignore")
    return out
