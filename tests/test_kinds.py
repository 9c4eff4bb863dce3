"""Every output as what it is: kinds from OutputTypes, power per kind, counts that mean what they say,
pulsed contact closures, moving shades, and the owner's `[[zone]]` overrides (in-process, fast)."""

from __future__ import annotations

import logging
import re
import tomllib
from pathlib import Path

import pytest

from telegraf_lutron import protocol as p
from telegraf_lutron.config import ConfigError, parse_config
from telegraf_lutron.connection import Counters
from telegraf_lutron.design import (
    KINDS,
    OUTPUT_KINDS,
    Area,
    Design,
    Project,
    Zone,
    design_from_dict,
    design_to_dict,
    is_dimmable,
    kind_for,
)
from telegraf_lutron.design_xml import parse_design
from telegraf_lutron.lineproto_parse import parse_line
from telegraf_lutron.metrics import CounterStarts, MetricSet, ProcessorHealth
from telegraf_lutron.simulator.designgen import GeneratorParams, design_to_xml, generate_design
from telegraf_lutron.state import CounterStore, Counts, HouseState, zone_watts
from telegraf_lutron.wattage import (
    ZoneOverride,
    apply_overrides,
    missing_wattage,
    wattage_template,
)

KITCHEN = Area(10, 10, "Kitchen", -1, "House")
HALL = Area(20, 20, "Hall", -1, "House")
ROOT = Area(-1, 0, "House", None, "House")


def zone(zid: int, name: str, otype: str, watts: float, area: Area = KITCHEN, **kw: object) -> Zone:
    return Zone(zid, name, area.key, area.name, area.floor, otype, watts, is_dimmable(otype), **kw)  # type: ignore[arg-type]


def house(*zones: Zone) -> Design:
    return Design(Project("Test", guid="g"), areas=(ROOT, KITCHEN, HALL), zones=zones)


def out(zid: int, level: float) -> p.OutputLevel:
    return p.OutputLevel((str(zid), "1", f"{level:.2f}"), zid, level)


def position(zid: int, level: float) -> p.Event:
    return p.parse_report(f"~OUTPUT,{zid},32,2,{level:.2f}")


HEALTH = ProcessorHealth(True, Counters(connects=1), 0.0)


def snapshot(state: HouseState) -> dict[str, list[tuple[dict[str, str], dict[str, object]]]]:
    starts = CounterStarts()
    starts.capture(state)  # as if restored from counters.json: the first line carries the counts
    text = MetricSet(state.design, "home", "proc", starts=starts).snapshot(state, HEALTH, 1, house=True)
    by: dict[str, list[tuple[dict[str, str], dict[str, object]]]] = {}
    for line in text.splitlines():
        m = parse_line(line)
        by.setdefault(m.name, []).append((m.tags, m.fields))
    return by


# --- kinds ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("otype", "kind"),
    [
        ("INC", "light"),
        ("ELV", "light"),
        ("RELAY_LIGHTING", "light"),
        ("ZERO_TO_TEN", "light"),
        ("DALI", "light"),
        ("ECO_SYSTEM_FLUORESCENT", "light"),
        ("NON_DIM_FLUORESCENT", "light"),
        ("NON_DIM_SOMETHING_NEW", "light"),
        ("CEILING_FAN_TYPE", "fan"),
        ("EXHAUST_FAN_TYPE", "fan"),
        ("SYSTEM_SHADE", "shade"),
        ("SIVOIA_QED", "shade"),
        ("SHEER_BLIND", "shade"),
        ("VENETIAN_BLIND", "shade"),
        ("MOTOR", "motor"),
        ("SWITCHED_MOTOR", "motor"),
        ("CCO_PULSED", "contact"),
        ("CCO_MAINTAINED", "contact"),
        ("HEATER_9000", "light"),
    ],
)
def test_every_output_type_has_its_kind(otype: str, kind: str) -> None:
    assert kind_for(otype) == kind
    assert zone(1, "z", otype, 0.0).kind == kind


