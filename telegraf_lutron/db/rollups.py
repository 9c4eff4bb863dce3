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
  stored (`series_state.last_time`), the deltas need only the new rows and the stored last
  counter, and the buckets are updated incrementally (sums add, max takes the greater). This reads
  no raw rows, so ingest cost does not grow with how full a bucket already is.
- Slow path (late rows, duplicates, a new series): the touched hourly buckets, plus the bucket of
  the first row after each of them (whose delta a late row changes), are recomputed from the raw
  rows; the touched days are then recomputed from their hourly rows. Recomputing is idempotent,
  which is what makes duplicates and late rows come out right.
- Writers of the same series are serialised with transaction-level advisory locks (sorted, so no
  deadlocks), which keeps `series_state` honest when two COPYs overlap.
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
LOCK_CLASS = 0x4C54  # first key of our advisory locks ("LT"); the second is a hash of the series

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
}

I = sql.Identifier  # noqa: E741 - short on purpose, it appears in every fragment


def _q(name: str) -> sql.Identifier:
    return sql.Identifier(INTERNAL_SCHEMA, name)


def _join(parts: Iterable[sql.Composable], sep: str = ", ") -> sql.Composed:
    return sql.SQL(sep).join(list(parts))


class Fragments:
    """SQL pieces for one level, shared by the trigger function and the bulk rebuild."""

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
        """One sample per (series, time): duplicates collapse to their largest values."""
        cols = [
            sql.SQL("max({}) AS c").format(I(alias, COUNTER)),
            sql.SQL("max({}) AS w").format(I(alias, WATTS)),
            sql.SQL("max({}) AS onv").format(I(alias, self.level.on_field)),
        ]
        cols += [sql.SQL("max({}) AS {}").format(I(alias, lab), I(lab)) for lab in self.level.labels]
        return _join(cols)

    def hour_aggs(self, alias: str) -> sql.Composed:
        """Aggregates over samples with delta inputs `c` (counter) and `pc` (previous counter)."""
        a = sql.Identifier(alias)
        cols = [
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
        ]
        cols += [
            sql.SQL("(array_agg({} ORDER BY {} DESC))[1] AS {}").format(
                I(alias, lab), I(alias, "time"), I(lab)
            )
            for lab in self.level.labels
        ]
        return _join(cols)

    def day_aggs(self, alias: str) -> sql.Composed:
        """Daily aggregates over hourly rows (table rows or the same-shaped `agg`)."""
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
        cols += [
            sql.SQL("(array_agg({} ORDER BY {} DESC))[1] AS {}").format(
                I(alias, lab), I(alias, "hour"), I(lab)
            )
            for lab in self.level.labels
        ]
        return _join(cols)

    # --- rollup table columns ----------------------------------------------------------------
    def _cols(self, bucket: str) -> list[str]:
        return [
            *self.level.key_columns,
            bucket,
            *(("day",) if bucket == "hour" else ()),
            *self.level.labels,
            *STATS,
        ]

    def hourly_cols(self) -> sql.Composed:
        return _join(I(c) for c in self._cols("hour"))

    def daily_cols(self) -> sql.Composed:
        return _join(I(c) for c in self._cols("day"))

    def hourly_vals(self, alias: str, tz: sql.Composable) -> sql.Composed:
        """Values for hourly_cols from an aggregate with columns site, series, hour, labels, stats."""
        vals: list[sql.Composable] = [I(alias, "site")]
        if self.level.key is not None:
            vals.append(I(alias, "series"))
        vals += [I(alias, "hour"), sql.SQL("({} AT TIME ZONE {})::date").format(I(alias, "hour"), tz)]
        vals += [I(alias, c) for c in (*self.level.labels, *STATS)]
        return _join(vals)

    def daily_vals(self, alias: str) -> sql.Composed:
        vals: list[sql.Composable] = [I(alias, "site")]
        if self.level.key is not None:
            vals.append(I(alias, "series"))
        vals += [I(alias, c) for c in ("day", *self.level.labels, *STATS)]
        return _join(vals)

    def hourly_key(self) -> sql.Composed:
        return _join(I(c) for c in (*self.level.key_columns, "hour"))

    def daily_key(self) -> sql.Composed:
        return _join(I(c) for c in (*self.level.key_columns, "day"))

    def replace_set(self) -> sql.Composed:
        return _join(sql.SQL("{} = excluded.{}").format(I(c), I(c)) for c in (*self.level.labels, *STATS))

    def add_set(self) -> sql.Composed:
        # Labels follow the newest rows, which on the fast path are always the new ones.
        parts = [sql.SQL("{} = excluded.{}").format(I(c), I(c)) for c in self.level.labels]
        parts += [sql.SQL("{} = {}").format(I(c), sql.SQL(_ADD[c])) for c in STATS]
        return _join(parts)

    def format(self, template: str, **extra: sql.Composable) -> sql.Composed:
        tz = sql.SQL("v_tz")
        return sql.SQL(template).format(
            lvl=sql.Literal(self.level.name),
            raw=self.raw,
            hourly=self.hourly,
            daily=self.daily,
            settings=_q("settings"),
            state=_q("series_state"),
            pending=_q("pending_buckets"),
            hour_start=_q("hour_start"),
            counter=I(COUNTER),
            lock_class=sql.Literal(LOCK_CLASS),
            n_site=self.site("n"),
            n_series=self.series("n"),
            match=self.match(),
            point_cols_n=self.point_cols("n"),
            point_cols_r=self.point_cols("r"),
            hour_aggs=self.hour_aggs("dl"),
            day_aggs_h=self.day_aggs("h"),
            h_cols=self.hourly_cols(),
            h_vals=self.hourly_vals("agg", tz),
            h_key=self.hourly_key(),
            h_replace=self.replace_set(),
            h_add=self.add_set(),
            t_series=self.rollup_series("t"),
            d_cols=self.daily_cols(),
            d_vals=self.daily_vals("a"),
            d_key=self.daily_key(),
            d_replace=self.replace_set(),
            d_add=self.add_set(),
            h_match_k=self.rollup_match("h", "k"),
            **extra,
        )


