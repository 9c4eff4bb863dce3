"""`db init --ui-role R --ui-password-file F --telegraf-role R --telegraf-password-file F`: what the
compose stack runs so the UI and Telegraf log in with their own roles, not the superuser."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

pytestmark = [pytest.mark.db, pytest.mark.subprocess]

_SCRIPT = Path(sys.executable).with_name("telegraf-lutron")
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "telegraf_lutron"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "TELEGRAF_LUTRON_DSN"}
    return subprocess.run(
        [*COMMAND, "db", *args], capture_output=True, text=True, timeout=120, check=False, env=env
    )


@pytest.fixture
def roles(pg_dsn: str, pg_server_dsn: str) -> Iterator[tuple[str, str]]:
    names = (f"tl_ui_{secrets.token_hex(4)}", f"tl_telegraf_{secrets.token_hex(4)}")
    yield names
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        for name in names:
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
                conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
    with psycopg.connect(pg_server_dsn, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def scram_matches(verifier: str, password: str) -> bool:
    """RFC 5802/7677: does this SCRAM-SHA-256 verifier belong to `password`? (ASCII passwords.)"""
    method, _, rest = verifier.partition("$")
    assert method == "SCRAM-SHA-256", verifier[:20]
    params, _, keys = rest.partition("$")
    iterations, salt = params.split(":")
    stored_key, _ = keys.split(":")
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return hashlib.sha256(client_key).digest() == base64.b64decode(stored_key)


def verifier(server: str, role: str) -> str | None:
    with psycopg.connect(server) as conn:
        row = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,)).fetchone()
    return None if row is None else row[0]


def test_init_sets_each_roles_password_from_its_file_as_a_scram_verifier(
    pg_dsn: str, pg_server_dsn: str, roles: tuple[str, str], tmp_path: Path
) -> None:
    ui, telegraf = roles
    (tmp_path / "ui").write_text("ui-s3cret\n")
    (tmp_path / "telegraf").write_text("telegraf-s3cret")
    result = run(
        "init", "--dsn", pg_dsn, "--timezone", "UTC", "--quiet",
        "--ui-role", ui, "--ui-password-file", str(tmp_path / "ui"),
        "--telegraf-role", telegraf, "--telegraf-password-file", str(tmp_path / "telegraf"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "s3cret" not in result.stdout + result.stderr
    assert f"set the password of role {ui}" in result.stdout
    ui_verifier, telegraf_verifier = verifier(pg_server_dsn, ui), verifier(pg_server_dsn, telegraf)
    assert ui_verifier is not None and scram_matches(ui_verifier, "ui-s3cret")
    assert telegraf_verifier is not None and scram_matches(telegraf_verifier, "telegraf-s3cret")
    assert not scram_matches(ui_verifier, "telegraf-s3cret")
    # Run again (every compose `up` does): idempotent, and a changed file changes the password.
    (tmp_path / "ui").write_text("rotated\n")
    again = run(
        "init", "--dsn", pg_dsn, "--quiet", "--ui-role", ui, "--ui-password-file", str(tmp_path / "ui")
    )
    assert again.returncode == 0, again.stderr
    rotated = verifier(pg_server_dsn, ui)
    assert rotated is not None and scram_matches(rotated, "rotated")


def test_a_missing_password_file_changes_nothing_and_says_which(
    pg_dsn: str, pg_server_dsn: str, roles: tuple[str, str], tmp_path: Path
) -> None:
    ui, _ = roles
    result = run(
        "init",
        "--dsn",
        pg_dsn,
        "--timezone",
        "UTC",
        "--ui-role",
        ui,
        "--ui-password-file",
        str(tmp_path / "none"),
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "--ui-password-file" in result.stderr
    with psycopg.connect(pg_server_dsn) as conn:
        assert conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ui,)).fetchone() is None


def test_a_password_file_needs_its_role(pg_dsn: str, tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("x")
    result = run("init", "--dsn", pg_dsn, "--telegraf-password-file", str(tmp_path / "pw"))
    assert result.returncode == 1 and "--telegraf-role" in result.stderr
