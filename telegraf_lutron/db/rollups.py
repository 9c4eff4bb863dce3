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

Why triggers, a stage, and batched drains:
- A statement-level AFTER INSERT trigger with a transition table (`REFERENCING NEW TABLE`) runs
  once per COPY that Telegraf issues (one per measurement and flush), inside Telegraf's
  transaction, so it never sees rows that are later rolled back. It only copies the numbers the
  rollups need, with the row's local hour and day, into `lutron.stage_<level>` and counts them in
  `lutron.rollup_state`. The stage is UNLOGGED: its rows are WAL-logged in the raw table already.
  A crash empties it while `rollup_state` (logged) still counts rows and knows the oldest staged
  time (`since`); the next drain then stages every raw row from that time again, and the series
  whose rows were partly rolled up already take the slow path, which recomputes their buckets
  from the raw rows, so nothing is lost or counted twice.
- The staged rows are rolled up ("drained", `lutron.drain_<level>()`) in bulk: by the COPY that
  brings the stage to `rollup_batch_rows` rows (default 20,000) or that finds its oldest row
  staged more than `rollup_delay_seconds` ago (default 60), and by every reader before it reads
  rollups (`lutron.rollup_flush(level)`: `queries.HistoryStore` calls it, so the UI always sees
  every committed row; a millisecond when nothing is staged), and by `db prune` before it
  deletes. Both settings live in `lutron.settings`; `rollup_batch_rows = 0` drains in every COPY.
  Why: the work per drain is mostly per bucket touched (one hourly and one daily row per series,
  index probes, upserts), and a flush of Telegraf's default 1,000 metrics is 5 minutes of a
  200-zone house at 1-minute resolution, so draining per COPY updated ~400 rollup rows for every
  1,000 rows written. Drained in batches of 20,000 rows the same work is shared by 20 times as
  many rows; the per-row part (a sort, a window, a grouping) is unchanged. A live house (a few
  hundred rows every 10 s) drains once a minute.
- Fast path (almost every drain): for each series, if all staged rows are newer than everything
  stored (the `last_time` of its newest hourly bucket, one index probe), the deltas need only the
  staged rows and the stored last counter (`last_counter` of the newest bucket that has one), and
  the buckets are updated incrementally (sums add, max takes the greater). A series with no
  bucket yet is new and takes this path too: its raw rows are all in the stage (rows that were
  in the table before its trigger existed are rolled up by `db init`, rows whose drain failed
  are queued in `pending_buckets`, which makes the series slow). This reads no raw rows,
  so the cost does not grow with how full a bucket already is (the rollup tables have free space
  on each page so these updates stay HOT).
- Slow path (late rows, duplicates, rows without a counter, queued buckets): the touched hourly
  buckets, plus the bucket of the first row after each of them (whose delta a late row changes),
  are recomputed from the raw rows; the touched days are then recomputed from their hourly rows.
  Recomputing is idempotent, which is what makes duplicates and late rows come out right. Each
  series of a drain is classified on its own, so one late zone does not slow down the others.
  Both paths run with nested loops off (except the lateral index probes): the planner knows
  nothing useful about the stage, and a nested loop over 20,000 rows it thinks are 20 takes
  seconds.
- One transaction-level advisory lock per level serialises staging and draining: a COPY holds it
  from its stage insert to its commit, so the staged rows a drain sees cannot change under it,
  and two drains never both take the newest bucket as their starting point. A reader's flush
  takes one level at a time in its own transaction, so it cannot deadlock with a writer.
- Per row, the fast path does one hash join, one sort (on a small integer series id and time:
  text comparisons cost several times more) feeding both the de-duplication and the deltas, and
  one grouping; time zone conversions (slow in PostgreSQL) happen once per distinct timestamp.
  Labels are looked up for the buckets only, at the end.
- Measured with bench/bench_db.py (200 zones, 34 areas, 1-minute resolution, 2-core machine):
  see the bench for figures and its docstring for what it times.
