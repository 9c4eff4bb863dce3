"""`telegraf-lutron db ...`: init, status, prune, stats, rebuild.

The connection string comes from `--dsn`, else $TELEGRAF_LUTRON_DSN, else libpq's own PG*
variables. It is only ever shown with the password masked.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg

from telegraf_lutron.db import (
    DSN_ENV,
    DbError,
    connect,
    mask_dsn,
    resolve_dsn,
    telegraf_connection,
    translate,
)
from telegraf_lutron.metrics import postgres_measurements, postgres_tags, prometheus_dropped

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_NOT_READY = 3  # `db status`: not initialised or an upgrade is pending


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)

    def with_dsn(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--dsn",
            help=f"libpq connection string or URI (default: ${DSN_ENV}, then the PG* environment variables)",
        )
        return p

    p = with_dsn(sub.add_parser("init", help="create or upgrade tables, rollups and triggers (idempotent)"))
    p.add_argument(
        "--schema", help="schema of the measurement tables, as outputs.postgresql's `schema` (default public)"
    )
    p.add_argument("--timezone", help="the house's IANA time zone for daily rollups, e.g. Europe/Berlin")
    p.add_argument("--ui-role", metavar="NAME", help="create/grant a read-only role for the web UI")
    p.add_argument(
        "--telegraf-role", metavar="NAME", help="create/grant a role that may insert (for Telegraf)"
    )
    p.add_argument(
        "--ui-password-file",
        metavar="FILE",
        help="set the --ui-role's password from this file (e.g. a secret)",
    )
    p.add_argument(
        "--telegraf-password-file", metavar="FILE", help="set the --telegraf-role's password from this file"
    )
    p.add_argument("--quiet", action="store_true", help="do not print the [[outputs.postgresql]] block")

    with_dsn(sub.add_parser("status", help="schema version, settings and triggers"))

    p = with_dsn(sub.add_parser("prune", help="delete data older than the retention"))
    p.add_argument(
        "--raw", default="90d", help="keep raw rows this long (default 90d; e.g. 30d, 12w, forever)"
    )
    p.add_argument("--hourly", default="2y", help="keep hourly rollups this long (default 2y)")
    p.add_argument("--daily", default="forever", help="keep daily rollups this long (default forever)")
    p.add_argument(
        "--changes",
        default="forever",
        help="keep change rows (lutron_zone_change, lutron_house, lutron_event, lutron_area_change)"
        " this long (default forever)",
    )
    p.add_argument(
        "--batch-rows", type=int, default=20_000, help="rows per delete transaction (default 20000)"
    )
    p.add_argument("--dry-run", action="store_true", help="only count what would be deleted")

    p = with_dsn(sub.add_parser("stats", help="size on disk and row count per table"))
    p.add_argument(
        "--estimate", action="store_true", help="use the planner's row estimates instead of counting"
    )

    p = with_dsn(sub.add_parser("rebuild", help="recompute all rollups from the raw rows"))
    p.add_argument("--timezone", help="switch the rollups to this IANA time zone")


def main(args: argparse.Namespace) -> int:
    dsn = resolve_dsn(getattr(args, "dsn", None))
    try:
        handler = _HANDLERS[args.db_command]
        return handler(args, dsn)
    except DbError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except psycopg.Error as exc:
        print(f"error: {translate(exc, dsn)}", file=sys.stderr)
        return EXIT_ERROR
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _password_from(path: str | None, option: str, role_option: str, role: str | None) -> str | None:
    """A role's password from a file (a Docker secret): trailing newlines dropped, never shown."""
    if not path:
        return None
    if not role:
        raise DbError(f"{option} needs {role_option} NAME: the role whose password it is")
    try:
        password = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise DbError(f"{option}: cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise DbError(f"{option}: {path} is not UTF-8 text") from None
    if not password:
        raise DbError(f"{option}: {path} is empty")
    return password


def _init(args: argparse.Namespace, dsn: str) -> int:
    from telegraf_lutron.db.schema import init, set_role_password

    # Read before anything changes: a missing file must not leave a role without its password.
    ui_password = _password_from(args.ui_password_file, "--ui-password-file", "--ui-role", args.ui_role)
    telegraf_password = _password_from(
        args.telegraf_password_file, "--telegraf-password-file", "--telegraf-role", args.telegraf_role
    )
    with connect(dsn) as conn:
        report = init(
            conn,
            schema=args.schema,
            timezone=args.timezone,
            ui_role=args.ui_role,
            telegraf_role=args.telegraf_role,
        )
        for role, password in ((args.ui_role, ui_password), (args.telegraf_role, telegraf_password)):
            if role and password is not None:
                set_role_password(conn, role, password)
                report.actions.append(f"set the password of role {role}")
    print(f"database: {mask_dsn(dsn)}")
    print(
        f"schema version {report.version}, measurement tables in {report.schema}, time zone {report.timezone}"
    )
    if report.actions:
        for action in report.actions:
            print(f"  {action}")
    else:
        print("  already up to date: nothing changed")
    if not args.quiet:
        print()
        print(telegraf_block(dsn, report.schema, report.telegraf_role))
    return EXIT_OK


def output_filters() -> list[str]:
    """The metric filters of `[[outputs.postgresql]]`, generated from the metric catalogue: only
    the change rows (`namepass`; db init keeps the snapshot tables for the history written before
    them, but they are no longer routed), and only the tags those tables have columns for
    (`taginclude`). Telegraf adds `host` (unless `omit_hostname = true`) and every
    `[global_tags]` entry to each metric; a tag without a column makes it ALTER the table, which the
    role `db init --telegraf-role` makes may not do (SQLSTATE 42501), and Telegraf then drops every
    metric carrying that tag, at every flush (docs/telegraf.md §3). telegraf.conf.example and
    deploy/telegraf.conf carry the same lines (a test compares them)."""
    return [
        f"namepass = [{', '.join(_toml_string(m) for m in postgres_measurements())}]",
        f"taginclude = [{', '.join(_toml_string(t) for t in postgres_tags())}]",
    ]


def prometheus_filters() -> list[str]:
    """The `namedrop` of `[[outputs.prometheus_client]]`: the change rows are for PostgreSQL only
    (telegraf.conf.example and deploy/telegraf.conf carry it; a test compares them)."""
    return [f"namedrop = [{', '.join(_toml_string(m) for m in prometheus_dropped())}]"]


def telegraf_block(dsn: str, schema: str, telegraf_role: str | None = None) -> str:
    """The `[[outputs.postgresql]]` section matching the tables `init` made (no password in it)."""
    connection = telegraf_connection(dsn, telegraf_role)
    lines = [
        "# Telegraf >= 1.31 (startup_error_behavior; timestamp_column_type since 1.28).",
        "[[outputs.postgresql]]",
        f"  connection = {_toml_string(connection)}",
        f"  schema = {_toml_string(schema)}",
        "  ## Used only when Telegraf creates a table or column itself (db init's have this type):",
        '  timestamp_column_type = "timestamp with time zone"',
        '  startup_error_behavior = "retry"   # keep Telegraf running while the database is down',
        "  ## Only our measurements, and only the tags their tables have columns for: Telegraf adds",
        '  ## "host" and every [global_tags] entry, and a tag without a column makes it ALTER the table;',
        "  ## a role without DDL rights cannot, and Telegraf then drops every metric with that tag.",
        "  ## After an upgrade, copy these two lines again from `telegraf-lutron db init`.",
        *(f"  {line}" for line in output_filters()),
        "  ## Keep Telegraf's defaults tags_as_foreign_keys, tags_as_jsonb, fields_as_jsonb = false and",
        '  ## timestamp_column_name = "time": the tables have a column per tag and field, and "time".',
        "  ## Optional: stop Telegraf from creating or altering tables (they exist already):",
        "  # create_templates = []",
        "  # add_column_templates = []",
    ]
    return "\n".join(lines)


def _toml_string(text: str) -> str:
    return f'"{_toml_escape(text)}"'


def _toml_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _status(args: argparse.Namespace, dsn: str) -> int:
    from telegraf_lutron.db.schema import status

    with connect(dsn) as conn:
        st = status(conn)
        server = conn.info.server_version
    print(f"database: {mask_dsn(dsn)} (PostgreSQL {server // 10000}.{server % 10000})")
    if st.version is None:
        print(f"schema version: none (not initialised; latest is {st.latest}): run `telegraf-lutron db init`")
        return EXIT_NOT_READY
    state = "up to date" if st.version == st.latest else f"upgrade available to {st.latest}: run `db init`"
    print(f"schema version: {st.version} ({state})")
    for version, name, applied in st.migrations:
        print(f"  {version}: {name} (applied {applied:%Y-%m-%d %H:%M:%S %Z})")
    for key in (
        "raw_schema",
        "timezone",
        "raw_pruned_before",
        "hourly_pruned_before",
        "ui_role",
        "telegraf_role",
    ):
        if key in st.settings:
            print(f"{key}: {st.settings[key]}")
    for t in st.tables:
        what = (
            "missing"
            if not t.exists
            else "no rollups (events or names)"
            if not t.rolled_up
            else "rollup trigger installed"
            if t.trigger
            else "NO rollup trigger"
        )
        print(f"table {t.name}: {what}")
    if st.dirty_series:
        print(
            f"change-row series waiting for their rollup: {st.dirty_series} (the next COPY and db prune run it)"
        )
    if st.staged_rows:
        print(
            "rows waiting for the next rollup drain: "
            + ", ".join(f"{level} {n}" for level, n in st.staged_rows.items())
            + " (drained every rollup_batch_rows rows or rollup_delay_seconds, and by every UI query)"
        )
    if st.pending_buckets:
        print(
            f"pending rollup buckets: {st.pending_buckets} (recomputed by the next rollup drain; see the server log)"
        )
    return EXIT_OK if st.up_to_date else EXIT_NOT_READY


def _prune(args: argparse.Namespace, dsn: str) -> int:
    from telegraf_lutron.db.prune import Retention, parse_retention, prune

    retention = Retention(
        parse_retention(args.raw),
        parse_retention(args.hourly),
        parse_retention(args.daily),
        parse_retention(args.changes),
    )
    with connect(dsn, autocommit=True) as conn:
        report = prune(conn, retention, batch_rows=args.batch_rows, dry_run=args.dry_run)
    verb = "would delete" if report.dry_run else "deleted"
    for kind, cutoff in report.cutoffs.items():
        print(f"{kind}: " + (f"before {cutoff:%Y-%m-%d %H:%M:%S %Z}" if cutoff else "kept forever"))
    for table, n in report.deleted.items():
        print(f"  {table}: {verb} {n} rows")
    for index in report.reindexed:
        print(f"  {index}: {'would rebuild' if report.dry_run else 'rebuilt'}")
    for index, why in report.failed.items():
        print(f"  {index}: not rebuilt ({why}); run db prune as the tables' owner")
    return EXIT_OK


def _stats(args: argparse.Namespace, dsn: str) -> int:
    from telegraf_lutron.db.stats import database_bytes, human_bytes, table_stats

    with connect(dsn) as conn:
        tables = table_stats(conn, exact=not args.estimate)
        total = database_bytes(conn)
    width = max([len(t.qualified) for t in tables] + [5])
    print(f"{'table':<{width}}  {'rows':>12}  {'table':>10}  {'indexes':>10}  {'total':>10}")
    for t in tables:
        rows = f"{t.rows:,}" if t.exact else f"~{t.rows:,}"
        print(
            f"{t.qualified:<{width}}  {rows:>12}  {human_bytes(t.table_bytes):>10}  "
            f"{human_bytes(t.index_bytes):>10}  {human_bytes(t.total_bytes):>10}"
        )
    print(f"database total: {human_bytes(total)}")
    return EXIT_OK


def _rebuild(args: argparse.Namespace, dsn: str) -> int:
    from telegraf_lutron.db.schema import rebuild

    with connect(dsn) as conn:
        report = rebuild(conn, timezone=args.timezone)
    print(f"database: {mask_dsn(dsn)}; time zone {report.timezone}")
    for action in report.actions:
        print(f"  {action}")
    return EXIT_OK


_HANDLERS: dict[str, Callable[[argparse.Namespace, str], int]] = {
    "init": _init,
    "status": _status,
    "prune": _prune,
    "stats": _stats,
    "rebuild": _rebuild,
}
