"""Why: why the energy was spent. Energy by the cause of the levels that drew it, the keypad buttons
and time clock events behind the most, lights in empty rooms and lights left on overnight; each
figure links to its zones on the Zones page."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from telegraf_lutron.db import DbError
from telegraf_lutron.db.why import ZoneKey
from telegraf_lutron.webui import charts, common, data, why_data
from telegraf_lutron.webui.escape import md

LINKS = 8  # links per section (the tables list every figure)


def zone_links(items: Sequence[tuple[str, Sequence[ZoneKey]]]) -> None:
    """A link to the Zones page per figure: its label (escaped) and how many zones it has."""
    shown = [(label, zones) for label, zones in items if zones][:LINKS]
    if not shown:
        return
    st.caption("Open the zones behind a figure:")
    columns = st.columns(4)
    for i, (label, zones) in enumerate(shown):
        columns[i % 4].page_link(
            "views/zones.py",
            label=f"{md(label)} · {common.plural(len(zones), 'zone')}",
            icon=":material/lightbulb:",
            query_params=why_data.zone_params(zones),
        )


ctx = common.page("Why")
design = data.design_info(ctx.settings.cache_dir)
now = data.now_minute()
span_name = st.radio("Range", common.CALENDAR_RANGES, index=1, horizontal=True, key="why_range")
start, end, _ = common.calendar_range(span_name, ctx.tz, now)
tariff, currency = ctx.settings.tariff, ctx.settings.currency
money = st.column_config.NumberColumn(f"Cost ({currency})", format="%.2f")
kwh = st.column_config.NumberColumn("kWh", format="%.3f")

try:
    causes = why_data.causes(ctx.dsn, start, end)
    sources = why_data.sources(ctx.dsn, start, end)
    rooms = why_data.empty_rooms(ctx.dsn, start, end)
    nights = why_data.overnight(ctx.dsn, start, end, *ctx.settings.overnight)
except DbError as exc:  # e.g. a database not yet upgraded by `db init` (no cause rollups)
    st.warning(f"**The figures cannot be read:** {md(str(exc))}", icon=":material/database:")
    st.stop()
names = why_data.names_for(
    design.design if design.ok else None,
    [k[0] for c in causes for k in c.zones] + [r.site for r in rooms] + [n.site for n in nights],
)

total = sum(c.energy_kwh for c in causes)
empty_kwh = sum(r.energy_kwh for r in rooms)
c1, c2, c3, c4 = st.columns(4)
c1.metric(
    "Energy",
    common.kwh(total),
    border=True,
    help="Drawn by lights, fans and loads, by the cause of their level",
)
c2.metric(
    "Largest cause",
    why_data.CAUSE_LABELS.get(causes[0].cause, causes[0].cause) if causes else "–",
    border=True,
    help="What set the levels that drew the most energy",
)
c3.metric(
    "In empty rooms",
    common.kwh(empty_kwh),
    border=True,
    help="Lights on while the room's occupancy sensors said nobody was there"
    + (f": {common.money(empty_kwh * tariff, currency)}" if tariff is not None else ""),
)
c4.metric(
    "Lights on overnight",
    f"{len(nights)}",
    border=True,
    help=f"Lights on at any time between {why_data.night_label(ctx.settings.overnight)} (TL_OVERNIGHT)",
)
st.caption(
    f"The last {span_name} up to {pd.Timestamp(now).tz_convert(ctx.tz):%d %b %Y %H:%M} ({md(ctx.tz)}); "
    "buckets that overlap the range are counted whole."
)

st.subheader("Energy by cause")
cause_rows = why_data.cause_table(causes, tariff)
left, right = st.columns([2, 3])
with left:
    st.plotly_chart(charts.kwh_bars(cause_rows, "cause", "Energy by cause"), width="stretch")
with right:
    st.dataframe(
        cause_rows,
        hide_index=True,
        width="stretch",
        column_config={
            "cause": "Cause",
            "energy_kwh": kwh,
            "share": st.column_config.NumberColumn("Share %", format="%.1f"),
            "cost": money,
            "on_hours": st.column_config.NumberColumn("Zone-hours on", format="%.1f"),
            "zones": "Zones",
        },
    )
zone_links([(why_data.CAUSE_LABELS.get(c.cause, c.cause), c.zones) for c in causes])

st.subheader("Keypads and time clock events behind the most energy")
if sources:
    st.dataframe(
        why_data.source_table(sources, names, tariff),
        hide_index=True,
        width="stretch",
        column_config={
            "what": "Cause",
            "name": "Button or event",
            "energy_kwh": kwh,
            "cost": money,
            "zones": "Zones",
        },
    )
    zone_links([(names.source(s), s.zones) for s in sources])
else:
    st.caption("No level in this range was set by a known keypad button or time clock event.")

st.subheader("Lights in empty rooms")
room_rows = why_data.empty_room_table(rooms, names, tariff)
if rooms:
    left, right = st.columns([2, 3])
    with left:
        st.plotly_chart(
            charts.kwh_bars(room_rows, "area", "Energy in empty rooms", color="#9c6644"), width="stretch"
        )
    with right:
        st.dataframe(
            room_rows,
            hide_index=True,
            width="stretch",
            column_config={
                "area": "Area",
                "energy_kwh": kwh,
                "cost": money,
                "lit_hours": st.column_config.NumberColumn("Hours lit while empty", format="%.1f"),
                "max_watts": st.column_config.NumberColumn("Peak W", format="%.0f"),
            },
        )
    zone_links([(names.area(r.site, r.area_id, r.area), r.zones) for r in rooms])
else:
    st.caption("No lights were on in a room its sensors reported empty (areas without sensors never count).")

st.subheader(f"Lights left on overnight ({why_data.night_label(ctx.settings.overnight)})")
night_rows = why_data.overnight_table(nights, names, tariff)
if nights:
    st.dataframe(
        night_rows,
        hide_index=True,
        width="stretch",
        column_config={
            "zone": "Zone",
            "nights": "Nights",
            "on_hours": st.column_config.NumberColumn("Hours on overnight", format="%.1f"),
            "longest_hours": st.column_config.NumberColumn("Longest night (h)", format="%.1f"),
            "energy_kwh": kwh,
            "cost": money,
        },
    )
    zone_links([(names.zone(n.site, n.zone_id), [(n.site, n.zone_id)]) for n in nights])
else:
    st.caption("No light was on during the overnight hours in this range.")

stamp = f"{start:%Y%m%d}-{end:%Y%m%d}"
downloads = (
    ("Energy by cause", cause_rows, "energy-by-cause"),
    ("Keypads and time clock events", why_data.source_table(sources, names, tariff), "energy-by-source"),
    ("Empty rooms", room_rows, "energy-in-empty-rooms"),
    ("Overnight", night_rows, "lights-on-overnight"),
)
for column, (label, table, name) in zip(st.columns(len(downloads)), downloads, strict=True):
    column.download_button(
        f"{label} (CSV)",
        common.csv_bytes(table),
        file_name=f"{name}-{stamp}.csv",
        mime="text/csv",
        icon=":material/download:",
    )
