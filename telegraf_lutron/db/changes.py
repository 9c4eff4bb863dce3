"""Exact hourly and daily rollups from change rows (`lutron_zone_change`, `lutron_house`).

The plugin writes a zone's row at each level change and at checkpoints (telegraf_lutron/changes.py):
its level, its watts from then on, and its energy counter at that instant. Power is constant between
two rows of a series, so the energy in any interval is known from the rows around it. Between rows
i and i+1 (a *segment*, from t0 to t1, watts w) the counter grows by `delta` (the counter's
difference; a counter that went down was reset, and its new value is the delta). Within the
segment the energy used by time t is `least(w x (t - t0), delta)`, and all of `delta` by t1:

- with no row lost, delta = w x (t1 - t0) and every hour gets exactly its share;
- when rows were lost (Telegraf's buffer overflowed), delta still comes from the counters, so the
  segment's total (and every day's, the house's) stays right: a lost "off" row (delta smaller than
  w x (t1 - t0)) puts the energy early in the segment, a lost "on" row (delta larger) puts the
  difference at t1. Only the hour-by-hour detail inside that segment is lost, and the next
  checkpoint (at most `checkpoint_interval` later for a zone that drew power) bounds it.

Buckets are local clock hours of the house's time zone (`lutron.settings`), keyed by the instant
they start (so the two 02:00 hours of an autumn DST change stay two buckets), and local days.
Only buckets with energy or on-time are stored (a zone off all day has no rows): a missing row
reads as 0. The open segment after a series' newest row is not rolled up yet: the next row
closes it (a checkpoint within 15 minutes for a zone that draws power).

The same segments give energy by cause (docs/protocol.md §11): every zone row carries the `cause` of
the level from that row on (and the keypad button or time clock event behind it, where known), so
a segment's energy belongs to the cause of the row that starts it (rows written before the `cause`
column existed read as `unknown`). The views `zone_cause_hourly` and `zone_cause_daily` hold every
zone's buckets by cause. Most buckets have one cause (a light switched on by one button and left
on): such a bucket keeps its cause on the zone's own rollup row (`zone_change_hourly.cause` and
the source columns), and only a bucket with several causes has rows in `zone_mixed_cause_hourly`
(`_daily`), one per cause; the views are the union of the two (migration 7: the hourly energy by
cause took 6.9 MB per 14 days of a 200-zone house, now 4.0 MB with the columns it adds to the zone
rows; bench/bench_store.py). `zone_cause_monthly` sums them per local month (every cause on
its own row), for ranges of a year: a day has several causes with their buttons and events, so a
year of days by cause is half a million rows, a year of months a tenth of that (migration 8). `lutron_area_change` rows carry the watts of an
area's lights counted as unoccupied and its unoccupied-energy counter: the same machinery rolls them up
per area (`area_unoccupied_hourly`), with the same guarantee: a lost row costs detail, never totals.

Maintenance: a statement trigger on each change table records, per series, the oldest time among
the rows a COPY brought (`lutron.change_dirty`), then `lutron.change_rollup()` recomputes that
series from the hour of the row before it (whose segment the new row ends) onwards; recomputing
is idempotent, so late rows, duplicates and rows written again all come out right. A failure
never fails Telegraf's COPY: it logs a WARNING and leaves the series dirty for the next run (any
COPY, `db prune`, `db rebuild`, or `SELECT lutron.change_rollup()` as the owner).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from telegraf_lutron.db import INTERNAL_SCHEMA
from telegraf_lutron.db.levels import AREA_CHANGE, HOUSE, ZONE_CHANGE, ZONE_INFO, Level
from telegraf_lutron.db.rollups import LOCK_CLASS

TRIGGER_NAME = "lutron_changes"
MARK_FUNCTION = "change_mark"
ROLLUP_FUNCTION = "change_rollup"
LOCK_KEY = 0x4348  # second advisory-lock key ("CH") under rollups.LOCK_CLASS
PRUNED_SETTING = "changes_pruned_before"  # lutron.settings: db prune removed change rows before this
GAP_SECONDS = 150  # lutron_house rows further apart than this: no data in between

I = sql.Identifier  # noqa: E741


def _q(name: str) -> sql.Identifier:
    return sql.Identifier(INTERNAL_SCHEMA, name)


ZONE_HOURLY, ZONE_DAILY = "zone_change_hourly", "zone_change_daily"
HOUSE_HOURLY, HOUSE_DAILY = "house_hourly", "house_daily"
# Energy by cause: views over the zone rollups' single-cause buckets and the mixed-cause tables
# (tables named zone_cause_* from migration 6 until migration 7 renamed them).
CAUSE_HOURLY, CAUSE_DAILY = "zone_cause_hourly", "zone_cause_daily"
MIXED_HOURLY, MIXED_DAILY = "zone_mixed_cause_hourly", "zone_mixed_cause_daily"
CAUSE_MONTHLY = "zone_cause_monthly"  # a table: every cause of a zone's local month
UNOCCUPIED_HOURLY, UNOCCUPIED_DAILY = "area_unoccupied_hourly", "area_unoccupied_daily"
DIRTY = "change_dirty"
HOURLY_TABLES = (ZONE_HOURLY, HOUSE_HOURLY, MIXED_HOURLY, UNOCCUPIED_HOURLY)
DAILY_TABLES = (ZONE_DAILY, HOUSE_DAILY, MIXED_DAILY, UNOCCUPIED_DAILY)
MONTHLY_TABLES = (CAUSE_MONTHLY,)
ROLLUP_TABLES = (*HOURLY_TABLES, *DAILY_TABLES, *MONTHLY_TABLES)
# What a cause rollup row is keyed by besides its zone and bucket: the cause and, where the rows
# say, the keypad button or time clock event behind it ('' where they say nothing).
CAUSE = "cause"
SOURCE_TAGS = ("keypad_id", "component", "timeclock_id", "timeclock_event")
UNKNOWN_CAUSE = "unknown"


def migration_statements() -> list[sql.Composed]:
    """The rollup tables of the change rows and the dirty-series queue (a schema migration)."""
    stats = "energy_joules double precision NOT NULL, on_seconds double precision NOT NULL, watts_max double precision"
    house = (
        "energy_joules double precision NOT NULL, watts_max double precision,"
        " covered_seconds double precision NOT NULL"
    )
    out = [
        sql.SQL(
            "CREATE TABLE {} (site text NOT NULL, zone_id text NOT NULL, hour timestamptz NOT NULL, day date NOT NULL, "
            + stats
            + ", PRIMARY KEY (site, zone_id, hour))"
        ).format(_q(ZONE_HOURLY)),
        sql.SQL("CREATE INDEX zone_change_hourly_hour_brin ON {} USING brin (hour)").format(_q(ZONE_HOURLY)),
        sql.SQL(
            "CREATE TABLE {} (site text NOT NULL, zone_id text NOT NULL, day date NOT NULL, "
            + stats
            + ", PRIMARY KEY (site, zone_id, day))"
        ).format(_q(ZONE_DAILY)),
        sql.SQL(
            "CREATE TABLE {} (site text NOT NULL, hour timestamptz NOT NULL, day date NOT NULL, "
            + house
            + ", PRIMARY KEY (site, hour))"
        ).format(_q(HOUSE_HOURLY)),
        sql.SQL(
            "CREATE TABLE {} (site text NOT NULL, day date NOT NULL, " + house + ", PRIMARY KEY (site, day))"
        ).format(_q(HOUSE_DAILY)),
        sql.SQL(
            "CREATE TABLE {} (series text NOT NULL, site text NOT NULL, id text NOT NULL,"
            " since timestamptz NOT NULL, PRIMARY KEY (series, site, id))"
        ).format(_q(DIRTY)),
    ]
    comments = {
        ZONE_HOURLY: "exact energy (J), on-time (s) and peak watts per zone and local hour, from lutron_zone_change;"
        " only hours with energy or on-time",
        ZONE_DAILY: "the zone_change_hourly rows per local day",
        HOUSE_HOURLY: "exact energy (J), peak watts and seconds with data per local hour, from lutron_house",
        HOUSE_DAILY: "the house_hourly rows per local day",
        DIRTY: "series whose change rows arrived since their last rollup, from which time",
    }
    out += [sql.SQL("COMMENT ON TABLE {} IS {}").format(_q(t), sql.Literal(c)) for t, c in comments.items()]
    return out


def cause_migration_statements() -> list[sql.Composed]:
    """The rollup tables of energy by cause per zone and of unoccupied energy per area (a schema
    migration). `db init` then queues every zone series, so rows already stored are rolled up.

    The cause tables have no primary key: the rollup writes each series' buckets afresh (under
    its advisory lock), so a key over the nine columns would only cost space (it was half of the
    table, measured on a week of a 200-zone house); a series index serves the rollup's deletes,
    an hour (day) index the Why page's ranges across all zones."""
    source = ", ".join(f"{c} text NOT NULL" for c in (CAUSE, *SOURCE_TAGS))
    cause_stats = "energy_joules double precision NOT NULL, on_seconds double precision NOT NULL"
    area_stats = "energy_joules double precision NOT NULL, lit_seconds double precision NOT NULL, watts_max double precision"
    out = [
        sql.SQL(
            "CREATE TABLE {} (site text NOT NULL, zone_id text NOT NULL, hour timestamptz NOT NULL,"
            " day date NOT NULL, " + source + ", " + cause_stats + ")"
        ).format(_q(CAUSE_HOURLY)),
        sql.SQL("CREATE INDEX zone_cause_hourly_series_idx ON {} (site, zone_id, hour)").format(
            _q(CAUSE_HOURLY)
        ),
        # The Why page reads hours across all zones; the rollups rewrite each series' rows, which
        # leaves a BRIN index on hour little to skip: a B-tree.
        sql.SQL("CREATE INDEX zone_cause_hourly_hour_idx ON {} (hour)").format(_q(CAUSE_HOURLY)),
        sql.SQL(
            "CREATE TABLE {} (site text NOT NULL, zone_id text NOT NULL, day date NOT NULL, "
            + source
            + ", "
            + cause_stats
            + ")"
        ).format(_q(CAUSE_DAILY)),
        sql.SQL("CREATE INDEX zone_cause_daily_series_idx ON {} (site, zone_id, day)").format(
            _q(CAUSE_DAILY)
        ),
        sql.SQL("CREATE INDEX zone_cause_daily_day_idx ON {} (day)").format(_q(CAUSE_DAILY)),
        sql.SQL(
            "CREATE TABLE {} (site text NOT NULL, area_id text NOT NULL, hour timestamptz NOT NULL,"
            " day date NOT NULL, " + area_stats + ", PRIMARY KEY (site, area_id, hour))"
        ).format(_q(UNOCCUPIED_HOURLY)),
        sql.SQL("CREATE INDEX area_unoccupied_hourly_hour_idx ON {} (hour)").format(_q(UNOCCUPIED_HOURLY)),
        sql.SQL(
            "CREATE TABLE {} (site text NOT NULL, area_id text NOT NULL, day date NOT NULL, "
            + area_stats
            + ", PRIMARY KEY (site, area_id, day))"
        ).format(_q(UNOCCUPIED_DAILY)),
    ]
    comments = {
        CAUSE_HOURLY: "exact energy (J) and on-time (s) per zone, local hour and cause of the level"
        " (with the keypad button or time clock event behind it, '' where unknown), from lutron_zone_change",
        CAUSE_DAILY: "the zone_cause_hourly rows per local day",
        UNOCCUPIED_HOURLY: "exact energy (J) of an area's lights while its sensors said unoccupied, seconds"
        " with such lights on and their peak watts, per local hour, from lutron_area_change",
        UNOCCUPIED_DAILY: "the area_unoccupied_hourly rows per local day",
    }
    out += [sql.SQL("COMMENT ON TABLE {} IS {}").format(_q(t), sql.Literal(c)) for t, c in comments.items()]
    return out


