"""`telegraf-lutron check -c FILE`: a doctor for first-time set-up.

Validates the configuration, logs in once (never more: a second wrong password would only bring
the account closer to a lockout), reads the design revision and the design itself, and prints a
short report: what was found, what is wrong, and what to do about it. Exit 0 when everything
works (warnings, such as a password file others can read, are printed but do not fail it), 1 when
something needs fixing, 2 when the configuration itself is invalid. Every line is passed through
`terminal_safe`: names and replies from the processor never reach the terminal raw.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import stat
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from telegraf_lutron import log as tlog
from telegraf_lutron import protocol as p
from telegraf_lutron.config import Config, ConfigError, load_config
from telegraf_lutron.design import Design, DesignError, normalize_revision
from telegraf_lutron.design_cache import DesignSource
from telegraf_lutron.execd import LoginLock
from telegraf_lutron.files import private_dir
from telegraf_lutron.log import terminal_safe
from telegraf_lutron.session import LoginOutcome, Session, SessionError, SessionState
from telegraf_lutron.wattage import (
    ZoneOverride,
    apply_overrides,
    kinds_of,
    missing_summary,
    missing_wattage,
    unmatched_message,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", required=True, help="the plugin's TOML configuration file")


class Report:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.problems = 0
        self.warnings = 0

    def line(self, text: str) -> None:
        print(terminal_safe(text), file=self.out, flush=True)

    def ok(self, text: str) -> None:
        self.line(f"  ok    {text}")

    def bad(self, text: str, fix: str) -> None:
        self.problems += 1
        self.line(f"  FAIL  {text}")
        self.line(f"        -> {fix}")

    def warn(self, text: str, fix: str) -> None:
        self.warnings += 1
        self.line(f"  WARN  {text}")
        self.line(f"        -> {fix}")

    def info(self, text: str) -> None:
        self.line(f"        {text}")


async def login_once(config: Config, report: Report) -> tuple[str | None, str]:
    """One login attempt; returns (design revision or None, prompt kind)."""
    pc = config.processor
    session = Session(pc)
    session.start()
    try:
        # The attempt bounds itself (connect and login timeouts, then monitoring); this is a backstop.
        limit = pc.connect_timeout + pc.login_timeout + pc.query_timeout + 10
        try:
            outcome = await asyncio.wait_for(session.first_outcome(), limit)
        except TimeoutError:
            outcome = LoginOutcome(SessionState.CONNECTING, "no answer")
        if not outcome.logged_in:
            reason = outcome.reason or "no answer"
            if outcome.state is SessionState.BAD_LOGIN:
                fix = "check processor.username and the password (an integration login of the design)"
            else:
                fix = "check processor.host and processor.telnet_port, and that the processor is on"
            report.bad(f"telnet login to {session.where}: {reason}", fix)
            return None, ""
        kind = {"QNET": "HomeWorks QS", "GNET": "RadioRA 2"}.get(session.prompt_kind, session.prompt_kind)
        report.ok(f"logged in to {session.where} as {config.processor.username!r} ({kind})")
        try:
            reply = await session.query(p.query_design_revision())
        except SessionError as exc:
            report.bad(f"design revision (?SYSTEM,10): {exc}", "the processor may be busy; try again")
            return None, session.prompt_kind
        revision = reply.design_revision if isinstance(reply, p.SystemReport) else None
        report.ok(f"design revision (export date) {revision}")
        return revision, session.prompt_kind
    finally:
        await session.close()


def describe_design(design: Design, report: Report, overrides: Sequence[ZoneOverride] = ()) -> None:
    """What the design holds, with the owner's [[zone]] entries applied, and what lacks a wattage."""
    design, unmatched = apply_overrides(design, overrides)
    zones = design.zones
    leds = sum(len(k.leds) for k in design.keypads)
    kinds = ", ".join(f"{n} {kind}{'s' if n != 1 else ''}" for kind, n in kinds_of(zones).items())
    report.ok(
        f"design {design.project.name!r}: {len(design.rooms)} rooms, {len(zones)} zones ({kinds}), "
        f"{len(design.keypads)} keypads ({leds} LEDs), {len(design.occupancy_areas)} areas with occupancy"
    )
    if overrides:
        report.info(f"{len(overrides) - len(unmatched)} of {len(overrides)} [[zone]] entries match zones")
    for entry in unmatched:
        report.info(unmatched_message(entry))
    missing = missing_wattage(zones)
    if any(n for n, _ in missing.values()):
        report.info(
            f"no wattage for {missing_summary(zones)}: their power and energy read 0; fill them in "
            "with [[zone]] entries (`telegraf-lutron design wattage --host ...` prints them)"
        )


