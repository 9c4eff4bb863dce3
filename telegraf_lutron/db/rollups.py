"""Hourly and daily rollups per zone, area and system, maintained by triggers as Telegraf's COPY lands.

What a bucket holds (tables `lutron.{zone,area,system}_{hourly,daily}`):
- `energy_joules`: the sum of counter deltas of the bucket's rows. A row's delta is its counter
  minus the previous row's counter in the same series; when the counter went down (the plugin lost
  its state file and restarted from 0) the delta is the new value itself, i.e. the energy counted
  since the reset. The first row of a series has no delta. Energy across a gap (plugin or
  Telegraf down) is whatever the counters say, and lands in the bucket of the row that closes
  the gap: the counter only tells us the total, not when it was used.
- `watts_sum`/`watts_samples`/`watts_max` (and `watts_avg`): power over the bucket's samples.
- `on_samples`/`off_samples`: samples with the zone level (areas, system: lights on) > 0 / = 0.
  Area and system rows written before the kinds have no `lights_on`: their `zones_on` counts, so
  their buckets stay what they were (`levels.Level.on_fields`).
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
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from telegraf_lutron.db import INTERNAL_SCHEMA
from telegraf_lutron.db import fragments as frag
from telegraf_lutron.db.levels import COUNTER, LEVELS, WATTS, Level

TRIGGER_NAME = "lutron_rollup"
LOCK_CLASS = 0x4C54  # first key of our advisory locks ("LT"); the second is hashtext(level, chr(1), site)
ON = "on_value"  # the stage column holding a row's "on" number (zone level, lights on)
FLUSH_FUNCTION = "rollup_flush"
HOUR_START_FUNCTION = "hour_start"
# Defaults for the drain thresholds (lutron.settings, changeable with SQL): a drain runs inside
# the COPY that brings the stage to this many rows, or to rows staged this long ago.
DEFAULT_BATCH_ROWS = 20_000
DEFAULT_DELAY_SECONDS = 60

Identifier = sql.Identifier


def _q(name: str) -> sql.Identifier:
    return sql.Identifier(INTERNAL_SCHEMA, name)


def _join(parts: Iterable[sql.Composable], sep: str = ", ") -> sql.Composed:
    return sql.SQL(sep).join(list(parts))


# --- the statistics of a bucket ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stat:
    """One statistic column of the rollup tables, hourly and daily alike: its type and how it is
    computed. The rollup tables' DDL (`schema`), every aggregation here and the tests' reference
    (tests/pg_fixtures.py) take the list from `STATS`.

    `of_samples` aggregates one hour's samples (relation `{s}`: "time", counter, prev_counter,
    watts, on_value, one row per series and time); `of_hours` aggregates hourly rows (`{h}`) into a
    day; `combined` merges a stored row `t` with a new partial aggregate `excluded` of the same
    bucket (the fast path: rows newer than everything stored only add to it)."""

    name: str
    type: str
    of_samples: str
    of_hours: str
    combined: str
    nullable: bool = False


STATS: tuple[Stat, ...] = (
    Stat(
        "samples",
        "integer",
        "count(*)::integer",
        "sum({h}.samples)::integer",
        "t.samples + excluded.samples",
    ),
    Stat(
        # the counter's deltas: a counter that went down was reset, so its value is the delta
        "energy_joules",
        "double precision",
        "coalesce(sum(CASE WHEN {s}.counter IS NULL OR {s}.prev_counter IS NULL THEN 0"
        " WHEN {s}.counter >= {s}.prev_counter THEN {s}.counter - {s}.prev_counter ELSE {s}.counter END), 0)",
        "sum({h}.energy_joules)",
        "t.energy_joules + excluded.energy_joules",
    ),
    Stat(
        "watts_sum",
        "double precision",
        "coalesce(sum({s}.watts), 0)",
        "sum({h}.watts_sum)",
        "t.watts_sum + excluded.watts_sum",
    ),
    Stat(
        "watts_samples",
        "integer",
        "count({s}.watts)::integer",
        "sum({h}.watts_samples)::integer",
        "t.watts_samples + excluded.watts_samples",
    ),
    Stat(
        "watts_max",
        "double precision",
        "max({s}.watts)",
        "max({h}.watts_max)",
        "greatest(t.watts_max, excluded.watts_max)",
        nullable=True,
    ),
    Stat(
        "on_samples",
        "integer",
        "(count(*) FILTER (WHERE {s}.on_value > 0))::integer",
        "sum({h}.on_samples)::integer",
        "t.on_samples + excluded.on_samples",
    ),
    Stat(
        "off_samples",
        "integer",
        "(count(*) FILTER (WHERE {s}.on_value = 0))::integer",
        "sum({h}.off_samples)::integer",
        "t.off_samples + excluded.off_samples",
    ),
    Stat(
        "first_time",
        "timestamptz",
        'min({s}."time")',
        "min({h}.first_time)",
        "least(t.first_time, excluded.first_time)",
    ),
    Stat(
        "last_time",
        "timestamptz",
        'max({s}."time")',
        "max({h}.last_time)",
        "greatest(t.last_time, excluded.last_time)",
    ),
)
STAT_NAMES: tuple[str, ...] = tuple(s.name for s in STATS)
# Hourly tables only: the counter of the bucket's last row that has one (where the next bucket's
# first delta starts). Not an aggregate of the samples: looked up at the end (see `hour_rows`).
LAST_COUNTER = "last_counter"
LAST_COUNTER_COMBINED = "coalesce(excluded.last_counter, t.last_counter)"
# Derived from the statistics by PostgreSQL (a generated column, never written).
WATTS_AVG = "watts_avg double precision GENERATED ALWAYS AS (watts_sum / nullif(watts_samples, 0)) STORED"


def stats_ddl(*, hourly: bool) -> sql.Composed:
    """The statistic columns of a rollup table."""
    cols: list[sql.Composable] = [
        sql.SQL("{} {}{}").format(
            Identifier(s.name), sql.SQL(s.type), sql.SQL("" if s.nullable else " NOT NULL")
        )
        for s in STATS
    ]
    cols.append(sql.SQL(WATTS_AVG))
    if hourly:
        cols.append(sql.SQL("{} double precision").format(Identifier(LAST_COUNTER)))
    return _join(cols)


# Markers `Fragments.format` puts around list items and `_align_items` turns into indentation.
_FIRST_ITEM, _NEXT_ITEM = "\x01", "\x02"


def _align_items(text: str) -> str:
    """Indent every list item after the first to the column where the first one starts."""
    out = []
    column = 0
    for line in text.split("\n"):
        if line.startswith(_NEXT_ITEM):
            line = " " * column + line[1:]
        if _FIRST_ITEM in line:
            column = line.index(_FIRST_ITEM)
            line = line.replace(_FIRST_ITEM, "")
        out.append(line)
    return "\n".join(out)


def _stat(template: str, **aliases: str) -> sql.Composed:
    return sql.SQL(template).format(**{k: sql.SQL(v) for k, v in aliases.items()})


# --- functions, tables and the trigger: names -------------------------------------------------------


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


class Fragments:
    """SQL pieces for one level, shared by the trigger, the drain and the bulk rebuild, and the
    names the templates use for them (`format`).

    Every path builds `deltas`: one row per series and time with the hour and day it belongs to,
    counter, watts, on_value and prev_counter (the counter before it). `hour_stats` aggregates it
    per hour (the `STATS`, plus last_counter_time); the slow path and the rebuild add the newest
    row's labels and the last counter with `hour_rows` (from `points`, which carries the labels),
    the fast path with one index probe into the raw table per bucket.
    """

    def __init__(self, level: Level, raw_schema: str) -> None:
        self.level = level
        self.raw = level.raw_table(raw_schema)
        self.hourly = level.hourly_table()
        self.daily = level.daily_table()

    # --- one sample per series and time ---------------------------------------------------------
    def on_value(self, raw_alias: str) -> sql.Composable:
        """A raw row's "on" number: the first of `Level.on_fields` that is not NULL (lights on, or
        zones on for rows written before the kinds)."""
        cols = [frag.column(raw_alias, f) for f in self.level.on_fields]
        return cols[0] if len(cols) == 1 else sql.SQL("coalesce({})").format(_join(cols))

    def sample(self, alias: str) -> list[sql.Composable]:
        """One sample per (series, time) of raw rows, grouped by time: duplicates collapse to their
        largest values (labels compared bytewise, which is cheap and does not depend on the
        database's collation)."""
        labels = [
            sql.SQL('max({} COLLATE "C") AS {}').format(frag.column(alias, label), Identifier(label))
            for label in self.level.labels
        ]
        return [
            sql.SQL("max({}) AS counter").format(frag.column(alias, COUNTER)),
            sql.SQL("max({}) AS watts").format(frag.column(alias, WATTS)),
            sql.SQL("max({}) AS on_value").format(self.on_value(alias)),
            *labels,
        ]

    def sample_numbers(self, alias: str) -> list[sql.Composable]:
        """`sample` without the labels, of staged rows (which hold the "on" number as `on_value`)."""
        return [
            sql.SQL("max({}) AS counter").format(frag.column(alias, COUNTER)),
            sql.SQL("max({}) AS watts").format(frag.column(alias, WATTS)),
            sql.SQL("max({}) AS on_value").format(frag.column(alias, ON)),
        ]

    # --- aggregates -----------------------------------------------------------------------------
    def hour_stats(self, alias: str) -> list[sql.Composable]:
        """Hourly aggregates over a `deltas` relation (see the class docstring): the `STATS` and
        the time of the last sample with a counter (`hour_rows` looks its counter up)."""
        cols: list[sql.Composable] = [
            sql.SQL("{} AS {}").format(_stat(s.of_samples, s=alias), Identifier(s.name)) for s in STATS
        ]
        cols.append(
            sql.SQL('max({s}."time") FILTER (WHERE {s}.counter IS NOT NULL) AS last_counter_time').format(
                s=sql.SQL(alias)
            )
        )
        return cols

    def hour_rows(self) -> sql.Composed:
        """The CTE `hour_rows`: `hour_stats` plus the newest row's labels and the last counter,
        looked up in `points` (one row per series and time) by hash joins. Carrying the labels
        through the sorts and windows instead costs more than everything else together."""
        labels = [sql.SQL("newest_point.{}").format(Identifier(label)) for label in self.level.labels]
        cte = [
            "hour_rows AS (",
            "    SELECT hour_stats.*, last_counted.counter AS last_counter{labels}",
            "    FROM hour_stats",
            "    JOIN points newest_point ON newest_point.site = hour_stats.site",
            '        AND newest_point.series = hour_stats.series AND newest_point."time" = hour_stats.last_time',
            "    LEFT JOIN points last_counted ON last_counted.site = hour_stats.site",
            '        AND last_counted.series = hour_stats.series AND last_counted."time" = hour_stats.last_counter_time',
            ")",
        ]
        # Indented where the template puts it (see `_align_items`).
        text = _FIRST_ITEM + ("\n" + _NEXT_ITEM).join(cte)
        return sql.SQL(text).format(labels=sql.SQL("").join(sql.SQL(", ") + x for x in labels))

    def day_stats(self, alias: str, *, newest_by: str = "sort") -> list[sql.Composable]:
        """Daily aggregates over hourly-shaped rows. Labels of the newest hour: by sorting
        (`newest_by="sort"`), or, over rows carrying `newest_hour`, by filtering
        (`newest_by="newest_hour"`)."""
        h = sql.SQL(alias)
        cols: list[sql.Composable] = [
            sql.SQL("{} AS {}").format(_stat(s.of_hours, h=alias), Identifier(s.name)) for s in STATS
        ]
        for label in self.level.labels:
            if newest_by == "newest_hour":
                value: sql.Composable = sql.SQL(
                    'max({} COLLATE "C") FILTER (WHERE {h}.hour = {h}.newest_hour)'
                ).format(frag.column(alias, label), h=h)
            else:
                value = frag.newest(frag.column(alias, label), frag.column(alias, "hour"))
            cols.append(sql.SQL("{} AS {}").format(value, Identifier(label)))
        return cols

    # --- rollup table columns -------------------------------------------------------------------
    def _hourly_names(self) -> list[str]:
        return [*self.level.key_columns, "hour", "day", *self.level.labels, *STAT_NAMES, LAST_COUNTER]

    def _daily_names(self) -> list[str]:
        return [*self.level.key_columns, "day", *self.level.labels, *STAT_NAMES]

    def _values(self, alias: str, names: list[str]) -> list[sql.Composable]:
        # Aggregates name the series column `series`; the tables name it after the key tag.
        return [frag.column(alias, "series" if c == self.level.key else c) for c in names]

    def _replace(self, extra: tuple[str, ...] = ()) -> list[sql.Composable]:
        return [
            sql.SQL("{} = excluded.{}").format(Identifier(c), Identifier(c))
            for c in (*self.level.labels, *STAT_NAMES, *extra)
        ]

    def _add(self, *, hourly: bool) -> list[sql.Composable]:
        # Labels follow the newest rows, which on the fast path are always the new ones.
        parts: list[sql.Composable] = [
            sql.SQL("{} = excluded.{}").format(Identifier(c), Identifier(c)) for c in self.level.labels
        ]
        parts += [sql.SQL("{} = {}").format(Identifier(s.name), sql.SQL(s.combined)) for s in STATS]
        if hourly:
            parts.append(sql.SQL("{} = {}").format(Identifier(LAST_COUNTER), sql.SQL(LAST_COUNTER_COMBINED)))
        return parts

    # --- the stage: rows waiting for the next drain ----------------------------------------------
    def stage_columns(self) -> tuple[str, ...]:
        """What the drain needs of each new row (and all the stage table holds)."""
        # No labels: the drain reads them from the raw table for the newest row of each bucket.
        return (*self.level.key_columns, "time", COUNTER, WATTS, ON)

    def stage_values(self, raw_alias: str) -> sql.Composed:
        """`stage_columns` of raw rows (the "on" number computed, see `on_value`)."""
        return _join(
            self.on_value(raw_alias) if c == ON else frag.column(raw_alias, c) for c in self.stage_columns()
        )

    def stage_ddl(self) -> sql.Composed:
        types = {"time": "timestamptz"} | dict.fromkeys((COUNTER, WATTS, ON), "double precision")
        cols: list[sql.Composable] = [
            sql.SQL("{} {}").format(Identifier(c), sql.SQL(types.get(c, "text")))
            for c in self.stage_columns()
        ]
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
            "TRUNCATE {stage}; UPDATE {state} SET staged_rows = 0, oldest = NULL, since = NULL WHERE level = {level}"
        ).format(stage=stage_table(self.level), state=_q("rollup_state"), level=sql.Literal(self.level.name))

    # --- the templates' names ---------------------------------------------------------------------
    def render(self, template: str, **extra: sql.Composable) -> str:
        """`template` with every `{name}` of `format` filled in, as the text that will run."""
        return _align_items(self.format(template, **extra).as_string(None))

    def format(self, template: str, **extra: sql.Composable) -> sql.Composed:
        """`template` with every `{name}` below filled in for this level. Aliases the templates
        use: n = staged (or new) rows, r = raw rows, h = hourly rows, d = deltas, b and k = series
        keys. Lists of columns and aggregates put one item on each line, aligned under the first
        (`render` does the aligning), so that the SQL reads well and diffs line by line."""
        lv = self.level

        def lines(parts: Iterable[sql.Composable]) -> sql.Composed:
            return sql.SQL(_FIRST_ITEM) + _join(parts, ",\n" + _NEXT_ITEM)

        stage_columns = self.stage_columns()
        fast_stats_columns = ("site", "series", "sid", "hour", "day", *STAT_NAMES)
        return sql.SQL(template).format(
            # objects
            level_name=sql.Literal(lv.name),
            raw_table=self.raw,
            hourly_table=self.hourly,
            daily_table=self.daily,
            stage_table=stage_table(lv),
            rollup_state=_q("rollup_state"),
            settings_table=_q("settings"),
            series_table=_q("series"),
            pending_buckets=_q("pending_buckets"),
            hour_start=_q(HOUR_START_FUNCTION),
            drain_function=drain_function_name(lv),
            counter_column=Identifier(COUNTER),
            lock_class=sql.Literal(LOCK_CLASS),
            # the stage
            stage_columns=_join(Identifier(c) for c in stage_columns),
            stage_values_of_n=self.stage_values("n"),
            reset_stage=self.reset_stage(),
            # series keys and matches (see fragments)
            site_of_n=frag.raw_site("n"),
            series_of_n=frag.raw_series(lv, "n"),
            site_of_r=frag.raw_site("r"),
            series_of_r=frag.raw_series(lv, "r"),
            series_of_t=frag.rollup_series(lv, "t"),
            series_of_h=frag.rollup_series(lv, "h"),
            r_matches_b=frag.raw_matches(lv, "r", "b"),
            r_matches_fast_stats=frag.raw_matches(lv, "r", "fast_stats"),
            h_matches_b=frag.rollup_matches(lv, "h", "b"),
            h_matches_k=frag.rollup_matches(lv, "h", "k"),
            # samples and aggregates
            sample_of_r=lines(self.sample("r")),
            sample_numbers_of_n=lines(self.sample_numbers("n")),
            hour_stats_of_d=lines(self.hour_stats("d")),
            hour_rows=self.hour_rows(),
            day_stats_of_h=lines(self.day_stats("h")),
            day_stats_of_h_by_newest_hour=lines(self.day_stats("h", newest_by="newest_hour")),
            fast_stats_columns=lines(frag.column("fast_stats", c) for c in fast_stats_columns),
            newest_labels_of_r=sql.SQL("").join(
                sql.SQL(', max({} COLLATE "C") AS {}').format(frag.column("r", label), Identifier(label))
                for label in lv.labels
            ),
            # rollup rows: columns, values (from hour_rows / day_rows), keys and ON CONFLICT updates
            hourly_columns=_join(Identifier(c) for c in self._hourly_names()),
            hourly_values=lines(self._values("hour_rows", self._hourly_names())),
            hourly_key=_join(Identifier(c) for c in (*lv.key_columns, "hour")),
            hourly_replace=lines(self._replace((LAST_COUNTER,))),
            hourly_add=lines(self._add(hourly=True)),
            daily_columns=_join(Identifier(c) for c in self._daily_names()),
            daily_values=lines(self._values("day_rows", self._daily_names())),
            daily_key=_join(Identifier(c) for c in (*lv.key_columns, "day")),
            daily_replace=lines(self._replace()),
            daily_add=lines(self._add(hourly=False)),
            **extra,
        )


