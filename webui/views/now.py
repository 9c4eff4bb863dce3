"""Now: the power the house draws, where, which lights are on (fans and shades apart), what is open or
active (doors, sensors, shades, time clocks, batteries), and whether data is arriving."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from telegraf_lutron.webui import charts, common, data, rest, tables
from telegraf_lutron.webui.escape import md

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


def total(column: str) -> float:
    return float(snap.system[column].fillna(0).sum()) if len(snap.system) else 0.0


lights_total, lights_on = total("lights_total"), total("lights_on")
fans_on, shades_open = total("fans_on"), total("shades_open")

c1, c2, c3, c4 = st.columns(4)
c1.metric(
    "Power now", common.watts(snap.total_watts), border=True, help="Newest lutron_power row (all sites)"
)
c2.metric(
    "Lights on",
    f"{lights_on:.0f} of {lights_total:.0f}",
    border=True,
    help=f"Lights only: {fans_on:.0f} fans on and {shades_open:.0f} shades open besides",
)
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

st.caption(
    f"Besides the lights: {common.plural(int(fans_on), 'fan')} on, "
    f"{common.plural(int(shades_open), 'shade')} open (a shade's level is how far it is open; it draws no power)."
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
            f"**sites:** {md(', '.join(sorted(snap.system['site'].astype(str).unique())) or '–')}"
        )
    if design.ok and design.design is not None:
        p = design.design.project
        lines = [f"**Design:** {md(p.name)}, revision {md(design.revision or p.revision)}"]
        if p.export is not None:
            lines.append(f"**Exported:** {p.export:%a %d %b %Y %H:%M} (processor time)")
        if design.stored_at:
            stored = pd.Timestamp(design.stored_at).tz_convert(ctx.tz)
            lines.append(f"**Design cache updated:** {common.when(stored, snap.as_of)}")
        lines.append(f"**Zones:** {len(design.design.zones)} · **keypads:** {len(design.design.keypads)}")
        st.markdown("  \n".join(lines))
        common.wattage_note(design, reported=snap.zones)
    else:
        common.show_no_design(design)

# --- zones on -------------------------------------------------------------------------------------
st.subheader("On now")
on = data.zones_on(ctx.dsn, ctx.tz, None if not snap.stale else snap.last_time)
if on.empty:
    st.caption("All lights are off, no fan runs and every shade is closed.")
else:
    st.dataframe(tables.zones_on_table(on, snap.at), hide_index=True, width="stretch")
    st.caption(
        "Level: a light's brightness, a fan's speed (25 low … 100 high), a shade's opening. "
        "“≤” marks zones that were already on when the records begin (or the raw rows were pruned)."
    )

# --- the rest of the house: what is open or active now ------------------------------------------------
st.subheader("Open and active now")
live = data.live_state(ctx.settings.cache_dir)
if live is None:
    st.caption(
        "No live state yet: the plugin writes live.json (doors, sensors, time clocks, shades, batteries) "
        "to its cache directory while it runs; set TL_CACHE_DIR to the plugin's `cache_dir` if it is elsewhere."
    )
else:
    written = rest.written_at(live)
    if written is not None and (not live.get("current") or snap.as_of - written > data.LIVE_STALE_AFTER):
        st.warning(
            f"**Live state is not current:** written {common.when(written, snap.as_of)} "
            f"({common.ago(written, snap.as_of)}){'' if live.get('current') else ' while the processor was away'}.",
            icon=":material/schedule:",
        )
    inputs = rest.inputs_frame(live, ctx.tz)
    contacts = inputs[inputs["Kind"] == "contact"]
    motion = inputs[inputs["Kind"] == "motion"]
    batteries = [b for b in live.get("batteries", []) if b.get("status")]
    i1, i2, i3, i4 = st.columns(4)
    i1.metric("Contacts closed", f"{(contacts['State'] == 'closed').sum()} of {len(contacts)}", border=True)
    i2.metric("Sensors occupied", f"{(motion['State'] == 'occupied').sum()} of {len(motion)}", border=True)
    i3.metric("Batteries to see to", f"{len(batteries)}", border=True, help="Low, missing or not reporting")
    i4.metric(
        "Processor clock", rest.clock_offset(live), border=True, help="Processor time minus this host's"
    )
    others = rest.active_now(live)
    if len(inputs):
        st.dataframe(inputs, hide_index=True, width="stretch", key="now_inputs")
    if len(others):
        st.dataframe(others, hide_index=True, width="stretch", key="now_active")
    if not len(inputs) and not len(others):
        st.caption("The design has no contact inputs, sensors, shade groups or time clocks to show.")