def mixed_cause_migration_statements() -> list[sql.Composed]:
    """Energy by cause, kept where it differs from the zone's own rollup (a schema migration; see
    the module docstring): the zone rollups get the cause columns, the cause tables of migration 6
    become the mixed-cause tables, and views of the old names read both. `db init` then queues
    every zone series, so the rollup moves each single-cause bucket onto its zone row; until then
    the views read the rows where they are (the renamed tables hold every cause)."""
    out: list[sql.Composed] = []
    for zone, old, mixed, bucket in (
        (ZONE_HOURLY, CAUSE_HOURLY, MIXED_HOURLY, "hour"),
        (ZONE_DAILY, CAUSE_DAILY, MIXED_DAILY, "day"),
    ):
        out.append(
            sql.SQL("ALTER TABLE {} ").format(_q(zone))
            + sql.SQL(", ").join(sql.SQL("ADD COLUMN {} text").format(I(c)) for c in (CAUSE, *SOURCE_TAGS))
        )
        out.append(
            sql.SQL("COMMENT ON COLUMN {}.{} IS {}").format(
                _q(zone),
                I(CAUSE),
                sql.Literal(
                    f"the cause of all of this {bucket}'s energy and on-time (keypad_id ... timeclock_event: the"
                    f" source behind it, '' where unknown); NULL: several causes, in {mixed}"
                ),
            )
        )
        out.append(sql.SQL("ALTER TABLE {} RENAME TO {}").format(_q(old), I(mixed)))
        for suffix in ("series_idx", f"{bucket}_idx"):
            out.append(
                sql.SQL("ALTER INDEX {} RENAME TO {}").format(_q(f"{old}_{suffix}"), I(f"{mixed}_{suffix}"))
            )
        out.append(
            sql.SQL("COMMENT ON TABLE {} IS {}").format(
                _q(mixed),
                sql.Literal(
                    f"energy (J) and on-time (s) per zone, {'local hour' if bucket == 'hour' else 'local day'} and"
                    f" cause, for the {bucket}s with several causes only (one cause: on the {zone} row)"
                ),
            )
        )
        columns = sql.SQL(", ").join(
            map(I, ("site", "zone_id", *(("hour",) if bucket == "hour" else ()), "day", CAUSE, *SOURCE_TAGS))
        )
        out.append(
            sql.SQL(
                "CREATE VIEW {view} AS SELECT {cols}, energy_joules, on_seconds FROM {zone} WHERE {cause} IS NOT NULL"
                " UNION ALL SELECT {cols}, energy_joules, on_seconds FROM {mixed}"
            ).format(view=_q(old), cols=columns, zone=_q(zone), cause=I(CAUSE), mixed=_q(mixed))
        )
        out.append(
            sql.SQL("COMMENT ON VIEW {} IS {}").format(
                _q(old),
                sql.Literal(
                    f"exact energy (J) and on-time (s) per zone, local {bucket} and cause of the level (with the"
                    f" keypad button or time clock event behind it, '' where unknown): {zone} rows with one"
                    f" cause and {mixed}"
                ),
            )
        )
    return out