- A rollup failure must never fail Telegraf's COPY (Telegraf would drop the rows as a permanent
  error): staging and draining each run in a subtransaction; on error they log a WARNING and
  queue the buckets in `lutron.pending_buckets`, which the next drain recomputes.
- Buckets older than what `db prune` removed from the raw tables (`raw_pruned_before`) are never
  recomputed from raw (that would replace a complete bucket with a partial one); days older than
  `hourly_pruned_before` likewise.
- The functions are SECURITY DEFINER (owned by whoever ran `db init`, search_path pinned), so
  Telegraf's role needs INSERT on the three tables and nothing else; EXECUTE is revoked from
  PUBLIC, and only the UI role may call `rollup_flush`.

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
    """SQL pieces for one level, shared by the trigger, the drain and the bulk rebuild.

    Every path builds `dl`: one row per series and time with the hour and day it belongs to, c (the
    counter), w (watts), onv (the on field) and pc (the previous counter). `hour_stats` aggregates
    it per hour (`agg0`); the slow path and the rebuild add labels and the last counter with
    `agg_finish` (from `pts`, which carries the labels), the fast path with one index probe into
    the raw table per bucket.
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

    # --- the stage: rows waiting for the next drain ----------------------------------------------
    def stage_columns(self) -> tuple[str, ...]:
        """What the drain needs of each new row (and all the stage table holds)."""
        lv = self.level
        fields = tuple(dict.fromkeys((COUNTER, WATTS, lv.on_field)))
        # No labels: the drain reads them from the raw table for the newest row of each bucket.
        return (*lv.key_columns, "time", *fields)

    def stage_ddl(self) -> sql.Composed:
        types = {"time": "timestamptz"} | dict.fromkeys(
            (COUNTER, WATTS, self.level.on_field), "double precision"
        )
        cols = [sql.SQL("{} {}").format(I(c), sql.SQL(types.get(c, "text"))) for c in self.stage_columns()]
        # The row's local hour and day, computed when staged (once per distinct time of a COPY).
        cols += [sql.SQL("hour timestamptz NOT NULL"), sql.SQL("day date NOT NULL")]
        # Emptied by TRUNCATE, so there is nothing to vacuum, and no statistics are needed (the
        # drain's plans do not depend on them): autovacuum would only compete for the lock.
        # UNLOGGED: its rows are WAL-logged in the raw table already; after a crash empties it,
        # the next drain stages them again from there (see the drain).
        return sql.SQL("CREATE UNLOGGED TABLE {} ({}) WITH (autovacuum_enabled = false)").format(
            stage_table(self.level), _join(cols)
        )

    def reset_stage(self) -> sql.Composed:
        """Empty the stage and its count (after a drain, or a rebuild that read every raw row).

        TRUNCATE, not DELETE: deleted rows would stay in the table until a vacuum (at most once a
        minute), and every drain would scan all of them. No other transaction can hold staged rows
        (they take the level's lock first) or read the stage, so the exclusive lock is free."""
        return sql.SQL(
            "TRUNCATE {stage}; UPDATE {state} SET staged_rows = 0, oldest = NULL, since = NULL WHERE level = {lvl}"
        ).format(stage=stage_table(self.level), state=_q("rollup_state"), lvl=sql.Literal(self.level.name))

    def format(self, template: str, **extra: sql.Composable) -> sql.Composed:
        return sql.SQL(template).format(
            lvl=sql.Literal(self.level.name),
            stage=stage_table(self.level),
            state=_q("rollup_state"),
            drain=drain_function_name(self.level),
            stage_cols=_join(I(c) for c in self.stage_columns()),
            stage_vals=_join(I("n", c) for c in self.stage_columns()),
            reset_stage=self.reset_stage(),
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
            match=self.match(),
            point_cols_r=self.point_cols("r"),
            num_cols_n=self.num_cols("n"),
            match_agg1=self.match("r", "agg1"),
            r_label_max=sql.SQL("").join(
                sql.SQL(', max({} COLLATE "C") AS {}').format(I("r", lab), I(lab))
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


_DRAIN_BODY = """
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
    v_staged bigint;
    v_since timestamptz;
BEGIN
    -- `db prune` takes SHARE ROW EXCLUSIVE after moving its cut-off: a drain outside a COPY
    -- (rollup_flush) must hold this too so that prune waits for it, as it waits for a COPY.
    LOCK TABLE {raw} IN ROW EXCLUSIVE MODE;
    -- One drain per level at a time. The trigger stages rows under the same lock, so the staged
    -- rows cannot change until this transaction ends.
    PERFORM pg_advisory_xact_lock({lock_class}, hashtext({lvl}));
    SELECT st.staged_rows, st.since INTO v_staged, v_since FROM {state} st WHERE st.level = {lvl};
    IF coalesce(v_staged, 0) = 0 AND NOT EXISTS (SELECT 1 FROM {pending} p WHERE p.level = {lvl}) THEN
        RETURN;
    END IF;
    SELECT coalesce(max(s.value) FILTER (WHERE s.name = 'timezone'), 'UTC'),
           coalesce(max(s.value) FILTER (WHERE s.name = 'raw_pruned_before'), '-infinity')::timestamptz,
           coalesce(max(s.value) FILTER (WHERE s.name = 'hourly_pruned_before'), '-infinity')::timestamptz
    INTO v_tz, v_raw_frozen, v_day_frozen
    FROM {settings} s;
    IF v_staged > 0 AND NOT EXISTS (SELECT 1 FROM {stage}) THEN
        -- The stage is UNLOGGED (its rows are in the raw table already, WAL-logged there), so a
        -- server crash empties it while rollup_state, which is logged, still counts its rows.
        -- Stage again every raw row from the oldest time that was staged: rows among them that
        -- were rolled up before make their series take the slow path, which recomputes the
        -- touched buckets from the raw rows (idempotent), so nothing counts twice.
        INSERT INTO {stage} ({stage_cols}, hour, day)
        SELECT {stage_vals}, {hour_start}(n."time", v_tz), ({hour_start}(n."time", v_tz) AT TIME ZONE v_tz)::date
        FROM {raw} n WHERE n."time" >= v_since;
        GET DIAGNOSTICS v_staged = ROW_COUNT;
        RAISE WARNING 'telegraf-lutron: % rows staged for rollup were lost (server crash?); staged % rows again from %',
            {lvl}, v_staged, v_since;
    END IF;

    BEGIN
        -- Fast or slow? Fast when a series' staged rows are all newer than its newest bucket's last row.
        WITH span AS (
            -- default collation here: these keys probe the rollup tables' primary keys
            SELECT {n_site} AS site, {n_series} AS series, min(n."time") AS t0,
                   bool_or(n.{counter} IS NULL) AS null_counter
            FROM {stage} n WHERE n."time" IS NOT NULL
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
                   -- A series without buckets is new: all its rows are staged (see the docstring).
                   (coalesce(b.t0 <= lb.last_time, false) OR b.null_counter
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

            -- Slow path (late rows, duplicates, rows without a counter, queued buckets): recompute the
            -- touched buckets from raw rows. The index lookups (prev, follow) are lateral and
            -- stay nested loops; everything else must hash: the estimates for the raw rows of the
            -- touched buckets can be far too low (a table not analysed since it filled), and a
            -- nested loop over 20,000 such rows takes seconds.
            PERFORM set_config('enable_nestloop', 'off', true);
            WITH slow AS (
                SELECT k.site, k.series FROM unnest(v_slow_site, v_slow_series) AS k(site, series)
            ),
            pend AS (
                DELETE FROM {pending} p WHERE p.level = {lvl} RETURNING p.site, p.series, p.hour
            ),
            touched AS (
                SELECT DISTINCT {n_site} AS site, {n_series} AS series, n.hour
                FROM {stage} n
                WHERE n."time" IS NOT NULL AND ({n_site}, {n_series}) IN (SELECT slow.site, slow.series FROM slow)
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
            prev AS MATERIALIZED (
                -- materialised: inlined, the lookup would run once per row instead of per bucket
                SELECT b.site, b.series, b.hour, p.c AS prev_c
                FROM live b
                LEFT JOIN LATERAL (
                    SELECT r.{counter} AS c FROM {raw} r
                    WHERE {match} AND r."time" < b.hour AND r.{counter} IS NOT NULL
                    ORDER BY r."time" DESC, r.{counter} DESC LIMIT 1
                ) p ON true
            ),
            pts AS (
                -- lateral, so that it stays one index range scan per bucket with nested loops off
                SELECT b.site, b.series, b.hour, b.day, p.*
                FROM live b
                CROSS JOIN LATERAL (
                    SELECT r."time", {point_cols_r}
                    FROM {raw} r
                    WHERE {match} AND r."time" >= b.hour AND r."time" < b.hour + interval '1 hour'
                    GROUP BY r."time"
                ) p
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
            PERFORM set_config('enable_nestloop', 'on', true);

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
            INSERT INTO {series_tbl} (level, site, series)
            SELECT {lvl}, k.site, k.series FROM unnest(v_fast_site, v_fast_series) AS k(site, series)
            ON CONFLICT DO NOTHING;
            -- Fast path: deltas from the staged rows and the stored last counter; buckets grow.
            -- Its cached (generic) plan cannot see how many series the arrays hold and would pick
            -- nested loops over hundreds of rows; it needs no index lookups, so hash joins only.
            -- (The function's SET clause restores the caller's value on return.)
            PERFORM set_config('enable_nestloop', 'off', true);
            -- Only the window needs its rows sorted; every grouping hashes (the planner, which
            -- cannot know the stage's size, would sort 20,000 rows again for the hourly groups).
            PERFORM set_config('enable_sort', 'off', true);
            PERFORM set_config('enable_incremental_sort', 'off', true);
            WITH fast AS (
                -- sid: a small integer per series, so that sorting and grouping compare integers,
                -- not text (text comparisons were the biggest single cost of this statement)
                SELECT f.site, f.series, f.last_counter, f.sid
                FROM unnest(v_fast_site, v_fast_series, v_fast_counter) WITH ORDINALITY
                     AS f(site, series, last_counter, sid)
            ),
            d0 AS (
                -- One sample per series and time (numbers only: labels are fetched for the few
                -- buckets at the end), with its hour, and deltas in (sid, time) order.
                SELECT p.*, coalesce(lag(p.c) OVER (PARTITION BY p.sid ORDER BY p."time"), p.stored_c) AS pc
                FROM (
                    SELECT fast.sid, max(fast.last_counter) AS stored_c, n."time",
                           max(n.hour) AS hour, max(n.day) AS day, {num_cols_n}
                    FROM {stage} n
                    JOIN fast ON fast.site = {n_site} AND fast.series = {n_series}
                    WHERE n."time" IS NOT NULL
                    GROUP BY fast.sid, n."time"
                ) p
            ),
            agg0 AS (
                SELECT dl.sid, dl.hour, dl.day, {hour_stats}
                FROM d0 dl
                GROUP BY dl.sid, dl.hour, dl.day
            ),
            agg1 AS MATERIALIZED (
                SELECT fast.site, fast.series, agg0.* FROM agg0 JOIN fast ON fast.sid = agg0.sid
            ),
            agg AS (
                -- the labels and counter of each bucket's newest row: one index probe per bucket
                SELECT {agg1_all}, lab.*
                FROM agg1
                CROSS JOIN LATERAL (
                    SELECT max(r.{counter}) AS last_counter{r_label_max}
                    FROM {raw} r
                    WHERE {match_agg1} AND r."time" = agg1.last_time
                ) lab
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
            PERFORM set_config('enable_sort', 'on', true);
            PERFORM set_config('enable_incremental_sort', 'on', true);
        END IF;
    EXCEPTION WHEN OTHERS THEN
        -- Failing here would fail Telegraf's COPY, and Telegraf drops rows on such errors: keep
        -- the rows, queue their buckets, and let the next drain recompute them.
        RAISE WARNING 'telegraf-lutron: % rollup deferred: % (SQLSTATE %)', {lvl}, SQLERRM, SQLSTATE;
        BEGIN
            INSERT INTO {pending} (level, site, series, hour)
            SELECT DISTINCT {lvl}, {n_site}, {n_series}, n.hour
            FROM {stage} n WHERE n."time" IS NOT NULL
            ON CONFLICT DO NOTHING;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'telegraf-lutron: cannot queue % rollup: %', {lvl}, SQLERRM;
        END;
    END;
    {reset_stage};
END;
"""

_TRIGGER_BODY = """
DECLARE
    v_n bigint;
    v_rows bigint;
    v_oldest timestamptz;
    v_every_rows bigint;
    v_every_seconds double precision;
    v_tz text;
BEGIN
    BEGIN
        SELECT coalesce(max(s.value) FILTER (WHERE s.name = 'rollup_batch_rows'), '0')::bigint,
               coalesce(max(s.value) FILTER (WHERE s.name = 'rollup_delay_seconds'), '0')::double precision,
               coalesce(max(s.value) FILTER (WHERE s.name = 'timezone'), 'UTC')
        INTO v_every_rows, v_every_seconds, v_tz
        FROM {settings} s;
        -- Same lock as the drain: staged rows only change while it is held (see the drain).
        PERFORM pg_advisory_xact_lock({lock_class}, hashtext({lvl}));
        WITH h AS MATERIALIZED (
            -- one time zone conversion per distinct time (a COPY has a handful), not per row
            SELECT x."time", x.hour, (x.hour AT TIME ZONE v_tz)::date AS day
            FROM (
                SELECT t."time", {hour_start}(t."time", v_tz) AS hour
                FROM (SELECT DISTINCT n."time" FROM new_rows n WHERE n."time" IS NOT NULL) t
            ) x
        )
        INSERT INTO {stage} ({stage_cols}, hour, day)
        SELECT {stage_vals}, h.hour, h.day
        FROM new_rows n JOIN h ON h."time" = n."time";
        GET DIAGNOSTICS v_n = ROW_COUNT;
        UPDATE {state} st SET staged_rows = st.staged_rows + v_n,
                              oldest = coalesce(st.oldest, clock_timestamp()),
                              since = least(st.since, (SELECT min(n."time") FROM new_rows n))
        WHERE st.level = {lvl}
        RETURNING st.staged_rows, st.oldest INTO v_rows, v_oldest;
    EXCEPTION WHEN OTHERS THEN
        -- Never fail Telegraf's COPY (it would drop the rows): queue the buckets instead.
        RAISE WARNING 'telegraf-lutron: % rollup deferred: % (SQLSTATE %)', {lvl}, SQLERRM, SQLSTATE;
        BEGIN
            SELECT coalesce(max(s.value) FILTER (WHERE s.name = 'timezone'), 'UTC') INTO v_tz FROM {settings} s;
            INSERT INTO {pending} (level, site, series, hour)
            SELECT DISTINCT {lvl}, {n_site}, {n_series}, {hour_start}(n."time", v_tz)
            FROM new_rows n WHERE n."time" IS NOT NULL
            ON CONFLICT DO NOTHING;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'telegraf-lutron: cannot queue % rollup: %', {lvl}, SQLERRM;
        END;
        RETURN NULL;
    END;
    IF v_rows >= v_every_rows OR v_oldest <= clock_timestamp() - make_interval(secs => v_every_seconds) THEN
        PERFORM {drain}();
    END IF;
    RETURN NULL;
END;
"""


def trigger_function(level: Level) -> str:
    return f"rollup_{level.name}"


def drain_function(level: Level) -> str:
    return f"drain_{level.name}"


def trigger_function_name(level: Level) -> sql.Identifier:
    return _q(trigger_function(level))


def drain_function_name(level: Level) -> sql.Identifier:
    return _q(drain_function(level))


def stage_table(level: Level) -> sql.Identifier:
    return _q(f"stage_{level.name}")


FLUSH_FUNCTION = "rollup_flush"
# Defaults for the drain thresholds (lutron.settings, changeable with SQL): a drain runs inside
# the COPY that brings the stage to this many rows, or to rows staged this long ago.
DEFAULT_BATCH_ROWS = 20_000
DEFAULT_DELAY_SECONDS = 60


def _function(name: sql.Identifier, args: str, returns: str, settings: str, body: str) -> sql.Composed:
    """`CREATE OR REPLACE FUNCTION` of one of ours: PL/pgSQL, SECURITY DEFINER, search_path pinned."""
    return sql.SQL(
        "CREATE OR REPLACE FUNCTION {fn}({args}) RETURNS {returns} LANGUAGE plpgsql"
        " SECURITY DEFINER SET search_path = pg_catalog, pg_temp{settings} AS {body}"
    ).format(
        fn=name,
        args=sql.SQL(args),
        returns=sql.SQL(returns),
        settings=sql.SQL(settings),
        body=sql.Literal(body),
    )


def create_trigger_function(level: Level, raw_schema: str) -> sql.Composed:
    """`lutron.rollup_<level>()`, the trigger on the raw table in `raw_schema`: stages the rows."""
    body = Fragments(level, raw_schema).format(_TRIGGER_BODY).as_string(None)
    return _function(trigger_function_name(level), "", "trigger", " SET jit = off", body)


def create_drain_function(level: Level, raw_schema: str) -> sql.Composed:
    """`lutron.drain_<level>()`: roll up the staged rows."""
    body = Fragments(level, raw_schema).format(_DRAIN_BODY).as_string(None)
    settings = (
        " SET enable_nestloop = on SET enable_sort = on SET enable_incremental_sort = on"
        " SET jit = off SET work_mem = '64MB'"
    )
    return _function(drain_function_name(level), "", "void", settings, body)


def create_flush_function() -> sql.Composed:
    """`lutron.rollup_flush(level)`: bring one level's rollups up to date now (for readers that
    want the last minute too; call it once per level, each in its own transaction, so that it
    never holds two levels' locks)."""
    cases = sql.SQL(" ").join(
        sql.SQL("WHEN {} THEN PERFORM {}();").format(sql.Literal(lv.name), drain_function_name(lv))
        for lv in LEVELS
    )
    body = sql.SQL(
        "BEGIN CASE level {cases} ELSE RAISE EXCEPTION 'unknown level %', level; END CASE; END;"
    ).format(cases=cases)
    return _function(_q(FLUSH_FUNCTION), "level text", "void", "", body.as_string(None))


def functions(raw_schema: str) -> list[tuple[str, sql.Composed, sql.Composed]]:
    """Every function `db init` installs: (name, its signature for GRANT/REVOKE, its DDL)."""
    out = []
    for level in LEVELS:
        for name, ddl in (
            (drain_function(level), create_drain_function(level, raw_schema)),
            (trigger_function(level), create_trigger_function(level, raw_schema)),
        ):
            out.append((name, sql.SQL("{}()").format(_q(name)), ddl))
    out.append((FLUSH_FUNCTION, flush_signature(), create_flush_function()))
    return out


def flush_signature() -> sql.Composed:
    return sql.SQL("{}(text)").format(_q(FLUSH_FUNCTION))


def flush(cur: psycopg.Cursor[Any], level: Level) -> None:
    """Drain `level`'s stage (autocommit callers: one transaction per level)."""
    cur.execute(sql.SQL("SELECT {}(%s)").format(_q(FLUSH_FUNCTION)), (level.name,))


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
    # Staged rows are raw rows too, now rolled up: nothing is waiting any more.
    cur.execute(f.reset_stage())


def rebuild_all(cur: psycopg.Cursor[Any], raw_schema: str, tz: str, *, redo_days: bool = False) -> None:
    for level in LEVELS:
        rebuild_level(cur, level, raw_schema, tz, redo_days=redo_days)
