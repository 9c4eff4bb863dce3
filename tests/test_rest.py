"""The rest of the house in the live model and the metrics: inputs are not buttons, state only for
what the design or the configuration names, counters that persist."""

from __future__ import annotations

from telegraf_lutron import protocol as p
from telegraf_lutron.config import SysvarConfig
from telegraf_lutron.connection import Counters
from telegraf_lutron.lineproto_parse import Metric, parse_stream
from telegraf_lutron.metrics import CounterStarts, MetricSet, ProcessorHealth
from telegraf_lutron.simulator.designgen import GeneratorParams, generate_design
from telegraf_lutron.state import HouseState

DESIGN = generate_design(GeneratorParams(seed=5))
CONTACT = next(i for i in DESIGN.inputs if i.kind == "contact")
MOTION = next(i for i in DESIGN.inputs if i.kind == "motion")
CLOCK = DESIGN.timeclocks[0]
SYSVARS = (SysvarConfig(5, "Away", ("Home", "Away", "Night")),)
HEALTH = ProcessorHealth(True, Counters(connects=1, commands=10, events=10), 0.01)


def feed(state: HouseState, *lines: str) -> list[bool]:
    parser = p.LineParser()
    events = parser.feed("".join(f"{line}\r\n" for line in lines).encode())
    return [state.apply(e, 1.0, 1_700_000_000.0) for e in events]


def house() -> HouseState:
    state = HouseState(DESIGN)
    state.rest.set_sysvars(v.id for v in SYSVARS)
    return state


def parse_lines(text: str) -> list[Metric]:
    metrics, errors = parse_stream(text)
    assert errors == []
    return metrics


def lines(state: HouseState, name: str) -> list[Metric]:
    starts = CounterStarts()
    starts.capture(state)  # as if restored from counters.json: the first line carries the counts
    metrics = MetricSet(DESIGN, "home", "10.0.0.40", SYSVARS, starts=starts)
    text = metrics.snapshot(state, HEALTH, None, house=True)
    return [m for m in parse_lines(text) if m.name == name]


def test_contact_and_motion_events_are_inputs_not_button_presses() -> None:
    state = house()
    d, c = CONTACT.device, CONTACT.component
    assert feed(state, f"~DEVICE,{d},{c},3", f"~DEVICE,{d},{c},4", f"~DEVICE,{d},{c},4") == [
        True,
        True,
        False,
    ]
    assert feed(state, f"~DEVICE,{MOTION.device},2,3") == [True]
    assert state.buttons == {}  # nothing counted as a press or a release
    assert state.rest.inputs[(d, c)] is False and state.rest.inputs[(MOTION.device, 2)] is True
    assert state.rest.input_changes[(d, c)] == 1.0  # closed -> open; the first state is not a change
    (line,) = [
        m
        for m in lines(state, "lutron_input")
        if m.tags["device_id"] == str(d) and m.tags["component"] == str(c)
    ]
    assert line.tags["input"] == "contact" and line.tags["area_id"] == str(CONTACT.area_key)
    assert line.fields == {"active": 0.0, "changes_total": 1.0}
    buttons = lines(state, "lutron_button")
    assert buttons and all(m.fields["presses_total"] == 0.0 for m in buttons)
    assert not any(m.tags["keypad_id"] == str(d) and m.tags["component"] == str(c) for m in buttons)


def test_an_input_without_a_known_state_has_no_active_field() -> None:
    state = house()
    inputs = lines(state, "lutron_input")
    assert len(inputs) == len(DESIGN.inputs)
    assert all(m.fields == {"changes_total": 0.0} for m in inputs)
    motion = [m for m in inputs if m.tags["input"] == "motion"]
    assert motion and all(m.tags["component"] == "2" for m in motion)


def test_a_real_button_still_counts_presses() -> None:
    state = house()
    keypad = next(k for k in DESIGN.keypads if k.buttons and k.device_type != "MOTION_SENSOR")
    button = keypad.buttons[0].component
    feed(state, f"~DEVICE,{keypad.id},{button},3")
    assert state.buttons[(keypad.id, button)].presses == 1.0


