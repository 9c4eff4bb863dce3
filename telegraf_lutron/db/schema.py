"""`db init`: the measurement tables exactly as Telegraf's outputs.postgresql expects them, plus our
own versioned objects (settings, rollups, triggers) in the `lutron` schema.

The three measurement tables are Telegraf's (`time`, one text column per tag marked with the
comment `tag`, one double precision column per field; docs/telegraf.md §3). They may already exist,
created and filled by Telegraf: `init` then only adds what is missing and converts what Telegraf
could not write into (a `timestamp without time zone` time column, integer field columns), and
never drops a row. Everything in the `lutron` schema is created by numbered migrations recorded in
`lutron.schema_migrations`; running `init` again applies only what is new, so a second run changes
nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from telegraf_lutron.db import INTERNAL_SCHEMA, IncompatibleSchema, PermissionDenied, SchemaMissing
from telegraf_lutron.db import changes as ch
from telegraf_lutron.db import fragments as frag
from telegraf_lutron.db import rollups as rl
from telegraf_lutron.db.levels import (
    CHANGE_LEVELS,
    CHANGE_MEASUREMENTS,
    LEVELS,
    MEASUREMENTS,
    ZONE,
    ZONE_CHANGE,
    ZONE_INFO,
    Level,
)

log = logging.getLogger("telegraf_lutron.db")

DEFAULT_SCHEMA = "public"
INIT_LOCK = 0  # second advisory-lock key under rollups.LOCK_CLASS: one `db init` at a time

I = sql.Identifier  # noqa: E741


def _q(name: str) -> sql.Identifier:
    return sql.Identifier(INTERNAL_SCHEMA, name)


@dataclass(frozen=True, slots=True)
class Context:
    raw_schema: str


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered step of the `lutron` schema. `statements` says exactly what it runs, so the
    golden files (`golden`) show every migration's SQL; `apply` runs them in order."""

    version: int
    name: str
    statements: Callable[[Context], list[sql.Composed]]

    def apply(self, cur: psycopg.Cursor[Any], ctx: Context) -> None:
        for statement in self.statements(ctx):
            cur.execute(statement)


def _comment(table: sql.Composable, text: str) -> sql.Composed:
    return sql.SQL("COMMENT ON TABLE {} IS {}").format(table, sql.Literal(text))


def setting_statement(name: str, value: str) -> sql.Composed:
    """Store a setting (as `write_setting`, without reporting whether it changed)."""
    return sql.SQL(
        "INSERT INTO {} AS s (name, value) VALUES ({}, {})"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value WHERE s.value IS DISTINCT FROM excluded.value"
    ).format(_q("settings"), sql.Literal(name), sql.Literal(value))


# --- migration 1 ------------------------------------------------------------------------------


def _rollup_table(level: Level, bucket: str) -> sql.Composed:
    keys = [sql.SQL("{} text NOT NULL").format(I(k)) for k in level.key_columns]
    bucket_cols = (
        [sql.SQL("hour timestamptz NOT NULL"), sql.SQL("day date NOT NULL")]
        if bucket == "hour"
        else [sql.SQL("day date NOT NULL")]
    )
    labels = [sql.SQL("{} text").format(I(lab)) for lab in level.labels]
    table = level.hourly_table() if bucket == "hour" else level.daily_table()
    # Every COPY updates the current hour's and day's row of each series: free space on each page
    # keeps those updates HOT (no new index entries, no bloat).
    fillfactor = sql.Literal(70 if bucket == "hour" else 50)
    return sql.SQL("CREATE TABLE {t} ({cols}, {stats}, PRIMARY KEY ({pk})) WITH (fillfactor = {ff})").format(
        t=table,
        cols=sql.SQL(", ").join([*keys, *bucket_cols, *labels]),
        stats=rl.stats_ddl(hourly=bucket == "hour"),
        pk=sql.SQL(", ").join([*(I(k) for k in level.key_columns), I(bucket)]),
        ff=fillfactor,
    )


