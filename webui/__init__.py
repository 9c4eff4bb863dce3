"""The telegraf-lutron web UI: a Streamlit multipage app over the PostgreSQL history and the design cache.

Start it with `telegraf-lutron ui` or `streamlit run webui/app.py`. Modules:
- `settings_map`: each setting's key, environment variable and `telegraf-lutron ui` option, once.
- `settings`: DSN, cache directory, time zone, tariff and currency from the environment or secrets.
- `data`: cached loaders that turn `HistoryStore` results into DataFrames in the house's time zone,
  and the zone catalogue matched with the design on (site, zone id).
- `tables`: the tables the pages show; `design_view`: the Design page's search, tree and text.
- `charts`: plotly figures, each built from a DataFrame (testable without a browser).
- `escape`: names as text in Markdown, plotly and CSV.
- `common`: what every page shares: the pages for states a person meets (database down or empty,
  no design yet), formatting, and the sidebar.
- `views/`: Now, Energy, Zones, Design, layout only (not `pages/`, which Streamlit would turn into a
  second navigation).
"""
