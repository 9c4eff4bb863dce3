"""Hourly and daily rollups per zone, area and system, maintained by triggers as Telegraf's COPY lands.

What a bucket holds (tables `lutron.{zone,area,system}_{hourly,daily}`):
- `energy_joules`: the sum of counter deltas of the bucket's rows. A row's delta is its counter
  minus the previous row's counter in the same series; when the counter went down (the plugin lost
  its state file and restarted from 0) the delta is the new value itself, i.e. the energy counted
  since the reset. The first row of a series has no delta. Energy across a gap (plugin or
  Telegraf down) is whatever the counters say, and lands in the bucket of the row that closes
  the gap: the counter only tells us the total, not when it was used.
- `watts_sum`/`watts_samples`/`watts_max` (and `watts_avg`): power over the bucket's samples.
- `on_samples`/`off_samples`: samples with the zone level (areas, system: zones_on) > 0 / = 0.
- `samples`, `first_time`, `last_time`, and the labels (names) of the newest row.
Rows with the same series and time are one sample (duplicates never count twice). A series is
site + zone id (or area id): see `levels.Level`.

Buckets are local clock hours and local days in the house's time zone (`lutron.settings`), keyed
by the instant they start, so the two 02:00 hours of an autumn DST change stay two buckets, and a
day has 23, 24 or 25 hourly buckets. (Time zones whose DST shift is not a whole hour, such as
Australia/Lord_Howe, get slightly misaligned hours around their transitions.)

Why triggers, and why this design:
- A statement-level AFTER INSERT trigger with a transition table (`REFERENCING NEW TABLE`) runs
  once per COPY that Telegraf issues (one per measurement and flush), inside Telegraf's
  transaction: rollups are never behind and never see rows that are later rolled back.
- Fast path (almost every COPY): for each series, if all new rows are newer than everything
  stored (the `last_time` of its newest hourly bucket, one index probe), the deltas need only the
  new rows and the stored last counter (`last_counter` of the newest bucket that has one), and the
  buckets are updated incrementally (sums add, max takes the greater). This reads no raw rows, so
  ingest cost does not grow with how full a bucket already is, and it writes one hourly and one
  daily row per series and COPY, nothing else (the rollup tables have free space on each page so
  these updates stay HOT).
- Slow path (late rows, duplicates, a new series, rows without a counter): the touched hourly
  buckets, plus the bucket of
  the first row after each of them (whose delta a late row changes), are recomputed from the raw
  rows; the touched days are then recomputed from their hourly rows. Recomputing is idempotent,
  which is what makes duplicates and late rows come out right. Each series of a COPY is classified
  on its own, so one late zone does not slow down the others.
- Writers of the same level and site are serialised with transaction-level advisory locks (sorted,
  so no deadlocks), so two overlapping COPYs never both take the newest bucket as their starting
  point.
- Per row, the fast path does one hash join, one sort (on a small integer series id and time:
  text comparisons cost several times more) feeding both the de-duplication and the deltas, and
  one grouping; time zone conversions (slow in PostgreSQL) happen once per distinct timestamp,
  and Telegraf's batches share a handful. Labels are looked up for the buckets only, at the end.
- Measured with bench/bench_db.py (200 zones, 34 areas, 1-minute resolution, on a shared 2-core
  machine): the rollups roughly double the cost of Telegraf's COPY; see the bench for figures.
- A rollup failure must never fail Telegraf's COPY (Telegraf would drop the rows as a permanent
  error): the trigger body runs in a subtransaction; on error it logs a WARNING and queues the
  buckets in `lutron.pending_buckets`, which the next COPY into that table recomputes.
- Buckets older than what `db prune` removed from the raw tables (`raw_pruned_before`) are never
  recomputed from raw (that would replace a complete bucket with a partial one); days older than
  `hourly_pruned_before` likewise.
- The trigger functions are SECURITY DEFINER (owned by whoever ran `db init`, search_path pinned),
  so Telegraf's role needs INSERT on the three tables and nothing else.

Raw rows are treated as append-only: after editing or deleting raw rows by hand, run
`telegraf-lutron db rebuild`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from telegraf_lutron.db import INTERNAL_SCHEMA
from telegraf_lutron.db.levels import COUNTER, LEVELS, WATTS, Level

TRIGGER_NAME = "lutron_rollup"
LOCK_CLASS = 0x4C54  # first key of our advisory locks ("LT"); the second is hashtext(level, chr(1), site)

STATS = (
    "samples",
    "energy_joules",
    "watts_sum",
    "watts_samples",
    "watts_max",
    "on_samples",
    "off_samples",
    "first_time",
    "last_time",
)
# How two partial aggregates of the same bucket combine (fast path: existing + new rows).
_ADD = {
    "samples": "t.samples + excluded.samples",
    "energy_joules": "t.energy_joules + excluded.energy_joules",
    "watts_sum": "t.watts_sum + excluded.watts_sum",
    "watts_samples": "t.watts_samples + excluded.watts_samples",
    "watts_max": "greatest(t.watts_max, excluded.watts_max)",
    "on_samples": "t.on_samples + excluded.on_samples",
    "off_samples": "t.off_samples + excluded.off_samples",
    "first_time": "least(t.first_time, excluded.first_time)",
    "last_time": "greatest(t.last_time, excluded.last_time)",
    "last_counter": "coalesce(excluded.last_counter, t.last_counter)",
}
HOURLY_ONLY = ("last_counter",)  # the counter of the bucket's last row that has one

I = sql.Identifier  # noqa: E741 - short on purpose, it appears in every fragment


def _q(name: str) -> sql.Identifier:
    return sql.Identifier(INTERNAL_SCHEMA, name)


def _join(parts: Iterable[sql.Composable], sep: str = ", ") -> sql.Composed:
    return sql.SQL(sep).join(list(parts))


class Fragments:
    """SQL pieces for one level, shared by the trigger function and the bulk rebuild.

    Every path builds `dl`: one row per series and time with the hour and day it belongs to, c (the
    counter), w (watts), onv (the on field) and pc (the previous counter). `hour_stats` aggregates
    it per hour (`agg0`); the slow path and the rebuild add labels and the last counter with
    `agg_finish` (from `pts`, which carries the labels), the fast path from the COPY's own rows.
    """

    def __init__(self, level: Level, raw_schema: str) -> None:
        self.level = level
        self.raw = level.raw_table(raw_schema)
        self.hourly = level.hourly_table()
        self.daily = level.daily_table()

    # --- series identity --------------------------------------------------------------------
    def site(self, alias: str) -> sql.Composed:
        return sql.SQL("coalesce({}, '')").format(I(alias, "site"))

    def series(self, alias: str) -> sql.Composable:
        # Telegraf leaves a missing tag NULL; '' keeps the series key usable in primary keys.
        if self.level.key is None:
            return sql.SQL("''::text")
        return sql.SQL("coalesce({}, '')").format(I(alias, self.level.key))

    def site_key(self, alias: str) -> sql.Composed:
        """`site` for grouping and sorting: bytewise (C) comparison is several times cheaper than
        the database collation's, and equality is the same."""
        return sql.SQL('{} COLLATE "C"').format(self.site(alias))

    def series_key(self, alias: str) -> sql.Composable:
        return sql.SQL('{} COLLATE "C"').format(self.series(alias))

    def match(self, raw_alias: str = "r", key_alias: str = "b") -> sql.Composed:
        """Raw rows of the series in `key_alias` (columns site, series): uses the series index."""
        parts = [sql.SQL("{} = {}").format(self.site(raw_alias), I(key_alias, "site"))]
        if self.level.key is not None:
            parts.append(sql.SQL("{} = {}").format(self.series(raw_alias), I(key_alias, "series")))
        return _join(parts, " AND ")

    def rollup_series(self, alias: str) -> sql.Composable:
        """The series column of a rollup table row, as text."""
        return sql.SQL("''::text") if self.level.key is None else I(alias, self.level.key)

    def rollup_match(self, rollup_alias: str, key_alias: str) -> sql.Composed:
        parts = [sql.SQL("{} = {}").format(I(rollup_alias, "site"), I(key_alias, "site"))]
        if self.level.key is not None:
            parts.append(sql.SQL("{} = {}").format(I(rollup_alias, self.level.key), I(key_alias, "series")))
        return _join(parts, " AND ")

    # --- points and aggregates --------------------------------------------------------------
    def point_cols(self, alias: str) -> sql.Composed:
        """One sample per (series, time): duplicates collapse to their largest values (labels
        compared bytewise, which is cheap and does not depend on the database's collation)."""
        cols = [
            sql.SQL("max({}) AS c").format(I(alias, COUNTER)),
            sql.SQL("max({}) AS w").format(I(alias, WATTS)),
            sql.SQL("max({}) AS onv").format(I(alias, self.level.on_field)),
        ]
        cols += [
            sql.SQL('max({} COLLATE "C") AS {}').format(I(alias, lab), I(lab)) for lab in self.level.labels
        ]
        return _join(cols)

    def num_cols(self, alias: str) -> sql.Composed:
        """`point_cols` without the labels."""
        return _join(
            [
                sql.SQL("max({}) AS c").format(I(alias, COUNTER)),
                sql.SQL("max({}) AS w").format(I(alias, WATTS)),
                sql.SQL("max({}) AS onv").format(I(alias, self.level.on_field)),
            ]
        )

    def hour_stats(self, alias: str) -> sql.Composed:
        """Hourly aggregates over a `dl` relation (see the class docstring), without the labels
        and the last counter, which `agg_finish` adds."""
        a = sql.Identifier(alias)
        return _join(
            [
                sql.SQL("count(*)::integer AS samples"),
                sql.SQL(
                    "coalesce(sum(CASE WHEN {a}.c IS NULL OR {a}.pc IS NULL THEN 0"
                    " WHEN {a}.c >= {a}.pc THEN {a}.c - {a}.pc ELSE {a}.c END), 0) AS energy_joules"
                ).format(a=a),
                sql.SQL("coalesce(sum({a}.w), 0) AS watts_sum").format(a=a),
                sql.SQL("count({a}.w)::integer AS watts_samples").format(a=a),
                sql.SQL("max({a}.w) AS watts_max").format(a=a),
                sql.SQL("(count(*) FILTER (WHERE {a}.onv > 0))::integer AS on_samples").format(a=a),
                sql.SQL("(count(*) FILTER (WHERE {a}.onv = 0))::integer AS off_samples").format(a=a),
                sql.SQL('min({a}."time") AS first_time').format(a=a),
                sql.SQL('max({a}."time") AS last_time').format(a=a),
                sql.SQL('max({a}."time") FILTER (WHERE {a}.c IS NOT NULL) AS tc_last').format(a=a),
            ]
        )

    def agg_finish(self) -> sql.Composed:
        """`agg`: `agg0` plus the newest row's labels and the last counter, looked up in `pts`
        (one row per series and time) by hash joins. Carrying the labels through the sorts and
        windows instead costs more than everything else together."""
        labels = [sql.SQL("lab.{}").format(I(lab)) for lab in self.level.labels]
        return sql.SQL(
            """agg AS (
                SELECT agg0.*, lc.c AS last_counter{labels}
                FROM agg0
                JOIN pts lab ON lab.site = agg0.site AND lab.series = agg0.series AND lab."time" = agg0.last_time
                LEFT JOIN pts lc ON lc.site = agg0.site AND lc.series = agg0.series AND lc."time" = agg0.tc_last
            )"""
        ).format(labels=sql.SQL("").join(sql.SQL(", ") + x for x in labels))

    def day_aggs(self, alias: str, *, newest: str = "sort") -> sql.Composed:
        """Daily aggregates over hourly-shaped rows. Labels of the newest hour: by sorting
        (`newest="sort"`), or, over rows carrying `hmax`, by filtering (`newest="hmax"`)."""
        a = sql.Identifier(alias)
        cols = [
            sql.SQL("sum({a}.samples)::integer AS samples").format(a=a),
            sql.SQL("sum({a}.energy_joules) AS energy_joules").format(a=a),
            sql.SQL("sum({a}.watts_sum) AS watts_sum").format(a=a),
            sql.SQL("sum({a}.watts_samples)::integer AS watts_samples").format(a=a),
            sql.SQL("max({a}.watts_max) AS watts_max").format(a=a),
            sql.SQL("sum({a}.on_samples)::integer AS on_samples").format(a=a),
            sql.SQL("sum({a}.off_samples)::integer AS off_samples").format(a=a),
            sql.SQL("min({a}.first_time) AS first_time").format(a=a),
            sql.SQL("max({a}.last_time) AS last_time").format(a=a),
        ]
        for lab in self.level.labels:
            if newest == "hmax":
                cols.append(
                    sql.SQL('max({} COLLATE "C") FILTER (WHERE {a}.hour = {a}.hmax) AS {}').format(
                        I(alias, lab), I(lab), a=a
                    )
                )
            else:
                cols.append(
                    sql.SQL("(array_agg({} ORDER BY {} DESC))[1] AS {}").format(
                        I(alias, lab), I(alias, "hour"), I(lab)
                    )
                )
        return _join(cols)

    # --- rollup table columns ----------------------------------------------------------------
    def _hourly_names(self) -> list[str]:
        return [*self.level.key_columns, "hour", "day", *self.level.labels, *STATS, *HOURLY_ONLY]

    def _daily_names(self) -> list[str]:
        return [*self.level.key_columns, "day", *self.level.labels, *STATS]

    def hourly_cols(self) -> sql.Composed:
        return _join(I(c) for c in self._hourly_names())

    def daily_cols(self) -> sql.Composed:
        return _join(I(c) for c in self._daily_names())

    def _vals(self, alias: str, names: list[str]) -> sql.Composed:
        # Aggregates name the series column `series`; the tables name it after the key tag.
        return _join(I(alias, "series" if c == self.level.key else c) for c in names)

    def hourly_vals(self, alias: str) -> sql.Composed:
        return self._vals(alias, self._hourly_names())

    def daily_vals(self, alias: str) -> sql.Composed:
        return self._vals(alias, self._daily_names())

    def hourly_key(self) -> sql.Composed:
        return _join(I(c) for c in (*self.level.key_columns, "hour"))

    def daily_key(self) -> sql.Composed:
        return _join(I(c) for c in (*self.level.key_columns, "day"))

    def replace_set(self, extra: tuple[str, ...] = ()) -> sql.Composed:
        return _join(
            sql.SQL("{} = excluded.{}").format(I(c), I(c)) for c in (*self.level.labels, *STATS, *extra)
        )

    def add_set(self, extra: tuple[str, ...] = ()) -> sql.Composed:
        # Labels follow the newest rows, which on the fast path are always the new ones.
        parts = [sql.SQL("{} = excluded.{}").format(I(c), I(c)) for c in self.level.labels]
        parts += [sql.SQL("{} = {}").format(I(c), sql.SQL(_ADD[c])) for c in (*STATS, *extra)]
        return _join(parts)

    def format(self, template: str, **extra: sql.Composable) -> sql.Composed:
        return sql.SQL(template).format(
            lvl=sql.Literal(self.level.name),
            raw=self.raw,
            hourly=self.hourly,
            daily=self.daily,
            settings=_q("settings"),
            series_tbl=_q("series"),
            pending=_q("pending_buckets"),
            hour_start=_q("hour_start"),
            counter=I(COUNTER),
            lock_class=sql.Literal(LOCK_CLASS),
            n_site=self.site("n"),
            n_series=self.series("n"),
            n_site_c=self.site_key("n"),
            n_series_c=self.series_key("n"),
            match=self.match(),
            point_cols_n=self.point_cols("n"),
            point_cols_r=self.point_cols("r"),
            num_cols_n=self.num_cols("n"),
            n_label_max=sql.SQL("").join(
                sql.SQL(', max({} COLLATE "C") AS {}').format(I("n", lab), I(lab))
                for lab in self.level.labels
            ),
            agg1_all=_join(
                sql.SQL("agg1.{}").format(I(c)) for c in ("site", "series", "sid", "hour", "day", *STATS)
            ),
            hour_stats=self.hour_stats("dl"),
            agg_finish=self.agg_finish(),
            day_aggs_h=self.day_aggs("h"),
            day_aggs_hmax=self.day_aggs("h", newest="hmax"),
            h_cols=self.hourly_cols(),
            h_vals=self.hourly_vals("agg"),
            h_key=self.hourly_key(),
            h_replace=self.replace_set(HOURLY_ONLY),
            h_add=self.add_set(HOURLY_ONLY),
            t_series=self.rollup_series("t"),
            d_cols=self.daily_cols(),
            d_vals=self.daily_vals("a"),
            d_key=self.daily_key(),
            d_replace=self.replace_set(),
            d_add=self.add_set(),
            h_match_k=self.rollup_match("h", "k"),
            h_match_b=self.rollup_match("h", "b"),
            **extra,
        )