def _m1_initial(ctx: Context) -> list[sql.Composed]:
    out: list[sql.Composed] = [
        sql.SQL("CREATE TABLE {} (name text PRIMARY KEY, value text NOT NULL)").format(_q("settings")),
        sql.SQL(
            "CREATE TABLE {} (level text NOT NULL, site text NOT NULL, series text NOT NULL,"
            " PRIMARY KEY (level, site, series))"
        ).format(_q("series")),
        _comment(_q("series"), "every series ever seen: level (zone, area, system), site and zone/area id"),
        sql.SQL(
            "CREATE TABLE {} (level text NOT NULL, site text NOT NULL, series text NOT NULL,"
            " hour timestamptz NOT NULL, PRIMARY KEY (level, site, series, hour))"
        ).format(_q("pending_buckets")),
        _comment(_q("pending_buckets"), "hourly buckets whose rollup failed; recomputed by the next insert"),
        rl.create_hour_start_function(),
    ]
    for level in LEVELS:
        for bucket in ("hour", "day"):
            out.append(_rollup_table(level, bucket))
            table = level.hourly if bucket == "hour" else level.daily
            # Cross-series range scans (UI, prune); per-series lookups use the primary key.
            out.append(
                sql.SQL("CREATE INDEX {} ON {} ({})").format(I(f"{table}_{bucket}_idx"), _q(table), I(bucket))
            )
            out.append(
                _comment(
                    _q(table),
                    f"{'hourly' if bucket == 'hour' else 'daily'} energy and power per {level.name}"
                    f" from {level.measurement} (maintained by trigger {rl.TRIGGER_NAME})",
                )
            )
    return out


def _m2_staged_rollups(ctx: Context) -> list[sql.Composed]:
    out: list[sql.Composed] = [
        sql.SQL(
            "CREATE TABLE {} (level text PRIMARY KEY, staged_rows bigint NOT NULL DEFAULT 0,"
            " oldest timestamptz, since timestamptz)"
        ).format(_q("rollup_state")),
        _comment(
            _q("rollup_state"),
            "rows staged for the next rollup drain per level: how many, when the first arrived,"
            " the oldest time among them",
        ),
    ]
    for level in LEVELS:
        out.append(rl.Fragments(level, ctx.raw_schema).stage_ddl())
        out.append(
            _comment(
                rl.stage_table(level),
                f"rows of {level.measurement} not yet rolled up"
                f" (drained by {INTERNAL_SCHEMA}.{rl.drain_function(level)})",
            )
        )
        out.append(
            sql.SQL("INSERT INTO {} (level) VALUES ({})").format(_q("rollup_state"), sql.Literal(level.name))
        )
    out.append(
        _comment(
            _q("pending_buckets"), "hourly buckets whose rollup failed; recomputed by the next rollup drain"
        )
    )
    out.append(setting_statement("rollup_batch_rows", str(rl.DEFAULT_BATCH_ROWS)))
    out.append(setting_statement("rollup_delay_seconds", str(rl.DEFAULT_DELAY_SECONDS)))
    return out


# --- migration 3 ------------------------------------------------------------------------------


def _m3_kinds(ctx: Context) -> list[sql.Composed]:
    """Zones have a kind; areas and the house count lights, fans and shades instead of zones.

    The zone rollups get the `kind` label, and each stage's "on" column, named after the field it
    copied in version 2 (`level`, `zones_on`), becomes `on_value`: it holds lights on now, zones on
    for rows written before. The raw tables' new columns (`kind`, `pulses_total`, `lights_on`,
    `fans_on`, `shades_open`, `lights_total`) are added by `init` right after the migrations, as
    for any column a table lacks; rows written before keep `zones_on` and `zones_total`, which the
    rollups go on reading for them (`levels.Level.on_fields`), so history keeps its numbers. On a
    new database migrations 1 and 2 already made everything this way: these statements change
    nothing there.
    """
    out: list[sql.Composed] = [
        sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS kind text").format(_q(table))
        for table in (ZONE.hourly, ZONE.daily)
    ]
    for level in LEVELS:
        old_on = level.on_fields[-1]
        out.append(
            sql.SQL(
                "DO $$ BEGIN IF EXISTS (SELECT 1 FROM information_schema.columns"
                " WHERE table_schema = {schema} AND table_name = {stage} AND column_name = {old})"
                " THEN ALTER TABLE {table} RENAME COLUMN {old_id} TO {new_id}; END IF; END $$"
            ).format(
                schema=sql.Literal(INTERNAL_SCHEMA),
                stage=sql.Literal(f"stage_{level.name}"),
                old=sql.Literal(old_on),
                table=rl.stage_table(level),
                old_id=I(old_on),
                new_id=I(rl.ON),
            )
        )
    return out


def _m4_change_rollups(ctx: Context) -> list[sql.Composed]:
    # The snapshot tables and their rollups stay as they are (history written before the upgrade
    # is read from them); the change rows get their own exact rollups (db/changes.py).
    return ch.migration_statements()


def _m5_zone_names(ctx: Context) -> list[sql.Composed]:
    # Filled by a trigger on lutron_zone_info (and from its rows by db init and db rebuild).
    return ch.names_migration_statements()


def _m6_causes(ctx: Context) -> list[sql.Composed]:
    # Energy by cause per zone and unoccupied energy per area (db/changes.py). Zone rows already
    # stored are rolled up into them once the raw tables have their new columns (`_init`).
    return ch.cause_migration_statements()


