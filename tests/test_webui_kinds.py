"""The web UI's view of kinds and wattage (no database, no browser): what the plugin reports, with the
owner's `[[zone]]` entries applied, wins over the design, and only kinds that draw power lack one."""

from __future__ import annotations

import pandas as pd

from telegraf_lutron.design import Area, Design, Project, Zone, is_dimmable
from telegraf_lutron.webui import data

ROOM = Area(10, 10, "Kitchen", None, ("Kitchen",), "")


def zone(zid: int, otype: str, watts: float) -> Zone:
    return Zone(zid, f"Zone {zid}", 10, "Kitchen", "", otype, watts, is_dimmable(otype))


DESIGN = Design(
    Project("Test"),
    areas=(ROOM,),
    zones=(
        zone(1, "ELV", 0.0),  # no wattage in the design
        zone(2, "SYSTEM_SHADE", 0.0),  # a shade needs none
        zone(3, "CCO_MAINTAINED", 0.0),  # a contact, until the owner makes it a load
        zone(4, "CEILING_FAN_TYPE", 0.0),
        zone(5, "INC", 100.0),
    ),
)


def reported(*rows: tuple[str, str | None, float | None]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"site": "home", "id": i, "name": f"Zone {i}", "area": "Kitchen", "kind": k, "rated_watts": w}
            for i, k, w in rows
        ]
    )


def missing(frame: pd.DataFrame) -> list[str]:
    return sorted(frame[frame["draws_power"] & (frame["rated_watts"].fillna(0) <= 0)]["zone_id"])


def test_from_the_design_only_lights_fans_and_loads_lack_wattage() -> None:
    zones = data.effective_zones(DESIGN)
    assert dict(zip(zones["zone_id"], zones["kind"], strict=True)) == {
        "1": "light",
        "2": "shade",
        "3": "contact",
        "4": "fan",
        "5": "light",
    }
    assert missing(zones) == ["1", "4"]


def test_what_the_plugin_reports_wins_over_the_design() -> None:
    # The owner gave zone 1 and the fan watts and made the contact a 1500 W load; an old row
    # (before the kinds: no kind) says nothing about zone 5.
    rows = reported(("1", "light", 60.0), ("3", "load", 1500.0), ("4", "fan", 0.0), ("5", None, None))
    zones = data.effective_zones(DESIGN, rows).set_index("zone_id")
    assert zones.loc["3", "kind"] == "load" and bool(zones.loc["3", "draws_power"])
    assert zones.loc["1", "rated_watts"] == 60.0 and zones.loc["5", "rated_watts"] == 100.0
    assert missing(zones.reset_index()) == ["4"]


def test_without_a_design_the_reported_zones_are_used() -> None:
    zones = data.effective_zones(None, reported(("7", "shade", 0.0), ("8", "light", 0.0)))
    assert missing(zones) == ["8"]