_TRIGGER_BODY = """
DECLARE
    v_tz text;
    v_raw_frozen timestamptz;
    v_day_frozen timestamptz;
    v_slow_site text[];
    v_slow_series text[];
    v_fast_site text[];
    v_fast_series text[];
    v_fast_counter double precision[];
    v_day_site text[];
    v_day_series text[];
    v_day_day date[];
BEGIN
    SELECT coalesce(max(s.value) FILTER (WHERE s.name = 'timezone'), 'UTC'),
           coalesce(max(s.value) FILTER (WHERE s.name = 'raw_pruned_before'), '-infinity')::timestamptz,
           coalesce(max(s.value) FILTER (WHERE s.name = 'hourly_pruned_before'), '-infinity')::timestamptz
    INTO v_tz, v_raw_frozen, v_day_frozen
    FROM {settings} s;

    BEGIN
        -- Serialise writers of the same site and level, in sorted order so that two writers
        -- cannot deadlock. (One house has one Telegraf, so nothing real waits on this; a lock
        -- per series would cost a millisecond per COPY.)
        PERFORM pg_advisory_xact_lock({lock_class}, k.h)
        FROM (
            SELECT DISTINCT hashtext({lvl} || chr(1) || x.site) AS h
            FROM (
                SELECT DISTINCT {n_site} AS site FROM new_rows n
                UNION
                SELECT p.site FROM {pending} p WHERE p.level = {lvl}
            ) x
            ORDER BY 1
        ) k
        ORDER BY k.h;

        -- Fast or slow? Fast when every new row is newer than the newest stored bucket's last row.
        WITH span AS (
            -- default collation here: these keys probe the rollup tables' primary keys
            SELECT {n_site} AS site, {n_series} AS series, min(n."time") AS t0,
                   bool_or(n.{counter} IS NULL) AS null_counter
            FROM new_rows n WHERE n."time" IS NOT NULL
            GROUP BY 1, 2
        ),
        pend AS (
            SELECT DISTINCT p.site, p.series FROM {pending} p WHERE p.level = {lvl}
        ),
        cls AS (
            SELECT b.site, b.series,
                   -- the newest bucket almost always has a counter; look further back only if not
                   coalesce(lb.last_counter, (
                       SELECT h.last_counter FROM {hourly} h WHERE {h_match_b} AND h.last_counter IS NOT NULL
                       ORDER BY h.hour DESC LIMIT 1)) AS last_counter,
                   (lb.last_time IS NULL OR b.t0 <= lb.last_time OR b.null_counter
                    OR EXISTS (SELECT 1 FROM pend WHERE pend.site = b.site AND pend.series = b.series)) AS slow
            FROM span b
            LEFT JOIN LATERAL (
                SELECT h.last_time, h.last_counter FROM {hourly} h WHERE {h_match_b} ORDER BY h.hour DESC LIMIT 1
            ) lb ON true
            UNION ALL
            SELECT pend.site, pend.series, NULL, true FROM pend
            WHERE NOT EXISTS (SELECT 1 FROM span WHERE span.site = pend.site AND span.series = pend.series)
        )
        SELECT array_agg(cls.site) FILTER (WHERE cls.slow), array_agg(cls.series) FILTER (WHERE cls.slow),
               array_agg(cls.site) FILTER (WHERE NOT cls.slow), array_agg(cls.series) FILTER (WHERE NOT cls.slow),
               array_agg(cls.last_counter) FILTER (WHERE NOT cls.slow)
        INTO v_slow_site, v_slow_series, v_fast_site, v_fast_series, v_fast_counter
        FROM cls;

        IF v_slow_site IS NOT NULL THEN
            INSERT INTO {series_tbl} (level, site, series)
            SELECT {lvl}, k.site, k.series FROM unnest(v_slow_site, v_slow_series) AS k(site, series)
            ON CONFLICT DO NOTHING;

            -- Slow path (late rows, duplicates, a new series, queued buckets): recompute the
            -- touched buckets from raw rows.
            WITH slow AS (
                SELECT k.site, k.series FROM unnest(v_slow_site, v_slow_series) AS k(site, series)
            ),
            pend AS (
                DELETE FROM {pending} p WHERE p.level = {lvl} RETURNING p.site, p.series, p.hour
            ),
            touched AS (
                SELECT x.site, x.series, {hour_start}(x."time", v_tz) AS hour
                FROM (
                    SELECT DISTINCT {n_site} AS site, {n_series} AS series, n."time"
                    FROM new_rows n
                    WHERE n."time" IS NOT NULL AND ({n_site}, {n_series}) IN (SELECT slow.site, slow.series FROM slow)
                ) x
                UNION
                SELECT pend.site, pend.series, pend.hour FROM pend
            ),
            follow AS (
                -- a late row changes the delta of the next row, which may sit in a later bucket
                SELECT b.site, b.series, {hour_start}(nx."time", v_tz) AS hour
                FROM touched b
                CROSS JOIN LATERAL (
                    SELECT r."time" FROM {raw} r
                    WHERE {match} AND r."time" >= b.hour + interval '1 hour' AND r.{counter} IS NOT NULL
                    ORDER BY r."time" LIMIT 1
                ) nx
            ),
            live AS (
                SELECT x.site, x.series, x.hour, (x.hour AT TIME ZONE v_tz)::date AS day
                FROM (
                    SELECT touched.site, touched.series, touched.hour FROM touched
                    UNION
                    SELECT follow.site, follow.series, follow.hour FROM follow
                ) x
                WHERE x.hour >= v_raw_frozen
            ),
            prev AS (
                SELECT b.site, b.series, b.hour, p.c AS prev_c
                FROM live b
                LEFT JOIN LATERAL (
                    SELECT r.{counter} AS c FROM {raw} r
                    WHERE {match} AND r."time" < b.hour AND r.{counter} IS NOT NULL
                    ORDER BY r."time" DESC, r.{counter} DESC LIMIT 1
                ) p ON true
            ),
            pts AS (
                SELECT b.site, b.series, b.hour, b.day, r."time", {point_cols_r}
                FROM live b
                JOIN {raw} r ON {match} AND r."time" >= b.hour AND r."time" < b.hour + interval '1 hour'
                GROUP BY b.site, b.series, b.hour, b.day, r."time"
            ),
            dl AS (
                SELECT pts.site, pts.series, pts.hour, pts.day, pts."time", pts.c, pts.w, pts.onv,
                       CASE WHEN pts.c IS NULL THEN NULL ELSE coalesce(lag(pts.c) OVER w, prev.prev_c) END AS pc
                FROM pts
                JOIN prev ON prev.site = pts.site AND prev.series = pts.series AND prev.hour = pts.hour
                WINDOW w AS (PARTITION BY pts.site, pts.series, pts.hour, pts.c IS NULL ORDER BY pts."time")
            ),
            agg0 AS (
                SELECT dl.site, dl.series, dl.hour, dl.day, {hour_stats}
                FROM dl
                GROUP BY dl.site, dl.series, dl.hour, dl.day
            ),
            {agg_finish},
            up AS (
                INSERT INTO {hourly} AS t ({h_cols})
                SELECT {h_vals} FROM agg
                ON CONFLICT ({h_key}) DO UPDATE SET {h_replace}
                RETURNING t.site, {t_series} AS series, t.day
            )
            SELECT array_agg(d.site), array_agg(d.series), array_agg(d.day)
            INTO v_day_site, v_day_series, v_day_day
            FROM (SELECT DISTINCT up.site, up.series, up.day FROM up) d;

            IF v_day_day IS NOT NULL THEN
                INSERT INTO {daily} AS t ({d_cols})
                SELECT {d_vals} FROM (
                    SELECT k.site, k.series, k.day, {day_aggs_h}
                    FROM unnest(v_day_site, v_day_series, v_day_day) AS k(site, series, day)
                    JOIN {hourly} h ON {h_match_k} AND h.day = k.day
                        AND h.hour >= (k.day::timestamp AT TIME ZONE v_tz) - interval '1 day'
                        AND h.hour < (k.day::timestamp AT TIME ZONE v_tz) + interval '2 days'
                    WHERE (k.day::timestamp AT TIME ZONE v_tz) >= v_day_frozen
                    GROUP BY k.site, k.series, k.day
                ) a
                ON CONFLICT ({d_key}) DO UPDATE SET {d_replace};
            END IF;
        END IF;

        IF v_fast_site IS NOT NULL THEN
            -- Fast path: deltas from the new rows and the stored last counter; buckets grow.
            -- Its cached (generic) plan cannot see how many series the arrays hold and would pick
            -- nested loops over hundreds of rows; it needs no index lookups, so hash joins only.
            -- (The function's SET clause restores the caller's value on return.)
            PERFORM set_config('enable_nestloop', 'off', true);
            WITH fast AS (
                -- sid: a small integer per series, so that sorting and grouping compare integers,
                -- not text (text comparisons were the biggest single cost of this statement)
                SELECT f.site, f.series, f.last_counter, f.sid
                FROM unnest(v_fast_site, v_fast_series, v_fast_counter) WITH ORDINALITY
                     AS f(site, series, last_counter, sid)
            ),
            hours AS MATERIALIZED (
                -- one time zone conversion per distinct time, not per row
                SELECT x."time", x.hour, (x.hour AT TIME ZONE v_tz)::date AS day
                FROM (
                    SELECT t."time", {hour_start}(t."time", v_tz) AS hour
                    FROM (SELECT DISTINCT n."time" FROM new_rows n WHERE n."time" IS NOT NULL) t
                ) x
            ),
            d0 AS (
                -- One sample per series and time (numbers only: labels are fetched for the few
                -- buckets at the end), deltas in (sid, time) order, which the grouping can deliver.
                SELECT p.*, coalesce(lag(p.c) OVER (PARTITION BY p.sid ORDER BY p."time"), p.stored_c) AS pc
                FROM (
                    SELECT fast.sid, max(fast.last_counter) AS stored_c, n."time", {num_cols_n}
                    FROM new_rows n
                    JOIN fast ON fast.site = {n_site} AND fast.series = {n_series}
                    WHERE n."time" IS NOT NULL
                    GROUP BY fast.sid, n."time"
                ) p
            ),
            dl AS (
                SELECT d0.*, hours.hour, hours.day FROM d0 JOIN hours ON hours."time" = d0."time"
            ),
            agg0 AS (
                SELECT dl.sid, dl.hour, dl.day, {hour_stats}
                FROM dl
                GROUP BY dl.sid, dl.hour, dl.day
            ),
            agg1 AS MATERIALIZED (
                SELECT fast.site, fast.series, agg0.* FROM agg0 JOIN fast ON fast.sid = agg0.sid
            ),
            agg AS (
                -- the labels and counter of each bucket's newest row, from this COPY's rows
                SELECT {agg1_all}, max(n.{counter}) AS last_counter{n_label_max}
                FROM agg1
                JOIN new_rows n ON {n_site} = agg1.site AND {n_series} = agg1.series AND n."time" = agg1.last_time
                GROUP BY {agg1_all}
            ),
            up_h AS (
                INSERT INTO {hourly} AS t ({h_cols})
                SELECT {h_vals} FROM agg
                ON CONFLICT ({h_key}) DO UPDATE SET {h_add}
            ),
            aggd AS (
                SELECT agg.*, max(agg.hour) OVER (PARTITION BY agg.site, agg.series, agg.day) AS hmax FROM agg
            ),
            dagg AS (
                SELECT h.site, h.series, h.day, {day_aggs_hmax}
                FROM aggd h
                GROUP BY h.site, h.series, h.day
            )
            INSERT INTO {daily} AS t ({d_cols})
            SELECT {d_vals} FROM dagg a
            ON CONFLICT ({d_key}) DO UPDATE SET {d_add};
            PERFORM set_config('enable_nestloop', 'on', true);
        END IF;
    EXCEPTION WHEN OTHERS THEN
        -- Failing here would fail Telegraf's COPY, and Telegraf drops rows on such errors: keep
        -- the rows, queue their buckets, and let the next COPY into this table recompute them.
        RAISE WARNING 'telegraf-lutron: % rollup deferred: % (SQLSTATE %)', {lvl}, SQLERRM, SQLSTATE;
        BEGIN
            INSERT INTO {pending} (level, site, series, hour)
            SELECT DISTINCT {lvl}, {n_site}, {n_series}, {hour_start}(n."time", v_tz)
            FROM new_rows n WHERE n."time" IS NOT NULL
            ON CONFLICT DO NOTHING;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'telegraf-lutron: cannot queue % rollup: %', {lvl}, SQLERRM;
        END;
    END;
    RETURN NULL;
END;
"""