def monthly_cause_migration_statements() -> list[sql.Composed]:
    """Energy by cause per zone and local month (a schema migration; see the module docstring).
    `db init` then queues every zone series, so the rows already stored are summed into it. No
    primary key, as the other tables by cause: a series index serves the rollup, a month index
    the ranges across all zones."""
    source = ", ".join(f"{c} text NOT NULL" for c in (CAUSE, *SOURCE_TAGS))
    return [
        sql.SQL(
            "CREATE TABLE {} (site text NOT NULL, zone_id text NOT NULL, month date NOT NULL, "
            + source
            + ", energy_joules double precision NOT NULL, on_seconds double precision NOT NULL)"
        ).format(_q(CAUSE_MONTHLY)),
        sql.SQL("CREATE INDEX zone_cause_monthly_series_idx ON {} (site, zone_id, month)").format(
            _q(CAUSE_MONTHLY)
        ),
        sql.SQL("CREATE INDEX zone_cause_monthly_month_idx ON {} (month)").format(_q(CAUSE_MONTHLY)),
        sql.SQL("COMMENT ON TABLE {} IS {}").format(
            _q(CAUSE_MONTHLY),
            sql.Literal(
                "the zone_cause_daily rows per local month (month: its first day), every cause on its own row"
            ),
        ),
    ]


# --- functions ------------------------------------------------------------------------------------

_MARK_BODY = """
BEGIN
    BEGIN
        INSERT INTO {dirty} AS d (series, site, id, since)
        SELECT TG_ARGV[0], coalesce(n.site, ''), {id_of_n}, min(n."time")
        FROM new_rows n WHERE n."time" IS NOT NULL
        GROUP BY 2, 3
        ON CONFLICT (series, site, id) DO UPDATE SET since = least(d.since, excluded.since);
    EXCEPTION WHEN OTHERS THEN
        -- Failing here would fail Telegraf's COPY, and Telegraf drops rows on such errors.
        RAISE WARNING 'telegraf-lutron: cannot queue the change rollup: % (SQLSTATE %)', SQLERRM, SQLSTATE;
        RETURN NULL;
    END;
    BEGIN
        PERFORM {rollup}();
    EXCEPTION WHEN OTHERS THEN
        -- The queue stays as it was (this block is rolled back): the next COPY or
        -- db prune tries again.
        RAISE WARNING 'telegraf-lutron: change rollup deferred: % (SQLSTATE %)', SQLERRM, SQLSTATE;
    END;
    RETURN NULL;
END;
"""