def _m7_mixed_causes(ctx: Context) -> list[sql.Composed]:
    # A bucket with one cause keeps it on the zone's rollup row; only buckets with several have
    # rows by cause (db/changes.py). The zone rows already stored are rolled up again (`_init`).
    return ch.mixed_cause_migration_statements()


def _m8_monthly_causes(ctx: Context) -> list[sql.Composed]:
    # Energy by cause per local month, for the Why page's year (db/changes.py); the zone rows
    # already stored are rolled up into it (`_init`).
    return ch.monthly_cause_migration_statements()


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "settings, series state, hourly and daily rollups", _m1_initial),
    Migration(2, "rollups drained from a stage in batches", _m2_staged_rollups),
    Migration(3, "kinds: lights, fans and shades counted apart; zone kind in the rollups", _m3_kinds),
    Migration(4, "change rows: exact hourly and daily rollups per zone and house", _m4_change_rollups),
    Migration(5, "the newest names of every zone, for readers of the change rollups", _m5_zone_names),
    Migration(6, "causes: hourly and daily energy by cause per zone, unoccupied energy per area", _m6_causes),
    Migration(7, "causes: a bucket with one cause keeps it on the zone's rollup row", _m7_mixed_causes),
    Migration(8, "causes: energy by cause per zone and local month", _m8_monthly_causes),
)
CAUSES_VERSION = 8  # the newest migration whose rollups the zone rows already stored must fill again
LATEST = MIGRATIONS[-1].version


# --- measurement tables -------------------------------------------------------------------------

_FLOAT_CONVERTIBLE = ("bigint", "integer", "smallint", "real", "numeric")


def _relation_exists(cur: psycopg.Cursor[Any], schema: str, name: str) -> bool:
    cur.execute(
        "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')",
        (schema, name),
    )
    return cur.fetchone() is not None


@dataclass(frozen=True, slots=True)
class _Column:
    name: str
    type: str
    notnull: bool
    hasdef: bool
    comment: str | None


def _columns(cur: psycopg.Cursor[Any], schema: str, table: str) -> dict[str, _Column]:
    with cur.connection.cursor(row_factory=class_row(_Column)) as columns:
        columns.execute(
            "SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull,"
            " a.atthasdef AS hasdef, col_description(a.attrelid, a.attnum) AS comment"
            " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            (schema, table),
        )
        return {c.name: c for c in columns.fetchall()}


def _is_tag_comment(comment: str | None) -> bool:
    # Telegraf: a column whose comment's first word is "tag" is a tag column.
    return bool(comment) and (comment or "").split(maxsplit=1)[0] == "tag"


def telegraf_option_warnings(name: str, cols: list[_Column]) -> list[str]:
    """What an existing measurement table says about outputs.postgresql options that break it
    (docs/telegraf.md §3; db init cannot read Telegraf's configuration, only what it wrote): a
    jsonb `tags` or `fields` column (tags_as_jsonb, fields_as_jsonb: tags or fields go there, not
    into their columns) or a second timestamp column (a renamed timestamp_column_name: Telegraf
    fills that one, not "time")."""
    out = []
    for col in cols:
        if col.name in ("tags", "fields") and col.type == "jsonb":
            option = f"{col.name}_as_jsonb"
            what = "tag" if col.name == "tags" else "field"
            out.append(
                f"{name} has a jsonb column {col.name}: outputs.postgresql {option} = true writes every {what}"
                f" there, not into the {what} columns, so those rows are not rolled up; set {option} = false"
            )
        elif col.name != "time" and col.type.startswith("timestamp") and not col.hasdef:
            # (a column with a default is someone's own, e.g. inserted_at; Telegraf sets none)
            out.append(
                f"{name} has a timestamp column {col.name} besides time: if outputs.postgresql"
                f" timestamp_column_name names it, Telegraf writes the time there and none into"
                ' "time"; keep the default timestamp_column_name = "time"'
            )
    return out


def create_measurement(level: Level, schema: str) -> list[sql.Composed]:
    """A measurement table exactly as Telegraf's outputs.postgresql creates it (docs/telegraf.md
    §3), but with timestamptz: `time`, then a text column per tag (commented 'tag'), then a
    double precision column per field, each group alphabetical (fields of rows written by earlier
    versions included: `Level.legacy_fields`)."""
    table = level.raw_table(schema)
    cols: list[sql.Composable] = [sql.SQL('"time" timestamptz NOT NULL')]
    cols += [sql.SQL("{} text").format(I(t)) for t in level.tags]
    cols += [sql.SQL("{} double precision").format(I(f)) for f in level.stored_fields]
    out: list[sql.Composed] = [sql.SQL("CREATE TABLE {} ({})").format(table, sql.SQL(", ").join(cols))]
    out += [sql.SQL("COMMENT ON COLUMN {}.{} IS 'tag'").format(table, I(tag)) for tag in level.tags]
    return out


