"""The telegraf-lutron web UI: a Streamlit multipage app over the PostgreSQL history and the design cache.

Start it with `telegraf-lutron ui` or `streamlit run webui/app.py`. Modules:
- `settings`: DSN, cache directory, time zone, tariff and currency from the environment or secrets.
- `data`: cached loaders that turn `HistoryStore` results into DataFrames in the house's time zone.
- `charts`: plotly figures, each built from a DataFrame (testable without a browser).
- `common`: what every page shares: the pages for states a person meets (database down or empty,
  no design yet), formatting, and the sidebar.
- `views/`: Now, Energy, Zones, Design (not `pages/`, which Streamlit would turn into a second navigation).
"""
