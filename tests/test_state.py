"""Live state and exact energy integration."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telegraf_lutron import protocol as p
from telegraf_lutron.design import Area, Button, Design, Keypad, Project, Zone, is_dimmable
from telegraf_lutron.state import CounterStore, Counts, HouseState, zone_watts


def make_design(zones: list[tuple[int, str, float]], guid: str = "g1") -> Design:
    areas = (
        Area(-1, 0, "Floor 1", None, "Floor 1"),
        Area(10, 10, "Kitchen", -1, "Floor 1", occupancy_group=1),
        Area(20, 20, "Hall", -1, "Floor 1"),
    )
    zs = tuple(
        Zone(
            zid,
            f"Zone {zid}",
            10 if i % 2 == 0 else 20,
            "Kitchen" if i % 2 == 0 else "Hall",
            "Floor 1",
            ot,
            w,
            is_dimmable(ot),
        )
        for i, (zid, ot, w) in enumerate(zones)
    )
    keypad = Keypad(
        40,
        "Kitchen Door",
        "CSD 001",
        "SEETOUCH_KEYPAD",
        10,
        "Kitchen",
        "Floor 1",
        buttons=(Button(1, "Dinner", "Dinner", 81),),
        leds=(81,),
    )
    return Design(Project("Test", guid=guid), areas=areas, zones=zs, keypads=(keypad,))


def out(zone: int, level: float) -> p.OutputLevel:
    return p.OutputLevel((str(zone), "1", f"{level:.2f}"), zone, level)


def test_watts_dimmable_non_dimmable_and_unknown() -> None:
    design = make_design([(1, "INC", 100.0), (2, "NON_DIM", 60.0), (3, "ELV", 0.0)])
    z1, z2, z3 = design.zones
    assert zone_watts(z1, 50.0) == 50.0
    assert zone_watts(z2, 1.0) == 60.0
    assert zone_watts(z2, 0.0) == 0.0
    assert zone_watts(z3, 100.0) == 0.0
    assert zone_watts(z1, None) == 0.0


def test_fifty_percent_of_100_w_for_90_s_is_4500_j_whatever_the_sampling() -> None:
    state = HouseState(make_design([(1, "INC", 100.0)]), now=0.0)
    state.apply(out(1, 50.0), now=10.0)
    for t in (20.0, 33.3, 55.5, 99.9):  # snapshots in between must not change the integral
        state.advance(t)
    state.apply(out(1, 0.0), now=100.0)
    state.advance(500.0)
    assert state.zone_energy[1] == pytest.approx(4500.0)
    assert state.area_energy[10] == pytest.approx(4500.0)
    assert state.total_energy == pytest.approx(4500.0)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(min_value=0.01, max_value=100.0), st.floats(min_value=0.0, max_value=100.0)),
        min_size=1,
        max_size=30,
    ),
    st.floats(min_value=1.0, max_value=5000.0),
)
def test_energy_equals_the_analytic_integral(steps: list[tuple[float, float]], rated: float) -> None:
    state = HouseState(make_design([(1, "ELV", rated)]), now=0.0)
    now, expected, level = 0.0, 0.0, 0.0
    for dt, new_level in steps:
        now += dt
        expected += rated * level / 100.0 * dt
        state.apply(out(1, new_level), now=now)
        level = new_level
    now += 7.0
    expected += rated * level / 100.0 * 7.0
    state.advance(now)
    assert state.zone_energy[1] == pytest.approx(expected, rel=1e-9, abs=1e-6)
    assert state.total_energy == pytest.approx(expected, rel=1e-9, abs=1e-6)


def test_unknown_level_draws_nothing_until_reported() -> None:
    state = HouseState(make_design([(1, "INC", 100.0)]), now=0.0)
    state.advance(100.0)
    assert state.zone_energy[1] == 0.0
    assert state.level(1) is None


def test_area_and_system_totals() -> None:
    state = HouseState(make_design([(1, "INC", 100.0), (2, "NON_DIM", 60.0), (3, "INC", 40.0)]), now=0.0)
    state.apply(out(1, 25.0), 1.0)
    state.apply(out(2, 100.0), 1.0)
    totals = state.area_totals()
    assert totals[10] == Counts(25.0, lights_on=1, lights=2)  # zones 1 and 3 are in the kitchen
    assert totals[20] == Counts(60.0, lights_on=1, lights=1)
    assert state.system_totals() == Counts(85.0, lights_on=2, lights=3)


def test_leds_buttons_occupancy() -> None:
    state = HouseState(make_design([(1, "INC", 100.0)]), now=0.0)
    assert state.apply(p.LedState(("40", "81", "9", "1"), 40, 81, 1), 1.0)
    assert not state.apply(p.LedState(("40", "81", "9", "1"), 40, 81, 1), 2.0)
    assert state.leds[(40, 81)] == 1
    for action in (3, 4, 3, 4, 5, 6):
        state.apply(p.ButtonEvent(("40", "1", str(action)), 40, 1, action), 3.0)
    counts = state.buttons[(40, 1)]
    assert (counts.presses, counts.releases, counts.holds, counts.multitaps) == (2, 2, 1, 1)
    assert state.apply(p.OccupancyState(("10", "3", "3"), 10, 3), 4.0)
    assert state.occupancy[10] is True
    assert not state.apply(p.LedState(("99", "81", "9", "1"), 99, 81, 1), 5.0)  # unknown keypad


def test_events_for_unknown_zones_are_ignored() -> None:
    state = HouseState(make_design([(1, "INC", 100.0)]), now=0.0)
    assert not state.apply(out(999, 50.0), 1.0)


def test_new_design_keeps_state_of_zones_that_still_exist() -> None:
    state = HouseState(make_design([(1, "INC", 100.0), (2, "INC", 100.0)]), now=0.0)
    state.apply(out(1, 100.0), 0.0)
    state.apply(out(2, 100.0), 0.0)
    state.set_design(make_design([(1, "INC", 100.0), (3, "INC", 50.0)]), now=10.0)
    assert state.level(1) == 100.0
    assert state.level(2) is None and 2 not in state.zones
    assert state.level(3) is None
    assert state.zone_energy[1] == pytest.approx(1000.0)
    state.advance(20.0)
    assert state.zone_energy[1] == pytest.approx(2000.0)
    assert state.total_energy == pytest.approx(3000.0)  # zone 2's 1000 J stay in the total


def test_counters_survive_a_restart(tmp_path) -> None:
    design = make_design([(1, "INC", 100.0)])
    state = HouseState(design, now=0.0)
    state.apply(out(1, 100.0), 0.0)
    state.apply(p.ButtonEvent(("40", "1", "3"), 40, 1, 3), 1.0)
    state.advance(30.0)
    store = CounterStore(tmp_path)
    store.save(state)
    restarted = HouseState(design, now=1000.0)
    assert store.load_into(restarted)
    assert restarted.zone_energy[1] == pytest.approx(3000.0)
    assert restarted.total_energy == pytest.approx(3000.0)
    assert restarted.buttons[(40, 1)].presses == 1
    assert [f.name for f in tmp_path.iterdir()] == ["counters.json"]  # no temp files left


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b"[]",
        b'{"version": 1}',
        b'{"version": 1, "total_joules": -5, "zones": {}, "areas": {}}',
        b"\xff\xfe",
    ],
)
def test_corrupt_counters_file_starts_from_zero_with_a_warning(tmp_path, caplog, content: bytes) -> None:
    (tmp_path / "counters.json").write_bytes(content)
    state = HouseState(make_design([(1, "INC", 100.0)]), now=0.0)
    assert not CounterStore(tmp_path).load_into(state)
    assert state.total_energy == 0.0
    assert "corrupt counters file" in caplog.text


def test_counters_document_is_json(tmp_path) -> None:
    state = HouseState(make_design([(1, "INC", 100.0)]), now=0.0)
    CounterStore(tmp_path).save(state)
    doc = json.loads((tmp_path / "counters.json").read_text())
    assert doc["version"] == 1 and doc["zones"] == {"1": 0.0}


def test_events_for_things_not_in_the_design_are_counted_in_one_number_not_stored() -> None:
    """A hostile or broken processor reporting endless made-up components grows nothing."""
    state = HouseState(make_design([(1, "INC", 100.0)]), now=0.0)
    sent = 0
    for n in range(2000):
        for event in (
            p.LedState(("40", str(100 + n), "9", "1"), 40, 100 + n, 1),  # known keypad, unknown LED
            p.LedState(("99", "81", "9", "1"), 99 + n, 81, 1),  # unknown keypad
            p.ButtonEvent(("40", str(100 + n), "3"), 40, 100 + n, 3),  # known keypad, unknown button
            p.ButtonEvent(("99", "1", "3"), 99 + n, 1, 3),
            p.OccupancyState(("30", "3", "3"), 30 + n, 3),  # no such area
            out(1000 + n, 50.0),  # no such zone
        ):
            assert not state.apply(event, 1.0)
            sent += 1
    assert state.unknown_events == sent
    assert state.leds == {} and state.buttons == {} and state.occupancy == {}
    doc = state.counters_document()
    assert doc["buttons"] == {} and set(doc["zones"]) == {"1"}
    # Known things still count as before.
    assert state.apply(p.LedState(("40", "81", "9", "1"), 40, 81, 1), 2.0)
    assert state.apply(p.ButtonEvent(("40", "1", "3"), 40, 1, 3), 2.0)
    assert state.apply(p.OccupancyState(("10", "3", "3"), 10, 3), 2.0)
    assert state.unknown_events == sent


def test_the_counters_file_is_filtered_to_the_design_on_load(tmp_path) -> None:
    design = make_design([(1, "INC", 100.0)])
    doc = {
        "version": 1,
        "guid": "g1",
        "total_joules": 500.0,
        "zones": {"1": 100.0, **{str(1000 + n): 1.0 for n in range(5000)}},
        "areas": {"10": 100.0, "-1": 0.0, **{str(5000 + n): 1.0 for n in range(5000)}},
        "buttons": {"40:1": [1, 1, 0, 0], **{f"40:{100 + n}": [1, 0, 0, 0] for n in range(5000)}},
    }
    (tmp_path / "counters.json").write_text(json.dumps(doc))
    state = HouseState(design, now=0.0)
    assert CounterStore(tmp_path).load_into(state)
    assert state.zone_energy == {1: 100.0}
    assert state.area_energy == {-1: 0.0, 10: 100.0, 20: 0.0}
    assert set(state.buttons) == {(40, 1)}
    assert state.total_energy == 500.0  # the house total keeps what removed zones drew
    CounterStore(tmp_path).save(state)
    saved = json.loads((tmp_path / "counters.json").read_bytes())
    # Energy by cause and in empty rooms: one entry per cause and per sensor area, never more.
    assert set(saved.pop("causes")) == set(p.CAUSE_NAMES)
    assert set(saved.pop("unoccupied")) <= {"10", "20"}
    saved.pop("unoccupied_total_joules")
    assert len(json.dumps(saved, separators=(",", ":"))) < 300