# One series: recompute from the hour of the row before the oldest new one. `r0` is the row whose
# segment covers that hour's start.
_ROLLUP_BODY = """
DECLARE
    v_tz text;
    v_from timestamptz;
    v_h0 timestamptz;
    v_r0 timestamptz;
    v_frozen timestamptz;
    v_d0 date;
    v_m0 date;
    rec record;
BEGIN
    PERFORM pg_advisory_xact_lock({lock_class}, {lock_key});
    SELECT coalesce(max(s.value) FILTER (WHERE s.name = 'timezone'), 'UTC'),
           coalesce(max(s.value) FILTER (WHERE s.name = {pruned}), '-infinity')::timestamptz
    INTO v_tz, v_frozen FROM {settings} s;
    FOR rec IN DELETE FROM {dirty} RETURNING series, site, id, since LOOP
        IF rec.series = 'zone' THEN
            {zone_start}
            DELETE FROM {zone_hourly} h WHERE h.site = rec.site AND h.zone_id = rec.id AND h.hour >= v_h0;
            DELETE FROM {mixed_hourly} h WHERE h.site = rec.site AND h.zone_id = rec.id AND h.hour >= v_h0;
            -- One pass over the segments fills both: per hour, with its cause when it had one,
            -- and per hour and cause for the hours with several.
            WITH p AS MATERIALIZED (
                {zone_parts}
            ), c AS MATERIALIZED (
                SELECT p.hour, {source_p}, sum(p.energy) AS energy, sum(p.on_seconds) AS on_seconds,
                       count(*) OVER (PARTITION BY p.hour) AS causes
                FROM p
                WHERE p.hour >= v_h0
                GROUP BY p.hour, {source_p}
                HAVING sum(p.energy) > 0 OR sum(p.on_seconds) > 0
            ), by_hour AS (
                INSERT INTO {zone_hourly} (site, zone_id, hour, day, energy_joules, on_seconds, watts_max, {source_cols})
                SELECT rec.site, rec.id, t.hour, (t.hour AT TIME ZONE v_tz)::date,
                       t.energy, t.on_seconds, t.peak, {source_c}
                FROM (
                    SELECT p.hour, sum(p.energy) AS energy, sum(p.on_seconds) AS on_seconds, max(p.peak) AS peak
                    FROM p
                    WHERE p.hour >= v_h0
                    GROUP BY p.hour
                    HAVING sum(p.energy) > 0 OR sum(p.on_seconds) > 0
                ) t
                LEFT JOIN c ON c.hour = t.hour AND c.causes = 1
            )
            INSERT INTO {mixed_hourly} (site, zone_id, hour, day, {source_cols}, energy_joules, on_seconds)
            SELECT rec.site, rec.id, c.hour, (c.hour AT TIME ZONE v_tz)::date, {source_c}, c.energy, c.on_seconds
            FROM c
            WHERE c.causes > 1;
            -- Days from the hours and months from the days, the same way. Only the rows that
            -- differ are written: rewriting every row of the day and month at each flush left
            -- ten times the live rows as dead ones for autovacuum (bench/bench_store.py).
            v_d0 := (v_h0 AT TIME ZONE v_tz)::date;
            v_m0 := date_trunc('month', v_d0)::date;
            DELETE FROM {zone_daily} d
            WHERE d.site = rec.site AND d.zone_id = rec.id AND d.day >= v_d0
              AND NOT EXISTS (SELECT 1 FROM {zone_hourly} h
                              WHERE h.site = rec.site AND h.zone_id = rec.id AND h.day = d.day);
            -- The zone's days by cause, read once: the mixed days come from them, and a day
            -- with one cause keeps it on the zone's day row.
            WITH c AS MATERIALIZED (
                {day_causes}
            ), gone AS (
                DELETE FROM {mixed_daily} m
                WHERE m.site = rec.site AND m.zone_id = rec.id AND m.day >= v_d0
                  AND NOT EXISTS (SELECT 1 FROM c
                                  WHERE c.causes > 1 AND c.day = m.day AND {same_source}
                                    AND c.energy = m.energy_joules AND c.on_seconds = m.on_seconds)
            ), added AS (
                -- Sees the rows as before `gone`: an unchanged row is neither deleted nor added.
                INSERT INTO {mixed_daily} (site, zone_id, day, {source_cols}, energy_joules, on_seconds)
                SELECT rec.site, rec.id, c.day, {source_c}, c.energy, c.on_seconds
                FROM c
                WHERE c.causes > 1
                  AND NOT EXISTS (SELECT 1 FROM {mixed_daily} m
                                  WHERE m.site = rec.site AND m.zone_id = rec.id AND m.day = c.day AND {same_source}
                                    AND c.energy = m.energy_joules AND c.on_seconds = m.on_seconds)
            )
            INSERT INTO {zone_daily} AS d (site, zone_id, day, energy_joules, on_seconds, watts_max, {source_cols})
            SELECT rec.site, rec.id, t.day, t.energy, t.on_seconds, t.peak, {source_c}
            FROM (
                SELECT h.day, sum(h.energy_joules) AS energy, sum(h.on_seconds) AS on_seconds,
                       max(h.watts_max) AS peak
                FROM {zone_hourly} h
                WHERE h.site = rec.site AND h.zone_id = rec.id AND h.day >= v_d0
                GROUP BY h.day
            ) t
            LEFT JOIN c ON c.day = t.day AND c.causes = 1
            ON CONFLICT (site, zone_id, day) DO UPDATE
            SET energy_joules = excluded.energy_joules, on_seconds = excluded.on_seconds,
                watts_max = excluded.watts_max, {source_set}
            WHERE (d.energy_joules, d.on_seconds, d.watts_max, {source_d})
                  IS DISTINCT FROM (excluded.energy_joules, excluded.on_seconds, excluded.watts_max, {source_x});
            WITH c AS MATERIALIZED (
                {month_causes}
            ), gone AS (
                DELETE FROM {cause_monthly} m
                WHERE m.site = rec.site AND m.zone_id = rec.id AND m.month >= v_m0
                  AND NOT EXISTS (SELECT 1 FROM c
                                  WHERE c.month = m.month AND {same_source}
                                    AND c.energy = m.energy_joules AND c.on_seconds = m.on_seconds)
            )
            INSERT INTO {cause_monthly} (site, zone_id, month, {source_cols}, energy_joules, on_seconds)
            SELECT rec.site, rec.id, c.month, {source_c}, c.energy, c.on_seconds
            FROM c
            WHERE NOT EXISTS (SELECT 1 FROM {cause_monthly} m
                              WHERE m.site = rec.site AND m.zone_id = rec.id AND m.month = c.month AND {same_source}
                                AND c.energy = m.energy_joules AND c.on_seconds = m.on_seconds);
            INSERT INTO {last} AS l (series, site, id, "time", watts, level)
            SELECT rec.series, rec.site, rec.id, r."time", greatest(coalesce(r.watts, 0), 0), r.level
            FROM {zone_raw} r
            WHERE coalesce(r.site, '') = rec.site AND coalesce(r.zone_id, '') = rec.id
            ORDER BY coalesce(r.site, '') DESC, coalesce(r.zone_id, '') DESC, r."time" DESC LIMIT 1
            ON CONFLICT (series, site, id) DO UPDATE
            SET "time" = excluded."time", watts = excluded.watts, level = excluded.level;
        ELSIF rec.series = 'area' THEN
            {area_start}
            DELETE FROM {area_hourly} h WHERE h.site = rec.site AND h.area_id = rec.id AND h.hour >= v_h0;
            INSERT INTO {area_hourly} (site, area_id, hour, day, energy_joules, lit_seconds, watts_max)
            SELECT rec.site, rec.id, p.hour, (p.hour AT TIME ZONE v_tz)::date,
                   sum(p.energy), sum(p.on_seconds), max(p.peak)
            FROM (
                {area_parts}
            ) p
            WHERE p.hour >= v_h0
            GROUP BY p.hour
            HAVING sum(p.energy) > 0 OR sum(p.on_seconds) > 0;
            DELETE FROM {area_daily} d
            WHERE d.site = rec.site AND d.area_id = rec.id AND d.day >= (v_h0 AT TIME ZONE v_tz)::date;
            INSERT INTO {area_daily} (site, area_id, day, energy_joules, lit_seconds, watts_max)
            SELECT h.site, h.area_id, h.day, sum(h.energy_joules), sum(h.lit_seconds), max(h.watts_max)
            FROM {area_hourly} h
            WHERE h.site = rec.site AND h.area_id = rec.id AND h.day >= (v_h0 AT TIME ZONE v_tz)::date
            GROUP BY h.site, h.area_id, h.day;
        ELSE
            {house_start}
            DELETE FROM {house_hourly} h WHERE h.site = rec.site AND h.hour >= v_h0;
            INSERT INTO {house_hourly} (site, hour, day, energy_joules, watts_max, covered_seconds)
            SELECT rec.site, p.hour, (p.hour AT TIME ZONE v_tz)::date,
                   sum(p.energy), max(p.peak), sum(p.covered)
            FROM (
                {house_parts}
            ) p
            WHERE p.hour >= v_h0
            GROUP BY p.hour;
            DELETE FROM {house_daily} d WHERE d.site = rec.site AND d.day >= (v_h0 AT TIME ZONE v_tz)::date;
            INSERT INTO {house_daily} (site, day, energy_joules, watts_max, covered_seconds)
            SELECT h.site, h.day, sum(h.energy_joules), max(h.watts_max), sum(h.covered_seconds)
            FROM {house_hourly} h
            WHERE h.site = rec.site AND h.day >= (v_h0 AT TIME ZONE v_tz)::date
            GROUP BY h.site, h.day;
            INSERT INTO {last} AS l (series, site, id, "time", watts, level, first_time)
            SELECT rec.series, rec.site, '', r."time", greatest(coalesce(r.watts, 0), 0), NULL,
                   (SELECT min(f."time") FROM {house_raw} f WHERE coalesce(f.site, '') = rec.site)
            FROM {house_raw} r
            WHERE coalesce(r.site, '') = rec.site
            ORDER BY coalesce(r.site, '') DESC, r."time" DESC LIMIT 1
            ON CONFLICT (series, site, id) DO UPDATE
            SET "time" = excluded."time", watts = excluded.watts, level = excluded.level,
                first_time = least(l.first_time, excluded.first_time);
        END IF;
    END LOOP;
END;
"""

