"""`lutron_processor` from the session's health: the counters object as it is, every catalogue field."""

from __future__ import annotations

from telegraf_lutron.connection import Counters
from telegraf_lutron.lineproto_parse import parse_line
from telegraf_lutron.metrics import MetricSet, ProcessorHealth, measurement
from telegraf_lutron.simulator.designgen import GeneratorParams, generate_design


def test_the_processor_line_carries_every_session_counter() -> None:
    design = generate_design(GeneratorParams(seed=3))
    counters = Counters(
        connects=3, disconnects=2, bad_logins=1, commands=500, errors=4, timeouts=5, events=900
    )
    health = ProcessorHealth(
        True, counters, 0.25, clock_offset=-2.5, sunrise=21600.0, sunset=72000.0, unknown_events=7
    )
    metrics = MetricSet(design, "home", "10.0.0.5")
    metrics.processor_line(health, " 1")  # a new series starts at 0 (tests/test_metrics.py)
    metric = parse_line(metrics.processor_line(health, " 2"))
    assert metric.name == "lutron_processor"
    assert metric.fields == {
        "up": 1.0,
        "connects_total": 3.0,
        "disconnects_total": 2.0,
        "bad_logins_total": 1.0,
        "commands_total": 500.0,
        "errors_total": 4.0,
        "timeouts_total": 5.0,
        "events_total": 900.0,
        "unknown_events_total": 7.0,
        "command_latency_seconds": 0.25,
        "clock_offset_seconds": -2.5,
        "sunrise_seconds": 21600.0,
        "sunset_seconds": 72000.0,
        "design_export_timestamp_seconds": metric.fields["design_export_timestamp_seconds"],
        "design_loaded": 1.0,
        "zones": float(len(design.zones)),
        "keypads": float(len(design.keypads)),
    }
    assert set(metric.fields) == set(measurement("lutron_processor").field_names())


def test_a_health_snapshot_keeps_its_counts_when_the_session_counts_on() -> None:
    live = Counters(commands=10)
    health = ProcessorHealth(False, live.copy(), 0.0)
    live.commands += 1
    live.observe_latency(0.5)
    assert health.counters.commands == 10 and health.counters.latency_count == 0
    assert (live.commands, live.latency_count, live.latency_sum) == (11, 1, 0.5)
