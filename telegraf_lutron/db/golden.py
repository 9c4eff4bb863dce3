"""The SQL that `db init` and the rollup engine generate, rendered into checked-in files to review.

    python -m telegraf_lutron.db.golden           # compare; exit 1 naming each file that differs
    python -m telegraf_lutron.db.golden --write   # regenerate telegraf_lutron/db/sql/

The templates in `rollups` and `schema` are Python strings filled in per level (zone, area,
system) from the metric catalogue; what PostgreSQL runs is only visible once rendered. These files
are that rendering, for the default measurement schema `public`:

- `migration_<n>.sql`: every statement of each numbered migration of the `lutron` schema;
- `measurement_tables.sql`: the tables Telegraf writes (as `db init` creates them on an empty
  database: the snapshot tables and the change-row tables), their indexes and the rollup triggers;
- `function_<name>.sql`: each function `db init` installs (the staging trigger `rollup_<level>`,
  the drain `drain_<level>`, `rollup_flush`, the change rows' `change_mark` and `change_rollup`),
  exactly the DDL that runs;
- `rebuild_<level>.sql`: the bulk statements of `db rebuild` (and of `db init` adopting rows),
  with their named parameters.

How to change the SQL: edit the template, run `--write`, read `git diff telegraf_lutron/db/sql/`
(it is what will run), run the database tests, and commit the templates and the .sql files
together. tests/test_db_sql.py fails while they differ, and needs no database: rendering uses
no connection.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from psycopg import sql

from telegraf_lutron.db import changes as ch
from telegraf_lutron.db import rollups as rl
from telegraf_lutron.db import schema
from telegraf_lutron.db.levels import CHANGE_LEVELS, LEVELS, ZONE_INFO

SQL_DIR = Path(__file__).resolve().parent / "sql"
RAW_SCHEMA = schema.DEFAULT_SCHEMA
COMMAND = "python -m telegraf_lutron.db.golden --write"


def _text(statements: Sequence[sql.Composable], source: str, what: str) -> str:
    header = f"-- {what}\n-- Generated from {source} by `{COMMAND}`: do not edit.\n"
    body = "\n\n".join(s.as_string(None).strip() + ";" for s in statements)
    return f"{header}\n{body}\n"


def rendered() -> dict[str, str]:
    """File name -> contents, for every golden file."""
    files: dict[str, str] = {}
    ctx = schema.Context(raw_schema=RAW_SCHEMA)
    for migration in schema.MIGRATIONS:
        files[f"migration_{migration.version}.sql"] = _text(
            migration.statements(ctx),
            "telegraf_lutron/db/schema.py",
            f"Migration {migration.version} of the lutron schema: {migration.name}.",
        )
    tables: list[sql.Composable] = []
    for level in LEVELS:
        tables += schema.create_measurement(level, RAW_SCHEMA)
        tables += schema.measurement_indexes(level, RAW_SCHEMA).values()
        tables.append(rl.create_trigger(level, RAW_SCHEMA))
    for level in CHANGE_LEVELS:
        tables += schema.create_measurement(level, RAW_SCHEMA)
        tables += schema.measurement_indexes(level, RAW_SCHEMA).values()
        if level.measurement in ch.ROLLED_UP:
            tables.append(ch.create_trigger(level, RAW_SCHEMA))
        if level is ZONE_INFO:
            tables.append(ch.create_names_trigger(RAW_SCHEMA))
    files["measurement_tables.sql"] = _text(
        tables,
        "telegraf_lutron/db/schema.py",
        f"The measurement tables in schema {RAW_SCHEMA}, as db init creates them, with indexes and triggers.",
    )
    for name, _signature, ddl in rl.functions(RAW_SCHEMA):
        files[f"function_{name}.sql"] = _text(
            [ddl], "telegraf_lutron/db/rollups.py", f"lutron.{name}, as db init installs it."
        )
    for name, _signature, ddl in ch.functions(RAW_SCHEMA):
        files[f"function_{name}.sql"] = _text(
            [ddl], "telegraf_lutron/db/changes.py", f"lutron.{name}, as db init installs it."
        )
    for level in LEVELS:
        statements = rl.rebuild_statements(level, RAW_SCHEMA)
        files[f"rebuild_{level.name}.sql"] = _text(
            list(statements.values()),
            "telegraf_lutron/db/rollups.py",
            f"db rebuild of the {level.name} rollups: {', '.join(statements)} (named parameters %(...)s).",
        )
    return files


def differences(directory: Path = SQL_DIR) -> list[str]:
    """The golden files that differ from the rendering, are missing, or are no longer rendered."""
    want = rendered()
    have = {p.name for p in directory.glob("*.sql")} if directory.is_dir() else set()
    out = [
        name
        for name, text in want.items()
        if not (directory / name).is_file() or (directory / name).read_text() != text
    ]
    out += sorted(have - set(want))
    return sorted(out)


def write(directory: Path = SQL_DIR) -> list[str]:
    """Regenerate the golden files; returns the names written or removed."""
    changed = differences(directory)
    directory.mkdir(exist_ok=True)
    want = rendered()
    for name in changed:
        path = directory / name
        if name in want:
            path.write_text(want[name])
        else:
            path.unlink()
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--write", action="store_true", help=f"regenerate {SQL_DIR}")
    args = parser.parse_args(argv)
    if args.write:
        for name in write():
            print(f"wrote {SQL_DIR / name}" if (SQL_DIR / name).exists() else f"removed {SQL_DIR / name}")
        return 0
    stale = differences()
    for name in stale:
        print(f"differs: {SQL_DIR / name}", file=sys.stderr)
    if stale:
        print(f"run `{COMMAND}` and review the diff", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