def check_cache_dir(config: Config, report: Report) -> None:
    path = config.plugin.cache_dir
    try:
        private_dir(path)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".check-"):
            pass
    except OSError as exc:
        report.bad(
            f"cache directory {path}: {exc.strerror or exc}",
            "create it and make it writable by the user Telegraf runs as (e.g. chown telegraf)",
        )
        return
    report.ok(f"cache directory {path} is writable")
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & 0o077:
        report.warn(
            f"cache directory {path} can be entered by more than its owner (mode {stat.S_IMODE(mode):04o}); "
            "the cached design holds the dealer's contact data",
            f"chmod 700 {path}",
        )


def _readers(mode: int) -> str:
    who = [name for bit, name in ((stat.S_IRGRP, "its group"), (stat.S_IROTH, "everyone")) if mode & bit]
    return " and ".join(who)


def check_secret_files(config: Config, report: Report) -> None:
    """Warn when a file holding a password can be read by more than its owner."""
    files: list[tuple[Path, str]] = []
    if config.password_file is not None:
        files.append((config.password_file, "password file"))
    if config.password_in_config and config.path is not None:
        files.append((Path(config.path), "configuration (it holds a password)"))
    for path, what in files:
        try:
            mode = path.stat().st_mode
        except OSError:
            continue
        if mode & (stat.S_IRGRP | stat.S_IROTH):
            report.warn(
                f"the {what} {path} can be read by {_readers(mode)} (mode {stat.S_IMODE(mode):04o})",
                f"chmod 600 {path}, owned by the user Telegraf runs as",
            )


async def run_check(config: Config, out: TextIO) -> int:
    report = Report(out)
    pc = config.processor
    report.line(f"telegraf-lutron check: {config.path}")
    report.ok(f"configuration is valid (site {config.plugin.site!r}, signal {config.plugin.signal})")
    if not pc.password:
        report.info("no password set (processor.password, password_file or LUTRON_PASSWORD)")
    check_secret_files(config, report)
    check_cache_dir(config, report)
    lock = LoginLock(config.plugin.cache_dir, pc.host, pc.username)
    revision = None
    if lock.try_acquire():
        try:
            revision, _ = await login_once(config, report)
        finally:
            lock.release()
    else:
        report.info(
            f"skipped the telnet login: a running telegraf-lutron holds the login {pc.username!r} "
            "(one session per login); its lutron_processor metric shows whether it is up"
        )
    source = DesignSource(url=pc.design_url, timeout=pc.xml_timeout)
    try:
        _, design = await source.aload()
    except DesignError as exc:
        report.bad(f"design database: {exc}", "check processor.http_port or processor.xml_url")
    else:
        describe_design(design, report, config.zones)
        if revision and normalize_revision(design.project.revision) != normalize_revision(revision):
            report.info(
                f"the processor reports revision {revision} but the XML says {design.project.revision}: "
                "the design was probably transferred while this ran; the plugin follows it"
            )
    warnings = f" ({report.warnings} warning(s) above)" if report.warnings else ""
    if report.problems:
        report.line(f"{report.problems} problem(s) found{warnings}.")
        return 1
    report.line(f"Everything works{warnings}. Wire it into Telegraf with telegraf.conf.example.")
    return 0


def main(args: argparse.Namespace) -> int:
    tlog.setup(logging.ERROR)
    logging.getLogger("telegraf_lutron").setLevel(logging.CRITICAL)  # the report says it all
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(terminal_safe(f"E! {exc}"), file=sys.stderr)
        return 2
    return asyncio.run(run_check(config, sys.stdout))
