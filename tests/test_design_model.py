"""The design model: dimmability, LED pairing, revisions, JSON form and differences."""

from __future__ import annotations

import json

import pytest

from telegraf_lutron.design import (
    Named,
    Renamed,
    design_from_dict,
    design_to_dict,
    diff_designs,
    is_dimmable,
    led_for_button,
    normalize_revision,
)
from telegraf_lutron.simulator.designgen import GeneratorParams, generate_design


@pytest.mark.parametrize(
    "otype",
    [
        "NON_DIM",
        "NON_DIM_MLV",
        "NON_DIM_FLUORESCENT",
        "RELAY_LIGHTING",
        "CCO_PULSED",
        "EXHAUST_FAN_TYPE",
        "MOTOR",
        "SYSTEM_SHADE",
    ],
)
def test_on_off_output_types_are_not_dimmable(otype: str) -> None:
    assert not is_dimmable(otype)


@pytest.mark.parametrize(
    "otype", ["INC", "ELV", "MLV", "AUTO_DETECT", "DALI", "ZERO_TO_TEN", "SOMETHING_NEW"]
)
def test_level_output_types_are_dimmable(otype: str) -> None:
    assert is_dimmable(otype)


def test_led_pairing_table() -> None:
    assert led_for_button("SEETOUCH_KEYPAD", 3) == 83
    assert led_for_button("MAIN_REPEATER", 7) == 107
    assert led_for_button("GRAFIK_EYE_QS", 77) == 228
    assert led_for_button("GRAFIK_EYE_QS", 38) is None
    assert led_for_button("PICO_KEYPAD", 2) is None
    assert led_for_button("PID_SWITCH", 6) is None


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("05/05/2024,12:14:40", "05/05/2024,12:14:40"),
        (" 5/5/2024,9:04:40\r\n", "05/05/2024,09:04:40"),
        ("05/05/2024 12:14:40", "05/05/2024,12:14:40"),
        ("garbage ", "garbage"),
    ],
)
def test_normalize_revision(raw: str, normal: str) -> None:
    assert normalize_revision(raw) == normal


def test_model_survives_json_exactly() -> None:
    design = generate_design(GeneratorParams(seed=5, hostile_names=True))
    text = json.dumps(design_to_dict(design), ensure_ascii=False)
    back = design_from_dict(json.loads(text))
    assert back == design
    assert back.zone(design.zones[0].id) == design.zones[0]  # indexes rebuilt


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(schema=99),
        lambda d: d.pop("zones"),
        lambda d: d["zones"][0].update(id="7"),
        lambda d: d["zones"][0].update(dimmable=1),
        lambda d: d["keypads"][0]["buttons"][0].pop("name"),
        lambda d: d.update(areas="nope"),
        lambda d: d["areas"][0].update(floor=5),
    ],
)
def test_malformed_model_json_is_refused(mutate) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(json.dumps(design_to_dict(generate_design(GeneratorParams(seed=1)))))
    mutate(data)
    with pytest.raises(ValueError):
        design_from_dict(data)


def test_area_paths_are_computed_from_parent_keys() -> None:
    design = generate_design(GeneratorParams(seed=1))
    for area in design.areas:
        path = design.area_path(area.key)
        assert path[-1] == area.name
        parent = design.area(area.parent_key) if area.parent_key is not None else None
        assert path[:-1] == (design.area_path(parent.key) if parent else ())
    assert design.area_path(123456789) == ()
    assert "path" not in design_to_dict(design)["areas"][0]


def test_a_model_cached_by_an_older_version_with_area_paths_still_loads() -> None:
    design = generate_design(GeneratorParams(seed=1))
    data = design_to_dict(design)
    for a in data["areas"]:
        a["path"] = list(design.area_path(a["key"]))
    assert design_from_dict(json.loads(json.dumps(data))) == design


def test_diff_reports_added_removed_and_renamed() -> None:
    old = generate_design(GeneratorParams(seed=2))
    z0, z1 = old.zones[0], old.zones[1]
    k0 = old.keypads[0]
    new_zones = (type(z0)(**{**_fields(z0), "name": "Renamed Zone"}), *old.zones[2:])
    added = type(z0)(**{**_fields(z1), "id": 9999, "name": "Brand New"})
    new_keypads = (type(k0)(**{**_fields(k0), "name": "New Keypad Name"}), *old.keypads[1:])
    new = type(old)(
        project=type(old.project)(**{**_fields(old.project), "export_time": "18:00:00"}),
        areas=old.areas,
        zones=(*new_zones, added),
        keypads=new_keypads,
    )
    diff = diff_designs(old, new)
    assert diff.zones_added == (Named(9999, "Brand New"),)
    assert diff.zones_removed == (Named(z1.id, z1.name),)
    assert diff.zones_renamed == (Renamed(z0.id, z0.name, "Renamed Zone"),)
    assert diff.keypads_renamed == (Renamed(k0.id, k0.name, "New Keypad Name"),)
    assert diff.keypads_added == diff.keypads_removed == ()
    assert (diff.old_revision, diff.new_revision) == ("05/16/2025,17:34:22", "05/16/2025,18:00:00")
    assert diff.summary() == "zones +1 -1 ~1, keypads +0 -0 ~1"
    assert not diff.empty and diff_designs(old, old).empty


def _fields(obj: object) -> dict[str, object]:
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}  # type: ignore[attr-defined]
