"""Causes of zone levels and energy in empty rooms (state.py), with an injected clock.

docs/protocol.md §11: a change waits at most 1 s for its `~OUTPUT,<id>,29,<code>` line; the energy
of the wait goes to the cause that arrives.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telegraf_lutron import protocol as p
from telegraf_lutron.connection import Counters
from telegraf_lutron.design import Area, Button, Design, Keypad, Project, Timeclock, TimeclockEvent, Zone
from telegraf_lutron.lineproto_parse import parse_stream
from telegraf_lutron.metrics import CounterStarts, MetricSet, ProcessorHealth
from telegraf_lutron.state import CAUSE_WAIT, Cause, CounterStore, HouseState, zone_watts

KITCHEN, HALL = 10, 20  # the kitchen has occupancy sensors, the hall none


def design() -> Design:
    areas = (
        Area(-1, 0, "Floor 1", None, "Floor 1"),
        Area(KITCHEN, KITCHEN, "Kitchen", -1, "Floor 1", occupancy_group=1),
        Area(HALL, HALL, "Hall", -1, "Floor 1"),
    )

    def zone(zid: int, area: int, output_type: str, watts: float, kind: str = "") -> Zone:
        name = "Kitchen" if area == KITCHEN else "Hall"
        return Zone(zid, f"Zone {zid}", area, name, "Floor 1", output_type, watts, True, kind)

    zones = (
        zone(1, KITCHEN, "INC", 100.0),  # a light in a sensor area
        zone(2, KITCHEN, "INC", 60.0),
        zone(3, HALL, "INC", 40.0),  # a light in an area without sensors
        zone(4, KITCHEN, "INC", 200.0, kind="load"),  # not a light: never "unoccupied"
        zone(5, KITCHEN, "SYSTEM_SHADE", 0.0),
    )
    keypad = Keypad(
        40,
        "Kitchen Door",
        "CSD 001",
        "SEETOUCH_KEYPAD",
        KITCHEN,
        "Kitchen",
        "Floor 1",
        buttons=(Button(1, "Dinner", "Dinner", 81), Button(2, "Off", "Off", 82)),
        leds=(81, 82),
    )
    clock = Timeclock(7, "Garden", events=(TimeclockEvent(1, "Dusk"), TimeclockEvent(2, "Off")))
    return Design(
        Project("Test", guid="g1"), areas=areas, zones=zones, keypads=(keypad,), timeclocks=(clock,)
    )


def line(text: str) -> p.Event:
    return p.parse_line(text) or p.Unknown(text)


def level(zone: int, value: float) -> p.Event:
    return line(f"~OUTPUT,{zone},1,{value:.2f}")


def source(zone: int, code: int) -> p.Event:
    return line(f"~OUTPUT,{zone},29,{code}")


def occupancy(area: int, state: int) -> p.Event:
    return line(f"~GROUP,{area},3,{state}")


def test_the_cause_line_sets_the_cause_and_the_wait_goes_to_it() -> None:
    state = HouseState(design(), now=0.0)
    assert state.apply(line("~DEVICE,40,1,3"), 0.5)  # the press behind the change
    assert state.apply(level(1, 50.0), 1.0)
    assert state.cause(1) == Cause() and state.cause_pending(1)
    state.advance(1.3)  # a snapshot during the wait: the energy is held, not given to unknown
    assert state.cause_energy["unknown"] == 0.0 and state.cause_energy["keypad"] == 0.0
    assert state.apply(source(1, 8), 1.4)
    assert state.cause(1) == Cause("keypad", keypad=(40, 1))
    state.advance(11.0)
    assert state.cause_energy["keypad"] == pytest.approx(50.0 * 10.0)  # from the change on
    assert state.cause_energy["unknown"] == 0.0
    assert state.zone_energy[1] == pytest.approx(500.0)


def test_no_cause_line_within_a_second_means_unknown() -> None:
    state = HouseState(design(), now=0.0)
    state.apply(level(1, 100.0), 1.0)
    state.advance(1.0 + CAUSE_WAIT + 0.01)
    assert not state.cause_pending(1) and state.cause(1) == Cause()
    assert not state.apply(source(1, 8), 2.5)  # too late: ignored
    state.advance(5.0)
    assert state.cause_energy["unknown"] == pytest.approx(400.0)
    assert state.cause_energy["keypad"] == 0.0


def test_a_late_cause_line_settles_the_wait_as_unknown_first() -> None:
    state = HouseState(design(), now=0.0)
    state.apply(level(1, 100.0), 1.0)
    assert not state.apply(source(1, 16), 2.5)  # no advance in between: the wait ended at 2.0
    state.advance(3.0)
    assert state.cause_energy["unknown"] == pytest.approx(200.0)
    assert state.cause_energy["timeclock"] == 0.0


def test_a_new_level_before_the_cause_line_leaves_the_earlier_change_unknown() -> None:
    state = HouseState(design(), now=0.0)
    state.apply(level(1, 100.0), 1.0)
    state.apply(level(1, 50.0), 1.5)  # no 29 line came for the first change
    state.apply(source(1, 24), 1.6)
    state.advance(2.5)
    assert state.cause_energy["unknown"] == pytest.approx(100.0 * 0.5)
    assert state.cause_energy["local"] == pytest.approx(50.0 * 1.0)
    assert state.cause(1) == Cause("local")


def test_a_repeated_level_keeps_its_cause() -> None:
    state = HouseState(design(), now=0.0)
    state.apply(level(1, 100.0), 1.0)
    state.apply(source(1, 8), 1.1)
    assert not state.apply(level(1, 100.0), 5.0)  # not a change
    assert not state.apply(source(1, 16), 5.1)
    assert state.cause(1).name == "keypad"


def test_the_keypad_behind_a_change_is_the_press_at_most_a_second_before() -> None:
    state = HouseState(design(), now=0.0)
    state.apply(line("~DEVICE,40,2,3"), 1.0)
    state.apply(line("~DEVICE,40,2,4"), 1.05)  # a release is not a press
    state.apply(level(1, 100.0), 2.5)  # 1.5 s after the press
    state.apply(source(1, 8), 2.6)
    assert state.cause(1) == Cause("keypad")  # a keypad change, but which button is not known
    state.apply(line("~DEVICE,40,1,3"), 3.0)
    state.apply(level(2, 100.0), 3.2)
    state.apply(source(2, 8), 3.3)
    assert state.cause(2) == Cause("keypad", keypad=(40, 1))
    state.apply(line("~DEVICE,99,1,3"), 4.0)  # a keypad the design does not list
    state.apply(level(1, 0.0), 4.1)
    state.apply(source(1, 8), 4.2)
    assert state.cause(1) == Cause("keypad")


def test_the_time_clock_event_behind_a_change() -> None:
    state = HouseState(design(), now=0.0)
    assert state.apply(line("~TIMECLOCK,7,5,2"), 1.0)
    state.apply(level(3, 100.0), 1.1)
    state.apply(source(3, 16), 1.2)
    assert state.cause(3) == Cause("timeclock", timeclock=(7, 2))
    state.apply(level(3, 0.0), 3.0)  # more than a second after the run
    state.apply(source(3, 16), 3.1)
    assert state.cause(3) == Cause("timeclock")
    state.apply(line("~TIMECLOCK,7,5,1"), 4.0)
    state.apply(level(2, 100.0), 4.1)
    state.apply(source(2, 8), 4.2)  # a keypad change right after a time clock event
    assert state.cause(2) == Cause("keypad")


def test_a_moving_shade_keeps_the_cause_of_its_command() -> None:
    state = HouseState(design(), now=0.0)
    state.apply(level(5, 100.0), 1.0)
    state.apply(source(5, 6), 1.1)
    assert state.apply(line("~OUTPUT,5,32,2,40.00"), 1.5)
    state.advance(5.0)
    assert state.cause(5) == Cause("integration") and state.level(5) == 40.0


def test_lights_on_by_cause_counts_lights_only() -> None:
    state = HouseState(design(), now=0.0)
    for zone, code in ((1, 8), (2, 16), (3, 8), (4, 8)):
        state.apply(level(zone, 100.0), 1.0)
        state.apply(source(zone, code), 1.1)
    state.apply(level(2, 0.0), 2.0)
    state.advance(4.0)
    counts = state.lights_on_by_cause()
    assert set(counts) == set(p.CAUSE_NAMES)
    assert counts["keypad"] == 2 and counts["unknown"] == 0 and sum(counts.values()) == 2


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0.05, max_value=5.0),  # time since the previous change
            st.sampled_from([0.0, 25.0, 50.0, 100.0]),  # the new level
            st.sampled_from([0, 6, 8, 10, 16, 24, 99]),  # its code
            st.one_of(st.none(), st.floats(min_value=0.0, max_value=0.99)),  # its 29 line, as a
            # fraction of the time to the next change (it follows its level line, never the next one)
            st.lists(st.floats(min_value=0.0, max_value=5.0), max_size=3),  # snapshots in between
        ),
        min_size=1,
        max_size=25,
    )
)
def test_energy_by_cause_equals_the_integral_per_cause(
    changes: list[tuple[float, float, int, float | None, list[float]]],
) -> None:
    """Against an independent account: each level holds until the next change, with the cause its
    29 line named when that came within a second, else unknown. Every counter only goes up."""
    zone = design().zone(1)
    assert zone is not None
    times = [sum(c[0] for c in changes[: i + 1]) for i in range(len(changes))]
    end = times[-1] + 3.0
    state = HouseState(design(), now=0.0)
    timeline: list[tuple[float, int, p.Event | None]] = []
    expected = dict.fromkeys(p.CAUSE_NAMES, 0.0)
    previous_level: float | None = None
    for i, ((_, value, code, fraction, peeks), at) in enumerate(zip(changes, times, strict=True)):
        following = times[i + 1] if i + 1 < len(times) else end
        timeline.append((at, 0, level(1, value)))
        timeline += [(at + peek, 2, None) for peek in peeks if at + peek < end]
        if value == previous_level:
            continue  # the processor reports a repeated level; it is no change (and sends no 29 here)
        delay = None if fraction is None else fraction * (following - at)
        if delay is not None:
            timeline.append((at + delay, 1, source(1, code)))
        # Independent account: this level holds until the next different one.
        until = next((t for t, c in zip(times[i + 1 :], changes[i + 1 :], strict=True) if c[1] != value), end)
        cause = p.cause_name(code) if delay is not None and delay <= CAUSE_WAIT else "unknown"
        expected[cause] += zone_watts(zone, value) * (until - at)
        previous_level = value
    timeline.sort(key=lambda item: (item[0], item[1]))
    before = dict(state.cause_energy)
    for at, _, event in timeline:
        if event is None:
            state.advance(at)
        else:
            state.apply(event, at)
        assert all(state.cause_energy[c] >= before[c] for c in p.CAUSE_NAMES)  # monotonic
        before = dict(state.cause_energy)
    state.advance(end)
    for name in p.CAUSE_NAMES:
        assert state.cause_energy[name] == pytest.approx(expected[name], abs=1e-6), name
    assert sum(state.cause_energy.values()) == pytest.approx(state.zone_energy[1], abs=1e-6)


def test_unoccupied_energy_counts_lights_of_a_sensor_area_while_it_reports_unoccupied() -> None:
    state = HouseState(design(), now=0.0)
    for zone in (1, 2, 3, 4):
        state.apply(level(zone, 100.0), 0.0)
    state.advance(10.0)  # never reported: not unoccupied
    assert state.unoccupied_total == 0.0
    state.apply(occupancy(KITCHEN, 4), 10.0)
    assert state.unoccupied_watts(KITCHEN) == 160.0  # lights only: not the 200 W load
    state.apply(level(2, 50.0), 15.0)
    assert state.unoccupied_watts(KITCHEN) == 130.0
    state.apply(occupancy(KITCHEN, 3), 20.0)
    assert state.unoccupied_watts(KITCHEN) == 0.0
    state.apply(occupancy(KITCHEN, 4), 30.0)
    state.apply(occupancy(KITCHEN, 255), 32.0)  # unknown is not unoccupied
    state.advance(40.0)
    expected = 160.0 * 5 + 130.0 * 5 + 130.0 * 2
    assert state.unoccupied_energy == {KITCHEN: pytest.approx(expected)}  # the hall has no sensors
    assert state.unoccupied_total == pytest.approx(expected)
    assert state.unoccupied_watts(HALL) == 0.0


def test_counters_by_cause_and_unoccupied_survive_a_restart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    state = HouseState(design(), now=0.0)
    state.apply(occupancy(KITCHEN, 4), 0.0)
    state.apply(level(1, 100.0), 0.0)
    state.apply(source(1, 16), 0.1)
    state.apply(level(2, 100.0), 9.8)  # still waiting for its cause when saved
    state.advance(10.0)
    CounterStore(tmp_path).save(state)
    saved = json.loads((tmp_path / "counters.json").read_bytes())
    assert saved["causes"]["timeclock"] == pytest.approx(1000.0)
    assert saved["causes"]["unknown"] == pytest.approx(60.0 * 0.2)  # the wait, as unknown
    restarted = HouseState(design(), now=100.0)
    assert CounterStore(tmp_path).load_into(restarted)
    assert restarted.cause_energy["timeclock"] == pytest.approx(1000.0)
    assert restarted.cause_energy["unknown"] == pytest.approx(12.0)
    assert restarted.unoccupied_energy[KITCHEN] == pytest.approx(1000.0 + 12.0)
    assert restarted.unoccupied_total == pytest.approx(1012.0)
    starts = CounterStarts()
    starts.capture(restarted)
    assert starts.values(("cause", "timeclock"), (0.0,)) == (pytest.approx(1000.0),)
    assert starts.values(("unoccupied", KITCHEN), (0.0,)) == (pytest.approx(1012.0),)
    bad = {**saved, "causes": {"keypad": -1.0}}
    with pytest.raises(ValueError):
        HouseState(design(), now=0.0).load_counters(bad)


def test_the_snapshot_has_every_cause_and_unoccupied_energy() -> None:
    state = HouseState(design(), now=0.0)
    state.apply(occupancy(KITCHEN, 4), 0.0)
    state.apply(level(1, 100.0), 0.0)
    state.apply(source(1, 8), 0.1)
    state.apply(level(3, 100.0), 0.0)
    state.apply(source(3, 24), 0.1)
    state.advance(10.0)
    metrics = MetricSet(state.design, "home", "proc", starts=CounterStarts())
    health = ProcessorHealth(True, Counters(), 0.0)
    first = metrics.snapshot(state, health, 1_700_000_000_000_000_000, house=True)
    assert "lutron_cause,cause=keypad,site=home energy_joules_total=0.0,lights_on=1.0 " in first  # from 0
    text = metrics.snapshot(state, health, 1_700_000_001_000_000_000, house=True)
    metrics_by_name: dict[str, list] = {}  # type: ignore[type-arg]
    parsed, errors = parse_stream(text)
    assert errors == []
    for m in parsed:
        metrics_by_name.setdefault(m.name, []).append(m)
    causes = {m.tags["cause"]: m for m in metrics_by_name["lutron_cause"]}
    assert set(causes) == set(p.CAUSE_NAMES)
    assert all(m.tags == {"site": "home", "cause": c} for c, m in causes.items())
    for name in p.CAUSE_NAMES:
        assert causes[name].fields["energy_joules_total"] == state.cause_energy[name]
        assert causes[name].fields["lights_on"] == float(state.lights_on_by_cause()[name])
    assert causes["keypad"].fields["lights_on"] == 1.0 and causes["local"].fields["lights_on"] == 1.0
    areas = {m.tags["area_id"]: m.fields for m in metrics_by_name["lutron_area"]}
    assert areas[str(KITCHEN)]["unoccupied_energy_joules_total"] == pytest.approx(1000.0)
    assert areas[str(HALL)]["unoccupied_energy_joules_total"] == 0.0
    (power,) = metrics_by_name["lutron_power"]
    assert power.fields["unoccupied_energy_joules_total"] == pytest.approx(1000.0)


def test_a_design_change_keeps_causes() -> None:
    state = HouseState(design(), now=0.0)
    state.apply(level(1, 100.0), 0.0)
    state.apply(source(1, 10), 0.1)
    state.advance(5.0)
    state.set_design(dataclasses.replace(design(), project=Project("Test 2", guid="g1")), 5.0)
    state.advance(10.0)
    assert state.cause(1) == Cause("occupancy")
    assert state.cause_energy["occupancy"] == pytest.approx(1000.0)