# --- the drain: roll up what is staged ----------------------------------------------------------

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
    LOCK TABLE {raw_table} IN ROW EXCLUSIVE MODE;
    -- One drain per level at a time. The trigger stages rows under the same lock, so the staged
    -- rows cannot change until this transaction ends.
    PERFORM pg_advisory_xact_lock({lock_class}, hashtext({level_name}));
    SELECT st.staged_rows, st.since INTO v_staged, v_since FROM {rollup_state} st WHERE st.level = {level_name};
    IF coalesce(v_staged, 0) = 0 AND NOT EXISTS (SELECT 1 FROM {pending_buckets} p WHERE p.level = {level_name}) THEN
        RETURN;
    END IF;
    SELECT coalesce(max(s.value) FILTER (WHERE s.name = 'timezone'), 'UTC'),
           coalesce(max(s.value) FILTER (WHERE s.name = 'raw_pruned_before'), '-infinity')::timestamptz,
           coalesce(max(s.value) FILTER (WHERE s.name = 'hourly_pruned_before'), '-infinity')::timestamptz
    INTO v_tz, v_raw_frozen, v_day_frozen
    FROM {settings_table} s;
    IF v_staged > 0 AND NOT EXISTS (SELECT 1 FROM {stage_table}) THEN
        -- The stage is UNLOGGED (its rows are in the raw table already, WAL-logged there), so a
        -- server crash empties it while rollup_state, which is logged, still counts its rows.
        -- Stage again every raw row from the oldest time that was staged: rows among them that
        -- were rolled up before make their series take the slow path, which recomputes the
        -- touched buckets from the raw rows (idempotent), so nothing counts twice.
        INSERT INTO {stage_table} ({stage_columns}, hour, day)
        SELECT {stage_values_of_n}, {hour_start}(n."time", v_tz), ({hour_start}(n."time", v_tz) AT TIME ZONE v_tz)::date
        FROM {raw_table} n WHERE n."time" >= v_since;
        GET DIAGNOSTICS v_staged = ROW_COUNT;
        RAISE WARNING 'telegraf-lutron: % rows staged for rollup were lost (server crash?); staged % rows again from %',
            {level_name}, v_staged, v_since;
    END IF;

    BEGIN
        -- Fast or slow? Fast when a series' staged rows are all newer than its newest bucket's last row.
        WITH staged_series AS (
            -- default collation here: these keys probe the rollup tables' primary keys
            SELECT {site_of_n} AS site, {series_of_n} AS series, min(n."time") AS first_time,
                   bool_or(n.{counter_column} IS NULL) AS null_counter
            FROM {stage_table} n WHERE n."time" IS NOT NULL
            GROUP BY 1, 2
        ),
        pending AS (
            SELECT DISTINCT p.site, p.series FROM {pending_buckets} p WHERE p.level = {level_name}
        ),
        classified AS (
            SELECT b.site, b.series,
                   -- the newest bucket almost always has a counter; look further back only if not
                   coalesce(newest_bucket.last_counter, (
                       SELECT h.last_counter FROM {hourly_table} h WHERE {h_matches_b} AND h.last_counter IS NOT NULL
                       ORDER BY h.hour DESC LIMIT 1)) AS last_counter,
                   -- A series without buckets is new: all its rows are staged (see the docstring).
                   (coalesce(b.first_time <= newest_bucket.last_time, false) OR b.null_counter
                    OR EXISTS (SELECT 1 FROM pending WHERE pending.site = b.site AND pending.series = b.series)) AS slow
            FROM staged_series b
            LEFT JOIN LATERAL (
                SELECT h.last_time, h.last_counter FROM {hourly_table} h WHERE {h_matches_b} ORDER BY h.hour DESC LIMIT 1
            ) newest_bucket ON true
            UNION ALL
            SELECT pending.site, pending.series, NULL, true FROM pending
            WHERE NOT EXISTS (
                SELECT 1 FROM staged_series s WHERE s.site = pending.site AND s.series = pending.series
            )
        )
        SELECT array_agg(c.site) FILTER (WHERE c.slow), array_agg(c.series) FILTER (WHERE c.slow),
               array_agg(c.site) FILTER (WHERE NOT c.slow), array_agg(c.series) FILTER (WHERE NOT c.slow),
               array_agg(c.last_counter) FILTER (WHERE NOT c.slow)
        INTO v_slow_site, v_slow_series, v_fast_site, v_fast_series, v_fast_counter
        FROM classified c;

        IF v_slow_site IS NOT NULL THEN
            INSERT INTO {series_table} (level, site, series)
            SELECT {level_name}, k.site, k.series FROM unnest(v_slow_site, v_slow_series) AS k(site, series)
            ON CONFLICT DO NOTHING;

            -- Slow path (late rows, duplicates, rows without a counter, queued buckets): recompute the
            -- touched buckets from raw rows. The index lookups (previous, following) are lateral and
            -- stay nested loops; everything else must hash: the estimates for the raw rows of the
            -- touched buckets can be far too low (a table not analysed since it filled), and a
            -- nested loop over 20,000 such rows takes seconds.
            PERFORM set_config('enable_nestloop', 'off', true);
            WITH slow AS (
                SELECT k.site, k.series FROM unnest(v_slow_site, v_slow_series) AS k(site, series)
            ),
            dequeued AS (
                DELETE FROM {pending_buckets} p WHERE p.level = {level_name} RETURNING p.site, p.series, p.hour
            ),
            touched AS (
                SELECT DISTINCT {site_of_n} AS site, {series_of_n} AS series, n.hour
                FROM {stage_table} n
                WHERE n."time" IS NOT NULL AND ({site_of_n}, {series_of_n}) IN (SELECT slow.site, slow.series FROM slow)
                UNION
                SELECT dequeued.site, dequeued.series, dequeued.hour FROM dequeued
            ),
            following AS (
                -- a late row changes the delta of the next row, which may sit in a later bucket
                SELECT b.site, b.series, {hour_start}(next_row."time", v_tz) AS hour
                FROM touched b
                CROSS JOIN LATERAL (
                    SELECT r."time" FROM {raw_table} r
                    WHERE {r_matches_b} AND r."time" >= b.hour + interval '1 hour' AND r.{counter_column} IS NOT NULL
                    ORDER BY r."time" LIMIT 1
                ) next_row
            ),
            buckets AS (
                SELECT x.site, x.series, x.hour, (x.hour AT TIME ZONE v_tz)::date AS day
                FROM (
                    SELECT touched.site, touched.series, touched.hour FROM touched
                    UNION
                    SELECT following.site, following.series, following.hour FROM following
                ) x
                WHERE x.hour >= v_raw_frozen
            ),
            previous AS MATERIALIZED (
                -- materialised: inlined, the lookup would run once per row instead of per bucket
                SELECT b.site, b.series, b.hour, p.counter AS prev_counter
                FROM buckets b
                LEFT JOIN LATERAL (
                    SELECT r.{counter_column} AS counter FROM {raw_table} r
                    WHERE {r_matches_b} AND r."time" < b.hour AND r.{counter_column} IS NOT NULL
                    ORDER BY r."time" DESC, r.{counter_column} DESC LIMIT 1
                ) p ON true
            ),
            points AS (
                -- lateral, so that it stays one index range scan per bucket with nested loops off
                SELECT b.site, b.series, b.hour, b.day, p.*
                FROM buckets b
                CROSS JOIN LATERAL (
                    SELECT r."time", {sample_of_r}
                    FROM {raw_table} r
                    WHERE {r_matches_b} AND r."time" >= b.hour AND r."time" < b.hour + interval '1 hour'
                    GROUP BY r."time"
                ) p
            ),
            deltas AS (
                SELECT p.site, p.series, p.hour, p.day, p."time", p.counter, p.watts, p.on_value,
                       CASE WHEN p.counter IS NULL THEN NULL
                            ELSE coalesce(lag(p.counter) OVER w, previous.prev_counter) END AS prev_counter
                FROM points p
                JOIN previous ON previous.site = p.site AND previous.series = p.series AND previous.hour = p.hour
                WINDOW w AS (PARTITION BY p.site, p.series, p.hour, p.counter IS NULL ORDER BY p."time")
            ),
            hour_stats AS (
                SELECT d.site, d.series, d.hour, d.day,
                       {hour_stats_of_d}
                FROM deltas d
                GROUP BY d.site, d.series, d.hour, d.day
            ),
            {hour_rows},
            upserted AS (
                INSERT INTO {hourly_table} AS t ({hourly_columns})
                SELECT {hourly_values}
                FROM hour_rows
                ON CONFLICT ({hourly_key}) DO UPDATE SET
                    {hourly_replace}
                RETURNING t.site, {series_of_t} AS series, t.day
            )
            SELECT array_agg(d.site), array_agg(d.series), array_agg(d.day)
            INTO v_day_site, v_day_series, v_day_day
            FROM (SELECT DISTINCT u.site, u.series, u.day FROM upserted u) d;
            PERFORM set_config('enable_nestloop', 'on', true);

            IF v_day_day IS NOT NULL THEN
                INSERT INTO {daily_table} AS t ({daily_columns})
                SELECT {daily_values}
                FROM (
                    SELECT k.site, k.series, k.day,
                           {day_stats_of_h}
                    FROM unnest(v_day_site, v_day_series, v_day_day) AS k(site, series, day)
                    JOIN {hourly_table} h ON {h_matches_k} AND h.day = k.day
                        AND h.hour >= (k.day::timestamp AT TIME ZONE v_tz) - interval '1 day'
                        AND h.hour < (k.day::timestamp AT TIME ZONE v_tz) + interval '2 days'
                    WHERE (k.day::timestamp AT TIME ZONE v_tz) >= v_day_frozen
                    GROUP BY k.site, k.series, k.day
                ) day_rows
                ON CONFLICT ({daily_key}) DO UPDATE SET
                    {daily_replace};
            END IF;
        END IF;

        IF v_fast_site IS NOT NULL THEN
            INSERT INTO {series_table} (level, site, series)
            SELECT {level_name}, k.site, k.series FROM unnest(v_fast_site, v_fast_series) AS k(site, series)
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
            deltas AS (
                -- One sample per series and time (numbers only: labels are fetched for the few
                -- buckets at the end), with its hour, and deltas in (sid, time) order.
                SELECT p.*, coalesce(lag(p.counter) OVER (PARTITION BY p.sid ORDER BY p."time"), p.stored_counter)
                       AS prev_counter
                FROM (
                    SELECT fast.sid, max(fast.last_counter) AS stored_counter, n."time",
                           max(n.hour) AS hour, max(n.day) AS day,
                           {sample_numbers_of_n}
                    FROM {stage_table} n
                    JOIN fast ON fast.site = {site_of_n} AND fast.series = {series_of_n}
                    WHERE n."time" IS NOT NULL
                    GROUP BY fast.sid, n."time"
                ) p
            ),
            hour_stats AS (
                SELECT d.sid, d.hour, d.day,
                       {hour_stats_of_d}
                FROM deltas d
                GROUP BY d.sid, d.hour, d.day
            ),
            fast_stats AS MATERIALIZED (
                SELECT fast.site, fast.series, hour_stats.* FROM hour_stats JOIN fast ON fast.sid = hour_stats.sid
            ),
            hour_rows AS (
                -- the labels and counter of each bucket's newest row: one index probe per bucket
                SELECT {fast_stats_columns}, newest_row.*
                FROM fast_stats
                CROSS JOIN LATERAL (
                    SELECT max(r.{counter_column}) AS last_counter{newest_labels_of_r}
                    FROM {raw_table} r
                    WHERE {r_matches_fast_stats} AND r."time" = fast_stats.last_time
                ) newest_row
            ),
            upserted_hours AS (
                INSERT INTO {hourly_table} AS t ({hourly_columns})
                SELECT {hourly_values}
                FROM hour_rows
                ON CONFLICT ({hourly_key}) DO UPDATE SET
                    {hourly_add}
            ),
            hours_of_day AS (
                SELECT hour_rows.*,
                       max(hour_rows.hour) OVER (PARTITION BY hour_rows.site, hour_rows.series, hour_rows.day)
                       AS newest_hour
                FROM hour_rows
            ),
            day_rows AS (
                SELECT h.site, h.series, h.day,
                       {day_stats_of_h_by_newest_hour}
                FROM hours_of_day h
                GROUP BY h.site, h.series, h.day
            )
            INSERT INTO {daily_table} AS t ({daily_columns})
            SELECT {daily_values}
            FROM day_rows
            ON CONFLICT ({daily_key}) DO UPDATE SET
                {daily_add};
            PERFORM set_config('enable_nestloop', 'on', true);
            PERFORM set_config('enable_sort', 'on', true);
            PERFORM set_config('enable_incremental_sort', 'on', true);
        END IF;
    EXCEPTION WHEN OTHERS THEN
        -- Failing here would fail Telegraf's COPY, and Telegraf drops rows on such errors: keep
        -- the rows, queue their buckets, and let the next drain recompute them.
        RAISE WARNING 'telegraf-lutron: % rollup deferred: % (SQLSTATE %)', {level_name}, SQLERRM, SQLSTATE;
        BEGIN
            INSERT INTO {pending_buckets} (level, site, series, hour)
            SELECT DISTINCT {level_name}, {site_of_n}, {series_of_n}, n.hour
            FROM {stage_table} n WHERE n."time" IS NOT NULL
            ON CONFLICT DO NOTHING;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'telegraf-lutron: cannot queue % rollup: %', {level_name}, SQLERRM;
        END;
    END;
    {reset_stage};
