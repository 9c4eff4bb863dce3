"""Shared test setup; fixture modules are plugins so test files need no imports for them.

Markers (registered in pyproject.toml) say what a test needs besides Python: `db` (PostgreSQL),
`browser` (Chromium), `subprocess` (the plugin, a CLI, Streamlit or another program as a child
process), `apt` (a Debian tool such as promtool). `scripts/test.sh --fast` leaves them all out.
Two rules keep the markers true:
- a test that uses the PostgreSQL fixtures (anything built on `pg_server_dsn`) is marked `db` here;
- a test that starts a child process without `subprocess`, `apt` or `browser` fails, saying so.
"""

from __future__ import annotations

import subprocess
from collections.abc import Generator
from typing import Any

import pytest

pytest_plugins = ["sim_fixtures", "pg_fixtures"]

PROCESS_MARKERS = ("subprocess", "apt", "browser")
_running: list[pytest.Item] = []  # the test whose setup, call or teardown runs now


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # tryfirst: before `-m` deselects by marker.
    for item in items:
        if "pg_server_dsn" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    _running.append(item)
    try:
        return (yield)
    finally:
        _running.pop()


_popen_init = subprocess.Popen.__init__


def _checked_popen_init(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> None:
    item = _running[-1] if _running else None
    if item is not None and not any(item.get_closest_marker(m) for m in PROCESS_MARKERS):
        argv = args[0] if args else kwargs.get("args")
        # pytest.fail raises an OutcomeException (a BaseException): code under test cannot catch it.
        pytest.fail(
            f"{item.nodeid} starts a child process ({argv!r}) but is not marked "
            "subprocess, apt or browser: add @pytest.mark.subprocess (or pytestmark in the module) "
            "so that scripts/test.sh --fast leaves it out"
        )
    _popen_init(self, *args, **kwargs)


subprocess.Popen.__init__ = _checked_popen_init  # type: ignore[method-assign]  # the marker check above