_TRIGGER_BODY = """
DECLARE
    v_tz text;
    v_raw_frozen timestamptz;
    v_day_frozen timestamptz;
    v_slow_site text[];
    v_slow_series text[];
    v_day_site text[];
    v_day_series text[];
    v_day_day date[];
BEGIN
    SELECT s.value INTO v_tz FROM {settings} s WHERE s.name = 'timezone';
    v_tz := coalesce(v_tz, 'UTC');
    SELECT s.value::timestamptz INTO v_raw_frozen FROM {settings} s WHERE s.name = 'raw_pruned_before';
    v_raw_frozen := coalesce(v_raw_frozen, '-infinity');
    SELECT s.value::timestamptz INTO v_day_frozen FROM {settings} s WHERE s.name = 'hourly_pruned_before';
    v_day_frozen := coalesce(v_day_frozen, '-infinity');

    BEGIN
        -- Serialise writers of the same series, in sorted order so that two writers cannot deadlock.
        PERFORM pg_advisory_xact_lock({lock_class}, k.h)
        FROM (
            SELECT DISTINCT hashtext({lvl} || chr(1) || x.site || chr(1) || x.series) AS h
            FROM (
                SELECT {n_site} AS site, {n_series} AS series FROM new_rows n
                UNION
                SELECT p.site, p.series FROM {pending} p WHERE p.level = {lvl}
            ) x
            ORDER BY 1
        ) k
        ORDER BY k.h;

        INSERT INTO {state} (level, site, series)
        SELECT DISTINCT {lvl}, {n_site}, {n_series} FROM new_rows n WHERE n."time" IS NOT NULL
        ON CONFLICT DO NOTHING;

        -- Slow path: series whose new rows are not all newer than what is stored (late rows,
        -- duplicates, a new series) and queued buckets: recompute the buckets from raw rows.
        WITH span AS (
            SELECT {n_site} AS site, {n_series} AS series, min(n."time") AS t0
            FROM new_rows n WHERE n."time" IS NOT NULL
            GROUP BY 1, 2
        ),
        pend AS (
            DELETE FROM {pending} p WHERE p.level = {lvl} RETURNING p.site, p.series, p.hour
        ),
        slow AS (
            SELECT sp.site, sp.series FROM span sp
            JOIN {state} s ON s.level = {lvl} AND s.site = sp.site AND s.series = sp.series
            WHERE s.last_time IS NULL OR sp.t0 <= s.last_time
            UNION
            SELECT pend.site, pend.series FROM pend
        ),
        touched AS (
            SELECT {n_site} AS site, {n_series} AS series, {hour_start}(n."time", v_tz) AS hour
            FROM new_rows n
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
            SELECT x.site, x.series, x.hour
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
            SELECT b.site, b.series, b.hour, r."time", {point_cols_r}
            FROM live b
            JOIN {raw} r ON {match} AND r."time" >= b.hour AND r."time" < b.hour + interval '1 hour'
            GROUP BY b.site, b.series, b.hour, r."time"
        ),
        dl AS (
            SELECT pts.*,
                   CASE WHEN pts.c IS NULL THEN NULL ELSE coalesce(lag(pts.c) OVER w, prev.prev_c) END AS pc
            FROM pts
            JOIN prev ON prev.site = pts.site AND prev.series = pts.series AND prev.hour = pts.hour
            WINDOW w AS (PARTITION BY pts.site, pts.series, pts.hour, pts.c IS NULL ORDER BY pts."time")
        ),
        agg AS (
            SELECT dl.site, dl.series, dl.hour, {hour_aggs}
            FROM dl
            GROUP BY dl.site, dl.series, dl.hour
        ),
        up AS (
            INSERT INTO {hourly} AS t ({h_cols})
            SELECT {h_vals} FROM agg
            ON CONFLICT ({h_key}) DO UPDATE SET {h_replace}
            RETURNING t.site, {t_series} AS series, t.day
        )
        SELECT (SELECT array_agg(slow.site) FROM slow), (SELECT array_agg(slow.series) FROM slow),
               array_agg(d.site), array_agg(d.series), array_agg(d.day)
        INTO v_slow_site, v_slow_series, v_day_site, v_day_series, v_day_day
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

        IF v_slow_site IS NOT NULL THEN
            UPDATE {state} s SET last_time = x.lt, last_counter = x.lc
            FROM (
                SELECT b.site, b.series,
                       (SELECT max(r."time") FROM {raw} r WHERE {match}) AS lt,
                       (SELECT r.{counter} FROM {raw} r WHERE {match} AND r.{counter} IS NOT NULL
                        ORDER BY r."time" DESC, r.{counter} DESC LIMIT 1) AS lc
                FROM unnest(v_slow_site, v_slow_series) AS b(site, series)
            ) x
            WHERE s.level = {lvl} AND s.site = x.site AND s.series = x.series;
        END IF;

        -- Fast path: every new row is newer than anything stored for its series, so the deltas
        -- follow from the new rows and the stored last counter, and buckets grow incrementally.
        WITH pts AS (
            SELECT {n_site} AS site, {n_series} AS series, n."time", {point_cols_n}
            FROM new_rows n WHERE n."time" IS NOT NULL
            GROUP BY 1, 2, 3
        ),
        fast AS (
            SELECT s.site, s.series, s.last_counter
            FROM (SELECT pts.site, pts.series, min(pts."time") AS t0 FROM pts GROUP BY 1, 2) sp
            JOIN {state} s ON s.level = {lvl} AND s.site = sp.site AND s.series = sp.series
            WHERE sp.t0 > s.last_time
        ),
        dl AS (
            SELECT pts.*, {hour_start}(pts."time", v_tz) AS hour,
                   CASE WHEN pts.c IS NULL THEN NULL
                        ELSE coalesce(lag(pts.c) OVER w, fast.last_counter) END AS pc
            FROM pts
            JOIN fast ON fast.site = pts.site AND fast.series = pts.series
            WINDOW w AS (PARTITION BY pts.site, pts.series, pts.c IS NULL ORDER BY pts."time")
        ),
        agg AS (
            SELECT dl.site, dl.series, dl.hour, {hour_aggs}
            FROM dl
            GROUP BY dl.site, dl.series, dl.hour
        ),
        up_h AS (
            INSERT INTO {hourly} AS t ({h_cols})
            SELECT {h_vals} FROM agg
            ON CONFLICT ({h_key}) DO UPDATE SET {h_add}
        ),
        dagg AS (
            SELECT h.site, h.series, (h.hour AT TIME ZONE v_tz)::date AS day, {day_aggs_h}
            FROM agg h
            GROUP BY 1, 2, 3
        ),
        up_d AS (
            INSERT INTO {daily} AS t ({d_cols})
            SELECT {d_vals} FROM dagg a
            ON CONFLICT ({d_key}) DO UPDATE SET {d_add}
        ),
        lastrow AS (
            SELECT dl.site, dl.series, max(dl."time") AS lt,
                   (array_agg(dl.c ORDER BY dl."time" DESC) FILTER (WHERE dl.c IS NOT NULL))[1] AS lc
            FROM dl
            GROUP BY dl.site, dl.series
        )
        UPDATE {state} s SET last_time = lastrow.lt, last_counter = coalesce(lastrow.lc, s.last_counter)
        FROM lastrow
        WHERE s.level = {lvl} AND s.site = lastrow.site AND s.series = lastrow.series;
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
        " SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS {body}"
    ).format(fn=trigger_function_name(level), body=sql.Literal(body))


def create_trigger(level: Level, raw_schema: str) -> sql.Composed:
    return sql.SQL(
        "CREATE TRIGGER {name} AFTER INSERT ON {raw} REFERENCING NEW TABLE AS new_rows"
        " FOR EACH STATEMENT EXECUTE FUNCTION {fn}()"
    ).format(name=I(TRIGGER_NAME), raw=level.raw_table(raw_schema), fn=trigger_function_name(level))


# --- bulk (re)computation -------------------------------------------------------------------

_BULK_HOURLY = """
INSERT INTO {hourly} ({h_cols})
SELECT {h_vals_p} FROM (
    SELECT dl.site, dl.series, dl.hour, {hour_aggs}
    FROM (
        SELECT p.*, {hour_start}(p."time", {tz}) AS hour,
               CASE WHEN p.c IS NULL THEN NULL ELSE lag(p.c) OVER w END AS pc
        FROM (
            SELECT {r_site} AS site, {r_series} AS series, r."time", {point_cols_r}
            FROM {raw} r WHERE r."time" IS NOT NULL
            GROUP BY 1, 2, 3
        ) p
        WINDOW w AS (PARTITION BY p.site, p.series, p.c IS NULL ORDER BY p."time")
    ) dl
    GROUP BY dl.site, dl.series, dl.hour
) agg
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