def trigger_function_name(level: Level) -> sql.Identifier:
    return _q(f"rollup_{level.name}")


def create_trigger_function(level: Level, raw_schema: str) -> sql.Composed:
    """`CREATE OR REPLACE FUNCTION lutron.rollup_<level>()` for the raw table in `raw_schema`."""
    body = Fragments(level, raw_schema).format(_TRIGGER_BODY).as_string(None)
    return sql.SQL(
        "CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql"
        " SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET enable_nestloop = on SET jit = off"
        " AS {body}"
    ).format(fn=trigger_function_name(level), body=sql.Literal(body))


def create_trigger(level: Level, raw_schema: str) -> sql.Composed:
    return sql.SQL(
        "CREATE TRIGGER {name} AFTER INSERT ON {raw} REFERENCING NEW TABLE AS new_rows"
        " FOR EACH STATEMENT EXECUTE FUNCTION {fn}()"
    ).format(name=I(TRIGGER_NAME), raw=level.raw_table(raw_schema), fn=trigger_function_name(level))


# --- bulk (re)computation -------------------------------------------------------------------

_BULK_HOURLY = """
WITH pts AS MATERIALIZED (
    SELECT p.*, hours.hour, hours.day
    FROM (
        SELECT {r_site} COLLATE "C" AS site, {r_series} COLLATE "C" AS series, r."time", {point_cols_r}
        FROM {raw} r WHERE r."time" IS NOT NULL
        GROUP BY 1, 2, 3
    ) p
    JOIN (
        -- one time zone conversion per distinct time, not per row
        SELECT x."time", x.hour, (x.hour AT TIME ZONE {tz})::date AS day
        FROM (
            SELECT t."time", {hour_start}(t."time", {tz}) AS hour
            FROM (SELECT DISTINCT r."time" FROM {raw} r WHERE r."time" IS NOT NULL) t
        ) x
    ) hours ON hours."time" = p."time"
),
dl AS (
    SELECT pts.site, pts.series, pts.hour, pts.day, pts."time", pts.c, pts.w, pts.onv,
           CASE WHEN pts.c IS NULL THEN NULL ELSE lag(pts.c) OVER w END AS pc
    FROM pts
    WINDOW w AS (PARTITION BY pts.site, pts.series, pts.c IS NULL ORDER BY pts."time")
),
agg0 AS (
    SELECT dl.site, dl.series, dl.hour, dl.day, {hour_stats}
    FROM dl
    GROUP BY dl.site, dl.series, dl.hour, dl.day
),
{agg_finish}
INSERT INTO {hourly} ({h_cols})
SELECT {h_vals} FROM agg
WHERE agg.hour >= {hour_from}
"""