# Where one series' recompute starts: `v_h0`, the hour of the row before the oldest new one (whose
# segment the new row ends), never an hour whose rows db prune removed; `v_r0`, the row whose
# segment covers `v_h0`'s start.
_START = """SELECT max(r."time") INTO v_from FROM {raw} r
            WHERE {match} AND r."time" < rec.since;
            v_h0 := {hour_start}(coalesce(v_from, rec.since), v_tz);
            IF v_frozen > '-infinity' THEN
                v_h0 := greatest(v_h0, {hour_start}(v_frozen, v_tz) + interval '1 hour');
            END IF;
            SELECT max(r."time") INTO v_r0 FROM {raw} r
            WHERE {match} AND r."time" <= v_h0;"""


def _start(raw: sql.Composable, match: str) -> sql.Composed:
    return sql.SQL(_START).format(raw=raw, match=sql.SQL(match), hour_start=_q("hour_start"))


# The hourly parts of the segments of one series from `v_r0` on (see the module docstring).
_PARTS = """SELECT h.hour,{carry_s}
                       CASE WHEN b >= s.t1 THEN s.delta
                            ELSE least(s.w * extract(epoch FROM b - s.t0), s.delta) END
                       - least(s.w * extract(epoch FROM a - s.t0), s.delta) AS energy,
                       CASE WHEN s.on_value > 0 THEN extract(epoch FROM b - a) ELSE 0 END AS on_seconds,
                       CASE WHEN s.w > 0 AND b > a THEN s.w END AS peak,
                       CASE WHEN s.t1 - s.t0 <= make_interval(secs => {gap}) THEN extract(epoch FROM b - a)
                            ELSE 0 END AS covered
                FROM (
                    SELECT x.t0, x.t1, x.w, x.on_value,{carry_x}
                           CASE WHEN x.c0 IS NULL OR x.c1 IS NULL THEN x.w * extract(epoch FROM x.t1 - x.t0)
                                WHEN x.c1 >= x.c0 THEN x.c1 - x.c0 ELSE x.c1 END AS delta
                    FROM (
                        SELECT r."time" AS t0, lead(r."time") OVER w AS t1,
                               greatest(coalesce(r.{watts}, 0), 0) AS w, {on_value} AS on_value,{carry_r}
                               r.{counter} AS c0, lead(r.{counter}) OVER w AS c1
                        FROM {raw} r
                        WHERE {match} AND r."time" >= coalesce(v_r0, '-infinity')
                        WINDOW w AS (ORDER BY r."time")
                    ) x
                    WHERE x.t1 > x.t0
                ) s
                CROSS JOIN LATERAL generate_series(
                    {hour_start}(CASE WHEN s.w > 0 OR s.on_value > 0 THEN s.t0 ELSE s.t1 - interval '1 microsecond' END, v_tz),
                    s.t1 - interval '1 microsecond', interval '1 hour') AS h(hour)
                CROSS JOIN LATERAL (SELECT greatest(s.t0, h.hour) AS a, least(s.t1, h.hour + interval '1 hour') AS b) ab"""


