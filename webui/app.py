"""telegraf-lutron web UI: `telegraf-lutron ui`, or `streamlit run webui/app.py` from a checkout
whose package is installed (`pip install -e .[ui]`): the app imports `telegraf_lutron.webui`.

The pages live in `views/`, not `pages/`: Streamlit would otherwise add its automatic navigation
from a `pages/` folder beside the app on a fresh server.

Settings come from the environment or Streamlit secrets (see webui/settings.py): TL_DSN,
TL_CACHE_DIR, TL_TIMEZONE, TL_TARIFF, TL_CURRENCY.
"""

from __future__ import annotations

import streamlit as st

# An emoji favicon is drawn in the browser; a :material/...: one would be fetched from Google.
st.set_page_config(page_title="Lighting · telegraf-lutron", page_icon="💡", layout="wide")
st.set_option("client.toolbarMode", "viewer")  # no Deploy button or developer menu for the household
# A visitor sees that something failed, never the exception's message or traceback (the server's log
# has them); `telegraf-lutron ui` passes the same on Streamlit's command line.
st.set_option("client.showErrorDetails", "none")
# A table's own CSV export writes names as they are, formulas included; the pages' CSV downloads
# neutralise them (escape.csv_safe).
st.set_option("client.disableDataExport", True)

PAGES = [
    st.Page("views/now.py", title="Now", icon=":material/bolt:", default=True),
    st.Page("views/energy.py", title="Energy", icon=":material/bar_chart:", url_path="energy"),
    st.Page("views/zones.py", title="Zones", icon=":material/lightbulb:", url_path="zones"),
    st.Page("views/why.py", title="Why", icon=":material/help:", url_path="why"),
    st.Page("views/design.py", title="Design", icon=":material/account_tree:", url_path="design"),
]
st.navigation(PAGES).run()
