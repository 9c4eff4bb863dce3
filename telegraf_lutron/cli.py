"""The `telegraf-lutron` command: a thin dispatcher to the subcommand modules.

Each subcommand lives in its own module exposing `add_arguments(parser)` and `main(args) -> int`;
modules are imported only when their subcommand runs, so `run` starts fast (its signal handlers
must be in place before anything slow).
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from collections.abc import Sequence

from telegraf_lutron import __version__

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "simulate": ("telegraf_lutron.simulator.cli", "run the built-in HomeWorks QS processor simulator"),
    "demo": ("telegraf_lutron.demo", "run the simulator and watch the product work against it"),
    "design": ("telegraf_lutron.design_cli", "show a processor's design database (DbXmlInfo.xml)"),
    "run": ("telegraf_lutron.execd", "the Telegraf inputs.execd plugin: metrics on stdout"),
    "check": ("telegraf_lutron.check", "check a configuration: log in, read the design, report"),
    "db": ("telegraf_lutron.db.cli", "PostgreSQL schema, rollups, retention and statistics"),
    "ui": ("telegraf_lutron.ui_cli", "start the web UI (Streamlit)"),
}


# Signals that arrived before `run` installed its own handlers (Telegraf may tick early).
EARLY_SIGNALS: list[int] = []


def install_early_signal_handlers() -> None:
    """Python's default action for SIGHUP/SIGUSR1/SIGUSR2 is to die; Telegraf sends them at every
    tick in those signal modes, so `run` catches them before importing anything slow."""
    for sig in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, lambda signum, frame: EARLY_SIGNALS.append(signum))


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; only the module of subcommand `only` is imported (none for --help)."""
    parser = argparse.ArgumentParser(
        prog="telegraf-lutron",
        description="Lutron HomeWorks QS / RadioRA 2 lighting as Telegraf metrics.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        if name != only:
            sub.add_parser(name, help=help_text)
            continue
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    only = argv[0] if argv and argv[0] in COMMANDS else None
    if only == "run":
        install_early_signal_handlers()
    args = build_parser(only).parse_args(argv)
    try:
        return int(args._module.main(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # stdout was closed by the reader (e.g. `| head`): nothing more to say.
        sys.stderr.close()
        return 0
