"""`db prune`: retention for raw rows, hourly and daily rollups, safe while Telegraf writes.

Defaults: raw rows 90 days, hourly rollups 2 years, daily rollups forever (the monthly rollups by
cause follow the daily retention in whole months).

Safety while Telegraf writes:
- Every DELETE is its own short transaction of at most `batch_rows` rows, so Telegraf's COPY
  (which only appends new rows) never waits behind a long delete, and vacuum can keep up.
- Raw rows are deleted per series through the series index (`lutron.series` lists every series),
  oldest first, so no sequential scan and no lock beyond the deleted rows.
- Rows the triggers staged but did not yet roll up are rolled up first (`rollups.flush`).
- Before deleting, the cut-off is recorded (`raw_pruned_before`, `hourly_pruned_before`); the
  rollup trigger never recomputes buckets older than that, because a late row would otherwise
  replace a complete bucket with one rebuilt from the few raw rows left. A brief
  SHARE ROW EXCLUSIVE lock after recording it waits out any COPY that started before and might
  still have read the old cut-off.
- Last, the per-series indexes of the change tables are rebuilt (`REINDEX ... CONCURRENTLY`,
  which lets Telegraf write meanwhile). Each zone's rows go to the end of that zone's part of
  the index, in the middle of the index, so its pages split half full as it grows: measured on
  14 days of a 200-zone house, the series index of lutron_zone_change took 7.5 MB as written
  against 4.8 MB rebuilt (bench/bench_store.py), about 70 MB a year. Rebuilt by each (weekly,
  say) `db prune`, it stays near its compact size.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from telegraf_lutron.db import INTERNAL_SCHEMA
from telegraf_lutron.db import changes as ch
from telegraf_lutron.db.fragments import raw_matches
from telegraf_lutron.db.levels import AREA_CHANGE, CHANGE_LEVELS, EVENT, HOUSE, LEVELS, ZONE_CHANGE, Level
from telegraf_lutron.db.rollups import flush
from telegraf_lutron.db.schema import measurement_indexes, read_settings, require_initialised, write_setting

DEFAULT_RAW = timedelta(days=90)
DEFAULT_HOURLY = timedelta(days=730)
DEFAULT_DAILY: timedelta | None = None  # forever
DEFAULT_BATCH = 20_000

_UNITS = {"h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
_FOREVER = ("forever", "never", "inf", "none")


def parse_retention(text: str) -> timedelta | None:
    """`90d`, `12w`, `2y`, `36h` (or a bare number of days); `forever` keeps everything (None)."""
    value = text.strip().lower()
    if value in _FOREVER:
        return None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([hdwy]?)", value)
    if not m:
        raise ValueError(f"invalid retention {text!r}: use e.g. 90d, 12w, 2y, 36h or forever")
    seconds = float(m.group(1)) * _UNITS[m.group(2) or "d"]
    if seconds <= 0:
        raise ValueError(f"invalid retention {text!r}: must be more than zero (or forever)")
    return timedelta(seconds=seconds)


@dataclass(frozen=True, slots=True)
class Retention:
    raw: timedelta | None = DEFAULT_RAW
    hourly: timedelta | None = DEFAULT_HOURLY
    daily: timedelta | None = DEFAULT_DAILY
    # Change rows (lutron_zone_change, lutron_house, lutron_event, lutron_area_change) are small: kept forever unless
    # the owner chooses otherwise. Their names (lutron_zone_info) are always kept.
    changes: timedelta | None = None


@dataclass(slots=True)
class PruneReport:
    now: datetime
    cutoffs: dict[str, datetime | None] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)  # table -> rows (or rows that would go)
    dry_run: bool = False
    reindexed: list[str] = field(default_factory=list)  # indexes rebuilt (or that would be)
    failed: dict[str, str] = field(default_factory=dict)  # index -> why it could not be rebuilt


def _series(cur: psycopg.Cursor[Any], level: Level) -> list[tuple[str, str]]:
    cur.execute(
        sql.SQL("SELECT site, series FROM {} WHERE level = %s ORDER BY site, series").format(
            sql.Identifier(INTERNAL_SCHEMA, "series")
        ),
        (level.name,),
    )
    return [(str(s), str(k)) for s, k in cur.fetchall()]


def _advance_watermark(
    conn: psycopg.Connection[Any], name: str, cutoff: datetime, tables: list[sql.Composable]
) -> None:
    with conn.transaction(), conn.cursor() as cur:
        settings = read_settings(cur)
        old = settings.get(name)
        if old is None or datetime.fromisoformat(old) < cutoff:
            write_setting(cur, name, cutoff.isoformat())
    # Wait for COPYs that may have read the old value (their transactions hold ROW EXCLUSIVE).
    with conn.transaction(), conn.cursor() as cur:
        for table in tables:
            cur.execute(sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(table))


def _prune_raw(
    conn: psycopg.Connection[Any],
    level: Level,
    raw_schema: str,
    cutoff: datetime,
    batch: int,
    dry_run: bool,
    progress: Callable[[str], None] | None,
) -> int:
    raw = level.raw_table(raw_schema)
    where = sql.SQL('{match} AND r."time" < %(cutoff)s').format(match=raw_matches(level, "r", "b"))
    # `b` is a one-row VALUES list so the same series predicate (and index) as the trigger applies.
    count_q = sql.SQL(
        "SELECT count(*) FROM {raw} r, (VALUES (%(site)s::text, %(series)s::text)) AS b(site, series) WHERE {where}"
    ).format(raw=raw, where=where)
    delete_q = sql.SQL(
        "DELETE FROM {raw} WHERE ctid = ANY(ARRAY("
        "SELECT r.ctid FROM {raw} r, (VALUES (%(site)s::text, %(series)s::text)) AS b(site, series)"
        ' WHERE {where} ORDER BY r."time" LIMIT %(batch)s))'
    ).format(raw=raw, where=where)
    total = 0
    with conn.cursor() as cur:
        series = _series(cur, level)
    for site, key in series:
        params = {"site": site, "series": key, "cutoff": cutoff, "batch": batch}
        while True:
            with conn.transaction(), conn.cursor() as cur:
                if dry_run:
                    cur.execute(count_q, params)
                    row = cur.fetchone()
                    n = int(row[0]) if row else 0
                else:
                    cur.execute(delete_q, params)
                    n = cur.rowcount
            total += n
            if dry_run or n < batch:
                break
    if progress:
        progress(f"{raw_schema}.{level.measurement}: {total} rows {'to delete' if dry_run else 'deleted'}")
    return total


def _prune_rollup(
    conn: psycopg.Connection[Any],
    table: sql.Composable,
    column: str,
    cutoff: Any,
    batch: int,
    dry_run: bool,
) -> int:
    total = 0
    col = sql.Identifier(column)
    while True:
        with conn.transaction(), conn.cursor() as cur:
            if dry_run:
                cur.execute(sql.SQL("SELECT count(*) FROM {} WHERE {} < %s").format(table, col), (cutoff,))
                row = cur.fetchone()
                return int(row[0]) if row else 0
            cur.execute(
                sql.SQL(
                    "DELETE FROM {t} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {t} WHERE {c} < %s LIMIT %s))"
                ).format(t=table, c=col),
                (cutoff, batch),
            )
            n = cur.rowcount
        total += n
        if n < batch:
            return total


def prune(
    conn: psycopg.Connection[Any],
    retention: Retention = Retention(),  # frozen, so a shared default is safe
    *,
    now: datetime | None = None,
    batch_rows: int = DEFAULT_BATCH,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
) -> PruneReport:
    """Delete what `retention` no longer keeps. `conn` must be in autocommit mode (each batch is
    its own transaction)."""
    if not conn.autocommit:
        raise ValueError("prune needs an autocommit connection: each batch commits on its own")
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    now = now or datetime.now(UTC)
    report = PruneReport(now=now, dry_run=dry_run)
    with conn.cursor() as cur:
        settings = require_initialised(cur)
    raw_schema = settings["raw_schema"]
    tz = settings.get("timezone", "UTC")
    # Roll up what the triggers staged first: its raw rows may be about to go, and its new series
    # must be in `lutron.series`, which the deletes (and a dry run's counts) go by. A dry run does
    # it too: it deletes nothing, and readers drain the stage anyway.
    with conn.cursor() as cur:
        for level in LEVELS:
            flush(cur, level)
        ch.rollup(cur)  # the change rows' queue too: a queued series may start before the cut-off

    if retention.changes is not None:
        cutoff = now - retention.changes
        report.cutoffs["changes"] = cutoff
        pruned = (ZONE_CHANGE, HOUSE, EVENT, AREA_CHANGE)
        tables: list[sql.Composable] = [lv.raw_table(raw_schema) for lv in pruned]
        if not dry_run:
            # The rollups never recompute an hour from before this (its rows are gone).
            _advance_watermark(conn, ch.PRUNED_SETTING, cutoff, tables)
        for level, table in zip(pruned, tables, strict=True):
            n = _prune_rollup(conn, table, "time", cutoff, batch_rows, dry_run)
            report.deleted[f"{raw_schema}.{level.measurement}"] = n
            if progress:
                progress(
                    f"{raw_schema}.{level.measurement}: {n} rows {'to delete' if dry_run else 'deleted'}"
                )
    else:
        report.cutoffs["changes"] = None

    if retention.raw is not None:
        cutoff = now - retention.raw
        report.cutoffs["raw"] = cutoff
        if not dry_run:
            _advance_watermark(conn, "raw_pruned_before", cutoff, [lv.raw_table(raw_schema) for lv in LEVELS])
        for level in LEVELS:
            report.deleted[f"{raw_schema}.{level.measurement}"] = _prune_raw(
                conn, level, raw_schema, cutoff, batch_rows, dry_run, progress
            )
    else:
        report.cutoffs["raw"] = None

    if retention.hourly is not None:
        cutoff = now - retention.hourly
        report.cutoffs["hourly"] = cutoff
        if not dry_run:
            _advance_watermark(
                conn, "hourly_pruned_before", cutoff, [lv.raw_table(raw_schema) for lv in LEVELS]
            )
        for name in (*(lv.hourly for lv in LEVELS), *ch.HOURLY_TABLES):
            n = _prune_rollup(
                conn, sql.Identifier(INTERNAL_SCHEMA, name), "hour", cutoff, batch_rows, dry_run
            )
            report.deleted[f"{INTERNAL_SCHEMA}.{name}"] = n
            if progress:
                progress(f"{INTERNAL_SCHEMA}.{name}: {n} rows {'to delete' if dry_run else 'deleted'}")
    else:
        report.cutoffs["hourly"] = None

    if retention.daily is not None:
        cutoff = now - retention.daily
        report.cutoffs["daily"] = cutoff
        with conn.cursor() as cur:
            # Whole local days only: a day goes once all of it is older than the cut-off.
            cur.execute("SELECT (%s::timestamptz AT TIME ZONE %s)::date", (cutoff, tz))
            row = cur.fetchone()
        first_kept = row[0] if row else None
        # Months (named by their first day) go with the daily retention, once all of them has gone.
        first_kept_month = first_kept.replace(day=1) if first_kept is not None else None
        for name, column, cut in (
            *((name, "day", first_kept) for name in (*(lv.daily for lv in LEVELS), *ch.DAILY_TABLES)),
            *((name, "month", first_kept_month) for name in ch.MONTHLY_TABLES),
        ):
            n = _prune_rollup(conn, sql.Identifier(INTERNAL_SCHEMA, name), column, cut, batch_rows, dry_run)
            report.deleted[f"{INTERNAL_SCHEMA}.{name}"] = n
            if progress:
                progress(f"{INTERNAL_SCHEMA}.{name}: {n} rows {'to delete' if dry_run else 'deleted'}")
    else:
        report.cutoffs["daily"] = None
    _reindex(conn, raw_schema, report, progress)
    return report


def _reindex(
    conn: psycopg.Connection[Any],
    raw_schema: str,
    report: PruneReport,
    progress: Callable[[str], None] | None,
) -> None:
    """Rebuild the change tables' per-series indexes (see the module docstring). A failure (a
    role that does not own the tables) is reported, not raised: the rows are pruned already."""
    for level in CHANGE_LEVELS:
        for name in measurement_indexes(level, raw_schema):
            if not name.endswith("_series_time_idx"):
                continue
            index = sql.Identifier(raw_schema, name)
            with conn.cursor() as cur:
                cur.execute("SELECT to_regclass(%s)", (index.as_string(cur),))
                row = cur.fetchone()
            if row is None or row[0] is None:
                continue
            qualified = f"{raw_schema}.{name}"
            if not report.dry_run:
                try:
                    conn.execute(sql.SQL("REINDEX INDEX CONCURRENTLY {}").format(index))
                except psycopg.Error as exc:
                    report.failed[qualified] = str(exc).strip().splitlines()[0]
                    if progress:
                        progress(f"{qualified}: not rebuilt: {report.failed[qualified]}")
                    continue
            report.reindexed.append(qualified)
            if progress:
                progress(f"{qualified}: {'to rebuild' if report.dry_run else 'rebuilt'}")
