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
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # tryfirst: before `-m` deselects by marker.
    for item in items:
        if "pg_server_dsn" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)
    if hasattr(config, "workerinput"):  # a pytest-xdist worker
        items[:] = longest_modules_first(items)


def longest_modules_first(items: list[pytest.Item]) -> list[pytest.Item]:
    """`items` with the modules that take longest first: those with browser tests, then those that
    make a fixture once per module (a server, a database with history, a wheel), then the rest;
    each module's tests in their order. `scripts/test.sh` runs pytest-xdist with `--dist loadscope
    --no-loadscope-reorder`: every module runs on one worker (its module fixtures made once), and
    workers take modules in this order, so the long ones do not start last. Every worker collects
    the same order (xdist checks)."""
    modules: dict[str, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)

    def rank(tests: list[pytest.Item]) -> int:
        if any(t.get_closest_marker("browser") for t in tests):
            return 0
        return 1 if any(_uses_module_fixture(t) for t in tests) else 2

    ordered = sorted(modules.values(), key=rank)  # stable: collection order within a rank
    return [item for tests in ordered for item in tests]


def _uses_module_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)  # pytest's FuncFixtureInfo of a test function
    return info is not None and any(
        defs[-1].scope in ("module", "class", "package") for defs in info.name2fixturedefs.values() if defs
    )


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
