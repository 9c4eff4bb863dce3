"""Now: the power the house draws, where, which lights are on, and whether data is arriving."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from telegraf_lutron.webui import charts, common, data

ctx = common.page("Now")
snap = data.snapshot(ctx.dsn, ctx.tz)
design = data.design_info(ctx.settings.cache_dir)

if snap.last_time is None:
    st.warning(
        "**No data in the last 48 hours.** The history has older rows, but nothing recent: is the plugin "
        "running under Telegraf, and is Telegraf's PostgreSQL output working? (Telegraf's log says.)",
        icon=":material/schedule:",
    )
elif snap.stale:
    st.warning(
        f"**Data is late:** the newest row is from {common.when(snap.last_time, snap.as_of)} "
        f"({common.ago(snap.last_time, snap.as_of)}). What follows is the house as it was then.",
        icon=":material/schedule:",
    )

# --- power now and today --------------------------------------------------------------------------
end = data.now_minute()
day_start = pd.Timestamp(snap.as_of).tz_convert(ctx.tz).normalize().to_pydatetime()
today = data.energy(ctx.dsn, ctx.tz, "system", day_start, end)
today = today[today["start"] >= pd.Timestamp(day_start)]
today_kwh = float(today["energy_kwh"].sum())
zones_total = snap.system["zones_total"].fillna(0).sum() if len(snap.system) else 0
zones_lit = snap.system["zones_on"].fillna(0).sum() if len(snap.system) else 0

c1, c2, c3, c4 = st.columns(4)
c1.metric(
    "Power now", common.watts(snap.total_watts), border=True, help="Newest lutron_power row (all sites)"
)
c2.metric("Zones on", f"{zones_lit:.0f} of {zones_total:.0f}", border=True)
cost = ctx.settings.cost(today_kwh)
c3.metric(
    "Energy today",
    common.kwh(today_kwh),
    border=True,
    help="Since local midnight, from the hourly rollups",
)
c4.metric(
    "Cost today",
    common.money(cost, ctx.settings.currency) if cost is not None else "–",
    border=True,
    help=None if cost is not None else "Set TL_TARIFF (price per kWh) to see costs",
)

history = data.power_history(ctx.dsn, ctx.tz, "system", end - timedelta(hours=24), end, max_points=288)
st.plotly_chart(charts.power_line(history, "System power, last 24 hours"), width="stretch")

# --- where ----------------------------------------------------------------------------------------
left, right = st.columns([2, 3])
with left:
    st.plotly_chart(charts.areas_now_bar(snap.areas), width="stretch")
with right:
    st.subheader("Processor and design")
    if snap.last_time is None:
        st.markdown("**Data:** nothing in the last 48 hours")
    else:
        state = "late" if snap.stale else "arriving"
        st.markdown(
            f"**Data:** {state}; newest row {common.when(snap.last_time, snap.as_of)} "
            f"({common.ago(snap.last_time, snap.as_of)})  \n"
            f"**Zones reporting:** {len(snap.zones)} · **areas:** {len(snap.areas)} · "
            f"**sites:** {common.md(', '.join(sorted(snap.system['site'].astype(str).unique())) or '–')}"
        )
    if design.ok and design.design is not None:
        p = design.design.project
        lines = [f"**Design:** {common.md(p.name)}, revision {common.md(design.revision or p.revision)}"]
        if p.export is not None:
            lines.append(f"**Exported:** {p.export:%a %d %b %Y %H:%M} (processor time)")
        if design.stored_at:
            stored = pd.Timestamp(design.stored_at).tz_convert(ctx.tz)
            lines.append(f"**Design cache updated:** {common.when(stored, snap.as_of)}")
        lines.append(f"**Zones:** {len(design.design.zones)} · **keypads:** {len(design.design.keypads)}")
        st.markdown("  \n".join(lines))
        common.wattage_note(design)
    else:
        common.show_no_design(design)

# --- zones on -------------------------------------------------------------------------------------
st.subheader("Zones on now")
on = data.zones_on(ctx.dsn, ctx.tz, None if not snap.stale else snap.last_time)
if on.empty:
    st.caption("All lights are off.")
else:
    table = pd.DataFrame(
        {
            "Zone": on["zone"],
            "Area": on["area"],
            "Floor": on["floor"],
            "Level %": on["level_pct"].round(0),
            "Watts": on["watts"].round(1),
            "On since": [
                ("" if exact else "≤ ") + common.when(t, snap.as_of)
                for t, exact in zip(on["since"], on["since_exact"], strict=True)
            ],
            "For": [common.duration(snap.as_of - t) if pd.notna(t) else "–" for t in on["since"]],
        }
    )
    st.dataframe(table, hide_index=True, width="stretch")
    st.caption("“≤” marks zones that were already on when the records begin (or the raw rows were pruned).")
