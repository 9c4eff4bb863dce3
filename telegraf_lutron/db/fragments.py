"""SQL fragments the rollup engine (`rollups`), the UI queries (`queries`) and `prune` share, each
written once.

Every function returns a `psycopg.sql.Composable`; relation aliases are passed in by name and the
values to compare with are Composables too, so one fragment serves a query's named placeholders
(`sql.Placeholder("start")`) and a PL/pgSQL function's variables (`sql.SQL("v_tz")`) alike.

A series (see `levels.Level`) is `site` plus the level's key tag. Telegraf leaves a missing tag NULL,
so raw rows are matched on `coalesce(tag, '')`, the expressions of the per-series index `db init`
creates on every raw table; the rollup tables, lutron.series and the stage store '' instead of NULL.
"""

from __future__ import annotations

import re

from psycopg import sql

from telegraf_lutron.db.levels import Level

Identifier = sql.Identifier
_ALIAS = re.compile(r"[a-z_][a-z0-9_]*")


def column(alias: str | None, name: str) -> sql.Composed:
    """`alias."name"` (`"name"` without an alias). Aliases are the SQL's own lower-case names and
    stay unquoted, so the rendered SQL reads like hand-written SQL; column names are quoted."""
    if alias is None:
        return sql.Composed([Identifier(name)])
    if not _ALIAS.fullmatch(alias):
        raise ValueError(f"not a plain alias: {alias!r}")
    return sql.SQL("{}.{}").format(sql.SQL(alias), Identifier(name))


def _tag_key(alias: str | None, tag: str) -> sql.Composed:
    return sql.SQL("coalesce({}, '')").format(column(alias, tag))


def raw_site(alias: str | None) -> sql.Composed:
    """The site of a raw row, as the series index has it (`alias` None: unqualified, as in the
    index definition itself)."""
    return _tag_key(alias, "site")


def raw_series(level: Level, alias: str | None) -> sql.Composable:
    """The series id (zone or area id; '' for the system) of a raw row, as the series index has it."""
    return sql.SQL("''::text") if level.key is None else _tag_key(alias, level.key)


def raw_series_index_key(level: Level) -> sql.Composed:
    """The per-series index's key columns before "time": coalesce(site, ''), coalesce(<key>, '')."""
    parts: list[sql.Composable] = [raw_site(None)]
    if level.key is not None:
        parts.append(raw_series(level, None))
    return sql.SQL(", ").join(parts)


def raw_series_is(level: Level, raw_alias: str, site: sql.Composable, series: sql.Composable) -> sql.Composed:
    """Raw rows of one series (`site`, `series`): uses the per-series index."""
    parts = [sql.SQL("{} = {}").format(raw_site(raw_alias), site)]
    if level.key is not None:
        parts.append(sql.SQL("{} = {}").format(raw_series(level, raw_alias), series))
    return sql.SQL(" AND ").join(parts)


def raw_matches(level: Level, raw_alias: str, key_alias: str) -> sql.Composed:
    """Raw rows of the series named by the `site` and `series` columns of `key_alias`."""
    return raw_series_is(level, raw_alias, column(key_alias, "site"), column(key_alias, "series"))


def raw_newest_first(level: Level, alias: str) -> sql.Composed:
    """ORDER BY the whole series index key, newest first, so the planner walks the index backwards."""
    parts = [sql.SQL("{} DESC").format(raw_site(alias))]
    if level.key is not None:
        parts.append(sql.SQL("{} DESC").format(raw_series(level, alias)))
    parts.append(sql.SQL("{} DESC").format(column(alias, "time")))
    return sql.SQL(", ").join(parts)


def rollup_series(level: Level, alias: str) -> sql.Composable:
    """The series id of a rollup row, as text ('' for the system, which has no key column)."""
    return sql.SQL("''::text") if level.key is None else column(alias, level.key)


def rollup_matches(level: Level, rollup_alias: str, key_alias: str) -> sql.Composed:
    """Rollup rows of the series named by the `site` and `series` columns of `key_alias` (the
    rollup tables' primary key starts with these)."""
    parts = [sql.SQL("{} = {}").format(column(rollup_alias, "site"), column(key_alias, "site"))]
    if level.key is not None:
        parts.append(sql.SQL("{} = {}").format(column(rollup_alias, level.key), column(key_alias, "series")))
    return sql.SQL(" AND ").join(parts)


def hours_overlapping(alias: str, start: sql.Composable, end: sql.Composable) -> sql.Composed:
    """Hourly buckets (`alias.hour`, the start of a local clock hour) that overlap [start, end)."""
    return sql.SQL("{hour} > {start} - interval '1 hour' AND {hour} < {end}").format(
        hour=column(alias, "hour"), start=start, end=end
    )


def local_day(instant: sql.Composable, tz: sql.Composable) -> sql.Composed:
    """The local date of a timestamptz in time zone `tz`."""
    return sql.SQL("({} AT TIME ZONE {})::date").format(instant, tz)


def days_overlapping(
    alias: str, start: sql.Composable, end: sql.Composable, tz: sql.Composable, *, whole_months: bool = False
) -> sql.Composed:
    """Daily buckets (`alias.day`, a local date in `tz`) that overlap [start, end); with
    `whole_months`, from the first day of the month `start` falls in."""
    first = local_day(start, tz)
    if whole_months:
        first = sql.SQL("date_trunc('month', {})::date").format(first)
    last = local_day(sql.SQL("({} - interval '1 microsecond')").format(end), tz)
    day = column(alias, "day")
    return sql.SQL("{day} >= {first} AND {day} <= {last}").format(day=day, first=first, last=last)


def months_overlapping(
    alias: str, start: sql.Composable, end: sql.Composable, tz: sql.Composable
) -> sql.Composed:
    """Monthly buckets (`alias.month`, the first day of a local month in `tz`) that overlap [start, end)."""
    first = sql.SQL("date_trunc('month', {})::date").format(local_day(start, tz))
    last = sql.SQL("date_trunc('month', {})::date").format(
        local_day(sql.SQL("({} - interval '1 microsecond')").format(end), tz)
    )
    month = column(alias, "month")
    return sql.SQL("{month} >= {first} AND {month} <= {last}").format(month=month, first=first, last=last)


def day_start(day: sql.Composable, tz: sql.Composable) -> sql.Composed:
    """The instant local date `day` begins in time zone `tz`."""
    return sql.SQL("{}::timestamp AT TIME ZONE {}").format(day, tz)


def newest(value: sql.Composable, order: sql.Composable) -> sql.Composed:
    """An aggregate: `value` of the row with the greatest `order` (the newest name of a series)."""
    return sql.SQL("(array_agg({} ORDER BY {} DESC))[1]").format(value, order)
