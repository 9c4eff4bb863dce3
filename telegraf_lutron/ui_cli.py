"""`telegraf-lutron ui`: start the web UI (Streamlit) on 127.0.0.1:8501.

The app is `webui/app.py` at the top of the checkout, installed inside this package as
`telegraf_lutron.webui` (a wheel and an editable install both carry it), so it is found by itself;
`--app PATH` or $TL_UI_APP run another copy.

Settings (named once, in webui/settings_map.py) go to the app through its environment (TL_DSN,
TL_CACHE_DIR, ...), so a password in --dsn never appears in Streamlit's command line. Streamlit runs
headless (no browser is opened, no e-mail prompt), without usage statistics, and shows visitors no
exception details and no table export (`STREAMLIT_FLAGS`).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from telegraf_lutron.errors import TelegrafLutronError
from telegraf_lutron.webui.settings_map import SETTINGS

EXIT_OK = 0
EXIT_USAGE = 2
APP_ENV = "TL_UI_APP"
# What a visitor's browser is told: no exception details (the log has them), no export from a table
# (the pages' own CSV downloads neutralise formulas), no developer menu, no usage statistics.
STREAMLIT_FLAGS = {
    "--server.headless": "true",
    "--browser.gatherUsageStats": "false",
    "--client.toolbarMode": "viewer",
    "--client.showErrorDetails": "none",
    "--client.disableDataExport": "true",
}


class UiError(TelegrafLutronError):
    """The UI cannot start; the message says what to do."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)"
    )
    parser.add_argument("--port", type=int, default=8501, help="port to listen on (default 8501)")
    for setting in SETTINGS:
        parser.add_argument(setting.option, dest=setting.key, help=f"{setting.help}; or ${setting.variable}")
    parser.add_argument("--app", help=f"path of webui/app.py (default: next to the package, or ${APP_ENV})")


def find_app(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The app to run: --app, then $TL_UI_APP, then the one installed with this package."""
    environ = os.environ if environ is None else environ
    given = explicit or environ.get(APP_ENV)
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise UiError(f"the web UI app {path} does not exist; pass the path of webui/app.py with --app")
        return path.resolve()
    spec = importlib.util.find_spec("telegraf_lutron.webui")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / "app.py"
        if candidate.is_file():
            return candidate.resolve()
    raise UiError(
        "the web UI is not installed with this package (telegraf_lutron.webui is missing): reinstall "
        f"telegraf-lutron with its [ui] extra, or pass --app /path/to/webui/app.py (or set ${APP_ENV})"
    )


def streamlit_command(app: Path, host: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.address",
        host,
        "--server.port",
        str(port),
        *(word for flag in STREAMLIT_FLAGS.items() for word in flag),
    ]


def app_environment(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if environ is None else environ)
    for setting in SETTINGS:
        value = getattr(args, setting.key, None)
        if value is not None:
            env[setting.variable] = str(value)
    return env


def main(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("streamlit") is None:
        print(
            "error: the web UI needs Streamlit, pandas and plotly: pip install 'telegraf-lutron[ui]'",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not 0 < args.port < 65536:
        print(f"error: --port must be between 1 and 65535, not {args.port}", file=sys.stderr)
        return EXIT_USAGE
    try:
        app = find_app(args.app)
    except UiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    command = streamlit_command(app, args.host, args.port)
    env = app_environment(args)
    shown = "localhost" if args.host in ("127.0.0.1", "::1") else args.host
    print(
        f"telegraf-lutron web UI on http://{shown}:{args.port}/ (Ctrl-C stops it)",
        file=sys.stderr,
        flush=True,
    )
    return run(command, env)


def run(command: Sequence[str], env: Mapping[str, str]) -> int:
    """Run Streamlit in place of this process where possible, so signals reach it directly."""
    if os.name == "posix":
        os.execve(command[0], list(command), dict(env))  # noqa: S606 - our own interpreter, no shell
    try:
        return subprocess.call(list(command), env=dict(env))  # noqa: S603
    except KeyboardInterrupt:
        return 130