def _parts(
    raw: sql.Composable,
    match: str,
    on_value: str,
    *,
    watts: str = "watts",
    counter: str = "energy_joules_total",
    carry: dict[str, str] | None = None,
) -> sql.Composed:
    """The hourly parts of one series' segments; `carry`: alias -> expression over the row `r`
    that starts a segment, passed through to each part (the cause of a zone's level)."""
    carry = carry or {}
    return sql.SQL(_PARTS).format(
        raw=raw,
        match=sql.SQL(match),
        on_value=sql.SQL(on_value),
        watts=sql.SQL(watts),
        counter=sql.SQL(counter),
        carry_s=sql.SQL("".join(f" s.{a}," for a in carry)),
        carry_x=sql.SQL("".join(f" x.{a}," for a in carry)),
        carry_r=sql.SQL("".join(f"\n                               {e} AS {a}," for a, e in carry.items())),
        gap=sql.Literal(GAP_SECONDS),
        hour_start=_q("hour_start"),
    )


def _cause_carry() -> dict[str, str]:
    """The cause columns of a zone row as the cause rollups key them: a row written before the
    `cause` column existed (NULL) or with an empty one is `unknown`; a missing source tag is ''."""
    out = {CAUSE: f"coalesce(nullif(r.{CAUSE}, ''), '{UNKNOWN_CAUSE}')"}
    out |= {tag: f"coalesce(r.{tag}, '')" for tag in SOURCE_TAGS}
    return out


def _function(name: str, returns: str, body: sql.Composable) -> sql.Composed:
    return sql.SQL(
        "CREATE OR REPLACE FUNCTION {fn}() RETURNS {returns} LANGUAGE plpgsql SECURITY DEFINER\n"
        "SET search_path = pg_catalog, pg_temp\nSET jit = off\nAS $function$"
    ).format(fn=_q(name), returns=sql.SQL(returns)) + sql.Composed([body, sql.SQL("$function$")])


# A raw row `r` of the series `rec` (zone, area, house).
ZONE_MATCH = "coalesce(r.site, '') = rec.site AND coalesce(r.zone_id, '') = rec.id"
AREA_MATCH = "coalesce(r.site, '') = rec.site AND coalesce(r.area_id, '') = rec.id"
HOUSE_MATCH = "coalesce(r.site, '') = rec.site"


def create_rollup_function(raw_schema: str) -> sql.Composed:
    body = sql.SQL(_ROLLUP_BODY).format(
        lock_class=sql.Literal(LOCK_CLASS),
        lock_key=sql.Literal(LOCK_KEY),
        pruned=sql.Literal(PRUNED_SETTING),
        settings=_q("settings"),
        dirty=_q(DIRTY),
        hour_start=_q("hour_start"),
        zone_raw=ZONE_CHANGE.raw_table(raw_schema),
        house_raw=HOUSE.raw_table(raw_schema),
        zone_hourly=_q(ZONE_HOURLY),
        zone_daily=_q(ZONE_DAILY),
        house_hourly=_q(HOUSE_HOURLY),
        house_daily=_q(HOUSE_DAILY),
        last=_q(LAST),
        zone_start=_start(ZONE_CHANGE.raw_table(raw_schema), ZONE_MATCH),
        zone_parts=_parts(
            ZONE_CHANGE.raw_table(raw_schema), ZONE_MATCH, "coalesce(r.level, 0)", carry=_cause_carry()
        ),
        house_start=_start(HOUSE.raw_table(raw_schema), HOUSE_MATCH),
        house_parts=_parts(HOUSE.raw_table(raw_schema), HOUSE_MATCH, "0"),
        cause_hourly=_q(CAUSE_HOURLY),
        mixed_hourly=_q(MIXED_HOURLY),
        cause_daily=_q(CAUSE_DAILY),
        cause_monthly=_q(CAUSE_MONTHLY),
        mixed_daily=_q(MIXED_DAILY),
        source_cols=sql.SQL(", ".join((CAUSE, *SOURCE_TAGS))),
        source_p=sql.SQL(", ".join(f"p.{c}" for c in (CAUSE, *SOURCE_TAGS))),
        source_h=sql.SQL(", ".join(f"h.{c}" for c in (CAUSE, *SOURCE_TAGS))),
        source_c=sql.SQL(", ".join(f"c.{c}" for c in (CAUSE, *SOURCE_TAGS))),
        source_d=sql.SQL(", ".join(f"d.{c}" for c in (CAUSE, *SOURCE_TAGS))),
        source_x=sql.SQL(", ".join(f"excluded.{c}" for c in (CAUSE, *SOURCE_TAGS))),
        source_set=sql.SQL(", ".join(f"{c} = excluded.{c}" for c in (CAUSE, *SOURCE_TAGS))),
        same_source=sql.SQL(" AND ".join(f"c.{c} = m.{c}" for c in (CAUSE, *SOURCE_TAGS))),
        # A zone's days by cause from v_d0 on, with how many causes each day had.
        day_causes=sql.SQL(
            "SELECT h.day, {source_h}, sum(h.energy_joules) AS energy, sum(h.on_seconds) AS on_seconds,"
            " count(*) OVER (PARTITION BY h.day) AS causes"
            " FROM {cause_hourly} h WHERE h.site = rec.site AND h.zone_id = rec.id AND h.day >= v_d0"
            " GROUP BY h.day, {source_h}"
        ).format(
            source_h=sql.SQL(", ".join(f"h.{c}" for c in (CAUSE, *SOURCE_TAGS))),
            cause_hourly=_q(CAUSE_HOURLY),
        ),
        # A zone's months by cause from v_m0 on.
        month_causes=sql.SQL(
            "SELECT date_trunc('month', h.day)::date AS month, {source_h}, sum(h.energy_joules) AS energy,"
            " sum(h.on_seconds) AS on_seconds"
            " FROM {cause_daily} h WHERE h.site = rec.site AND h.zone_id = rec.id AND h.day >= v_m0"
            " GROUP BY 1, {source_h}"
        ).format(
            source_h=sql.SQL(", ".join(f"h.{c}" for c in (CAUSE, *SOURCE_TAGS))), cause_daily=_q(CAUSE_DAILY)
        ),
        area_raw=AREA_CHANGE.raw_table(raw_schema),
        area_hourly=_q(UNOCCUPIED_HOURLY),
        area_daily=_q(UNOCCUPIED_DAILY),
        area_start=_start(AREA_CHANGE.raw_table(raw_schema), AREA_MATCH),
        area_parts=_parts(
            AREA_CHANGE.raw_table(raw_schema),
            AREA_MATCH,
            "CASE WHEN coalesce(r.unoccupied_watts, 0) > 0 THEN 1 ELSE 0 END",
            watts="unoccupied_watts",
            counter="unoccupied_energy_joules_total",
        ),
    )
    return _function(ROLLUP_FUNCTION, "void", body)