def _adapt_measurement(cur: psycopg.Cursor[Any], level: Level, schema: str) -> list[str]:
    """Bring an existing (Telegraf-created) table to the shape we need, keeping every row."""
    table = level.raw_table(schema)
    name = f"{schema}.{level.measurement}"
    actions: list[str] = []
    cols = _columns(cur, schema, level.measurement)
    if "tag_id" in cols:
        raise IncompatibleSchema(
            f"{name} has a tag_id column (outputs.postgresql tags_as_foreign_keys = true), which "
            "telegraf-lutron does not support; set tags_as_foreign_keys = false and use a new schema"
        )
    time_col = cols.get("time")
    if time_col is None:
        stamps = [c.name for c in cols.values() if c.type.startswith("timestamp")]
        hint = (
            f" (its time is in {', '.join(stamps)}: outputs.postgresql timestamp_column_name was changed)"
            if stamps
            else ""
        )
        raise IncompatibleSchema(
            f"{name} has no time column{hint}; telegraf-lutron needs Telegraf's default"
            ' timestamp_column_name = "time": set it back and rename or drop the table'
        )
    if time_col.type.startswith("timestamp") and time_col.type.endswith("without time zone"):
        # Telegraf's default stores UTC wall-clock time; timestamptz keeps the same instants.
        cur.execute(
            sql.SQL(
                """ALTER TABLE {} ALTER COLUMN "time" TYPE timestamptz USING "time" AT TIME ZONE 'UTC'"""
            ).format(table)
        )
        actions.append(f"converted {name}.time from timestamp (UTC) to timestamptz")
    elif not (time_col.type.startswith("timestamp") and time_col.type.endswith("with time zone")):
        raise IncompatibleSchema(
            f"{name}.time is {time_col.type}, expected timestamptz; fix the column by hand"
        )
    for tag in level.tags:
        col = cols.get(tag)
        if col is None:
            cur.execute(sql.SQL("ALTER TABLE {} ADD COLUMN {} text").format(table, I(tag)))
            cur.execute(sql.SQL("COMMENT ON COLUMN {}.{} IS 'tag'").format(table, I(tag)))
            actions.append(f"added tag column {name}.{tag}")
            continue
        if col.type != "text" and not col.type.startswith("character varying"):
            raise IncompatibleSchema(f"tag column {name}.{tag} is {col.type}, expected text; fix it by hand")
        if not _is_tag_comment(col.comment):
            cur.execute(sql.SQL("COMMENT ON COLUMN {}.{} IS 'tag'").format(table, I(tag)))
            actions.append(f"marked {name}.{tag} as a tag column (comment 'tag')")
    for fld in level.stored_fields:
        col = cols.get(fld)
        if col is None:
            cur.execute(sql.SQL("ALTER TABLE {} ADD COLUMN {} double precision").format(table, I(fld)))
            actions.append(f"added field column {name}.{fld}")
        elif col.type == "double precision":
            pass
        elif col.type.startswith(_FLOAT_CONVERTIBLE):
            # Telegraf fixes a column's type from the first value; our floats would fail forever.
            cur.execute(
                sql.SQL(
                    "ALTER TABLE {t} ALTER COLUMN {c} TYPE double precision USING {c}::double precision"
                ).format(t=table, c=I(fld))
            )
            actions.append(f"converted {name}.{fld} from {col.type} to double precision")
        else:
            raise IncompatibleSchema(f"field column {name}.{fld} is {col.type}, expected double precision")
    for warning in telegraf_option_warnings(name, list(cols.values())):
        log.warning("%s", warning)
        actions.append(f"WARNING: {warning}")
    ours = set(level.columns)
    for col in cols.values():
        if col.name not in ours and col.notnull and not col.hasdef:
            log.warning(
                "%s.%s is NOT NULL without a default: every Telegraf COPY into %s will fail",
                name,
                col.name,
                name,
            )
            actions.append(
                f"WARNING: {name}.{col.name} is NOT NULL without a default; Telegraf cannot write rows"
            )
    return actions


def measurement_indexes(level: Level, schema: str) -> dict[str, sql.Composed]:
    """The indexes `db init` keeps on a measurement table: name -> CREATE INDEX."""
    table = level.raw_table(schema)
    wanted = {
        # per-series time order: the rollup trigger's lookups, UI "current" queries, prune
        f"{level.measurement}_series_time_idx": sql.SQL('({}, "time")').format(
            frag.raw_series_index_key(level)
        ),
        # ad-hoc time-range queries (Grafana); a BRIN index costs a few pages
        f"{level.measurement}_time_brin": sql.SQL('USING brin ("time")'),
    }
    if level.name == "event":
        # Events are read by time only (a day's button presses): the BRIN index is enough, and a
        # per-series B-tree would cost a third of the table.
        del wanted[f"{level.measurement}_series_time_idx"]
    return {
        name: sql.SQL("CREATE INDEX {} ON {} {}").format(I(name), table, definition)
        for name, definition in wanted.items()
    }


