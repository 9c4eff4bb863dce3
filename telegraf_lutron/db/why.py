"""What the UI's Why page reads: why the energy was spent, from the exact rollups of the change rows
(`db/changes.py`): energy by cause, the keypad buttons and time clock events behind it, energy in
empty rooms per area, and lights left on overnight.

`WhyStore` is a `HistoryStore` (same pool, settings and error translation) with these queries. Ranges
are half-open `[start, end)` and every bucket that overlaps the range counts whole (`_bucket`): a
range from the start of a local month longer than `HOURLY_LIMIT` reads the monthly rollups by cause,
one from a local midnight the daily ones, any other the hourly ones up to `HOURLY_LIMIT` and daily
ones beyond. The page's ranges end now, and no rollup holds energy after its newest row, so for
them a bucket that holds `end` counts exactly what the hours up to `end` hold. A figure carries the zones behind it, as (site, zone_id)
pairs, so the page can link to them. Change rollups are brought up to date by the writers (every
COPY), so readers run nothing (the UI role may not).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from psycopg import sql

from telegraf_lutron.db import INTERNAL_SCHEMA
from telegraf_lutron.db import changes as ch
from telegraf_lutron.db import fragments as frag
from telegraf_lutron.db.queries import HistoryStore

HOURLY_LIMIT = timedelta(days=62)  # hourly rollups up to here, then whole local days
J_PER_KWH = 3_600_000.0
LIGHT = "light"

ZoneKey = tuple[str, str]  # (site, zone_id)


def _kwh(joules: float | None) -> float:
    return (joules or 0.0) / J_PER_KWH


def _keys(pairs: list[list[str]] | None) -> list[ZoneKey]:
    return sorted((str(site), str(zone_id)) for site, zone_id in (pairs or []))


@dataclass(slots=True)
class CauseEnergy:
    cause: str
    energy_kwh: float
    on_hours: float  # zone-hours on while this cause held the level
    zones: list[ZoneKey] = field(default_factory=list)  # the zones that drew energy by this cause


@dataclass(slots=True)
class SourceEnergy:
    """A keypad button (cause keypad) or time clock event (cause timeclock) and the energy drawn by
    the levels it set; ids as the plugin wrote them ('' where the rows say nothing)."""

    cause: str
    site: str
    keypad_id: str
    component: str
    timeclock_id: str
    timeclock_event: str
    energy_kwh: float
    zones: list[ZoneKey] = field(default_factory=list)


@dataclass(slots=True)
class EmptyRoomEnergy:
    """Energy of an area's lights while its occupancy sensors said unoccupied."""

    site: str
    area_id: str
    area: str | None  # the newest name lutron_zone_info has for it
    energy_kwh: float
    lit_hours: float  # hours with lights on while unoccupied
    max_watts: float | None
    zones: list[ZoneKey] = field(default_factory=list)  # the area's lights


@dataclass(slots=True)
class OvernightLight:
    """A light on during the overnight hours: on how many nights, for how long in all and at most."""

    site: str
    zone_id: str
    nights: int
    on_hours: float
    longest_hours: float  # the longest of those nights
    energy_kwh: float  # drawn in the overnight hours


def _zone_info() -> sql.Composed:
    """The newest names and kind of every zone (lutron.zone_names, kept from lutron_zone_info)."""
    return sql.SQL("SELECT i.site, i.zone_id, i.area_id, i.area, i.kind FROM {} i").format(
        sql.Identifier(INTERNAL_SCHEMA, ch.NAMES)
    )


