"""PostgreSQL history: the tables Telegraf's outputs.postgresql fills, rollups, retention, UI queries.

Modules:
- `schema`: the measurement tables as Telegraf expects them, versioned migrations, `db init`.
- `rollups`: hourly and daily energy/power per zone, area and system, kept current by triggers.
- `prune`: retention, in short batches that never block Telegraf for long.
- `stats`: sizes and row counts.
- `queries`: what the web UI reads (psycopg pool, rollups chosen by range).
- `fragments`: SQL pieces the rollups, the queries and prune share (series match, ranges).
- `golden`: renders the generated SQL into `sql/` for review (`python -m telegraf_lutron.db.golden`).
- `cli`: the `telegraf-lutron db` subcommand.

This module holds what they share: the errors a user can hit, and connection-string handling that
never shows a password.
"""

from __future__ import annotations

import os
from typing import Any

import psycopg
from psycopg import conninfo as _conninfo

from telegraf_lutron.errors import TelegrafLutronError

# Our own objects (settings, rollups, state) live in their own schema, so they can never collide
# with tables Telegraf creates for other measurements in its schema.
INTERNAL_SCHEMA = "lutron"
DSN_ENV = "TELEGRAF_LUTRON_DSN"
_MASK = "*" * 4
# libpq parameters that hold a secret: masked wherever a connection string is shown.
SECRET_PARAMS = ("password", "sslpassword")
# What is shown instead of a connection string libpq cannot parse: its error message quotes the
# offending token, which is often the password (`postgresql://u:My%Secret pw@db/x`).
INVALID_DSN = "invalid connection string (not shown)"


class DbError(TelegrafLutronError):
    """A database problem a user can fix; `str()` is one line that says what to do."""


class DatabaseUnavailable(DbError):
    """The server cannot be reached or refused the connection."""


class SchemaMissing(DbError):
    """The tables are not there (or not initialised): `telegraf-lutron db init` fixes it."""


class PermissionDenied(DbError):
    """The role lacks a privilege the operation needs."""


class IncompatibleSchema(DbError):
    """Existing tables or settings that `db init` cannot adapt without losing something."""


class InvalidConnectionString(DatabaseUnavailable):
    """A connection string libpq cannot parse; the message never repeats any of it."""

    def __init__(self) -> None:
        super().__init__(
            f"{INVALID_DSN}; fix --dsn / ${DSN_ENV} (in a URI, percent-encode the password's "
            "special characters: % as %25, a space as %20, @ as %40)"
        )


def resolve_dsn(dsn: str | None) -> str:
    """`dsn`, else $TELEGRAF_LUTRON_DSN, else "" (libpq then uses PGHOST, PGUSER, ... and defaults)."""
    if dsn:
        return dsn
    return os.environ.get(DSN_ENV, "")


def _params(dsn: str) -> dict[str, Any]:
    return _conninfo.conninfo_to_dict(dsn)


def parse_dsn(dsn: str) -> dict[str, Any]:
    """The connection parameters of `dsn` ({} for ""), or `InvalidConnectionString`.

    The parser's own error quotes the bad token, so it is dropped (`from None`: not even a
    traceback shows it)."""
    if not dsn:
        return {}
    try:
        return _params(dsn)
    except psycopg.ProgrammingError:
        raise InvalidConnectionString() from None


def check_dsn(dsn: str) -> None:
    """Raise `InvalidConnectionString` unless libpq can parse `dsn`: call it before handing the
    string to anything that logs libpq's errors (psycopg_pool logs every failed attempt)."""
    parse_dsn(dsn)


def mask_dsn(dsn: str) -> str:
    """The connection string with every secret (`password`, `sslpassword`) replaced by `****`,
    safe to print or log; `INVALID_DSN` when it cannot be parsed."""
    if not dsn:
        return "(libpq defaults and PG* environment variables)"
    try:
        params = parse_dsn(dsn)
    except InvalidConnectionString:
        return INVALID_DSN
    for key in SECRET_PARAMS:
        if key in params:
            params[key] = _MASK
    return _conninfo.make_conninfo(**params)