END;
"""

# --- the trigger: stage what a COPY brought ------------------------------------------------------

_TRIGGER_BODY = """
DECLARE
    v_new_rows bigint;
    v_staged bigint;
    v_oldest timestamptz;
    v_batch_rows bigint;
    v_delay_seconds double precision;
    v_tz text;
BEGIN
    BEGIN
        SELECT coalesce(max(s.value) FILTER (WHERE s.name = 'rollup_batch_rows'), '0')::bigint,
               coalesce(max(s.value) FILTER (WHERE s.name = 'rollup_delay_seconds'), '0')::double precision,
               coalesce(max(s.value) FILTER (WHERE s.name = 'timezone'), 'UTC')
        INTO v_batch_rows, v_delay_seconds, v_tz
        FROM {settings_table} s;
        -- Same lock as the drain: staged rows only change while it is held (see the drain).
        PERFORM pg_advisory_xact_lock({lock_class}, hashtext({level_name}));
        WITH times AS MATERIALIZED (
            -- one time zone conversion per distinct time (a COPY has a handful), not per row
            SELECT x."time", x.hour, (x.hour AT TIME ZONE v_tz)::date AS day
            FROM (
                SELECT t."time", {hour_start}(t."time", v_tz) AS hour
                FROM (SELECT DISTINCT n."time" FROM new_rows n WHERE n."time" IS NOT NULL) t
            ) x
        )
        INSERT INTO {stage_table} ({stage_columns}, hour, day)
        SELECT {stage_values_of_n}, times.hour, times.day
        FROM new_rows n JOIN times ON times."time" = n."time";
        GET DIAGNOSTICS v_new_rows = ROW_COUNT;
        UPDATE {rollup_state} st
        SET staged_rows = st.staged_rows + v_new_rows,
            oldest = coalesce(st.oldest, clock_timestamp()),
            since = least(st.since, (SELECT min(n."time") FROM new_rows n))
        WHERE st.level = {level_name}
        RETURNING st.staged_rows, st.oldest INTO v_staged, v_oldest;
    EXCEPTION WHEN OTHERS THEN
        -- Never fail Telegraf's COPY (it would drop the rows): queue the buckets instead.
        RAISE WARNING 'telegraf-lutron: % rollup deferred: % (SQLSTATE %)', {level_name}, SQLERRM, SQLSTATE;
        BEGIN
            SELECT coalesce(max(s.value) FILTER (WHERE s.name = 'timezone'), 'UTC') INTO v_tz FROM {settings_table} s;
            INSERT INTO {pending_buckets} (level, site, series, hour)
            SELECT DISTINCT {level_name}, {site_of_n}, {series_of_n}, {hour_start}(n."time", v_tz)
            FROM new_rows n WHERE n."time" IS NOT NULL
            ON CONFLICT DO NOTHING;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'telegraf-lutron: cannot queue % rollup: %', {level_name}, SQLERRM;
        END;
        RETURN NULL;
    END;
    IF v_staged >= v_batch_rows OR v_oldest <= clock_timestamp() - make_interval(secs => v_delay_seconds) THEN
        PERFORM {drain_function}();
    END IF;
    RETURN NULL;