_BULK_DAILY = """
INSERT INTO {daily} ({d_cols})
SELECT {d_vals} FROM (
    SELECT h.site, {h_series} AS series, h.day, {day_aggs_h}
    FROM {hourly} h
    WHERE h.day >= {day_from} AND (h.day::timestamp AT TIME ZONE {tz}) >= {day_frozen}
    GROUP BY 1, 2, 3
) a
"""

_BULK_SERIES = """
INSERT INTO {series_tbl} (level, site, series)
SELECT DISTINCT {lvl}, {r_site}, {r_series} FROM {raw} r WHERE r."time" IS NOT NULL
ON CONFLICT DO NOTHING
"""


def get_setting(cur: psycopg.Cursor[Any], name: str) -> str | None:
    cur.execute(sql.SQL("SELECT value FROM {} WHERE name = %s").format(_q("settings")), (name,))
    row = cur.fetchone()
    return None if row is None else str(row[0])


def _frozen(cur: psycopg.Cursor[Any], name: str) -> datetime | str:
    value = get_setting(cur, name)
    return datetime.fromisoformat(value) if value else "-infinity"


def rebuild_level(
    cur: psycopg.Cursor[Any], level: Level, raw_schema: str, tz: str, *, redo_days: bool = False
) -> None:
    """Recompute `level`'s rollups from its raw rows, in the caller's transaction.

    Buckets older than `raw_pruned_before` keep their stored values (their raw rows are gone).
    Days are recomputed from the hourly rows from the first rebuilt day on, or all days that still
    have complete hourly rows when `redo_days` (after a time zone change, with `day` re-derived).
    """
    f = Fragments(level, raw_schema)
    raw_frozen = _frozen(cur, "raw_pruned_before")
    day_frozen = _frozen(cur, "hourly_pruned_before")
    # The caller holds a lock that keeps Telegraf out, so no trigger runs concurrently.
    cur.execute(sql.SQL("DELETE FROM {} WHERE hour >= %s").format(f.hourly), (raw_frozen,))
    cur.execute(
        f.format(
            _BULK_HOURLY,
            tz=sql.Placeholder("tz"),
            hour_from=sql.Placeholder("hour_from"),
            r_site=f.site("r"),
            r_series=f.series("r"),
        ),
        {"tz": tz, "hour_from": raw_frozen},
    )
    if redo_days:
        cur.execute(
            sql.SQL(
                "UPDATE {} SET day = (hour AT TIME ZONE %(tz)s)::date WHERE day <> (hour AT TIME ZONE %(tz)s)::date"
            ).format(f.hourly),
            {"tz": tz},
        )
        day_from: Any = "-infinity"
    elif raw_frozen == "-infinity":
        day_from = "-infinity"
    else:
        cur.execute("SELECT (%s::timestamptz AT TIME ZONE %s)::date", (raw_frozen, tz))
        row = cur.fetchone()
        day_from = row[0] if row else "-infinity"
    cur.execute(
        sql.SQL(
            "DELETE FROM {} WHERE day >= %(day_from)s AND (day::timestamp AT TIME ZONE %(tz)s) >= %(day_frozen)s"
        ).format(f.daily),
        {"day_from": day_from, "tz": tz, "day_frozen": day_frozen},
    )
    cur.execute(
        f.format(
            _BULK_DAILY,
            tz=sql.Placeholder("tz"),
            day_from=sql.Placeholder("day_from"),
            day_frozen=sql.Placeholder("day_frozen"),
            h_series=f.rollup_series("h"),
        ),
        {"tz": tz, "day_from": day_from, "day_frozen": day_frozen},
    )
    cur.execute(f.format(_BULK_SERIES, r_site=f.site("r"), r_series=f.series("r")))
    cur.execute(sql.SQL("DELETE FROM {} WHERE level = %s").format(_q("pending_buckets")), (level.name,))


def rebuild_all(cur: psycopg.Cursor[Any], raw_schema: str, tz: str, *, redo_days: bool = False) -> None:
    for level in LEVELS:
        rebuild_level(cur, level, raw_schema, tz, redo_days=redo_days)