def _ensure_indexes(cur: psycopg.Cursor[Any], level: Level, schema: str) -> list[str]:
    actions = []
    for index, statement in measurement_indexes(level, schema).items():
        if not _relation_exists_any(cur, schema, index):
            cur.execute(statement)
            actions.append(f"created index {schema}.{index}")
    return actions


def _relation_exists_any(cur: psycopg.Cursor[Any], schema: str, name: str) -> bool:
    cur.execute(
        "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
        (schema, name),
    )
    return cur.fetchone() is not None


def _has_trigger(cur: psycopg.Cursor[Any], schema: str, table: str, name: str = rl.TRIGGER_NAME) -> bool:
    cur.execute(
        "SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = %s AND t.tgname = %s",
        (schema, table, name),
    )
    return cur.fetchone() is not None


def _function_source(cur: psycopg.Cursor[Any], name: str) -> tuple[str, list[str] | None] | None:
    cur.execute(
        "SELECT p.prosrc, p.proconfig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = %s AND p.proname = %s",
        (INTERNAL_SCHEMA, name),
    )
    row = cur.fetchone()
    return None if row is None else (str(row[0]), row[1])


def _install_functions(cur: psycopg.Cursor[Any], raw_schema: str) -> list[str]:
    """The rollup functions are code: (re)create each whose source differs from this version's,
    so that `db init` after an upgrade brings them up to date (and a second run changes nothing)."""
    actions = []
    for name, signature, ddl in [*rl.functions(raw_schema), *ch.functions(raw_schema)]:
        before = _function_source(cur, name)
        cur.execute(sql.SQL("SAVEPOINT tl_fn"))
        cur.execute(ddl)
        after = _function_source(cur, name)
        if after == before:
            cur.execute(sql.SQL("ROLLBACK TO SAVEPOINT tl_fn"))  # keep the catalog row untouched
        else:
            cur.execute(sql.SQL("RELEASE SAVEPOINT tl_fn"))
            actions.append(f"{'updated' if before else 'created'} function {INTERNAL_SCHEMA}.{name}")
        # Only the owner (and, for the flush, the UI role) may run them: not PUBLIC.
        cur.execute(sql.SQL("REVOKE EXECUTE ON FUNCTION {} FROM PUBLIC").format(signature))
    return actions


# --- settings ---------------------------------------------------------------------------------


def read_settings(cur: psycopg.Cursor[Any]) -> dict[str, str]:
    """All settings, or {} when `db init` never ran."""
    if not _relation_exists(cur, INTERNAL_SCHEMA, "settings"):
        return {}
    cur.execute(sql.SQL("SELECT name, value FROM {}").format(_q("settings")))
    return {str(n): str(v) for n, v in cur.fetchall()}


def write_setting(cur: psycopg.Cursor[Any], name: str, value: str) -> bool:
    """Store a setting; True if it changed (an unchanged value is not rewritten)."""
    cur.execute(
        sql.SQL(
            "INSERT INTO {} AS s (name, value) VALUES (%s, %s)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value WHERE s.value IS DISTINCT FROM excluded.value"
            " RETURNING 1"
        ).format(_q("settings")),
        (name, value),
    )
    return cur.fetchone() is not None


def validate_timezone(cur: psycopg.Cursor[Any], tz: str) -> str:
    """The IANA name as PostgreSQL knows it; abbreviations and POSIX strings are refused because
    they carry no DST rules (and POSIX offsets have the opposite sign)."""
    cur.execute(
        "SELECT name FROM pg_timezone_names WHERE lower(name) = lower(%s) ORDER BY name = %s DESC LIMIT 1",
        (tz, tz),
    )
    row = cur.fetchone()
    if row is None:
        raise IncompatibleSchema(
            f"unknown time zone {tz!r}: give an IANA name such as Europe/Berlin or America/New_York"
        )
    return str(row[0])


def schema_version(cur: psycopg.Cursor[Any]) -> int | None:
    if not _relation_exists(cur, INTERNAL_SCHEMA, "schema_migrations"):
        return None
    cur.execute(sql.SQL("SELECT max(version) FROM {}").format(_q("schema_migrations")))
    row = cur.fetchone()
    return None if row is None or row[0] is None else int(row[0])


# --- roles ------------------------------------------------------------------------------------


def _role_exists(cur: psycopg.Cursor[Any], role: str) -> bool:
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
    return cur.fetchone() is not None


