"""What the pages compute, as the small functions the page scripts call: the zone catalogue with the
design (matched on site and zone id), the searches, the zones-on tables both pages show, the
Design page's tree and revision text. No database, no browser: the fast loop."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd
import pytest
from ui_fixtures import HOSTILE_NAMES, HOSTILE_REVISION, autolinks, house

from telegraf_lutron.design import Design
from telegraf_lutron.webui import data, design_view, tables
from telegraf_lutron.webui.escape import md

TZ = "Europe/Berlin"
NOW = pd.Timestamp("2025-05-16 22:00", tz=TZ).to_pydatetime()
CATALOGUE_COLUMNS = ["site", "zone_id", "zone", "area", "floor"]


def small_design() -> Design:
    design, _ = house(seed=4, floors=1, rooms_per_floor=2, zones_per_room=3, keypads_per_room=1)
    return design


def catalogue_of(design: Design, site: str, *, names: str = "design", ids: int | None = None) -> pd.DataFrame:
    """History rows for `design`'s first `ids` zones in `site`, named as in the design or not."""
    zones = design.zones[:ids]
    return pd.DataFrame(
        [
            (site, str(z.id), z.name if names == "design" else f"{site} zone {z.id}", z.area, z.floor)
            for z in zones
        ],
        columns=CATALOGUE_COLUMNS,
    )


# --- the zone catalogue with the design -------------------------------------------------------------


def test_two_sites_sharing_zone_ids_keep_their_own_design_values() -> None:
    design = small_design()
    ours = catalogue_of(design, "north", ids=len(design.zones) - 2)  # two zones without history yet
    other = catalogue_of(design, "south", names="other")  # the same ids, another processor
    catalogue = pd.concat([other, ours], ignore_index=True)
    in_design = data.design_zones(design)

    assert data.design_site(catalogue, in_design) == "north"
    merged = data.with_design(catalogue, in_design)

    assert len(merged) == len(other) + len(design.zones)  # nothing doubled, the design's zones added once
    assert not merged.duplicated(["site", "zone_id"]).any()
    north = merged[merged["site"] == "north"].set_index("zone_id")
    assert set(north.index) == {str(z.id) for z in design.zones}
    for z in design.zones:
        assert north.loc[str(z.id), "rated_watts"] == z.rated_watts
    south = merged[merged["site"] == "south"]
    assert len(south) == len(other)
    assert south["rated_watts"].isna().all()  # another processor's zone 12 is not the design's zone 12


def test_one_site_takes_the_design_and_its_zones_without_history() -> None:
    design = small_design()
    catalogue = catalogue_of(design, "home", names="other", ids=3)
    merged = data.with_design(catalogue, data.design_zones(design))
    assert len(merged) == len(design.zones)
    assert set(merged["site"]) == {"home"}
    assert merged["rated_watts"].notna().all()


def test_a_design_no_site_is_clearly_about_matches_no_zone() -> None:
    design = small_design()
    catalogue = pd.concat(
        [catalogue_of(design, "a", names="other"), catalogue_of(design, "b", names="other")]
    )
    in_design = data.design_zones(design)
    assert data.design_site(catalogue, in_design) is None
    merged = data.with_design(catalogue, in_design)
    assert len(merged) == len(catalogue)
    assert merged["rated_watts"].isna().all()
    tie = pd.concat([catalogue_of(design, "a"), catalogue_of(design, "b")])
    assert data.design_site(tie, in_design) is None
    assert data.with_design(catalogue, None)["rated_watts"].isna().all()


def test_levels_now_are_the_design_sites_only() -> None:
    zones = pd.DataFrame(
        {"site": ["north", "south", "north"], "id": ["1", "1", "2"], "level_pct": [40.0, 100.0, float("nan")]}
    )
    assert data.levels_now(zones, "north") == {"1": 40.0, "2": None}
    assert data.levels_now(zones, "south") == {"1": 100.0}
    assert data.levels_now(zones, None) == {}


def test_find_zones_searches_name_area_and_floor_in_any_case_and_sorts() -> None:
    catalogue = pd.DataFrame(
        [
            ("s", "1", "Pendants", "Kitchen", "Ground"),
            ("s", "2", "Cove", "Den", "Upstairs"),
            ("s", "3", "Kitchen Island", "Open Plan", "Ground"),
            ("s", "4", None, None, None),
        ],
        columns=CATALOGUE_COLUMNS,
    )
    assert list(data.find_zones(catalogue, "KITCHEN")["zone_id"]) == ["1", "3"]
    assert list(data.find_zones(catalogue, "upstairs")["zone_id"]) == ["2"]
    assert list(data.find_zones(catalogue, "  ")["zone_id"]) == ["1", "3", "2", "4"]  # floor, area, zone
    assert data.find_zones(catalogue, "nothing like it").empty


