"""What the metric lines carry where Prometheus reads them: where counter series start, and whether
a design was really read."""

from __future__ import annotations

from dataclasses import replace

from sim_fixtures import build_design

from telegraf_lutron import protocol as p
from telegraf_lutron.connection import Counters
from telegraf_lutron.design import Design, Project
from telegraf_lutron.lineproto_parse import Metric, parse_stream
from telegraf_lutron.metrics import CounterStarts, MetricSet, ProcessorHealth
from telegraf_lutron.simulator.designgen import GeneratorParams, generate_design
from telegraf_lutron.state import HouseState

COUNTERS = (
    "connects_total",
    "disconnects_total",
    "bad_logins_total",
    "commands_total",
    "errors_total",
    "timeouts_total",
    "events_total",
    "unknown_events_total",
)


def press(keypad: int, component: int) -> p.ButtonEvent:
    return p.ButtonEvent((str(keypad), str(component), "3"), keypad, component, p.ButtonAction.PRESS)


def health(up: bool = True, **counts: int) -> ProcessorHealth:
    return ProcessorHealth(up=up, counters=Counters(**counts), command_latency=0.0)


def lines(text: str) -> list[Metric]:
    metrics, errors = parse_stream(text)
    assert errors == []
    return metrics


def processor(ms: MetricSet, h: ProcessorHealth) -> Metric:
    (metric,) = lines(ms.processor_line(h, ""))
    return metric


def snapshot(ms: MetricSet, state: HouseState) -> dict[tuple[str, str], Metric]:
    """The house lines of a snapshot, by (measurement, id tag)."""
    out = {}
    for m in lines(ms.snapshot(state, health(), None, house=True)):
        key = m.tags.get("zone_id") or m.tags.get("area_id") or m.tags.get("keypad_id", "")
        out[(m.name, key + ":" + m.tags.get("component", ""))] = m
    return out


def test_the_first_processor_line_counts_from_0_and_the_next_has_the_session_counts() -> None:
    ms = MetricSet(build_design(), "home", "10.0.0.40")
    first = processor(ms, health(connects=1, bad_logins=2, commands=40, events=7))
    assert {k: first.fields[k] for k in COUNTERS} == dict.fromkeys(COUNTERS, 0.0)
    second = processor(ms, health(connects=1, bad_logins=2, commands=41, events=9))
    assert (second.fields["connects_total"], second.fields["bad_logins_total"]) == (1.0, 2.0)
    assert (second.fields["commands_total"], second.fields["events_total"]) == (41.0, 9.0)


def test_a_new_processor_series_starts_at_0_and_the_series_add_up_to_the_session() -> None:
    # A failed login before any design, then the design arrives and the project tag changes.
    starts = CounterStarts()
    before = MetricSet(Design(Project("")), "home", "10.0.0.40", design_loaded=False, starts=starts)
    a = [processor(before, health(up=False, bad_logins=n)) for n in (1, 1, 2)]
    assert [m.fields["bad_logins_total"] for m in a] == [0.0, 1.0, 2.0]
    after = MetricSet(build_design(), "home", "10.0.0.40", starts=starts)
    b = [processor(after, health(bad_logins=3, connects=c)) for c in (1, 1, 2)]
    assert b[0].tags["project"] != a[0].tags["project"]
    assert [m.fields["bad_logins_total"] for m in b] == [0.0, 1.0, 1.0]
    assert [m.fields["connects_total"] for m in b] == [0.0, 1.0, 2.0]
    # What Prometheus' increase() sees over both series is what the session counted.
    seen = [[float(m.fields["bad_logins_total"]) for m in series] for series in (a, b)]
    assert sum(values[-1] - values[0] for values in seen) == 3.0


def test_restored_counters_start_where_they_were_and_new_ones_at_0() -> None:
    design = build_design()
    state = HouseState(design, now=0.0)
    state.load_counters(
        {
            "version": 1,
            "total_joules": 9000.0,
            "zones": {"27": 9000.0},
            "areas": {"10": 9000.0},
            "buttons": {"40:1": [5.0, 5.0, 0.0, 0.0]},
        }
    )
    starts = CounterStarts()
    starts.capture(state)
    ms = MetricSet(design, "home", "10.0.0.40", starts=starts)
    state.set_level(27, 100.0, now=0.0)
    state.set_level(31, 100.0, now=0.0)  # Hall, no energy restored
    for component in (1, 2):  # keypad 40: button 1 restored, button 2 new
        state.apply(press(40, component), now=0.0)
    state.advance(10.0)

    first = snapshot(ms, state)
    assert first[("lutron_zone", "27:")].fields["energy_joules_total"] == 9000.0  # no reset to 0
    assert first[("lutron_zone", "31:")].fields["energy_joules_total"] == 0.0
    assert first[("lutron_area", "10:")].fields["energy_joules_total"] == 9000.0
    assert first[("lutron_area", "20:")].fields["energy_joules_total"] == 0.0
    assert first[("lutron_power", ":")].fields["energy_joules_total"] == 9000.0
    assert first[("lutron_button", "40:1")].fields["presses_total"] == 5.0
    assert first[("lutron_button", "40:2")].fields["presses_total"] == 0.0

    second = snapshot(ms, state)  # from the second line on: the live counts
    assert second[("lutron_zone", "27:")].fields["energy_joules_total"] == 10000.0
    assert second[("lutron_zone", "31:")].fields["energy_joules_total"] == 1000.0
    assert second[("lutron_power", ":")].fields["energy_joules_total"] == 11000.0
    assert second[("lutron_button", "40:1")].fields["presses_total"] == 6.0
    assert second[("lutron_button", "40:2")].fields["presses_total"] == 1.0