def _grant(cur: psycopg.Cursor[Any], role: str, raw_schema: str, *, writer: bool) -> list[str]:
    actions = []
    if not _role_exists(cur, role):
        cur.execute(sql.SQL("CREATE ROLE {} LOGIN").format(I(role)))
        actions.append(f"created role {role} (LOGIN, no password yet: ALTER ROLE {role} PASSWORD '...')")
    r = I(role)
    cur.execute(sql.SQL("SELECT current_database()"))
    row = cur.fetchone()
    assert row is not None
    cur.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(I(str(row[0])), r))
    cur.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(I(raw_schema), r))
    raw = sql.SQL(", ").join(level.raw_table(raw_schema) for level in (*LEVELS, *CHANGE_LEVELS))
    if writer:
        # Telegraf: COPY into the three tables. The triggers run as their owner (SECURITY DEFINER).
        cur.execute(sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(raw, r))
    else:
        cur.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(raw, r))
        cur.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(I(INTERNAL_SCHEMA), r))
        cur.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(I(INTERNAL_SCHEMA), r))
        # Readers may bring the rollups up to date (the function runs as its owner).
        cur.execute(sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(rl.flush_signature(), r))
    return actions


def set_role_password(conn: psycopg.Connection[Any], role: str, password: str) -> None:
    """Give `role` this password. It is sent as a SCRAM-SHA-256 verifier computed here, so the
    clear text never reaches the server (nor a statement log)."""
    verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(I(role), sql.Literal(verifier.decode())))


# --- init -------------------------------------------------------------------------------------


@dataclass(slots=True)
class InitReport:
    schema: str
    timezone: str
    version: int
    actions: list[str] = field(default_factory=list)
    ui_role: str | None = None
    telegraf_role: str | None = None


def init(
    conn: psycopg.Connection[Any],
    *,
    schema: str | None = None,
    timezone: str | None = None,
    ui_role: str | None = None,
    telegraf_role: str | None = None,
) -> InitReport:
    """Create or upgrade everything, in one transaction; idempotent. Rows already in the
    measurement tables are kept and rolled up."""
    try:
        with conn.transaction(), conn.cursor() as cur:
            return _init(cur, schema, timezone, ui_role, telegraf_role)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise PermissionDenied(
            f"permission denied during db init ({exc.diag.message_primary}); run it as the owner of the "
            "measurement tables (or a superuser); creating roles needs CREATEROLE"
        ) from exc


