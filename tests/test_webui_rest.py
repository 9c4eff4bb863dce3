"""The rest of the house in the web UI: the Now page's "open and active now" and the Design page's
live state beside each item and time clock events, from the plugin's live.json."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_fixtures import UiSetup, app_test

from telegraf_lutron import protocol as p
from telegraf_lutron.config import SysvarConfig
from telegraf_lutron.design import Design
from telegraf_lutron.live import LIVE_FILE, live_document, read_live, write_live
from telegraf_lutron.simulator.designgen import GeneratorParams, generate_design
from telegraf_lutron.state import HouseState
from telegraf_lutron.webui import rest

pytest_plugins = ["ui_fixtures"]

SYSVARS = (SysvarConfig(5, "Away", ("Home", "Away", "Night")),)


def lived_in(design: Design) -> HouseState:
    """The house with a door closed, a sensor occupied, an event disabled and run, a shade open,
    the away variable set and a low battery."""
    state = HouseState(design)
    state.rest.set_sysvars([5])
    contact = next(i for i in design.inputs if i.kind == "contact")
    motion = next(i for i in design.inputs if i.kind == "motion")
    clock = design.timeclocks[0]
    lines = [
        f"~DEVICE,{contact.device},{contact.component},3",
        f"~DEVICE,{motion.device},{motion.component},3",
        f"~TIMECLOCK,{clock.id},1,2",
        f"~TIMECLOCK,{clock.id},6,2,2",
        f"~TIMECLOCK,{clock.id},6,1,1",
        f"~TIMECLOCK,{clock.id},5,3",
        "~SYSVAR,5,1,2",
        *(f"~SHADEGRP,{g.id},1,40.00" for g in design.shade_groups[:1]),
        *(f"~DEVICE,{k.id},1,22,0,1,3,0" for k in design.battery_devices[:1]),
    ]
    for event in p.LineParser().feed("".join(f"{line}\r\n" for line in lines).encode()):
        state.apply(event, 1.0, time.time())
    return state


def document(design: Design) -> dict[str, Any]:
    processor = {"host": "h", "up": True, "clock_offset_seconds": 420.0, "firmware": "15.2.0"}
    return live_document(
        lived_in(design), SYSVARS, processor, site="home", written_at=time.time(), current=True
    )


def test_the_live_document_round_trips_and_builds_the_tables(tmp_path: Path) -> None:
    design = generate_design(GeneratorParams(seed=5))
    write_live(tmp_path, document(design))
    doc = read_live(tmp_path)
    assert doc is not None and doc["current"] is True
    inputs = rest.inputs_frame(doc, "Europe/Berlin")
    assert len(inputs) == len(design.inputs)
    assert list(inputs["State"][:2]) == ["closed", "occupied"] or list(inputs["State"][:2]) == [
        "occupied",
        "closed",
    ]
    assert set(inputs["State"][2:]) == {"unknown"}
    active = rest.active_now(doc)
    assert {"shade group", "system variable", "time clock", "battery"} <= set(active["What"])
    assert (
        "Away" in set(active["State"])
        and "mode: Away" in set(active["State"])
        and "low" in set(active["State"])
    )
    events = rest.timeclock_events(doc["timeclocks"][0])
    assert list(events["Enabled"][:2]) == ["enabled", "disabled"] and list(events["Last run"]) == [
        "",
        "",
        "yes",
        "",
    ]
    assert list(events["When"][:2]) == ["sun +0 min", "01:00:00"]
    assert rest.clock_offset(doc) == "7 min ahead"
    (tmp_path / LIVE_FILE).write_text("{not json")
    assert read_live(tmp_path) is None


def table(at: Any, column: str) -> Any:
    """The first dataframe on the page that has `column`."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


@pytest.fixture
def with_live(ui_setup: UiSetup) -> Iterator[dict[str, Any]]:
    doc = document(ui_setup.design)
    write_live(ui_setup.cache_dir, doc)
    yield doc
    (ui_setup.cache_dir / LIVE_FILE).unlink()


@pytest.mark.db
def test_now_shows_what_is_open_or_active(
    ui_setup: UiSetup, ui_environ: pytest.MonkeyPatch, with_live: dict[str, Any]
) -> None:
    at = app_test(ui_setup.env, ui_environ, "now")
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    contacts = sum(1 for i in ui_setup.design.inputs if i.kind == "contact")
    sensors = sum(1 for i in ui_setup.design.inputs if i.kind == "motion")
    assert metrics["Contacts closed"] == f"1 of {contacts}"
    assert metrics["Sensors occupied"] == f"1 of {sensors}"
    assert metrics["Processor clock"] == "7 min ahead"
    inputs = table(at, "Input")
    assert list(inputs["State"][:2]) in (["closed", "occupied"], ["occupied", "closed"])
    assert "Away" in set(table(at, "What")["State"])


@pytest.mark.db
def test_design_shows_live_state_beside_items_and_time_clock_events(
    ui_setup: UiSetup, ui_environ: pytest.MonkeyPatch, with_live: dict[str, Any]
) -> None:
    at = app_test(ui_setup.env, ui_environ, "design")
    assert not at.exception, [e.value for e in at.exception]
    text = "\n".join(m.value for m in at.markdown).replace("\u00a0", " ")
    assert "contact: **closed**" in text and "motion: **occupied**" in text
    if ui_setup.design.shade_groups:
        assert "40 % open" in text
    clock = ui_setup.design.timeclocks[0]
    events = table(at, "Event")  # the first time clock's
    assert list(events["Event"]) == [e.name for e in clock.events]
    assert list(events["Enabled"][:2]) == ["enabled", "disabled"]
    sysvars = table(at, "Variable")
    assert list(sysvars["State"]) == ["Away"]
