"""`db stats`: size on disk and row count of every table we own or fill."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from telegraf_lutron.db import INTERNAL_SCHEMA
from telegraf_lutron.db.levels import CHANGE_MEASUREMENTS, MEASUREMENTS
from telegraf_lutron.db.schema import DEFAULT_SCHEMA, read_settings


@dataclass(frozen=True, slots=True)
class TableStats:
    schema: str
    name: str
    rows: int
    exact: bool  # False: the planner's estimate (pg_class.reltuples)
    table_bytes: int  # heap + TOAST
    index_bytes: int
    total_bytes: int

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


def table_stats(conn: psycopg.Connection[Any], *, exact: bool = True) -> list[TableStats]:
    """The measurement tables (snapshots and change rows) and every table in the `lutron` schema,
    largest first."""
    with conn.transaction(), conn.cursor() as cur:
        raw_schema = read_settings(cur).get("raw_schema", DEFAULT_SCHEMA)
        cur.execute(
            "SELECT n.nspname, c.relname, c.reltuples::bigint, pg_table_size(c.oid), pg_indexes_size(c.oid),"
            " pg_total_relation_size(c.oid)"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r', 'p') AND (n.nspname = %s OR (n.nspname = %s AND c.relname = ANY(%s)))"
            " ORDER BY pg_total_relation_size(c.oid) DESC, n.nspname, c.relname",
            (INTERNAL_SCHEMA, raw_schema, [*MEASUREMENTS, *CHANGE_MEASUREMENTS]),
        )
        rows = cur.fetchall()
        result = []
        for schema, name, estimate, tbytes, ibytes, total in rows:
            count = max(int(estimate), 0)  # -1 means "never analysed"
            if exact:
                cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, name)))
                row = cur.fetchone()
                count = int(row[0]) if row else 0
            result.append(TableStats(schema, name, count, exact, int(tbytes), int(ibytes), int(total)))
        return result


def database_bytes(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0


def human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"  # pragma: no cover - loop always returns