def _init(
    cur: psycopg.Cursor[Any],
    schema: str | None,
    timezone: str | None,
    ui_role: str | None,
    telegraf_role: str | None,
) -> InitReport:
    cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (rl.LOCK_CLASS, INIT_LOCK))
    actions: list[str] = []
    if not _relation_exists_any(cur, "pg_catalog", "pg_namespace"):  # pragma: no cover - sanity
        raise SchemaMissing("not a PostgreSQL database")
    cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (INTERNAL_SCHEMA,))
    if cur.fetchone() is None:
        cur.execute(sql.SQL("CREATE SCHEMA {}").format(I(INTERNAL_SCHEMA)))
        actions.append(f"created schema {INTERNAL_SCHEMA}")
    if not _relation_exists(cur, INTERNAL_SCHEMA, "schema_migrations"):
        cur.execute(
            sql.SQL(
                "CREATE TABLE {} (version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            ).format(_q("schema_migrations"))
        )
    settings = read_settings(cur)

    stored_schema = settings.get("raw_schema")
    raw_schema = schema or stored_schema or DEFAULT_SCHEMA
    if stored_schema and stored_schema != raw_schema:
        raise IncompatibleSchema(
            f"this database keeps the measurement tables in schema {stored_schema!r}, not {raw_schema!r}; "
            f"use --schema {stored_schema} (moving them is not supported)"
        )
    cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (raw_schema,))
    if cur.fetchone() is None:
        cur.execute(sql.SQL("CREATE SCHEMA {}").format(I(raw_schema)))
        actions.append(f"created schema {raw_schema}")

    stored_tz = settings.get("timezone")
    if timezone:
        tz = validate_timezone(cur, timezone)
    elif stored_tz:
        tz = stored_tz
    else:
        cur.execute("SELECT current_setting('TimeZone')")
        row = cur.fetchone()
        tz = validate_timezone(cur, str(row[0]) if row else "UTC")
        actions.append(f"time zone not given: using the server's {tz} (pass --timezone for the house's zone)")
    if stored_tz and stored_tz != tz:
        raise IncompatibleSchema(
            f"the rollups use time zone {stored_tz}; to change it run "
            f"`telegraf-lutron db rebuild --timezone {tz}`, which recomputes them"
        )

    # Keep Telegraf out while tables change and existing rows are rolled up; its COPY just waits.
    for level in (*LEVELS, *CHANGE_LEVELS):
        if _relation_exists(cur, raw_schema, level.measurement):
            cur.execute(
                sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(level.raw_table(raw_schema))
            )

    version = schema_version(cur) or 0
    before_causes = version < CAUSES_VERSION
    ctx = Context(raw_schema=raw_schema)
    for migration in MIGRATIONS:
        if migration.version > version:
            migration.apply(cur, ctx)
            cur.execute(
                sql.SQL("INSERT INTO {} (version, name) VALUES (%s, %s)").format(_q("schema_migrations")),
                (migration.version, migration.name),
            )
            actions.append(f"applied migration {migration.version}: {migration.name}")
            version = migration.version
    if version > LATEST:
        raise IncompatibleSchema(
            f"the database schema (version {version}) is newer than this program (version {LATEST}); upgrade telegraf-lutron"
        )

    actions += _install_functions(cur, raw_schema)
    if write_setting(cur, "raw_schema", raw_schema):
        actions.append(f"measurement tables in schema {raw_schema}")
    if write_setting(cur, "timezone", tz):
        actions.append(f"time zone {tz}")
    ui_role = ui_role or settings.get("ui_role")
    telegraf_role = telegraf_role or settings.get("telegraf_role")

    for level in LEVELS:
        name = f"{raw_schema}.{level.measurement}"
        if _relation_exists(cur, raw_schema, level.measurement):
            actions += _adapt_measurement(cur, level, raw_schema)
        else:
            for statement in create_measurement(level, raw_schema):
                cur.execute(statement)
            actions.append(f"created table {name}")
        actions += _ensure_indexes(cur, level, raw_schema)
        if not _has_trigger(cur, raw_schema, level.measurement):
            cur.execute(rl.create_trigger(level, raw_schema))
            actions.append(f"created rollup trigger on {name}")
            cur.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(level.raw_table(raw_schema)))
            row = cur.fetchone()
            if row and row[0]:
                cur.execute("SET LOCAL work_mem = '256MB'")  # one big sort instead of many small spills
                rl.rebuild_level(cur, level, raw_schema, tz)
                actions.append(f"rolled up the rows already in {name}")

    actions += _init_change_tables(cur, raw_schema)
    if before_causes:
        actions += _roll_up_causes(cur, raw_schema)

    if ui_role:
        actions += _grant(cur, ui_role, raw_schema, writer=False)
        if write_setting(cur, "ui_role", ui_role):
            actions.append(f"read-only access for role {ui_role}")
    if telegraf_role:
        actions += _grant(cur, telegraf_role, raw_schema, writer=True)
        if write_setting(cur, "telegraf_role", telegraf_role):
            actions.append(f"insert access for role {telegraf_role}")
    return InitReport(raw_schema, tz, version, actions, ui_role, telegraf_role)


def _init_change_tables(cur: psycopg.Cursor[Any], raw_schema: str) -> list[str]:
    """The change-row tables (Telegraf's shape), their indexes and rollup triggers."""
    actions: list[str] = []
    for level in CHANGE_LEVELS:
        name = f"{raw_schema}.{level.measurement}"
        if _relation_exists(cur, raw_schema, level.measurement):
            actions += _adapt_measurement(cur, level, raw_schema)
        else:
            for statement in create_measurement(level, raw_schema):
                cur.execute(statement)
            actions.append(f"created table {name}")
        actions += _ensure_indexes(cur, level, raw_schema)
        if level.measurement in ch.ROLLED_UP and not _has_trigger(
            cur, raw_schema, level.measurement, ch.TRIGGER_NAME
        ):
            cur.execute(ch.create_trigger(level, raw_schema))
            actions.append(f"created rollup trigger on {name}")
            cur.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(level.raw_table(raw_schema)))
            row = cur.fetchone()
            if row and row[0]:
                ch.mark_all(cur, raw_schema)
                actions.append(f"rolled up the rows already in {name}")
        if level is ZONE_INFO and not _has_trigger(cur, raw_schema, level.measurement, ch.NAMES_TRIGGER):
            cur.execute(ch.create_names_trigger(raw_schema))
            ch.fill_names(cur, raw_schema)
            ch.fill_last(cur, raw_schema)  # series rolled up before migration 5
            actions.append(f"created the zone names trigger on {name}")
    return actions


def _roll_up_causes(cur: psycopg.Cursor[Any], raw_schema: str) -> list[str]:
    """The cause rollups are new (migration 6): roll up the zone rows already stored again (the
    same numbers per zone, now by cause too; rows from before the `cause` column read as unknown)."""
    if not _relation_exists(cur, raw_schema, ZONE_CHANGE.measurement):
        return []
    cur.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(ZONE_CHANGE.raw_table(raw_schema)))
    row = cur.fetchone()
    if not (row and row[0]):
        return []
    ch.mark_all(cur, raw_schema)
    return [f"rolled up the rows already in {raw_schema}.{ZONE_CHANGE.measurement} by cause"]