def create_mark_function() -> sql.Composed:
    body = sql.SQL(_MARK_BODY).format(
        dirty=_q(DIRTY),
        id_of_n=sql.SQL(
            "CASE TG_ARGV[0] WHEN 'zone' THEN coalesce((to_jsonb(n) ->> 'zone_id'), '')"
            " WHEN 'area' THEN coalesce((to_jsonb(n) ->> 'area_id'), '') ELSE '' END"
        ),
        rollup=_q(ROLLUP_FUNCTION),
    )
    return _function(MARK_FUNCTION, "trigger", body)


def functions(raw_schema: str) -> list[tuple[str, sql.Composed, sql.Composed]]:
    """(name, signature, DDL) of the functions `db init` installs for the change rows."""
    return [
        (ROLLUP_FUNCTION, sql.SQL("{}()").format(_q(ROLLUP_FUNCTION)), create_rollup_function(raw_schema)),
        (MARK_FUNCTION, sql.SQL("{}()").format(_q(MARK_FUNCTION)), create_mark_function()),
        (NAMES_FUNCTION, sql.SQL("{}()").format(_q(NAMES_FUNCTION)), create_names_function()),
    ]


ROLLED_UP: dict[str, str] = {
    ZONE_CHANGE.measurement: "zone",
    HOUSE.measurement: "house",
    AREA_CHANGE.measurement: "area",
}


def create_trigger(level: Level, raw_schema: str) -> sql.Composed:
    return sql.SQL(
        "CREATE TRIGGER {name} AFTER INSERT ON {raw} REFERENCING NEW TABLE AS new_rows"
        " FOR EACH STATEMENT EXECUTE FUNCTION {fn}({arg})"
    ).format(
        name=I(TRIGGER_NAME),
        raw=level.raw_table(raw_schema),
        fn=_q(MARK_FUNCTION),
        arg=sql.Literal(ROLLED_UP[level.measurement]),
    )


def mark_all(cur: psycopg.Cursor[Any], raw_schema: str) -> None:
    """Queue every series for a rollup from its first row (db init adopting rows, db rebuild).
    A change table `db init` has not created yet has no series."""
    for level, series, ident in (
        (ZONE_CHANGE, "zone", "coalesce(zone_id, '')"),
        (HOUSE, "house", "''"),
        (AREA_CHANGE, "area", "coalesce(area_id, '')"),
    ):
        cur.execute("SELECT to_regclass(%s)", (level.raw_table(raw_schema).as_string(cur),))
        row = cur.fetchone()
        if row is None or row[0] is None:
            continue
        cur.execute(
            sql.SQL(
                "INSERT INTO {dirty} AS d (series, site, id, since)"
                ' SELECT {series}, coalesce(site, \'\'), {ident}, min("time") FROM {raw} WHERE "time" IS NOT NULL'
                " GROUP BY 2, 3 ON CONFLICT (series, site, id) DO UPDATE SET since = least(d.since, excluded.since)"
            ).format(
                dirty=_q(DIRTY),
                series=sql.Literal(series),
                ident=sql.SQL(ident),
                raw=level.raw_table(raw_schema),
            )
        )
    rollup(cur)


# --- the names behind the ids (migration 5) ---------------------------------------------------------
# Change rows carry ids; `lutron_zone_info` (written at each connect) names them. The UI wants each
# zone's newest names on every query, so a statement trigger keeps them in `lutron.zone_names`: one
# row per zone, in the internal schema (a reader of the rollups needs no access to raw tables).

NAMES = "zone_names"
LAST = "change_last"
NAMES_FUNCTION = "zone_names_update"
NAMES_TRIGGER = "lutron_zone_names"
NAME_COLUMNS = ("zone", "area_id", "area", "floor", "output_type", "kind")