END;
"""

# Start of the local clock hour containing t: t minus the minutes and seconds past the local hour.
_HOUR_START = (
    "CREATE FUNCTION {name}(t timestamptz, tz text) RETURNS timestamptz LANGUAGE sql IMMUTABLE PARALLEL SAFE"
    " RETURN t - ((t AT TIME ZONE tz) - date_trunc('hour', t AT TIME ZONE tz))"
)


def create_hour_start_function() -> sql.Composed:
    """`lutron.hour_start(t, tz)`: the start of the local clock hour containing `t`."""
    return sql.SQL(_HOUR_START).format(name=_q(HOUR_START_FUNCTION))


def _function(
    name: sql.Identifier, args: str, returns: str, settings: tuple[str, ...], body: str
) -> sql.Composed:
    """`CREATE OR REPLACE FUNCTION` of one of ours: PL/pgSQL, SECURITY DEFINER, search_path pinned;
    the body dollar-quoted, so that the DDL reads as it runs (see `golden`)."""
    if "$function$" in body:
        raise ValueError("a function body must not contain $function$")
    header = sql.SQL(
        "CREATE OR REPLACE FUNCTION {fn}({args}) RETURNS {returns} LANGUAGE plpgsql SECURITY DEFINER\n"
        "SET search_path = pg_catalog, pg_temp{settings}\nAS $function$"
    ).format(
        fn=name,
        args=sql.SQL(args),
        returns=sql.SQL(returns),
        settings=sql.SQL("".join(f"\nSET {s}" for s in settings)),
    )
    return _join([header, sql.SQL(body), sql.SQL("$function$")], "")


def create_trigger_function(level: Level, raw_schema: str) -> sql.Composed:
    """`lutron.rollup_<level>()`, the trigger on the raw table in `raw_schema`: stages the rows."""
    body = Fragments(level, raw_schema).render(_TRIGGER_BODY)
    return _function(trigger_function_name(level), "", "trigger", ("jit = off",), body)


def create_drain_function(level: Level, raw_schema: str) -> sql.Composed:
    """`lutron.drain_<level>()`: roll up the staged rows."""
    body = Fragments(level, raw_schema).render(_DRAIN_BODY)
    settings = (
        "enable_nestloop = on",
        "enable_sort = on",
        "enable_incremental_sort = on",
        "jit = off",
        "work_mem = '64MB'",
    )
    return _function(drain_function_name(level), "", "void", settings, body)


def create_flush_function() -> sql.Composed:
    """`lutron.rollup_flush(level)`: bring one level's rollups up to date now (for readers that
    want the last minute too; call it once per level, each in its own transaction, so that it
    never holds two levels' locks)."""
    cases = sql.SQL("").join(
        sql.SQL("\n        WHEN {} THEN PERFORM {}();").format(sql.Literal(lv.name), drain_function_name(lv))
        for lv in LEVELS
    )
    body = sql.SQL(
        "\nBEGIN\n    CASE level{cases}\n        ELSE RAISE EXCEPTION 'unknown level %', level;\n    END CASE;\nEND;\n"
    ).format(cases=cases)
    return _function(_q(FLUSH_FUNCTION), "level text", "void", (), body.as_string(None))


