"""The Why page's small functions (webui/why_data.py): links to the Zones page, names from the design
or ids, and the tables it shows; its ranges and the rollups each reads. No database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from telegraf_lutron.db.why import (
    HOURLY_LIMIT,
    CauseEnergy,
    EmptyRoomEnergy,
    OvernightLight,
    SourceEnergy,
    bucket_for,
)
from telegraf_lutron.simulator.designgen import GeneratorParams, generate
from telegraf_lutron.webui import common, why_data

DESIGN = generate(GeneratorParams(seed=5, floors=1, rooms_per_floor=2, zones_per_room=2, keypads_per_room=1))[
    0
]


def source(cause: str, **ids: str) -> SourceEnergy:
    base = {"keypad_id": "", "component": "", "timeclock_id": "", "timeclock_event": ""}
    return SourceEnergy(cause, "home", **(base | ids), energy_kwh=1.0, zones=[("home", "1")])


@pytest.mark.parametrize(
    "zones",
    [[("home", "12")], [("home", "1"), ("a/b site", "7"), ("über", "300")], []],
)
def test_zone_links_come_back_as_the_zones_they_name(zones: list[tuple[str, str]]) -> None:
    params = why_data.zone_params(zones)
    assert why_data.parse_zone_params(params[why_data.ZONE_PARAM]) == zones


def test_malformed_zone_parameters_are_left_out() -> None:
    assert why_data.parse_zone_params(["12", "home/", "home/7", ""]) == [("home", "7")]


def test_linked_zones_match_site_and_id_both() -> None:
    catalogue = pd.DataFrame({"site": ["a", "a", "b"], "zone_id": ["1", "2", "1"], "zone": ["x", "y", "z"]})
    got = why_data.linked_zones(catalogue, [("b", "1"), ("a", "2"), ("c", "1")])
    assert list(got["zone"]) == ["y", "z"]


def test_names_come_from_the_design_for_its_site_and_ids_elsewhere() -> None:
    keypad = next(k for k in DESIGN.keypads if k.buttons)
    button = keypad.buttons[0]
    zone = DESIGN.zones[0]
    names = why_data.names_for(DESIGN, ["home", "home"])
    assert names.source(source("keypad", keypad_id=str(keypad.id), component=str(button.component))) == (
        f"{keypad.name} · {button.name}"
    )
    assert names.zone("home", str(zone.id)) == f"{zone.name} ({zone.area})"
    area = DESIGN.areas[-1]
    assert names.area("home", str(area.key), "stored name") == area.name
    # Unknown ids, another site, or several sites: ids (and the name the history stored).
    assert names.source(source("keypad", keypad_id="9999", component="3")) == "keypad 9999 · button 3"
    assert names.zone("other", str(zone.id)) == f"zone {zone.id}"
    several = why_data.names_for(DESIGN, ["home", "cabin"])
    assert several.zone("home", str(zone.id)) == f"zone {zone.id}"
    assert several.area("home", "77", "Attic") == "Attic"
    assert several.area("home", "77") == "area 77"
    assert (
        several.source(source("timeclock", timeclock_id="5", timeclock_event="2")) == "time clock 5 · event 2"
    )


def test_time_clock_events_are_named_from_the_design() -> None:
    clocks = [c for c in DESIGN.timeclocks if c.events]
    if not clocks:
        pytest.fail("the generated design has no time clock events to name")
    clock = clocks[0]
    event = clock.events[-1]
    names = why_data.names_for(DESIGN, ["home"])
    assert names.source(
        source("timeclock", timeclock_id=str(clock.id), timeclock_event=str(event.number))
    ) == (f"{clock.name} · {event.name}")


def test_cause_table_shares_and_costs_follow_the_figures() -> None:
    rows = [
        CauseEnergy("timeclock", 3.0, 10.0, [("home", "1")]),
        CauseEnergy("keypad", 1.0, 2.0, [("home", "1"), ("home", "2")]),
        CauseEnergy("weird", 0.0, 0.0, []),
    ]
    table = why_data.cause_table(rows, 0.5)
    assert list(table["cause"]) == ["Time clock", "Keypads", "weird"]
    assert list(table["share"]) == pytest.approx([75.0, 25.0, 0.0])
    assert list(table["cost"]) == pytest.approx([1.5, 0.5, 0.0])
    assert list(table["zones"]) == [1, 2, 0]
    assert why_data.cause_table(rows, None)["cost"].isna().all()  # no tariff, no costs
    assert list(why_data.cause_table([], 0.3).columns) == list(table.columns)


def test_room_and_overnight_tables_name_what_they_list() -> None:
    area = DESIGN.areas[-1]
    zone = DESIGN.zones[0]
    names = why_data.names_for(DESIGN, ["home"])
    rooms = why_data.empty_room_table(
        [EmptyRoomEnergy("home", str(area.key), "old name", 2.0, 1.5, 120.0, [])], names, 0.25
    )
    assert rooms.iloc[0].to_dict() == {
        "area": area.name,
        "energy_kwh": 2.0,
        "cost": 0.5,
        "lit_hours": 1.5,
        "max_watts": 120.0,
    }
    nights = why_data.overnight_table([OvernightLight("home", str(zone.id), 3, 7.5, 4.0, 0.9)], names, None)
    assert nights.iloc[0]["zone"] == f"{zone.name} ({zone.area})"
    assert (nights.iloc[0]["nights"], nights.iloc[0]["longest_hours"]) == (3, 4.0)
    assert pd.isna(nights.iloc[0]["cost"])
    assert why_data.night_label((23, 6)) == "23:00–06:00"


def test_every_cause_the_protocol_names_has_a_label() -> None:
    from telegraf_lutron.protocol import CAUSE_NAMES

    assert list(why_data.CAUSE_LABELS) == list(CAUSE_NAMES)


# --- ranges and the rollups they read -----------------------------------------------------------------

BERLIN = "Europe/Berlin"


@pytest.mark.parametrize(
    ("now", "choice", "start"),
    [
        # 2024-03-31 is the spring DST change in Berlin (a 23-hour day).
        ("2024-04-02T10:17:00+00:00", "24 h", "2024-04-01T10:17:00+00:00"),
        ("2024-04-02T10:17:00+00:00", "7 d", "2024-03-27T00:00:00+01:00"),
        ("2024-04-02T10:17:00+00:00", "30 d", "2024-03-04T00:00:00+01:00"),
        ("2024-04-02T10:17:00+00:00", "1 y", "2023-05-01T00:00:00+02:00"),
        # Just after local midnight, which is still the day before in UTC.
        ("2024-01-31T23:30:00+00:00", "7 d", "2024-01-26T00:00:00+01:00"),
        ("2024-01-31T23:30:00+00:00", "1 y", "2023-03-01T00:00:00+01:00"),
    ],
)
def test_calendar_ranges_start_at_local_midnight_or_a_months_first_day(
    now: str, choice: str, start: str
) -> None:
    end = datetime.fromisoformat(now)
    got_start, got_end, described = common.calendar_range(choice, BERLIN, end)
    assert got_start == datetime.fromisoformat(start) and got_end == end and described
    with pytest.raises(ValueError, match="unknown range"):
        common.calendar_range("2 w", BERLIN, end)


def test_each_range_reads_the_coarsest_rollups_that_are_exact_for_it() -> None:
    now = datetime(2024, 4, 2, 10, 17, tzinfo=UTC)
    expected = {"24 h": "hour", "7 d": "day", "30 d": "day", "1 y": "month"}
    for choice, bucket in expected.items():
        start, end, _ = common.calendar_range(choice, BERLIN, now)
        assert bucket_for(start, end, BERLIN, monthly=True) == bucket, choice
    year, _, _ = common.calendar_range("1 y", BERLIN, now)
    assert bucket_for(year, now, BERLIN, monthly=False) == "day"  # no monthly rollups (empty rooms)
    # Not from a midnight: hours up to HOURLY_LIMIT, whole days beyond; a month's first day at
    # midnight in another zone is not one here.
    assert bucket_for(now - HOURLY_LIMIT, now, BERLIN, monthly=True) == "hour"
    assert bucket_for(now - HOURLY_LIMIT - timedelta(hours=1), now, BERLIN, monthly=True) == "day"
    assert bucket_for(datetime(2023, 5, 1, tzinfo=UTC), now, BERLIN, monthly=True) == "day"
    assert bucket_for(datetime(2023, 5, 1, tzinfo=UTC), now, "UTC", monthly=True) == "month"
    with pytest.raises(ValueError, match="timezone-aware"):
        bucket_for(datetime(2024, 1, 1), now, BERLIN, monthly=True)
    with pytest.raises(ValueError, match="after start"):
        bucket_for(now, now, BERLIN, monthly=True)


def test_a_range_from_a_day_whose_midnight_a_zone_skips_starts_at_its_first_instant() -> None:
    # Chile's clocks went from 2023-09-03 00:00 straight to 01:00.
    now = datetime(2023, 9, 9, 15, 0, tzinfo=UTC)
    start, _, _ = common.calendar_range("7 d", "America/Santiago", now)
    assert start == datetime.fromisoformat("2023-09-03T01:00:00-03:00")