def test_an_unknown_output_type_is_a_light_with_one_warning_naming_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    xml = (
        b'<?xml version="1.0"?><Project><Areas><Area Name="R" IntegrationID="5"><Outputs>'
        b'<Output Name="a" IntegrationID="7" OutputType="PLASMA_GLOBE" Wattage="40"/>'
        b'<Output Name="b" IntegrationID="8" OutputType="PLASMA_GLOBE" Wattage="40"/>'
        b'<Output Name="c" IntegrationID="9" OutputType="SYSTEM_SHADE" Wattage="120"/>'
        b"</Outputs></Area></Areas></Project>"
    )
    with caplog.at_level(logging.WARNING):
        design = parse_design(xml)
    assert [z.kind for z in design.zones] == ["light", "light", "shade"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "PLASMA_GLOBE" in warnings[0] and "2 zones" in warnings[0]
    assert design.zone(9).rated_watts == 0.0  # a shade's Wattage never counts as power


def test_kinds_survive_the_cached_model_and_old_models_are_refused() -> None:
    design = house(zone(1, "Fan", "CEILING_FAN_TYPE", 60.0, kind="load", speed_watts=(0, 1, 2, 3, 4)))
    back = design_from_dict(design_to_dict(design))
    assert back.zones[0].kind == "load" and back.zones[0].speed_watts == (0.0, 1.0, 2.0, 3.0, 4.0)
    old = design_to_dict(design) | {"schema": 1}
    with pytest.raises(ValueError):
        design_from_dict(old)


def test_generated_designs_have_every_output_type_and_no_power_on_shades_motors_contacts() -> None:
    for params in (GeneratorParams(seed=3), GeneratorParams.radiora2(seed=3)):
        design = generate_design(params)
        types = {z.output_type for z in design.zones}
        expected = set(OUTPUT_KINDS)
        if params.system == "RA2":
            expected -= {"SYSTEM_SHADE", "DALI", "ECO_SYSTEM_FLUORESCENT", "FLUORESCENT_DB", "MOTOR"}
        assert expected <= types
        parsed = parse_design(design_to_xml(design, params))
        assert parsed == design
        assert all(z.rated_watts == 0.0 for z in parsed.zones if z.kind in ("shade", "motor", "contact"))
        assert (
            b'OutputType="SYSTEM_SHADE" Wattage="0"' in design_to_xml(design, params)
            or params.system == "RA2"
        )


# --- power per kind -------------------------------------------------------------------------------


def test_power_per_kind() -> None:
    light = zone(1, "Downlights", "ELV", 100.0)
    relay = zone(2, "Chandelier", "RELAY_LIGHTING", 300.0)
    fan = zone(3, "Fan", "CEILING_FAN_TYPE", 60.0)
    stepped = zone(4, "Fan", "CEILING_FAN_TYPE", 60.0, speed_watts=(0.0, 15.0, 30.0, 45.0, 60.0))
    exhaust = zone(5, "Exhaust", "EXHAUST_FAN_TYPE", 40.0)
    shade = zone(6, "Shade", "SYSTEM_SHADE", 0.0)
    motor_with_watts = zone(7, "Gate", "SWITCHED_MOTOR", 200.0)  # only an override gives it watts
    pulsed = zone(8, "Gate", "CCO_PULSED", 50.0)
    assert zone_watts(light, 40.0) == pytest.approx(40.0)
    assert zone_watts(relay, 1.0) == 300.0
    assert zone_watts(fan, 25.0) == pytest.approx(15.0)  # rated x level / 100 at low
    assert [zone_watts(stepped, lvl) for lvl in (0.0, 25.0, 50.0, 75.0, 100.0)] == [0, 15, 30, 45, 60]
    assert zone_watts(stepped, 30.0) == 15.0  # between steps: the nearest (low)
    assert zone_watts(exhaust, 100.0) == 40.0
    assert zone_watts(shade, 100.0) == 0.0
    assert zone_watts(motor_with_watts, 100.0) == 200.0
    assert zone_watts(pulsed, 100.0) == 0.0


def test_opening_every_shade_changes_lights_on_and_watts_by_nothing() -> None:
    zones = [zone(1, "Downlights", "INC", 100.0)]
    zones += [
        zone(10 + i, f"Shade {i}", t, 0.0)
        for i, t in enumerate(("SYSTEM_SHADE", "SIVOIA_QED", "SHEER_BLIND"))
    ]
    zones += [zone(20, "Venetian", "VENETIAN_BLIND", 0.0, area=HALL)]
    state = HouseState(house(*zones), now=0.0)
    state.apply(out(1, 50.0), 1.0)
    before = state.system_totals()
    for z in zones[1:]:
        state.apply(out(z.id, 100.0), 2.0)
    after = state.system_totals()
    assert (after.lights_on, after.watts) == (before.lights_on, before.watts) == (1, 50.0)
    assert (before.shades_open, after.shades_open) == (0, 4)
    state.advance(100.0)
    assert state.total_energy == pytest.approx(50.0 * 99)
    assert state.area_totals()[20] == Counts(0.0, shades_open=1)


def test_counts_by_kind_per_area_and_house() -> None:
    zones = (
        zone(1, "Downlights", "INC", 100.0),
        zone(2, "Fan", "CEILING_FAN_TYPE", 60.0),
        zone(3, "Shade", "SYSTEM_SHADE", 0.0),
        zone(4, "Heater", "NON_DIM", 2000.0, kind="load"),
        zone(5, "Pump", "CCO_MAINTAINED", 0.0),
        zone(6, "Hall", "INC", 50.0, area=HALL),
    )
    state = HouseState(house(*zones), now=0.0)
    for zid, level in ((1, 100.0), (2, 50.0), (3, 30.0), (4, 100.0), (5, 100.0)):
        state.apply(out(zid, level), 1.0)
    kitchen = state.area_totals()[10]
    assert kitchen == Counts(100.0 + 30.0 + 2000.0, lights_on=1, fans_on=1, shades_open=1, lights=1)
    house_totals = state.system_totals()
    assert (house_totals.lights_on, house_totals.lights) == (1, 2)  # the load is no light
    lines = snapshot(state)
    ((_, power),) = lines["lutron_power"]
    assert power == {
        "watts": 2130.0,
        "energy_joules_total": 0.0,
        "lights_on": 1.0,
        "fans_on": 1.0,
        "shades_open": 1.0,
        "lights_total": 2.0,
        "unoccupied_energy_joules_total": 0.0,  # issue 16: energy in empty rooms
    }
    areas = {tags["area"]: fields for tags, fields in lines["lutron_area"]}
    assert areas["Kitchen"]["lights_on"] == 1.0 and areas["Hall"]["lights_on"] == 0.0
    assert "zones_on" not in areas["Kitchen"]
    kinds = {tags["zone_id"]: tags["kind"] for tags, _ in lines["lutron_zone"]}
    assert kinds == {"1": "light", "2": "fan", "3": "shade", "4": "load", "5": "contact", "6": "light"}


def test_a_pulsed_contact_is_never_on_and_counts_each_pulse(tmp_path: Path) -> None:
    design = house(zone(1, "Downlights", "INC", 100.0), zone(2, "Gate", "CCO_PULSED", 0.0))
    state = HouseState(design, now=0.0)
    assert state.level(2) == 0.0
    for t in (1.0, 2.0, 3.0):
        assert state.apply(out(2, 100.0), t)  # it reports 100 at every pulse, and never 0
    assert not state.apply(out(2, 0.0), 4.0)
    assert state.level(2) == 0.0 and state.pulses[2] == 3.0
    totals = state.system_totals()
    assert (totals.lights_on, totals.watts) == (0, 0.0)
    fields = {tags["zone_id"]: f for tags, f in snapshot(state)["lutron_zone"]}
    assert fields["2"]["pulses_total"] == 3.0 and fields["2"]["level"] == 0.0
    assert "pulses_total" not in fields["1"]
    CounterStore(tmp_path).save(state)
    restarted = HouseState(design, now=10.0)
    assert CounterStore(tmp_path).load_into(restarted)
    assert restarted.pulses[2] == 3.0


def test_a_moving_shade_reports_its_position() -> None:
    state = HouseState(house(zone(3, "Shade", "SYSTEM_SHADE", 0.0)), now=0.0)
    state.apply(out(3, 0.0), 0.5)
    assert state.apply(position(3, 40.0), 1.0)
    assert state.level(3) == 40.0 and state.system_totals().shades_open == 1
    assert not state.apply(p.parse_report("~OUTPUT,3,32,2,bogus"), 2.0)
    assert not state.apply(p.parse_report("~OUTPUT,3,29,8"), 2.0)
    assert state.apply(position(3, 0.0), 3.0) and state.system_totals().shades_open == 0


# --- [[zone]] overrides ---------------------------------------------------------------------------

BASE = """
[processor]
host = "192.168.1.40"
password = "hunter2"
"""


def parse(extra: str) -> tuple[ZoneOverride, ...]:
    return parse_config(tomllib.loads(BASE + extra), env={}).zones


def test_zone_entries_are_read_in_file_order() -> None:
    zones = parse(
        """
[[zone]]
id = 27
watts = 60
kind = "light"
[[zone]]
name = "Kitchen/Pendant*"
watts = 40.5
[[zone]]
id = 30
kind = "fan"
speed_watts = [0, 15, 30, 45, 60]
"""
    )
    assert zones == (
        ZoneOverride(1, id=27, watts=60.0, kind="light"),
        ZoneOverride(2, name="Kitchen/Pendant*", watts=40.5),
        ZoneOverride(3, id=30, kind="fan", speed_watts=(0.0, 15.0, 30.0, 45.0, 60.0)),
    )


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("[[zone]]\nwatts = 60", "[[zone]] #1: give exactly one of id"),
        ('[[zone]]\nid = 1\nname = "a"\nwatts = 1', "[[zone]] #1: give exactly one of id"),
        ("[[zone]]\nid = 0\nwatts = 1", "[[zone]] #1: id: expected an Integration ID"),
        ('[[zone]]\nid = "27"\nwatts = 1', "[[zone]] #1: id: expected an Integration ID"),
        ('[[zone]]\nid = 27\nwatts = "sixty"', "[[zone]] #1: watts: expected a number of watts"),
        ("[[zone]]\nid = 27\nwatts = -5", "[[zone]] #1: watts: expected a number of watts"),
        ('[[zone]]\nid = 27\nkind = "lamp"', "[[zone]] #1: kind: expected one of light, fan, shade"),
        ("[[zone]]\nid = 27\nspeed_watts = [1, 2]", "[[zone]] #1: speed_watts: expected 5 numbers"),
        ('[[zone]]\nid = 27\nkind = "light"\nspeed_watts = [0, 1, 2, 3, 4]', "speed_watts is for fans"),
        ("[[zone]]\nid = 27", "[[zone]] #1 sets nothing"),
        ("[[zone]]\nid = 27\nwatt = 5", "unknown key watt in [[zone]] #1"),
        ("[[zone]]\nid = 1\nwatts = 1\n[[zone]]\nid = 2\nwatts = true", "[[zone]] #2: watts"),
    ],
)
def test_a_bad_zone_entry_is_one_line_naming_it(entry: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(entry)
    assert expected in str(info.value) and "\n" not in str(info.value)
    assert "hunter2" not in str(info.value)


def test_zone_must_be_an_array_of_tables() -> None:
    with pytest.raises(ConfigError, match=r"zone must be written as \[\[zone\]\] tables"):
        parse_config({"processor": {"host": "h"}, "zone": 5}, env={})


def overridden_house() -> Design:
    return house(
        zone(27, "Pendant 1", "ELV", 0.0),
        zone(28, "Pendant 2", "ELV", 0.0),
        zone(29, "Downlights", "INC", 100.0),
        zone(30, "Fan", "CEILING_FAN_TYPE", 0.0),
        zone(31, "Heater", "CCO_MAINTAINED", 0.0, area=HALL),
        zone(32, "Pendant 3", "ELV", 75.0, area=HALL),
    )


def test_overrides_by_id_and_glob_apply_in_file_order() -> None:
    entries = (
        ZoneOverride(1, name="Kitchen/Pendant*", watts=40.0),
        ZoneOverride(2, id=28, watts=60.0),  # later wins
        ZoneOverride(3, id=30, speed_watts=(0.0, 15.0, 30.0, 45.0, 60.0)),
        ZoneOverride(4, id=31, kind="load", watts=1500.0),
        ZoneOverride(5, id=29, kind="shade"),  # a shade draws nothing unless given watts
        ZoneOverride(6, name="Attic/*", watts=5.0),
        ZoneOverride(7, id=999, watts=5.0),
    )
    design, unmatched = apply_overrides(overridden_house(), entries)
    watts = {z.id: z.rated_watts for z in design.zones}
    assert watts == {27: 40.0, 28: 60.0, 29: 0.0, 30: 0.0, 31: 1500.0, 32: 75.0}
    assert design.zone(31).kind == "load" and design.zone(29).kind == "shade"
    assert design.zone(30).speed_watts == (0.0, 15.0, 30.0, 45.0, 60.0)
    assert [u.number for u in unmatched] == [6, 7]
    state = HouseState(design, now=0.0)
    for zid in (27, 28, 29, 31):
        state.apply(out(zid, 100.0), 0.0)
    state.apply(out(30, 25.0), 0.0)
    state.advance(10.0)
    assert state.watts(30) == 15.0  # the fan at low draws its low-speed watts
    assert state.system_totals().watts == 40.0 + 60.0 + 15.0 + 1500.0
    assert state.area_energy[20] == pytest.approx(15000.0)


def test_missing_wattage_counts_only_kinds_that_draw_power() -> None:
    design = overridden_house()
    assert missing_wattage(design.zones) == {"light": (2, 4), "fan": (1, 1), "load": (0, 0)}
    filled, _ = apply_overrides(design, (ZoneOverride(1, name="Kitchen/*", watts=10.0),))
    assert missing_wattage(filled.zones) == {"light": (0, 4), "fan": (0, 1), "load": (0, 0)}


def test_the_wattage_template_lists_missing_first_and_is_valid_config() -> None:
    design = overridden_house()
    text = wattage_template(design)
    body = text.split("# --- wattage known")[0]
    assert [int(line.split("=")[1]) for line in body.splitlines() if line.startswith("id = ")] == [27, 28, 30]
    assert "# id = 29" in text and "# id = 32" in text and "id = 31" not in text  # a contact draws nothing
    zones = parse(text)  # pasted as it is, it is a valid configuration
    assert [z.id for z in zones] == [27, 28, 30]
    entry = re.compile(r"^# (\[\[zone\]\]  #|id =|watts =|kind =)")
    uncommented = "\n".join(line[2:] if entry.match(line) else line for line in text.splitlines())
    assert [z.id for z in parse(uncommented)] == [27, 28, 30, 29, 32]


def test_the_template_quotes_hostile_names_safely() -> None:
    design = generate_design(
        GeneratorParams(seed=5, hostile_names=True, zero_wattage=1.0, missing_wattage=0.0)
    )
    text = wattage_template(design)
    zones = parse(text)
    assert len(zones) == sum(1 for z in design.zones if z.draws_power and not z.pulsed)


def test_kinds_list_is_the_documented_one() -> None:
    assert KINDS == ("light", "fan", "shade", "motor", "contact", "load")