def functions(raw_schema: str) -> list[tuple[str, sql.Composed, sql.Composed]]:
    """Every function `db init` installs or updates: (name, its signature for GRANT/REVOKE, its
    DDL). (`hour_start` is created once, by migration 1.)"""
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
    ).format(name=Identifier(TRIGGER_NAME), raw=level.raw_table(raw_schema), fn=trigger_function_name(level))


# --- bulk (re)computation -------------------------------------------------------------------

_BULK_HOURLY = """
WITH points AS MATERIALIZED (
    SELECT p.*, hours.hour, hours.day
    FROM (
        SELECT {site_of_r} COLLATE "C" AS site, {series_of_r} COLLATE "C" AS series, r."time",
               {sample_of_r}
        FROM {raw_table} r WHERE r."time" IS NOT NULL
        GROUP BY 1, 2, 3
    ) p
    JOIN (
        -- one time zone conversion per distinct time, not per row
        SELECT x."time", x.hour, (x.hour AT TIME ZONE {tz})::date AS day
        FROM (
            SELECT t."time", {hour_start}(t."time", {tz}) AS hour
            FROM (SELECT DISTINCT r."time" FROM {raw_table} r WHERE r."time" IS NOT NULL) t
        ) x
    ) hours ON hours."time" = p."time"
),
deltas AS (
    SELECT p.site, p.series, p.hour, p.day, p."time", p.counter, p.watts, p.on_value,
           CASE WHEN p.counter IS NULL THEN NULL ELSE lag(p.counter) OVER w END AS prev_counter
    FROM points p
    WINDOW w AS (PARTITION BY p.site, p.series, p.counter IS NULL ORDER BY p."time")
),
hour_stats AS (
    SELECT d.site, d.series, d.hour, d.day,
           {hour_stats_of_d}
    FROM deltas d
    GROUP BY d.site, d.series, d.hour, d.day
),
{hour_rows}
INSERT INTO {hourly_table} ({hourly_columns})
SELECT {hourly_values}
FROM hour_rows
WHERE hour_rows.hour >= {hour_from}
"""

