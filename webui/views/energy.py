"""Energy: how much, what it cost, where it went and when, over a chosen range."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import streamlit as st

from telegraf_lutron.webui import charts, common, data, tables

RANGES = (*common.CALENDAR_RANGES, "Custom")


def pick_range(tz: str, now: datetime) -> tuple[datetime, datetime, str]:
    """(start, end, description) of the range the person picked; calendar ranges start at local
    midnight (or the first of a month for a year), so their first bucket is whole."""
    choice = st.radio("Range", RANGES, index=1, horizontal=True, key="energy_range")
    if choice in common.CALENDAR_RANGES:
        return common.calendar_range(choice, tz, now)
    today = pd.Timestamp(now).tz_convert(tz).date()
    picked = st.date_input(
        "From – to (inclusive)",
        value=(today - timedelta(days=13), today),
        max_value=today,
        key="energy_custom",
    )
    if not isinstance(picked, tuple | list) or len(picked) != 2:
        st.info("Pick the last day of the range too.")
        st.stop()
    first_day, last_day = picked
    if not isinstance(first_day, date) or not isinstance(last_day, date):
        st.info("Pick the last day of the range too.")
        st.stop()
    start = pd.Timestamp(first_day).tz_localize(tz).to_pydatetime()
    end = min(pd.Timestamp(last_day + timedelta(days=1)).tz_localize(tz).to_pydatetime(), now)
    return start, end, f"{first_day:%d %b %Y} – {last_day:%d %b %Y}"


ctx = common.page("Energy")
design = data.design_info(ctx.settings.cache_dir)
now = data.now_minute()
top_row = st.columns([3, 1])
with top_row[0]:
    start, end, described = pick_range(ctx.tz, now)
with top_row[1]:
    # Beyond a dozen areas their colours cannot be told apart: start with floors.
    snap = data.snapshot(ctx.dsn, ctx.tz)
    many_areas = len(snap.areas) > charts.STACK_GROUPS
    by = st.radio("Stack by", ("area", "floor"), index=int(many_areas), horizontal=True, key="energy_by")

system = data.energy(ctx.dsn, ctx.tz, "system", start, end)
areas = data.energy(ctx.dsn, ctx.tz, "area", start, end)
zones = data.zone_energy(ctx.dsn, start, end)
heat = data.weekday_hour(ctx.dsn, start, end)
resolution = str(system["resolution"].iloc[0]) if len(system) else "day"
known = common.wattage_note(design, zones, reported=snap.zones)

total_kwh = float(system["energy_kwh"].sum())
cost = ctx.settings.cost(total_kwh)
samples = system["samples"].sum() if len(system) else 0
avg_watts = (system["avg_watts"].fillna(0) * system["samples"]).sum() / samples if samples else None
peak = system["max_watts"].max() if len(system) else None
c1, c2, c3, c4 = st.columns(4)
c1.metric(
    "Energy",
    common.kwh(total_kwh) if known else "unknown",
    border=True,
    help=f"System energy over {described}",
)
c2.metric(
    "Cost",
    common.money(cost, ctx.settings.currency) if cost is not None and known else "–",
    border=True,
    help=f"At {ctx.settings.tariff:g} {ctx.settings.currency}/kWh"
    if ctx.settings.tariff is not None
    else "Set TL_TARIFF",
)
c3.metric(
    "Average power",
    common.watts(avg_watts) if known else "unknown",
    border=True,
    help="Over the samples recorded",
)
c4.metric(
    "Peak power", common.watts(peak) if known else "unknown", border=True, help="Highest sample in the range"
)
local_start, local_end = (pd.Timestamp(t).tz_convert(ctx.tz) for t in (start, end))
st.caption(
    f"{described.capitalize()}: {local_start:%d %b %Y %H:%M} – {local_end:%d %b %Y %H:%M} ({ctx.tz}); "
    f"energy per {resolution}. Buckets that overlap the range are counted whole."
)

st.plotly_chart(charts.energy_stacked(areas, by=by, resolution=resolution), width="stretch")
left, right = st.columns([3, 2])
with left:
    st.plotly_chart(charts.energy_treemap(zones), width="stretch")
with right:
    st.plotly_chart(charts.top_zones_bar(zones), width="stretch")
st.plotly_chart(charts.weekday_hour_heatmap(heat), width="stretch")

st.subheader("Zones")
st.dataframe(
    tables.energy_zone_table(zones, ctx.settings.tariff),
    hide_index=True,
    width="stretch",
    column_config={
        "zone": "Zone",
        "kind": "Kind",
        "area": "Area",
        "floor": "Floor",
        "output_type": "Type",
        "energy_kwh": st.column_config.NumberColumn("kWh", format="%.3f"),
        "cost": st.column_config.NumberColumn(f"Cost ({ctx.settings.currency})", format="%.2f"),
        "avg_watts": st.column_config.NumberColumn("Avg W", format="%.1f"),
        "max_watts": st.column_config.NumberColumn("Peak W", format="%.1f"),
        "on_share": st.column_config.NumberColumn("On %", format="%.1f"),
    },
)

stamp = f"{start:%Y%m%d}-{end:%Y%m%d}"
d1, d2, d3 = st.columns(3)
per_bucket = areas[
    ["start", "end", "resolution", "site", "id", "name", "floor", "energy_kwh", "avg_watts", "max_watts"]
]
d1.download_button(
    f"Energy per {resolution} and area (CSV)",
    common.csv_bytes(per_bucket.rename(columns={"id": "area_id", "name": "area"})),
    file_name=f"energy-by-area-{stamp}.csv",
    mime="text/csv",
    icon=":material/download:",
)
d2.download_button(
    "Energy per zone (CSV)",
    common.csv_bytes(zones),
    file_name=f"energy-by-zone-{stamp}.csv",
    mime="text/csv",
    icon=":material/download:",
)
d3.download_button(
    "Weekday × hour power (CSV)",
    common.csv_bytes(heat),
    file_name=f"power-weekday-hour-{stamp}.csv",
    mime="text/csv",
    icon=":material/download:",
)
