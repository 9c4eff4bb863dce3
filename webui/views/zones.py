"""Zones: find one zone and see its history; list the lights, fans and loads left on."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from telegraf_lutron.webui import charts, common, data, tables, why_data
from telegraf_lutron.webui.escape import md

RANGES = {"24 h": timedelta(hours=24), "7 d": timedelta(days=7), "30 d": timedelta(days=30)}
LEVEL_SPAN = timedelta(hours=48)  # level history reads raw rows, which the store allows up to 48 h

ctx = common.page("Zones")
design = data.design_info(ctx.settings.cache_dir)
now = data.now_minute()
snap = data.snapshot(ctx.dsn, ctx.tz)

in_design = data.design_zones(design.design) if design.ok and design.design is not None else None
# Kinds and wattages as the plugin uses them (its [[zone]] entries applied), else the design's.
catalogue = data.with_kinds(data.with_design(data.zone_catalogue(ctx.dsn, ctx.tz), in_design), snap.zones)
on_now = data.zones_on(ctx.dsn, ctx.tz, None if not snap.stale else snap.last_time)

# --- the zones at a glance: numbers first, before the search widgets and the charts ----------------
rated_all = pd.to_numeric(catalogue["rated_watts"], errors="coerce")
# Rows from before the kinds have none: they counted as lights then.
lights_on = int((on_now["kind"].isna() | (on_now["kind"] == "light")).sum()) if len(on_now) else 0
s1, s2, s3 = st.columns(3)
s1.metric("Zones", f"{len(catalogue)}", border=True, help="With history, plus the design's zones without any")
s2.metric(
    "Lights on now",
    f"{lights_on}",
    border=True,
    help=f"{len(on_now) - lights_on} more zones are on or open: fans, loads, shades, motors, contacts",
)
s3.metric(
    "Without wattage",
    f"{int((catalogue['draws_power'] & (rated_all.isna() | (rated_all <= 0))).sum())}",
    border=True,
    help="Lights, fans and loads whose energy is unknown (shades, motors and contacts need no "
    "wattage). " + common.FILL_IN,
)

# --- one zone -------------------------------------------------------------------------------------
st.subheader("Find a zone")
# The Why page links here with the zones behind one of its figures (`zone=<site>/<id>` each).
linked = why_data.parse_zone_params(st.query_params.get_all(why_data.ZONE_PARAM))
if linked:
    found = why_data.linked_zones(catalogue, linked)
    query = ""
    st.info(
        f"Showing the {common.plural(len(found), 'zone')} a figure of the Why page links to.",
        icon=":material/link:",
    )
    if st.button("Search all zones", icon=":material/search:"):
        st.query_params.clear()
        st.rerun()
else:
    query = st.text_input("Name, area or floor", key="zone_query", placeholder="e.g. kitchen")
    found = data.find_zones(catalogue, query)

if found.empty:
    st.info(f"No zone matches “{md(query)}”." if query.strip() else "No zone has any history yet.")
else:
    labels = common.zone_labels(found, with_site=catalogue["site"].nunique() > 1)
    picked = st.selectbox(
        f"Zone ({len(found)} found)", list(labels), format_func=labels.__getitem__, key="zone_pick"
    )
    zone = found.loc[picked]
    site, zone_id = str(zone["site"]), str(zone["zone_id"])
    span_name = st.radio("Range", list(RANGES), horizontal=True, key="zone_range")
    span = RANGES[span_name]

    state = data.zone_now(snap, on_now, site, zone_id)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Level now", "–" if state.level_pct is None else f"{state.level_pct:.0f} %", border=True)
    c2.metric("Power now", common.watts(state.watts) if state.reporting else "–", border=True)
    if state.since is not None:
        c3.metric(
            "On since",
            ("" if state.since_exact else "≤ ") + common.when(state.since, snap.as_of),
            border=True,
            help=None
            if state.since_exact
            else "On since at least then: the records begin (or raw rows were pruned)",
        )
    else:
        c3.metric("On since", "off" if state.reporting else "no recent data", border=True)
    rated = zone.get("rated_watts")
    if rated is not None and not pd.isna(rated) and rated:
        rated_text = common.watts(rated)
    else:
        rated_text = "unknown" if bool(zone.get("draws_power", True)) else "none"
    c4.metric(
        "Rated",
        rated_text,
        border=True,
        help="Watts at 100 %: the design's, or a [[zone]] entry's. Unknown: its energy is not counted. "
        "None: a shade, motor or contact, which draws no power.",
    )

    power = data.power_history(ctx.dsn, ctx.tz, "zone", now - span, now, site=site, id=zone_id)
    st.plotly_chart(charts.power_line(power, f"Power, last {span_name}"), width="stretch")
    level_span = min(span, LEVEL_SPAN)
    levels = data.level_history(ctx.dsn, ctx.tz, now - level_span, now, site, zone_id)
    level_title = f"Level, last {span_name}" if span <= LEVEL_SPAN else "Level, last 48 h (raw rows)"
    st.plotly_chart(charts.level_line(levels, level_title), width="stretch")
    days = max(span, timedelta(days=7))
    first_day = (
        pd.Timestamp(now).tz_convert(ctx.tz).normalize() - pd.Timedelta(days=days.days - 1)
    ).to_pydatetime()
    hours_on = data.on_hours(ctx.dsn, first_day, now, site, zone_id)
    st.plotly_chart(
        charts.on_hours_bar(hours_on, f"Hours on per day, last {days.days} days"), width="stretch"
    )
    st.caption(
        "Hours on: for every hour with data, the share of it with the level above 0. "
        f"Total {hours_on['on_hours'].sum():.1f} h over {len(hours_on)} days."
    )

# --- left on --------------------------------------------------------------------------------------
st.divider()
st.subheader("Left on")
a, b, c = st.columns(3)
longer_than = a.number_input(
    "On for longer than (hours)", min_value=1, max_value=168, value=8, step=1, key="left_on_hours"
)
night_start = b.selectbox(
    "Night from", [20, 21, 22, 23, 0, 1, 2], index=4, format_func=lambda h: f"{h:02d}:00", key="night_start"
)
night_end = c.selectbox(
    "Night until", [4, 5, 6, 7, 8], index=1, format_func=lambda h: f"{h:02d}:00", key="night_end"
)

long_on = tables.left_on(on_now, snap.at, int(longer_than))
st.markdown(f"**Lights, fans and loads on now for more than {int(longer_than)} h:** {len(long_on)}")
if len(long_on):
    st.dataframe(
        tables.zones_on_table(long_on, snap.at), hide_index=True, width="stretch", key="long_on_table"
    )

today = pd.Timestamp(now).tz_convert(ctx.tz).date()
nights = data.overnight(ctx.dsn, today - timedelta(days=6), today, int(night_start), int(night_end))
st.markdown(
    f"**On all night ({int(night_start):02d}:00–{int(night_end):02d}:00), last 7 nights:** "
    f"{common.plural(nights['zone_id'].nunique() if len(nights) else 0, 'zone')}"
)
if len(nights):
    st.dataframe(tables.overnight_table(nights), hide_index=True, width="stretch", key="overnight_table")
else:
    st.caption("No light, fan or load stayed on through a whole night.")