# --- zones on: one table for both pages ---------------------------------------------------------------


def zones_on(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    df = pd.DataFrame(
        rows,
        columns=["site", "zone_id", "zone", "area", "floor", "level_pct", "watts", "since", "since_exact"],
    )
    df["since"] = pd.to_datetime(df["since"]).dt.tz_convert(TZ)
    return df


ON = [
    ("home", "1", "Pendants", "Kitchen", "Ground", 80.0, 48.04, "2025-05-16T19:30:00Z", True),
    ("home", "2", "Cove", "Den", "Ground", 100.0, 30.0, "2025-05-14T08:00:00Z", False),
]


def test_the_zones_on_table_says_since_when_and_for_how_long() -> None:
    table = tables.zones_on_table(zones_on(ON), NOW)
    assert list(table.columns) == ["Zone", "Kind", "Area", "Floor", "Level %", "Watts", "On since", "For"]
    assert list(table["Kind"]) == ["–", "–"]  # rows without a kind (written before the kinds)
    assert list(table["On since"]) == ["21:30:00", "≤ Wed 14 May 2025 10:00"]  # the time alone today
    assert list(table["For"]) == ["30 min", "2 d 12 h"]
    assert list(table["Watts"]) == [48.0, 30.0]


def test_the_zones_on_table_names_the_site_when_there_are_several() -> None:
    rows = [*ON, ("cottage", "1", "Pendants", "Porch", "Ground", 50.0, 10.0, "2025-05-16T19:00:00Z", True)]
    table = tables.zones_on_table(zones_on(rows), NOW)
    assert list(table["Site"]) == ["home", "home", "cottage"]


def test_zones_on_show_their_kind_and_a_shade_open_all_day_is_not_left_on() -> None:
    on = zones_on(ON).assign(kind=["light", "shade"])
    assert list(tables.zones_on_table(on, NOW)["Kind"]) == ["light", "shade"]
    assert tables.left_on(on, NOW, 8).empty  # zone 2 is on for days, but it is a shade
    assert list(tables.left_on(on, NOW, 8, kinds=("shade",))["zone_id"]) == ["2"]
    assert list(tables.left_on(on.assign(kind=["light", None]), NOW, 8)["zone_id"]) == ["2"]


def test_left_on_keeps_the_zones_on_longer_than_asked() -> None:
    on = zones_on(ON)
    assert list(tables.left_on(on, NOW, 8)["zone_id"]) == ["2"]
    assert tables.left_on(on, NOW, 168).empty
    assert tables.left_on(on.iloc[:0], NOW, 1).empty


def test_a_late_snapshot_describes_the_time_of_its_newest_row() -> None:
    empty = pd.DataFrame()
    late = data.Snapshot(NOW, NOW - pd.Timedelta(hours=2), empty, empty, empty)
    assert late.stale and late.at == NOW - pd.Timedelta(hours=2)
    fresh = data.Snapshot(NOW, NOW - pd.Timedelta(minutes=1), empty, empty, empty)
    assert fresh.at == NOW


def test_zone_now_reads_the_zone_of_its_own_site() -> None:
    zones = pd.DataFrame(
        {"site": ["home", "cottage"], "id": ["1", "1"], "level_pct": [80.0, 0.0], "watts": [48.0, 0.0]}
    )
    snap = data.Snapshot(NOW, NOW, pd.DataFrame(), pd.DataFrame(), zones)
    state = data.zone_now(snap, zones_on(ON), "home", "1")
    assert (state.reporting, state.level_pct, state.watts, state.since_exact) == (True, 80.0, 48.0, True)
    assert state.since == pd.Timestamp("2025-05-16T19:30:00Z")
    off = data.zone_now(snap, zones_on(ON), "cottage", "1")
    assert (off.reporting, off.level_pct, off.since) == (True, 0.0, None)
    assert not data.zone_now(snap, zones_on(ON), "cottage", "9").reporting


# --- the Design page ----------------------------------------------------------------------------------


def test_one_design_search_feeds_both_the_table_and_the_tree() -> None:
    design = small_design()
    keypad = design.keypads[0]
    # A keypad found only by its device name: the table lists it and the tree keeps its room.
    odd = replace(keypad, device_name="Zebra Controller")
    design = replace(design, keypads=(odd, *design.keypads[1:]))
    found = design_view.search_design(design, "zebra")
    assert list(found.rows["Kind"]) == ["keypad"]
    assert found.area_keys == {odd.area_key}
    assert [a.key for s in design_view.tree(design, found.area_keys).sections for a in s.areas] == [
        odd.area_key
    ]


@pytest.mark.parametrize("kind", ["area", "zone", "keypad", "button"])
def test_every_kind_found_keeps_its_area_in_the_tree(kind: str) -> None:
    design = small_design()
    if kind == "area":
        target, key = design.rooms[0].name, design.rooms[0].key
    elif kind == "zone":
        target, key = design.zones[-1].name, design.zones[-1].area_key
    elif kind == "keypad":
        target, key = design.keypads[-1].name, design.keypads[-1].area_key
    else:
        k = next(k for k in design.keypads if any(b.engraving for b in k.buttons))
        target, key = next(b.engraving for b in k.buttons if b.engraving), k.area_key
    found = design_view.search_design(design, target.upper())
    assert kind in set(found.rows["Kind"])
    assert key in found.area_keys


def test_the_tree_leaves_out_floors_with_nothing_to_show() -> None:
    design = small_design()
    sections = design_view.tree(design).sections
    shown = [a for s in sections for a in s.areas]
    assert {a.key for a in shown} == {z.area_key for z in design.zones} | {k.area_key for k in design.keypads}
    assert sum(s.zones for s in sections) == len(design.zones)
    assert design_view.tree(design, frozenset()).sections == ()


def test_design_text_shows_hostile_names_and_revisions_as_text() -> None:
    diff = {
        "old_revision": HOSTILE_NAMES[1],
        "zones_added": [{"id": 7, "name": HOSTILE_NAMES[0]}],
        "zones_renamed": [{"id": 8, "old": HOSTILE_NAMES[2], "new": HOSTILE_NAMES[3]}],
        "keypads_removed": [{"id": 9, "name": HOSTILE_NAMES[4]}],
    }
    label = design_view.changes_label(HOSTILE_REVISION, diff)
    text = design_view.changes(diff)
    assert label == f"What changed in {md(HOSTILE_REVISION)} (from {md(HOSTILE_NAMES[1])})"
    for source in (label, text):
        assert autolinks(source) == []
    assert f"zone renamed: {md(HOSTILE_NAMES[2])} → **{md(HOSTILE_NAMES[3])}**" in text
    assert tables.revision_summary(diff) == "zones: +1 −0 ~1; keypads: +0 −1 ~0"
    assert tables.revision_summary(None) == "first cached revision"


def test_zone_tables_and_keypad_lists_escape_every_name() -> None:
    design = small_design()
    zones = [replace(z, name=n) for z, n in zip(design.zones, HOSTILE_NAMES, strict=False)]
    table = design_view.zone_table(zones, {str(zones[0].id): 55.0})
    assert autolinks(table) == []
    assert f"| {md(zones[0].name)} | {zones[0].kind} | {md(zones[0].output_type)} |" in table
    assert "| 55 % |" in table
    keypads = [replace(k, name=HOSTILE_NAMES[5]) for k in design.keypads]
    assert autolinks(design_view.keypad_list(keypads)) == []


def test_the_revision_history_table_is_newest_first_as_given() -> None:
    from telegraf_lutron.design_cache import CacheEntry

    entries = [
        CacheEntry(
            HOSTILE_REVISION, "k2", 1, "2025-05-16T15:00:00+00:00", "P", None, 3, 1, {"zones_added": [{}]}
        ),
        CacheEntry("05/01/2025,09:00:00", "k1", 1, "", "P", "2025-05-01T09:00:00", 2, 1, None),
    ]
    table = tables.revision_history(entries, TZ)
    assert list(table["Revision"]) == [HOSTILE_REVISION, "05/01/2025,09:00:00"]  # names as they are
    assert list(table["Cached"]) == ["2025-05-16 17:00", ""]
    assert list(table["Exported"]) == ["", "2025-05-01 09:00:00"]
    assert list(table["Changes"]) == ["zones: +1 −0 ~0", "first cached revision"]


def test_zone_labels_name_the_site_only_when_there_are_several() -> None:
    from telegraf_lutron.webui import common

    found = pd.DataFrame([("home", "1", "Pendants", None, "Ground")], columns=CATALOGUE_COLUMNS, index=[7])
    assert common.zone_labels(found, with_site=False) == {7: "Pendants — ?, Ground"}
    assert common.zone_labels(found, with_site=True) == {7: "Pendants — ?, Ground [home]"}


def test_energy_zone_table_costs_and_shares() -> None:
    zones = pd.DataFrame(
        {
            "zone": ["A"],
            "area": ["Den"],
            "floor": ["Ground"],
            "output_type": ["INC"],
            "energy_kwh": [2.0],
            "avg_watts": [10.0],
            "max_watts": [20.0],
            "on_fraction": [0.25],
        }
    )
    assert tables.energy_zone_table(zones, 0.3).iloc[0][["cost", "on_share"]].tolist() == pytest.approx(
        [0.6, 25.0]
    )
    assert tables.energy_zone_table(zones, None)["cost"].isna().all()
