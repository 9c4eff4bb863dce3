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
    fields: tuple[str, ...]  # all fields, alphabetical
    on_field: str  # a sample counts as "on" when this field is > 0

    @property
    def tags(self) -> tuple[str, ...]:
        """All tag columns, alphabetical (Telegraf's column order)."""
        return tuple(sorted({"site", *((self.key,) if self.key else ()), *self.labels}))

    @property
    def columns(self) -> tuple[str, ...]:
        """Columns in the order Telegraf writes them: time, tags, fields."""
        return ("time", *self.tags, *self.fields)

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


def _level(name: str, measurement_name: str, key: str | None, on_field: str) -> Level:
    """A level whose tags and fields are the catalogue's (metrics.CATALOGUE)."""
    m = measurement(measurement_name)
    labels = tuple(sorted(set(m.tags) - {"site", key}))
    return Level(name, measurement_name, key, labels, tuple(sorted(m.field_names())), on_field)


ZONE = _level("zone", "lutron_zone", "zone_id", "level")
AREA = _level("area", "lutron_area", "area_id", "zones_on")
SYSTEM = _level("system", "lutron_power", None, "zones_on")
LEVELS: tuple[Level, ...] = (ZONE, AREA, SYSTEM)
BY_NAME = {level.name: level for level in LEVELS}
MEASUREMENTS = tuple(level.measurement for level in LEVELS)