_BULK_DAILY = """
INSERT INTO {daily_table} ({daily_columns})
SELECT {daily_values}
FROM (
    SELECT h.site, {series_of_h} AS series, h.day,
           {day_stats_of_h}
    FROM {hourly_table} h
    WHERE h.day >= {day_from} AND (h.day::timestamp AT TIME ZONE {tz}) >= {day_frozen}
    GROUP BY 1, 2, 3
) day_rows
"""

_BULK_SERIES = """
INSERT INTO {series_table} (level, site, series)
SELECT DISTINCT {level_name}, {site_of_r}, {series_of_r} FROM {raw_table} r WHERE r."time" IS NOT NULL
ON CONFLICT DO NOTHING
"""


def rebuild_statements(level: Level, raw_schema: str) -> dict[str, sql.SQL]:
    """The bulk statements of `rebuild_level`, with the named parameters `tz`, `hour_from` (the
    hourly buckets to recompute), `day_from` and `day_frozen` (the days)."""
    f = Fragments(level, raw_schema)
    tz = sql.Placeholder("tz")
    return {
        "hourly": sql.SQL(f.render(_BULK_HOURLY, tz=tz, hour_from=sql.Placeholder("hour_from"))),
        "daily": sql.SQL(
            f.render(
                _BULK_DAILY,
                tz=tz,
                day_from=sql.Placeholder("day_from"),
                day_frozen=sql.Placeholder("day_frozen"),
            )
        ),
        "series": sql.SQL(f.render(_BULK_SERIES)),
    }


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
    statements = rebuild_statements(level, raw_schema)
    raw_frozen = _frozen(cur, "raw_pruned_before")
    day_frozen = _frozen(cur, "hourly_pruned_before")
    # The caller holds a lock that keeps Telegraf out, so no trigger runs concurrently.
    cur.execute(sql.SQL("DELETE FROM {} WHERE hour >= %s").format(f.hourly), (raw_frozen,))
    cur.execute(statements["hourly"], {"tz": tz, "hour_from": raw_frozen})
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
    cur.execute(statements["daily"], {"tz": tz, "day_from": day_from, "day_frozen": day_frozen})
    cur.execute(statements["series"])
    cur.execute(sql.SQL("DELETE FROM {} WHERE level = %s").format(_q("pending_buckets")), (level.name,))
    # Staged rows are raw rows too, now rolled up: nothing is waiting any more.
    cur.execute(f.reset_stage())


def rebuild_all(cur: psycopg.Cursor[Any], raw_schema: str, tz: str, *, redo_days: bool = False) -> None:
    for level in LEVELS:
        rebuild_level(cur, level, raw_schema, tz, redo_days=redo_days)