_BULK_STATE = """
INSERT INTO {state} AS s (level, site, series, last_time, last_counter)
SELECT {lvl}, b.site, b.series,
       (SELECT max(r."time") FROM {raw} r WHERE {match}),
       (SELECT r.{counter} FROM {raw} r WHERE {match} AND r.{counter} IS NOT NULL
        ORDER BY r."time" DESC, r.{counter} DESC LIMIT 1)
FROM (SELECT DISTINCT {r_site} AS site, {r_series} AS series FROM {raw} r WHERE r."time" IS NOT NULL) b
ON CONFLICT (level, site, series) DO UPDATE SET last_time = excluded.last_time, last_counter = excluded.last_counter
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
    """Recompute `level`'s rollups and series state from its raw rows, in the caller's transaction.

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
            h_vals_p=f.hourly_vals("agg", sql.Placeholder("tz")),
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
    cur.execute(f.format(_BULK_STATE, r_site=f.site("r"), r_series=f.series("r")))
    cur.execute(sql.SQL("DELETE FROM {} WHERE level = %s").format(_q("pending_buckets")), (level.name,))


def rebuild_all(cur: psycopg.Cursor[Any], raw_schema: str, tz: str, *, redo_days: bool = False) -> None:
    for level in LEVELS:
        rebuild_level(cur, level, raw_schema, tz, redo_days=redo_days)