def _scrub(text: str, dsn: str) -> str:
    """`text` with any secret of `dsn` replaced by `****` (libpq never quotes one in a connection
    error today; this keeps it that way whatever a server or driver says)."""
    try:
        params = parse_dsn(dsn)
    except InvalidConnectionString:
        return text
    for key in SECRET_PARAMS:
        value = str(params.get(key) or "")
        if value:
            text = text.replace(value, _MASK)
    return text


def describe_target(dsn: str) -> str:
    """`host:port/dbname as user` for messages, from the DSN and libpq's environment defaults."""
    try:
        params = parse_dsn(dsn)
    except InvalidConnectionString:
        return INVALID_DSN
    host = params.get("host") or os.environ.get("PGHOST") or "localhost"
    port = params.get("port") or os.environ.get("PGPORT") or "5432"
    dbname = params.get("dbname") or os.environ.get("PGDATABASE") or "(default database)"
    user = params.get("user") or os.environ.get("PGUSER")
    where = f"{host}:{port}/{dbname}"
    return f"{where} as {user}" if user else where


def telegraf_connection(dsn: str, user: str | None = None) -> str:
    """The `connection` value for outputs.postgresql: the DSN as key=value pairs with each secret
    replaced by Telegraf's environment substitution (`password=${PGPASSWORD}`,
    `sslpassword=${PGSSLPASSWORD}`), optionally for another role (which then needs a password)."""
    try:
        params = parse_dsn(dsn)
    except InvalidConnectionString:
        params = {}
    if user:
        params["user"] = user
    secrets = [key for key in SECRET_PARAMS if params.pop(key, None) is not None]
    if user and "password" not in secrets:
        secrets.insert(0, "password")
    text = _conninfo.make_conninfo(**params) if params else ""
    for key in secrets:
        text = f"{text} {key}=${{PG{key.upper()}}}".strip()
    return text


def connect(dsn: str, *, autocommit: bool = False, connect_timeout: int = 10) -> psycopg.Connection[Any]:
    """Open a connection, turning connection failures into `DatabaseUnavailable` (and a string
    libpq cannot parse into `InvalidConnectionString`, which shows none of it)."""
    check_dsn(dsn)
    try:
        return psycopg.connect(dsn, autocommit=autocommit, connect_timeout=connect_timeout)
    except psycopg.OperationalError as exc:
        raise unavailable(dsn, exc) from exc
    except psycopg.ProgrammingError:
        raise InvalidConnectionString() from None


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def unavailable(dsn: str, exc: BaseException) -> DatabaseUnavailable:
    """A one-line `DatabaseUnavailable` for a failed connection to `dsn`."""
    # libpq's message names host and port but never the password; keep its most telling line.
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reason = next((line for line in reversed(lines) if "FATAL" in line or "refused" in line), None)
    reason = _scrub(reason or (lines[-1] if lines else type(exc).__name__), dsn)
    return DatabaseUnavailable(
        f"cannot connect to PostgreSQL at {describe_target(dsn)}: {reason}; "
        f"check that the server is running and the connection string (--dsn or ${DSN_ENV})"
    )


def translate(exc: psycopg.Error, dsn: str = "") -> DbError:
    """Map the psycopg errors a user can cause to our exception types (others are returned as
    a generic `DbError` with the server's first line)."""
    if isinstance(exc, psycopg.errors.UndefinedTable | psycopg.errors.InvalidSchemaName):
        return SchemaMissing(
            f"the telegraf-lutron tables are missing ({first_line(exc)}); "
            "run `telegraf-lutron db init --dsn ...` on this database"
        )
    if isinstance(exc, psycopg.errors.UndefinedColumn | psycopg.errors.UndefinedFunction):
        return SchemaMissing(
            f"the database schema is older than this program ({first_line(exc)}); "
            "run `telegraf-lutron db init --dsn ...` to upgrade it"
        )
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return PermissionDenied(
            f"permission denied ({first_line(exc)}); connect as the owner, or grant read access "
            "with `telegraf-lutron db init --ui-role NAME`"
        )
    if isinstance(exc, psycopg.OperationalError):
        return unavailable(dsn, exc)
    return DbError(f"database error: {first_line(exc)}")
