"""Connection strings are never shown with a secret in them: not when masked for display, not in an
error about a string libpq cannot parse (its own message quotes the bad token, which is often the
password), not in psycopg_pool's log. Nothing here needs a database server: a string that does not
parse is refused before any connection is tried."""

from __future__ import annotations

import argparse
import io
import logging
import time
import traceback

import pytest
from psycopg import conninfo

from telegraf_lutron.db import (
    INVALID_DSN,
    DatabaseUnavailable,
    InvalidConnectionString,
    connect,
    describe_target,
    mask_dsn,
    telegraf_connection,
)

SECRET = "My%Secret pw"
# The issue's example: a URI whose password has a bare % and a space (libpq: "invalid
# percent-encoded token: \"My%Secret pw\"").
MALFORMED = f"postgresql://lutron:{SECRET}@db.example/lutron"
UNTERMINATED = "host=db.example password='Secret pw"


def shows_nothing_secret(text: str) -> bool:
    return "Secret" not in text and "My%" not in text


@pytest.mark.parametrize("dsn", [MALFORMED, UNTERMINATED])
def test_an_unparseable_connection_string_is_not_shown(dsn: str) -> None:
    assert mask_dsn(dsn) == INVALID_DSN
    assert describe_target(dsn) == INVALID_DSN
    assert "Secret" not in telegraf_connection(dsn)


def test_passwords_and_ssl_passwords_are_masked() -> None:
    dsn = "host=db.example user=lutron password=pw-Secret sslpassword=key-Secret dbname=lutron"
    masked = mask_dsn(dsn)
    assert shows_nothing_secret(masked)
    assert conninfo.conninfo_to_dict(masked) == {
        "host": "db.example",
        "user": "lutron",
        "password": "****",
        "sslpassword": "****",
        "dbname": "lutron",
    }
    uri = "postgresql://lutron:pw-Secret@db.example/lutron?sslpassword=key-Secret&sslmode=verify-full"
    assert shows_nothing_secret(mask_dsn(uri)) and "sslpassword=****" in mask_dsn(uri)


def test_telegrafs_connection_takes_both_secrets_from_its_environment() -> None:
    dsn = "host=db.example user=lutron password=pw-Secret sslpassword=key-Secret dbname=lutron"
    text = telegraf_connection(dsn)
    assert shows_nothing_secret(text)
    assert text.endswith("password=${PGPASSWORD} sslpassword=${PGSSLPASSWORD}")
    assert telegraf_connection("host=db.example", user="telegraf") == (
        "host=db.example user=telegraf password=${PGPASSWORD}"
    )


def test_connect_refuses_it_without_repeating_any_of_it() -> None:
    with pytest.raises(InvalidConnectionString) as info:
        connect(MALFORMED, connect_timeout=1)
    assert isinstance(info.value, DatabaseUnavailable)
    assert str(info.value).startswith(INVALID_DSN)
    # Not in the message, and not in the traceback either (no chained psycopg error).
    assert shows_nothing_secret("".join(traceback.format_exception(info.value)))


def test_the_history_store_checks_the_string_before_a_pool_logs_it(caplog: pytest.LogCaptureFixture) -> None:
    from telegraf_lutron.db.queries import HistoryStore

    caplog.set_level(logging.DEBUG)
    with pytest.raises(InvalidConnectionString) as info:
        HistoryStore(MALFORMED, timeout=0.5)
    time.sleep(0.3)  # a pool's worker would have tried (and logged) by now
    assert shows_nothing_secret("".join(traceback.format_exception(info.value)))
    assert all(shows_nothing_secret(r.getMessage()) for r in caplog.records), caplog.text


def test_the_web_ui_state_says_invalid_connection_string() -> None:
    from telegraf_lutron.webui import data

    data.clear_caches()
    try:
        state = data.db_state(MALFORMED)
    finally:
        data.clear_caches()
    assert state.kind == "unavailable"
    assert state.message.startswith(INVALID_DSN) and shows_nothing_secret(state.message)


def test_the_demo_says_invalid_connection_string() -> None:
    from telegraf_lutron import demo

    out = io.StringIO()
    args = argparse.Namespace(no_db=False, dsn=MALFORMED)
    assert demo.choose_database(args, out) is None
    assert INVALID_DSN in out.getvalue() and shows_nothing_secret(out.getvalue())
    assert demo.masked(MALFORMED) == INVALID_DSN