def names_migration_statements() -> list[sql.Composed]:
    return [
        # The UI picks hours across all zones (a night's first hour, the last 24 hours): a B-tree,
        # since rollups rewritten per series leave the BRIN index of migration 4 little to skip.
        sql.SQL("CREATE INDEX zone_change_hourly_hour_idx ON {} (hour)").format(_q(ZONE_HOURLY)),
        sql.SQL(
            'CREATE TABLE {} (site text NOT NULL, zone_id text NOT NULL, "time" timestamptz NOT NULL,'
            " zone text, area_id text NOT NULL, area text, floor text, output_type text, kind text,"
            " rated_watts double precision, PRIMARY KEY (site, zone_id))"
        ).format(_q(NAMES)),
        sql.SQL("COMMENT ON TABLE {} IS {}").format(
            _q(NAMES), sql.Literal("each zone's newest lutron_zone_info row (names, area, kind, rated watts)")
        ),
        sql.SQL(
            'CREATE TABLE {} (series text NOT NULL, site text NOT NULL, id text NOT NULL, "time" timestamptz NOT NULL,'
            " watts double precision NOT NULL, level double precision, first_time timestamptz,"
            " PRIMARY KEY (series, site, id))"
        ).format(_q(LAST)),
        sql.SQL("COMMENT ON TABLE {} IS {}").format(
            _q(LAST),
            sql.Literal(
                "the newest change row of every series as change_rollup last saw it: the open segment"
                " after it, which no rollup holds yet, is added by readers up to the newest house row;"
                " first_time (houses): the first row, where readers switch from the snapshot rollups"
            ),
        ),
    ]


def _names_upsert(source: sql.Composable) -> sql.Composed:
    """Upsert the newest row per zone of `source` (rows shaped like lutron_zone_info) into
    lutron.zone_names; an older row never replaces a newer one. Optional columns are read through
    to_jsonb, so a table Telegraf made without one of them still works."""

    def col(name: str) -> sql.Composed:
        return sql.SQL("(to_jsonb(n) ->> {})").format(sql.Literal(name))

    return sql.SQL(
        """INSERT INTO {names} AS z (site, zone_id, "time", zone, area_id, area, floor, output_type, kind, rated_watts)
        SELECT DISTINCT ON (1, 2) coalesce(n.site, ''), coalesce(n.zone_id, ''), n."time", {zone},
               coalesce({area_id}, ''), {area}, {floor}, {output_type}, {kind}, ({rated})::float8
        FROM {source} n WHERE n."time" IS NOT NULL
        ORDER BY 1, 2, n."time" DESC
        ON CONFLICT (site, zone_id) DO UPDATE SET "time" = excluded."time", zone = excluded.zone,
            area_id = excluded.area_id, area = excluded.area, floor = excluded.floor,
            output_type = excluded.output_type, kind = excluded.kind, rated_watts = excluded.rated_watts
        WHERE z."time" <= excluded."time"
        """
    ).format(
        names=_q(NAMES),
        source=source,
        rated=col("rated_watts"),
        **{c: col(c) for c in NAME_COLUMNS},
    )


def create_names_function() -> sql.Composed:
    body = sql.SQL(
        """
BEGIN
    BEGIN
        {upsert};
    EXCEPTION WHEN OTHERS THEN
        -- Failing here would fail Telegraf's COPY; db rebuild fills the table again.
        RAISE WARNING 'telegraf-lutron: cannot update the zone names: % (SQLSTATE %)', SQLERRM, SQLSTATE;
    END;
    RETURN NULL;
END;
"""
    ).format(upsert=_names_upsert(sql.SQL("new_rows")))
    return _function(NAMES_FUNCTION, "trigger", body)


def create_names_trigger(raw_schema: str) -> sql.Composed:
    return sql.SQL(
        "CREATE TRIGGER {name} AFTER INSERT ON {raw} REFERENCING NEW TABLE AS new_rows"
        " FOR EACH STATEMENT EXECUTE FUNCTION {fn}()"
    ).format(name=I(NAMES_TRIGGER), raw=ZONE_INFO.raw_table(raw_schema), fn=_q(NAMES_FUNCTION))


def fill_names(cur: psycopg.Cursor[Any], raw_schema: str) -> None:
    """lutron.zone_names from every row of lutron_zone_info (db init adopting rows, db rebuild)."""
    cur.execute(_names_upsert(ZONE_INFO.raw_table(raw_schema)))


def fill_last(cur: psycopg.Cursor[Any], raw_schema: str) -> None:
    """lutron.change_last from the raw rows (db init after migration 5, for rows rolled up before)."""
    for level, series, ident, lvl in (
        (ZONE_CHANGE, "zone", "coalesce(r.zone_id, '')", "r.level"),
        (HOUSE, "house", "''", "NULL::float8"),
    ):
        cur.execute(
            sql.SQL(
                """INSERT INTO {last} (series, site, id, "time", watts, level, first_time)
                SELECT DISTINCT ON (2, 3) {series}, coalesce(r.site, ''), {ident}, r."time",
                       greatest(coalesce(r.watts, 0), 0), {lvl},
                       min(r."time") OVER (PARTITION BY coalesce(r.site, ''), {ident})
                FROM {raw} r WHERE r."time" IS NOT NULL
                ORDER BY 2, 3, r."time" DESC
                ON CONFLICT (series, site, id) DO UPDATE
                SET "time" = excluded."time", watts = excluded.watts, level = excluded.level,
                    first_time = excluded.first_time"""
            ).format(
                last=_q(LAST),
                series=sql.Literal(series),
                ident=sql.SQL(ident),
                lvl=sql.SQL(lvl),
                raw=level.raw_table(raw_schema),
            )
        )


def rollup(cur: psycopg.Cursor[Any]) -> None:
    """Roll up whatever is queued (before reading the change rollups; quick when nothing is)."""
    cur.execute(sql.SQL("SELECT {}()").format(_q(ROLLUP_FUNCTION)))
