"""The design generator: deterministic, valid, shaped like real exports."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest

from telegraf_lutron.design import led_for_button
from telegraf_lutron.simulator.designgen import GeneratorParams, design_to_xml, generate, generate_design


def all_ids(params: GeneratorParams) -> list[int]:
    d = generate_design(params)
    return (
        [a.iid for a in d.areas if a.iid]
        + [z.id for z in d.zones]
        + [k.id for k in d.keypads]
        + [s.id for s in d.shade_groups]
        + [t.id for t in d.timeclocks]
    )


def test_same_seed_same_house_and_bytes() -> None:
    params = GeneratorParams(seed=42, hostile_names=True)
    assert generate(params) == generate(params)
    assert generate_design(params) != generate_design(replace(params, seed=43))


@pytest.mark.parametrize("system", ["HWQS", "RA2"])
def test_integration_ids_are_unique(system: str) -> None:
    ids = all_ids(GeneratorParams(seed=7, system=system, floors=3, rooms_per_floor=5))
    assert len(ids) == len(set(ids))
    assert all(i > 0 for i in ids)


def test_defaults_make_a_realistic_hwqs_house() -> None:
    d, xml = generate()
    types = {k.device_type for k in d.keypads}
    assert {"VISOR_CONTROL_RECEIVER", "PID_SWITCH", "MOTION_SENSOR"} <= types
    assert any(a.is_container for a in d.areas) and len(d.rooms) >= 6
    assert any(len(d.area_path(a.key)) == 4 for a in d.rooms)  # a sub-room
    assert any(d.area(z.area_key).is_container for z in d.zones)  # a zone directly under a floor
    assert any(k.buttons == () and k.leds == () for k in d.keypads)  # an empty-Components dimmer
    root = ET.fromstring(xml)
    assert root.tag == "Project"
    assert root.find("ProjectName").get("ProjectName") == d.project.name
    assert root.findtext("DbExportDate") == "05/16/2025"
    names = {dev.get("Name") for dev in root.iter("Device")}
    assert "CSD 001" in names  # HWQS default device names
    direct = root.findall(".//DeviceGroups/Device")
    assert [dev.get("DeviceType") for dev in direct] == ["VISOR_CONTROL_RECEIVER"]


def test_ra2_house_has_a_main_repeater_with_a_few_phantom_buttons() -> None:
    d = generate_design(GeneratorParams.radiora2(seed=3))
    repeater = next(k for k in d.keypads if k.device_type == "MAIN_REPEATER")
    assert len(repeater.buttons) == 5
    assert all(b.led_component == b.component + 100 for b in repeater.buttons)
    assert all(1 <= b.component <= 100 for b in repeater.buttons)
    assert all(len(d.area_path(a.key)) == 2 for a in d.rooms)  # rooms directly under the root
    assert d.shade_groups == ()


def test_button_numbering_follows_the_device_tables() -> None:
    d = generate_design(GeneratorParams(seed=11, floors=4, rooms_per_floor=6))
    allowed = {
        "SEETOUCH_KEYPAD": set(range(1, 8)) | {16, 17, 18, 19},
        "PICO_KEYPAD": {2, 3, 4, 5, 6, 8, 9, 10, 11},
        "GRAFIK_EYE_QS": {70, 71, 76, 77, 83, 38, 39, 44, 45},
        "PALLADIOM_KEYPAD": set(range(1, 9)) | {16, 17, 18, 19},
        "PID_SWITCH": {6},
    }
    for k in d.keypads:
        if k.device_type in allowed:
            assert {b.component for b in k.buttons} <= allowed[k.device_type], k.device_type
        for b in k.buttons:
            if b.led_component is not None:
                assert b.led_component == led_for_button(k.device_type, b.component)
                assert b.led_component in k.leds
        if k.device_type == "PICO_KEYPAD":
            assert k.leds == ()


def test_hostile_names_and_entities_are_escaped_in_the_xml() -> None:
    params = GeneratorParams(seed=1, hostile_names=True, floors=3, rooms_per_floor=7)
    d, xml = generate(params)
    assert any(c in z.name for z in d.zones for c in '"<&\\=,')
    assert b"&apos;" in xml or b"'" not in xml.split(b"\n", 1)[1]
    ET.fromstring(xml)  # well-formed despite the names


def test_junk_prefix_and_bom_come_first() -> None:
    xml = design_to_xml(generate_design(), GeneratorParams(junk_prefix=b"\r\n\x00", bom=True))
    assert xml.startswith(b"\r\n\x00\xef\xbb\xbf<?xml")


def test_sized_gives_exact_counts() -> None:
    d = generate_design(GeneratorParams.sized(200, 40))
    assert (len(d.zones), len(d.keypads)) == (200, 40)
    d = generate_design(GeneratorParams.sized(2000, 1000, seed=3))
    assert (len(d.zones), len(d.keypads)) == (2000, 1000)


@pytest.mark.parametrize(
    "bad",
    [
        {"system": "QS"},
        {"nested_depth": 5},
        {"floors": -1},
        {"missing_engravings": 1.5},
        {"main_repeater_buttons": 101},
    ],
)
def test_bad_params_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        GeneratorParams(**bad)  # type: ignore[arg-type]