def test_a_new_design_keeps_where_the_series_started() -> None:
    design = build_design()
    starts = CounterStarts()
    state = HouseState(design, now=0.0)
    starts.capture(state)
    snapshot(MetricSet(design, "home", "h", starts=starts), state)
    state.apply(press(40, 1), now=0.0)
    revised = replace(design, project=replace(design.project, export_time="11:00:00"))
    after = snapshot(MetricSet(revised, "home", "h", starts=starts), state)
    assert after[("lutron_button", "40:1")].fields["presses_total"] == 1.0  # no second start at 0


def test_zones_and_keypads_are_reported_only_once_a_design_was_read() -> None:
    unread = MetricSet(Design(Project("")), "home", "10.0.0.40", design_loaded=False)
    fields = processor(unread, health(up=False)).fields
    assert fields["design_loaded"] == 0.0 and "zones" not in fields and "keypads" not in fields

    empty = MetricSet(Design(Project("Empty")), "home", "10.0.0.40")  # read, and really empty
    fields = processor(empty, health()).fields
    assert (fields["design_loaded"], fields["zones"], fields["keypads"]) == (1.0, 0.0, 0.0)

    read = MetricSet(build_design(), "home", "10.0.0.40")
    fields = processor(read, health()).fields
    assert (fields["design_loaded"], fields["zones"], fields["keypads"]) == (1.0, 4.0, 2.0)


def test_input_and_time_clock_counters_start_where_counters_json_left_them() -> None:
    design = generate_design(GeneratorParams(seed=5))
    contact, other = (i for i in design.inputs[:2])
    clock = design.timeclocks[0]
    state = HouseState(design, now=0.0)
    rest = {"inputs": {f"{contact.device}:{contact.component}": 4.0}, "timeclocks": {str(clock.id): 9.0}}
    state.load_counters({"version": 1, "total_joules": 0.0, "zones": {}, "areas": {}, "rest": rest})
    starts = CounterStarts()
    starts.capture(state)
    ms = MetricSet(design, "home", "h", starts=starts)
    state.rest.input_changes[(contact.device, contact.component)] += 1
    state.rest.input_changes[(other.device, other.component)] = 1.0
    state.rest.events_run[clock.id] += 1

    def counts() -> dict[str, float]:
        out = {}
        for m in lines(ms.snapshot(state, health(), None, house=True)):
            if m.name == "lutron_input" and m.tags["device_id"] in (str(contact.device), str(other.device)):
                out[f"{m.tags['device_id']}:{m.tags['component']}"] = float(m.fields["changes_total"])
            elif m.name == "lutron_timeclock" and m.tags["timeclock_id"] == str(clock.id):
                out["clock"] = float(m.fields["events_run_total"])
        return out

    first, second = counts(), counts()
    c, o = f"{contact.device}:{contact.component}", f"{other.device}:{other.component}"
    assert (first[c], first[o], first["clock"]) == (4.0, 0.0, 9.0)
    assert (second[c], second[o], second["clock"]) == (5.0, 1.0, 10.0)


def test_pulses_start_where_counters_json_left_them() -> None:
    design = generate_design(GeneratorParams(seed=5))
    zone = next(z for z in design.zones if z.pulsed)
    state = HouseState(design, now=0.0)
    state.load_counters(
        {"version": 1, "total_joules": 0.0, "zones": {}, "areas": {}, "pulses": {str(zone.id): 6.0}}
    )
    starts = CounterStarts()
    starts.capture(state)
    ms = MetricSet(design, "home", "h", starts=starts)
    state.pulses[zone.id] += 1

    def pulses() -> float:
        (line,) = lines(ms.zone_line(state, zone.id, ""))
        return float(line.fields["pulses_total"])

    assert (pulses(), pulses()) == (6.0, 7.0)
