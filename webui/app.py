"""telegraf-lutron web UI: `telegraf-lutron ui`, or `streamlit run webui/app.py`.

Settings come from the environment or Streamlit secrets (see webui/settings.py): TL_DSN,
TL_CACHE_DIR, TL_TIMEZONE, TL_TARIFF, TL_CURRENCY.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run webui/app.py` puts webui/ on sys.path, not the checkout: make `webui` importable.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

# An emoji favicon is drawn in the browser; a :material/...: one would be fetched from Google.
st.set_page_config(page_title="Lighting · telegraf-lutron", page_icon="💡", layout="wide")
st.set_option("client.toolbarMode", "viewer")  # no Deploy button or developer menu for the household

PAGES = [
    st.Page("pages/now.py", title="Now", icon=":material/bolt:", default=True),
    st.Page("pages/energy.py", title="Energy", icon=":material/bar_chart:", url_path="energy"),
    st.Page("pages/zones.py", title="Zones", icon=":material/lightbulb:", url_path="zones"),
    st.Page("pages/design.py", title="Design", icon=":material/account_tree:", url_path="design"),
]
st.navigation(PAGES).run()