def rebuild(conn: psycopg.Connection[Any], *, timezone: str | None = None) -> InitReport:
    """Recompute all rollups from the raw rows (optionally switching the time zone)."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (rl.LOCK_CLASS, INIT_LOCK))
        settings = read_settings(cur)
        if schema_version(cur) is None or "raw_schema" not in settings:
            raise SchemaMissing(
                "the database is not initialised; run `telegraf-lutron db init --dsn ...` first"
            )
        raw_schema = settings["raw_schema"]
        old_tz = settings.get("timezone", "UTC")
        tz = validate_timezone(cur, timezone) if timezone else old_tz
        actions = []
        for level in (*LEVELS, *CHANGE_LEVELS):
            cur.execute(
                sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(level.raw_table(raw_schema))
            )
        if write_setting(cur, "timezone", tz):
            actions.append(f"time zone changed from {old_tz} to {tz}")
        cur.execute("SET LOCAL work_mem = '256MB'")
        rl.rebuild_all(cur, raw_schema, tz, redo_days=tz != old_tz)
        for table in (*ch.ROLLUP_TABLES, ch.NAMES, ch.LAST):
            cur.execute(sql.SQL("DELETE FROM {}").format(_q(table)))
        ch.mark_all(cur, raw_schema)
        ch.fill_names(cur, raw_schema)
        actions.append("recomputed the rollups from the raw rows")
        version = schema_version(cur) or 0
        return InitReport(raw_schema, tz, version, actions)


# --- status -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TableStatus:
    name: str
    exists: bool
    trigger: bool
    rolled_up: bool = True  # False: a table of events or names, which has no rollups


@dataclass(frozen=True, slots=True)
class Status:
    version: int | None
    latest: int
    migrations: list[tuple[int, str, Any]]
    settings: dict[str, str]
    tables: list[TableStatus]
    pending_buckets: int
    staged_rows: dict[str, int] = field(default_factory=dict)  # per level, when not 0
    dirty_series: int = 0  # change-row series waiting for their rollup (a failed one: see the log)

    @property
    def up_to_date(self) -> bool:
        return self.version == self.latest and all(t.exists and t.trigger for t in self.tables)


def status(conn: psycopg.Connection[Any]) -> Status:
    with conn.transaction(), conn.cursor() as cur:
        version = schema_version(cur)
        migrations: list[tuple[int, str, Any]] = []
        if version is not None:
            cur.execute(
                sql.SQL("SELECT version, name, applied_at FROM {} ORDER BY version").format(
                    _q("schema_migrations")
                )
            )
            migrations = [(int(v), str(n), a) for v, n, a in cur.fetchall()]
        settings = read_settings(cur)
        raw_schema = settings.get("raw_schema", DEFAULT_SCHEMA)
        tables = []
        for m in MEASUREMENTS:
            exists = _relation_exists(cur, raw_schema, m)
            tables.append(
                TableStatus(f"{raw_schema}.{m}", exists, exists and _has_trigger(cur, raw_schema, m))
            )
        for m in CHANGE_MEASUREMENTS:
            exists = _relation_exists(cur, raw_schema, m)
            trigger = m not in ch.ROLLED_UP or _has_trigger(cur, raw_schema, m, ch.TRIGGER_NAME)
            tables.append(TableStatus(f"{raw_schema}.{m}", exists, exists and trigger, m in ch.ROLLED_UP))
        pending = 0
        if _relation_exists(cur, INTERNAL_SCHEMA, "pending_buckets"):
            cur.execute(sql.SQL("SELECT count(*) FROM {}").format(_q("pending_buckets")))
            row = cur.fetchone()
            pending = int(row[0]) if row else 0
        staged: dict[str, int] = {}
        if _relation_exists(cur, INTERNAL_SCHEMA, "rollup_state"):
            cur.execute(
                sql.SQL("SELECT level, staged_rows FROM {} WHERE staged_rows > 0").format(_q("rollup_state"))
            )
            staged = {str(level): int(n) for level, n in cur.fetchall()}
        dirty = 0
        if _relation_exists(cur, INTERNAL_SCHEMA, ch.DIRTY):
            cur.execute(sql.SQL("SELECT count(*) FROM {}").format(_q(ch.DIRTY)))
            row = cur.fetchone()
            dirty = int(row[0]) if row else 0
        return Status(version, LATEST, migrations, settings, tables, pending, staged, dirty)


def require_initialised(cur: psycopg.Cursor[Any]) -> dict[str, str]:
    """The settings of an initialised database, or SchemaMissing."""
    settings = read_settings(cur)
    if "raw_schema" not in settings or schema_version(cur) is None:
        raise SchemaMissing("the database is not initialised; run `telegraf-lutron db init --dsn ...` first")
    return settings
