"""The three measurements we store and how each one's series are identified and rolled up."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from telegraf_lutron.db import INTERNAL_SCHEMA
from telegraf_lutron.metrics import measurement

COUNTER = "energy_joules_total"
WATTS = "watts"


@dataclass(frozen=True, slots=True)
class Level:
    """One measurement (raw table) and its rollups.

    A series is identified by `site` plus `key` (the zone or area id), not by the whole tag set:
    the plugin keeps one energy counter per zone id, so a renamed zone or area continues its
    counter and must continue its series. The other tags are `labels`, copied into the rollups
    from the newest row.
    """

    name: str  # "zone", "area", "system": prefix of the rollup tables, `level` in lutron.series
    measurement: str  # raw table, named like the measurement (Telegraf's rule)
    key: str | None  # tag that identifies the series within a site (None: one series per site)
    labels: tuple[str, ...]  # other tags, kept in rollups
    fields: tuple[str, ...]  # the fields the plugin writes now, alphabetical
    # A sample counts as "on" when the first of these fields that is not NULL is > 0. Areas and the
    # house count lights (`lights_on`); rows written before the kinds carry `zones_on` instead and
    # keep counting what they counted then (old numbers stay as recorded).
    on_fields: tuple[str, ...]
    # Columns of rows written by earlier versions: kept (history reads them), never written again.
    legacy_fields: tuple[str, ...] = ()

    @property
    def stored_fields(self) -> tuple[str, ...]:
        """Every field column of the raw table (today's and the legacy ones), alphabetical."""
        return tuple(sorted({*self.fields, *self.legacy_fields}))

    @property
    def tags(self) -> tuple[str, ...]:
        """All tag columns, alphabetical (Telegraf's column order)."""
        return tuple(sorted({"site", *((self.key,) if self.key else ()), *self.labels}))

    @property
    def columns(self) -> tuple[str, ...]:
        """Columns of the raw table in Telegraf's order: time, tags, fields (legacy ones included)."""
        return ("time", *self.tags, *self.stored_fields)

    @property
    def key_columns(self) -> tuple[str, ...]:
        """Series-identifying columns of the rollup tables (NOT NULL there)."""
        return ("site", self.key) if self.key else ("site",)

    @property
    def hourly(self) -> str:
        return f"{self.name}_hourly"

    @property
    def daily(self) -> str:
        return f"{self.name}_daily"

    def hourly_table(self) -> sql.Identifier:
        return sql.Identifier(INTERNAL_SCHEMA, self.hourly)

    def daily_table(self) -> sql.Identifier:
        return sql.Identifier(INTERNAL_SCHEMA, self.daily)

    def raw_table(self, schema: str) -> sql.Identifier:
        return sql.Identifier(schema, self.measurement)


def _level(
    name: str,
    measurement_name: str,
    key: str | None,
    on_fields: tuple[str, ...],
    legacy: tuple[str, ...] = (),
) -> Level:
    """A level whose tags and fields are the catalogue's (metrics.CATALOGUE)."""
    m = measurement(measurement_name)
    labels = tuple(sorted(set(m.tags) - {"site", key}))
    return Level(name, measurement_name, key, labels, tuple(sorted(m.field_names())), on_fields, legacy)


# A zone is "on" when its level is above 0, whatever its kind (a shade: open); its `kind` label
# says what that means. Areas and the house: lights on (before the kinds: zones on).
ZONE = _level("zone", "lutron_zone", "zone_id", ("level",))
AREA = _level("area", "lutron_area", "area_id", ("lights_on", "zones_on"), legacy=("zones_on",))
SYSTEM = _level("system", "lutron_power", None, ("lights_on", "zones_on"), legacy=("zones_on", "zones_total"))
LEVELS: tuple[Level, ...] = (ZONE, AREA, SYSTEM)
BY_NAME = {level.name: level for level in LEVELS}
MEASUREMENTS = tuple(level.measurement for level in LEVELS)

# The change rows (telegraf_lutron/changes.py, db/changes.py): Telegraf-shaped tables too, rolled up
# by `changes`, not by the snapshot engine of `rollups`.
ZONE_CHANGE = _level("zone_change", "lutron_zone_change", "zone_id", ("level",))
HOUSE = _level("house", "lutron_house", None, ("watts",))
EVENT = _level("event", "lutron_event", None, ("value",))
ZONE_INFO = _level("zone_info", "lutron_zone_info", "zone_id", ("rated_watts",))
AREA_CHANGE = _level("area_change", "lutron_area_change", "area_id", ("unoccupied_watts",))  # issue 16
CHANGE_LEVELS: tuple[Level, ...] = (ZONE_CHANGE, HOUSE, EVENT, ZONE_INFO, AREA_CHANGE)
CHANGE_MEASUREMENTS = tuple(level.measurement for level in CHANGE_LEVELS)