def bucket_for(start: datetime, end: datetime, tz: str, *, monthly: bool) -> str:
    """The rollups [start, end) reads: "hour", "day" or "month" (`monthly`: the figure has monthly
    rollups); see the module docstring."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    if end <= start:
        raise ValueError("end must be after start")
    local = start.astimezone(ZoneInfo(tz))
    midnight = local.time() == time(0)
    if monthly and midnight and local.day == 1 and end - start > HOURLY_LIMIT:
        return "month"
    return "day" if midnight or end - start > HOURLY_LIMIT else "hour"


class WhyStore(HistoryStore):
    """The Why page's queries (see the module docstring)."""

    def _buckets(
        self, start: datetime, end: datetime, hourly: str, daily: str, monthly: str | None = None
    ) -> tuple[sql.Composed, sql.Composed]:
        """(table, WHERE clause) of the buckets overlapping [%(start)s, %(end)s)."""
        bucket = bucket_for(start, end, self.settings().tz, monthly=monthly is not None)
        start_, end_, tz = sql.Placeholder("start"), sql.Placeholder("end"), sql.Placeholder("tz")
        if bucket == "hour":
            return sql.SQL("{}").format(sql.Identifier(INTERNAL_SCHEMA, hourly)), frag.hours_overlapping(
                "b", start_, end_
            )
        if bucket == "month" and monthly is not None:
            return sql.SQL("{}").format(sql.Identifier(INTERNAL_SCHEMA, monthly)), frag.months_overlapping(
                "b", start_, end_, tz
            )
        return sql.SQL("{}").format(sql.Identifier(INTERNAL_SCHEMA, daily)), frag.days_overlapping(
            "b", start_, end_, tz
        )

    def _params(self, start: datetime, end: datetime, **extra: Any) -> dict[str, Any]:
        return {"start": start, "end": end, "tz": self.settings().tz, **extra}

    def energy_by_cause(self, start: datetime, end: datetime) -> list[CauseEnergy]:
        """Energy per cause over the range, most first (causes without energy left out)."""
        table, where = self._buckets(start, end, ch.CAUSE_HOURLY, ch.CAUSE_DAILY, ch.CAUSE_MONTHLY)
        # Per zone first, then per cause: a hash aggregate, not a sort of every bucket's zone.
        query = sql.SQL(
            """
            WITH z AS (
                SELECT b.cause, b.site, b.zone_id, sum(b.energy_joules) AS e, sum(b.on_seconds) AS o
                FROM {table} b
                WHERE {where}
                GROUP BY b.cause, b.site, b.zone_id
            )
            SELECT z.cause, sum(z.e) AS energy_joules, sum(z.o) AS on_seconds,
                   array_agg(ARRAY[z.site, z.zone_id]) FILTER (WHERE z.e > 0) AS zones
            FROM z
            GROUP BY z.cause
            HAVING sum(z.e) > 0
            ORDER BY 2 DESC, 1
            """
        ).format(table=table, where=where)
        return [
            CauseEnergy(
                r["cause"], _kwh(r["energy_joules"]), (r["on_seconds"] or 0.0) / 3600, _keys(r["zones"])
            )
            for r in self._fetch(query, self._params(start, end))
        ]

    def sources(self, start: datetime, end: datetime, *, limit: int = 10) -> list[SourceEnergy]:
        """The keypad buttons and time clock events behind the most energy over the range."""
        table, where = self._buckets(start, end, ch.CAUSE_HOURLY, ch.CAUSE_DAILY, ch.CAUSE_MONTHLY)
        query = sql.SQL(
            """
            WITH z AS (
                SELECT b.cause, b.site, b.keypad_id, b.component, b.timeclock_id, b.timeclock_event, b.zone_id,
                       sum(b.energy_joules) AS e
                FROM {table} b
                WHERE {where}
                  AND ((b.cause = 'keypad' AND b.keypad_id <> '')
                       OR (b.cause = 'timeclock' AND (b.timeclock_id <> '' OR b.timeclock_event <> '')))
                GROUP BY 1, 2, 3, 4, 5, 6, 7
            )
            SELECT z.cause, z.site, z.keypad_id, z.component, z.timeclock_id, z.timeclock_event,
                   sum(z.e) AS energy_joules,
                   array_agg(ARRAY[z.site, z.zone_id]) FILTER (WHERE z.e > 0) AS zones
            FROM z
            GROUP BY 1, 2, 3, 4, 5, 6
            HAVING sum(z.e) > 0
            ORDER BY 7 DESC, 1, 2, 3, 4, 5, 6
            LIMIT %(limit)s
            """
        ).format(table=table, where=where)
        return [
            SourceEnergy(
                cause=r["cause"],
                site=r["site"],
                keypad_id=r["keypad_id"],
                component=r["component"],
                timeclock_id=r["timeclock_id"],
                timeclock_event=r["timeclock_event"],
                energy_kwh=_kwh(r["energy_joules"]),
                zones=_keys(r["zones"]),
            )
            for r in self._fetch(query, self._params(start, end, limit=limit))
        ]

    def empty_rooms(self, start: datetime, end: datetime) -> list[EmptyRoomEnergy]:
        """Energy of lights in unoccupied areas over the range, per area, most first."""
        table, where = self._buckets(start, end, ch.UNOCCUPIED_HOURLY, ch.UNOCCUPIED_DAILY)
        query = sql.SQL(
            """
            WITH info AS ({info}),
            areas AS (
                SELECT b.site, b.area_id, sum(b.energy_joules) AS energy_joules,
                       sum(b.lit_seconds) AS lit_seconds, max(b.watts_max) AS watts_max
                FROM {table} b
                WHERE {where}
                GROUP BY b.site, b.area_id
                HAVING sum(b.energy_joules) > 0 OR sum(b.lit_seconds) > 0
            )
            SELECT a.site, a.area_id, a.energy_joules, a.lit_seconds, a.watts_max,
                   (SELECT i.area FROM info i WHERE i.site = a.site AND i.area_id = a.area_id
                    ORDER BY i.zone_id LIMIT 1) AS area,
                   (SELECT array_agg(ARRAY[i.site, i.zone_id]) FROM info i
                    WHERE i.site = a.site AND i.area_id = a.area_id AND coalesce(i.kind, %(light)s) = %(light)s
                   ) AS zones
            FROM areas a
            ORDER BY a.energy_joules DESC, a.site, a.area_id
            """
        ).format(info=_zone_info(), table=table, where=where)
        return [
            EmptyRoomEnergy(
                site=r["site"],
                area_id=r["area_id"],
                area=r["area"],
                energy_kwh=_kwh(r["energy_joules"]),
                lit_hours=(r["lit_seconds"] or 0.0) / 3600,
                max_watts=r["watts_max"],
                zones=_keys(r["zones"]),
            )
            for r in self._fetch(query, self._params(start, end, light=LIGHT))
        ]

    def overnight(
        self, start: datetime, end: datetime, night_start: int, night_end: int, *, limit: int = 20
    ) -> list[OvernightLight]:
        """Lights (kind light, or zones of unknown kind) on during the overnight hours, local
        `night_start`:00 to `night_end`:00 (across midnight when the start is later), in the
        hours of the range: per zone, on how many nights, how long in all and on the longest
        night. A night is named by the date it ends. Always from the hourly rollups."""
        for h in (night_start, night_end):
            if not 0 <= h <= 23:
                raise ValueError("night_start and night_end are hours of the day, 0 to 23")
        if night_start == night_end:
            raise ValueError("night_start and night_end must differ")
        if start.tzinfo is None or end.tzinfo is None or end <= start:
            raise ValueError("start and end must be timezone-aware, end after start")
        in_night = (
            "n.local_hour >= %(ns)s AND n.local_hour < %(ne)s"
            if night_start < night_end
            else "(n.local_hour >= %(ns)s OR n.local_hour < %(ne)s)"
        )
        # The overnight hours of the range first (a few per day), then their buckets: the time zone
        # conversion runs once per hour of the range, not once per zone and hour.
        query = sql.SQL(
            """
            WITH info AS ({info}),
            hours AS MATERIALIZED (
                SELECT n.hour,
                       CASE WHEN %(ns)s > %(ne)s AND n.local_hour >= %(ns)s THEN n.local_day + 1
                            ELSE n.local_day END AS night
                FROM (
                    SELECT g.hour, extract(hour FROM g.hour AT TIME ZONE %(tz)s)::int AS local_hour,
                           (g.hour AT TIME ZONE %(tz)s)::date AS local_day
                    FROM generate_series(
                        date_trunc('hour', %(start)s::timestamptz AT TIME ZONE %(tz)s) AT TIME ZONE %(tz)s,
                        %(end)s::timestamptz - interval '1 microsecond', interval '1 hour') AS g(hour)
                ) n
                WHERE {in_night}
            ),
            nights AS (
                SELECT b.site, b.zone_id, h.night, sum(b.on_seconds) AS on_seconds,
                       sum(b.energy_joules) AS energy_joules
                FROM hours h
                JOIN {table} b ON b.hour = h.hour
                WHERE b.on_seconds > 0 AND {where}
                GROUP BY 1, 2, 3
            )
            SELECT n.site, n.zone_id, count(*) AS nights, sum(n.on_seconds) AS on_seconds,
                   max(n.on_seconds) AS longest, sum(n.energy_joules) AS energy_joules
            FROM nights n
            LEFT JOIN info i ON i.site = n.site AND i.zone_id = n.zone_id
            WHERE coalesce(i.kind, %(light)s) = %(light)s
            GROUP BY n.site, n.zone_id
            ORDER BY 4 DESC, 1, 2
            LIMIT %(limit)s
            """
        ).format(
            info=_zone_info(),
            table=sql.Identifier(INTERNAL_SCHEMA, ch.ZONE_HOURLY),
            where=frag.hours_overlapping("b", sql.Placeholder("start"), sql.Placeholder("end")),
            in_night=sql.SQL(in_night),
        )
        params = self._params(start, end, ns=night_start, ne=night_end, light=LIGHT, limit=limit)
        return [
            OvernightLight(
                site=r["site"],
                zone_id=r["zone_id"],
                nights=int(r["nights"]),
                on_hours=(r["on_seconds"] or 0.0) / 3600,
                longest_hours=(r["longest"] or 0.0) / 3600,
                energy_kwh=_kwh(r["energy_joules"]),
            )
            for r in self._fetch(query, params)
        ]