def test_time_clocks_modes_runs_and_enabled_events() -> None:
    state = house()
    feed(state, f"~TIMECLOCK,{CLOCK.id},1,2", f"~TIMECLOCK,{CLOCK.id},5,3", f"~TIMECLOCK,{CLOCK.id},5,3")
    feed(state, f"~TIMECLOCK,{CLOCK.id},6,2,2", f"~TIMECLOCK,{CLOCK.id},6,99,2", "~TIMECLOCK,9999,5,1")
    rest = state.rest
    assert rest.clock_modes == {CLOCK.id: 2} and rest.events_run == {CLOCK.id: 2.0}
    assert rest.events_enabled == {(CLOCK.id, 2): False}  # event 99 and clock 9999 are not in the design
    assert rest.last_run[CLOCK.id].number == 3
    (line,) = [m for m in lines(state, "lutron_timeclock") if m.tags["timeclock_id"] == str(CLOCK.id)]
    assert line.fields == {"mode": 2.0, "events_run_total": 2.0} and line.tags["timeclock"] == CLOCK.name


def test_only_configured_sysvars_are_kept() -> None:
    state = house()
    assert feed(state, "~SYSVAR,5,1,2", "~SYSVAR,6,1,1") == [True, False]
    assert state.rest.sysvars == {5: 2}
    (line,) = lines(state, "lutron_sysvar")
    assert line.tags == {"site": "home", "sysvar_id": "5", "sysvar": "Away"} and line.fields == {"state": 2.0}


def test_shade_groups_tilt_green_modes_and_batteries() -> None:
    state = house()
    group, green = DESIGN.shade_groups[0], DESIGN.green_modes[0]
    zone = DESIGN.zones[0]
    pico = DESIGN.battery_devices[0]
    feed(
        state,
        f"~SHADEGRP,{group.id},1,40.00",
        "~SHADEGRP,9999,1,40.00",
        f"~MODE,{green.id},1,3",
        f"~OUTPUT,{zone.id},10,30.00,70.00",
        f"~DEVICE,{pico.id},1,22,0,1,3,0",
        "~DEVICE,9999,1,22,0,1,3,0",
    )
    rest = state.rest
    assert rest.shade_levels == {group.id: 40.0} and rest.green_steps == {green.id: 3}
    assert rest.tilts == {zone.id: 70.0} and state.level(zone.id) == 30.0
    assert rest.batteries == {pico.id: 1}  # reported 3 (low) -> 1
    (shade,) = lines(state, "lutron_shade_group")
    assert shade.tags["shadegroup"] == group.name and shade.tags["area_id"] == str(group.area_key)
    assert shade.fields == {"level": 40.0}
    (mode,) = [m for m in lines(state, "lutron_green_mode") if m.tags["area_id"] == str(green.id)]
    assert mode.fields == {"step": 3.0} and mode.tags["area"] == DESIGN.area(green.area_key).name
    (battery,) = lines(state, "lutron_battery")
    assert battery.tags["device_id"] == str(pico.id) and battery.fields == {"status": 1.0}
    zone_line = next(m for m in lines(state, "lutron_zone") if m.tags["zone_id"] == str(zone.id))
    assert zone_line.fields["tilt"] == 70.0


def test_the_processor_line_and_info() -> None:
    health = ProcessorHealth(
        True,
        Counters(connects=1),
        0.0,
        clock_offset=-61.5,
        sunrise=23520.0,
        sunset=71220.0,
        firmware="15.2.0",
    )
    text = MetricSet(DESIGN, "home", "10.0.0.40").snapshot(house(), health, None, house=False)
    processor, info = parse_lines(text)
    assert processor.fields["clock_offset_seconds"] == -61.5 and processor.fields["sunset_seconds"] == 71220.0
    assert info.name == "lutron_processor_info" and info.fields == {"info": 1.0}
    assert info.tags == {"site": "home", "host": "10.0.0.40", "firmware": "15.2.0"}


def test_counters_persist_and_a_new_design_forgets_what_is_gone() -> None:
    state = house()
    d, c = CONTACT.device, CONTACT.component
    feed(state, f"~DEVICE,{d},{c},3", f"~DEVICE,{d},{c},4", f"~TIMECLOCK,{CLOCK.id},5,1")
    doc = state.counters_document()
    again = house()
    again.load_counters(doc)
    assert again.rest.input_changes[(d, c)] == 1.0 and again.rest.events_run[CLOCK.id] == 1.0
    smaller = generate_design(GeneratorParams(seed=5, timeclocks=0))
    state.set_design(smaller, 2.0)
    assert state.rest.events_run == {} and state.rest.clock_modes == {}
