"""Design: the house as the processor's design describes it, and how the design changed."""

from __future__ import annotations

import streamlit as st

from telegraf_lutron.design import Design
from telegraf_lutron.webui import common, data, design_view, rest, tables
from telegraf_lutron.webui.escape import md

OPEN_FIRST_FLOOR = 60  # zones: a bigger house starts with every floor closed (lighter to draw)

ctx = common.page("Design", needs_db=False)
info = data.design_info(ctx.settings.cache_dir)
if not info.ok or info.design is None:
    common.show_no_design(info)
    st.stop()
design: Design = info.design

# Levels now come from the history when it is there (the design's site only); the design page
# works without it.
levels: dict[str, float | None] = {}
reported = None
if ctx.db.ok:
    snap = data.snapshot(ctx.dsn, ctx.tz)
    reported = snap.zones
    if not snap.stale:
        reporting = snap.zones.rename(columns={"id": "zone_id", "name": "zone"})
        levels = data.levels_now(snap.zones, data.design_site(reporting, data.design_zones(design)))
    else:
        st.caption("Levels now: no recent data in the history.")
else:
    st.caption("Levels now: the history database is not available.")
# The rest of the house now (inputs, shades, time clocks, ...) comes from the plugin's live state.
live_doc = data.live_state(ctx.settings.cache_dir) or {}
live = design_view.Live.of(live_doc)

p = design.project
# Kinds and wattages as the plugin uses them (its [[zone]] entries applied) where it reports them.
effective = data.effective_zones(design, reported)
kinds = design_view.zone_kinds(effective)
no_watts = int((effective["draws_power"] & (effective["rated_watts"].fillna(0) <= 0)).sum())
kind_counts = ", ".join(common.plural(int(n), str(k)) for k, n in effective["kind"].value_counts().items())
exported = f"{p.export:%a %d %b %Y %H:%M}" if p.export else "unknown"
st.markdown(
    f"**{md(p.name)}** · revision **{md(info.revision or p.revision)}** · exported {exported} (processor time)  \n"
    f"{md(p.product_type or 'RadioRA 2 / other')} · designer version {md(p.app_version or '?')}"
)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Rooms", f"{len(design.rooms)}", border=True)
c2.metric("Zones", f"{len(design.zones)}", border=True, help=kind_counts)
c3.metric(
    "Zones without wattage",
    f"{no_watts}",
    border=True,
    help="Lights, fans and loads whose energy is unknown; shades, motors and contacts need none",
)
c4.metric("Keypads", f"{len(design.keypads)}", border=True)
st.caption(f"Zones by kind: {kind_counts}")
common.wattage_note(info, reported=reported)

# --- search ---------------------------------------------------------------------------------------
needle = st.text_input("Search the design", key="design_query", placeholder="zone, room, keypad or engraving")
matches: frozenset[int] | None = None  # area keys to show; None: all
if needle.strip():
    found = design_view.search_design(design, needle)
    st.markdown(f"**{len(found.rows)} matches**")
    if len(found.rows):
        st.dataframe(found.rows, hide_index=True, width="stretch", key="design_matches")
    matches = found.area_keys

# --- the tree -------------------------------------------------------------------------------------
st.subheader("Floors and areas")
house = design_view.tree(design, matches)
for i, section in enumerate(house.sections):
    with st.expander(
        section.label,
        expanded=(i == 0 and len(design.zones) <= OPEN_FIRST_FLOOR) or matches is not None,
    ):
        for a in section.areas:
            st.markdown(design_view.area_heading(design, a))
            st.caption(design_view.area_caption(design, a))
            zone_col, keypad_col = st.columns([11, 10])
            if house.zones.get(a.key):
                zone_col.markdown(design_view.zone_table(house.zones[a.key], levels, live, kinds))
            if house.keypads.get(a.key):
                keypad_col.markdown(design_view.keypad_list(house.keypads[a.key], design.inputs, live))
            if extras := design_view.area_extras(design, a.key, live):
                st.markdown(extras)

# --- time clocks and system variables --------------------------------------------------------------
if design.timeclocks:
    st.subheader("Time clocks")
    for t in design.timeclocks:
        label, clock = design_view.timeclock(t, live)
        with st.expander(label):
            events = rest.timeclock_events(dict(clock))
            if len(events):
                st.dataframe(events, hide_index=True, width="stretch", key=f"timeclock_{t.id}")
            else:
                st.caption("No events in the design.")
if live_doc.get("sysvars"):
    st.subheader("System variables")
    st.dataframe(tables.sysvars_table(live_doc), hide_index=True, width="stretch", key="design_sysvars")
if not live_doc:
    st.caption("Live state of inputs, shades and time clocks: the plugin has not written live.json yet.")

# --- revisions ------------------------------------------------------------------------------------
st.subheader("Revision history")
entries = list(reversed(info.entries))
if not entries:
    st.caption("The cache has no history file (history.json) yet.")
else:
    st.dataframe(
        tables.revision_history(entries, ctx.tz), hide_index=True, width="stretch", key="design_history"
    )
    for e in entries:
        if e.diff:
            with st.expander(design_view.changes_label(e.revision, e.diff)):
                st.markdown(design_view.changes(e.diff))
