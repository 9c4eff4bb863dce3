"""Change rows for PostgreSQL (telegraf_lutron/changes.py): what changed, when, in every signal mode."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from execd_emulator import ReceivedMetric
from sim_fixtures import build_design
from test_plugin_e2e import House

from telegraf_lutron import protocol as p
from telegraf_lutron.changes import ChangeRows, next_boundary
from telegraf_lutron.connection import Counters
from telegraf_lutron.lineproto_parse import parse_line
from telegraf_lutron.metrics import CATALOGUE, MetricSet, ProcessorHealth, prometheus_dropped
from telegraf_lutron.simulator.designgen import GeneratorParams
from telegraf_lutron.state import HouseState

T0 = 1_700_000_000_000_000_000
HEALTH = ProcessorHealth(True, Counters(connects=1), 0.0)


def level(zone: int, value: float) -> p.OutputLevel:
    return p.OutputLevel((str(zone), "1", f"{value:.2f}"), zone, value)


def rows(text: str) -> list[tuple[str, dict[str, str], dict[str, object], int | None]]:
    return [(m.name, m.tags, m.fields, m.ts) for m in map(parse_line, text.splitlines())]


def test_a_level_change_is_one_row_with_the_counter_at_that_instant() -> None:
    state = HouseState(build_design(), now=0.0)
    changes = ChangeRows(state.design, "home")
    state.apply(level(27, 100.0), 0.0)
    assert changes.zone_row(state, 27, T0)
    state.apply(level(27, 50.0), 36.0)  # 100 W for 36 s: 3600 J, then 50 W
    ((name, tags, fields, ts),) = rows(changes.zone_row(state, 27, T0 + 36 * 10**9))
    assert (name, tags, ts) == (
        "lutron_zone_change",
        {"site": "home", "zone_id": "27", "kind": "light", "cause": "unknown"},  # no 29 line yet
        T0 + 36 * 10**9,
    )
    assert fields == {"level": 50.0, "watts": 50.0, "energy_joules_total": 3600.0}


def test_checkpoints_only_for_zones_that_drew_power_during_the_period() -> None:
    state = HouseState(build_design(), now=0.0)
    changes = ChangeRows(state.design, "home")
    for zone, value in ((27, 100.0), (28, 0.0), (29, 0.0), (31, 0.0)):
        state.apply(level(zone, value), 0.0)
    changes.all_zones(state, T0)
    # 28 is on for a minute in the period and off again; 27 stays on; 29 and 31 stay off.
    state.apply(level(28, 40.0), 10.0)
    changes.zone_row(state, 28, T0 + 10 * 10**9)
    state.apply(level(28, 0.0), 70.0)
    changes.zone_row(state, 28, T0 + 70 * 10**9)
    state.advance(900.0)
    first = rows(changes.checkpoint(state, T0 + 900 * 10**9))
    assert [r[1]["zone_id"] for r in first] == ["27", "28"]
    assert first[0][2]["energy_joules_total"] == 90_000.0  # 100 W x 900 s
    assert first[1][2]["energy_joules_total"] == 2400.0  # 40 W x 60 s
    # The next period: only 27 still draws power.
    state.advance(1800.0)
    assert [r[1]["zone_id"] for r in rows(changes.checkpoint(state, T0 + 1800 * 10**9))] == ["27"]
    state.apply(level(27, 0.0), 1900.0)
    changes.zone_row(state, 27, T0 + 1900 * 10**9)
    state.advance(2700.0)
    assert [r[1]["zone_id"] for r in rows(changes.checkpoint(state, T0 + 2700 * 10**9))] == ["27"]
    assert changes.checkpoint(state, T0 + 3600 * 10**9) == ""  # nothing drew power: no rows


def test_events_house_and_names() -> None:
    state = HouseState(build_design(), now=0.0)
    changes = ChangeRows(state.design, "home")
    state.apply(level(27, 100.0), 0.0)
    state.apply(level(31, 100.0), 0.0)
    state.advance(10.0)
    ((name, tags, fields, _),) = rows(changes.house_row(state, T0))
    assert (name, tags, fields) == (
        "lutron_house",
        {"site": "home"},
        {"watts": 200.0, "energy_joules_total": 2000.0},
    )
    assert state.apply(p.LedState((), 40, 81, 1), 10.0)
    assert rows(changes.event_row(state, p.LedState((), 40, 81, 1), T0))[0][1:3] == (
        {"site": "home", "event": "led", "device_id": "40", "component": "81"},
        {"value": 1.0},
    )
    press = p.ButtonEvent((), 40, 1, p.ButtonAction.PRESS)
    assert state.apply(press, 10.0)
    assert rows(changes.event_row(state, press, T0))[0][2] == {"value": 3.0}
    occupied = p.OccupancyState((), 10, p.OCCUPIED)
    assert state.apply(occupied, 10.0)
    assert rows(changes.event_row(state, occupied, T0))[0][1:3] == (
        {"site": "home", "event": "occupancy", "area_id": "10"},
        {"value": 1.0},
    )
    baseline = rows(changes.all_zones(state, T0))
    info = {r[1]["zone_id"]: r[1] for r in baseline if r[0] == "lutron_zone_info"}
    assert (
        info["27"]["zone"] == "Downlights"
        and info["27"]["area"] == "Kitchen"
        and info["27"]["area_id"] == "10"
    )
    assert sum(1 for r in baseline if r[0] == "lutron_zone_change") == len(state.design.zones)


def test_change_rows_stay_out_of_prometheus() -> None:
    assert set(prometheus_dropped()) == {
        "lutron_zone_change",
        "lutron_house",
        "lutron_event",
        "lutron_zone_info",
        "lutron_area_change",
    }
    assert all(m.postgres for m in CATALOGUE if m.name in prometheus_dropped())


def source(zone: int, code: int) -> p.Event:
    event = p.parse_line(f"~OUTPUT,{zone},29,{code}")
    assert event is not None
    return event


def test_a_level_change_row_waits_for_its_cause_and_keeps_its_own_time() -> None:
    state = HouseState(build_design(), now=0.0)
    changes = ChangeRows(state.design, "home")
    assert state.apply(p.ButtonEvent((), 40, 2, p.ButtonAction.PRESS), 0.9)
    state.apply(level(27, 100.0), 1.0)
    assert changes.level_change(state, 27, T0) == ""  # waits for the 29 line
    assert changes.cause_known(state, 27) == ""  # no cause yet
    assert state.apply(source(27, 8), 1.2)
    ((name, tags, fields, ts),) = rows(changes.cause_known(state, 27))
    assert (name, ts, fields["level"]) == ("lutron_zone_change", T0, 100.0)
    assert tags == {
        "site": "home",
        "zone_id": "27",
        "kind": "light",
        "cause": "keypad",
        "keypad_id": "40",
        "component": "2",
    }
    assert changes.cause_known(state, 27) == "" and changes.waiting == 0
    # Checkpoints carry the cause the level has then.
    state.advance(900.0)
    (checkpoint,) = [
        r for r in rows(changes.checkpoint(state, T0 + 900 * 10**9)) if r[0] == "lutron_zone_change"
    ]
    assert checkpoint[1]["cause"] == "keypad" and checkpoint[1]["component"] == "2"


def test_a_row_without_a_cause_line_is_written_as_unknown_after_a_second() -> None:
    state = HouseState(build_design(), now=0.0)
    changes = ChangeRows(state.design, "home")
    state.apply(level(28, 40.0), 1.0)
    assert changes.level_change(state, 28, T0) == ""
    state.advance(1.5)
    assert changes.due(state) == ""  # still within the second
    state.advance(2.05)
    ((_, tags, fields, ts),) = rows(changes.due(state))
    assert (tags["cause"], ts, fields["level"]) == ("unknown", T0, 40.0)
    assert "keypad_id" not in tags and changes.waiting == 0
    # A second change before the first one's 29 line: the first is written at once, as unknown.
    state.apply(level(28, 60.0), 3.0)
    assert changes.level_change(state, 28, T0 + 2 * 10**9) == ""
    state.apply(level(28, 80.0), 3.1)
    ((_, tags, fields, ts),) = rows(changes.level_change(state, 28, T0 + 3 * 10**9))
    assert (tags["cause"], ts, fields["level"]) == ("unknown", T0 + 2 * 10**9, 60.0)
    state.apply(source(28, 16), 3.2)
    ((_, tags, fields, ts),) = rows(changes.cause_known(state, 28))
    assert (tags["cause"], ts, fields["level"]) == ("timeclock", T0 + 3 * 10**9, 80.0)


def test_area_rows_follow_the_unoccupied_watts_of_sensor_areas() -> None:
    state = HouseState(build_design(), now=0.0)
    changes = ChangeRows(state.design, "home")
    state.apply(level(27, 100.0), 0.0)
    state.apply(level(31, 100.0), 0.0)  # the hall has no sensors: never a row
    baseline = [r for r in rows(changes.all_zones(state, T0)) if r[0] == "lutron_area_change"]
    assert [(r[1], r[2]) for r in baseline] == [
        ({"site": "home", "area_id": "10"}, {"unoccupied_watts": 0.0, "unoccupied_energy_joules_total": 0.0})
    ]
    vacant = p.OccupancyState((), 10, p.UNOCCUPIED)
    assert state.apply(vacant, 10.0)
    ((_, tags, fields, ts),) = rows(changes.area_change(state, 10, T0 + 10 * 10**9))
    assert (tags, ts) == ({"site": "home", "area_id": "10"}, T0 + 10 * 10**9)
    assert fields == {"unoccupied_watts": 100.0, "unoccupied_energy_joules_total": 0.0}
    assert changes.area_change(state, 10, T0 + 11 * 10**9) == ""  # no change, no row
    state.apply(level(28, 50.0), 20.0)
    ((_, _, fields, _),) = rows(changes.zone_area_change(state, 28, T0 + 20 * 10**9))
    assert fields == {"unoccupied_watts": 150.0, "unoccupied_energy_joules_total": 1000.0}
    state.apply(level(29, 100.0), 25.0)  # a non-dimmable light, also counts
    assert changes.zone_area_change(state, 31, T0) == ""
    state.apply(p.OccupancyState((), 10, p.OCCUPIED), 30.0)
    ((_, _, fields, _),) = rows(changes.area_change(state, 10, T0 + 30 * 10**9))
    expected = 1000.0 + 150.0 * 5 + 250.0 * 5
    assert fields == {"unoccupied_watts": 0.0, "unoccupied_energy_joules_total": expected}
    # The checkpoint: the area was unoccupied during the period; the next period it was not.
    state.advance(900.0)
    area_rows = [r for r in rows(changes.checkpoint(state, T0 + 900 * 10**9)) if r[0] == "lutron_area_change"]
    assert [r[2]["unoccupied_energy_joules_total"] for r in area_rows] == [expected]
    state.advance(1800.0)
    assert not [r for r in rows(changes.checkpoint(state, T0 + 1800 * 10**9)) if r[0] == "lutron_area_change"]


def test_boundaries_are_clock_aligned() -> None:
    assert next_boundary(1000.5, 60.0) == 1020.0
    assert next_boundary(1020.0, 60.0) == 1080.0


def test_every_minute_the_house_row_and_on_the_quarter_hour_the_checkpoints() -> None:
    state = HouseState(build_design(), now=0.0)
    changes = ChangeRows(state.design, "home")
    state.apply(level(27, 100.0), 0.0)
    changes.all_zones(state, T0)
    minute = [r[0] for r in rows(changes.on_the_minute(state, 1_700_000_040.0, 900.0, T0))]
    assert minute == ["lutron_house"]
    quarter = rows(changes.on_the_minute(state, 1_700_000_100.0, 900.0, T0))  # 1_700_000_100 % 900 == 0
    assert [(r[0], r[1].get("zone_id")) for r in quarter] == [
        ("lutron_house", None),
        ("lutron_zone_change", "27"),
    ]


def change_rows(house: House, start: int) -> list[ReceivedMetric]:
    return [m for m in house.emu.metrics[start:] if m.metric.name == "lutron_zone_change"]


@pytest.mark.subprocess
@pytest.mark.parametrize("mode", ["STDIN", "none", "SIGHUP"])
def test_the_plugin_writes_a_row_per_change_at_the_events_time(tmp_path: Path, mode: str) -> None:
    plugin = {"signal": f'"{mode}"'} if mode != "STDIN" else {}
    h = House(tmp_path, GeneratorParams(seed=1), signal_mode="none", **plugin)  # no ticks at all
    h.start()
    try:
        # The baseline: one row per zone after the first full read, with no tick from Telegraf.
        h.emu.wait_for(lambda: len(change_rows(h, 0)) >= len(h.design.zones), timeout=20)
        assert {m.metric.tags["zone_id"] for m in change_rows(h, 0)} == {str(z.id) for z in h.design.zones}
        zone = next(z for z in h.design.zones if z.kind == "light" and z.dimmable and z.rated_watts > 0)
        time.sleep(0.3)
        before = len(h.emu.metrics)
        sent = time.time_ns()
        h.sim.set_level(zone.id, 37.0)
        row = h.emu.wait_for(lambda: next(iter(change_rows(h, before)), None), timeout=5)
        # The simulator's set_level is local control (source 24): the row carries its cause.
        assert row.metric.tags == {
            "site": "test house",
            "zone_id": str(zone.id),
            "kind": zone.kind,
            "cause": "local",
        }
        assert row.metric.fields["level"] == 37.0
        assert row.metric.fields["watts"] == pytest.approx(zone.rated_watts * 0.37)
        assert row.metric.ts is not None and sent <= row.metric.ts <= time.time_ns()
        h.sim.set_level(zone.id, 0.0)
        h.emu.wait_for(lambda: len(change_rows(h, before)) == 2, timeout=5)
        time.sleep(0.5)
        # Nothing for the zones that did not change (checkpoints come every 15 minutes).
        assert [m.metric.fields["level"] for m in change_rows(h, before)] == [37.0, 0.0]
        assert not [m for m in h.emu.log_messages("E") if "parse error" in m]
    finally:
        h.close()


@pytest.mark.parametrize("site", ["", " \t", "villa", 'Villa "Süd", 2'])
def test_change_rows_and_snapshots_carry_the_same_site(site: str) -> None:
    """The UI joins change rows with the history written from snapshots by site: an empty or
    blank configured site must fall back to the same tag in both."""
    state = HouseState(build_design(), now=0.0)
    changes = ChangeRows(state.design, site)
    snapshot = MetricSet(state.design, site, "proc").snapshot(state, HEALTH, 1, house=True)
    snapshot_sites = {m.tags["site"] for m in map(parse_line, snapshot.splitlines())}
    change_sites = {tags["site"] for _, tags, _, _ in rows(changes.all_zones(state, T0))}
    assert len(snapshot_sites) == 1
    assert change_sites == snapshot_sites
