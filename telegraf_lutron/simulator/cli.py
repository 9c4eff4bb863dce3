"""`telegraf-lutron simulate`: run the processor simulator until Ctrl-C or SIGTERM.

Prints where it listens (one plain line on stdout, for scripts and the README demo) and never
the password.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import signal
from pathlib import Path

from telegraf_lutron import log as tlog
from telegraf_lutron.design import Design
from telegraf_lutron.errors import TelegrafLutronError
from telegraf_lutron.simulator.core import Lockout, Simulator
from telegraf_lutron.simulator.quirks import DEFAULT_XML_JUNK, Quirks

logger = logging.getLogger(__name__)

PASSWORD_ENV = "LUTRON_PASSWORD"  # noqa: S105 - the variable's name, not a password


def add_arguments(parser: argparse.ArgumentParser) -> None:
    net = parser.add_argument_group("network and login")
    net.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
    net.add_argument(
        "--telnet-port", type=int, default=2323, help="integration port; 0 = any (default %(default)s)"
    )
    net.add_argument(
        "--http-port", type=int, default=8080, help="DbXmlInfo.xml port; 0 = any (default %(default)s)"
    )
    net.add_argument("--user", default="default", help="integration login (default %(default)s)")
    pw = net.add_mutually_exclusive_group()
    pw.add_argument("--password", help=f"its password (default: ${PASSWORD_ENV}, else 'default')")
    pw.add_argument("--password-file", type=Path, help="read the password from the first line of this file")
    net.add_argument(
        "--login-timeout", type=float, default=60.0, help="seconds to finish a login (default %(default)s)"
    )
    net.add_argument(
        "--lockout",
        type=int,
        metavar="N",
        help="refuse all logins for 10 minutes after N bad logins within a minute (like RA2 repeaters)",
    )

    proc = parser.add_argument_group("processor")
    proc.add_argument("--system", choices=("HWQS", "RA2"), default="HWQS", help="default %(default)s")
    proc.add_argument(
        "--design-file", type=Path, help="serve this DbXmlInfo.xml instead of a generated house"
    )
    proc.add_argument("--floors", type=int, default=2, help="generated house: floors (default %(default)s)")
    proc.add_argument(
        "--rooms", type=int, default=3, help="generated house: rooms per floor (default %(default)s)"
    )
    proc.add_argument("--zones-per-room", type=int, default=3, help="default %(default)s")
    proc.add_argument("--keypads-per-room", type=int, default=2, help="default %(default)s")
    proc.add_argument("--seed", type=int, default=0, help="seed of the generated house and its activity")
    proc.add_argument(
        "--sysvar", action="append", default=[], metavar="ID[=STATE]", help="a system variable (repeatable)"
    )
    proc.add_argument(
        "--service-time",
        type=float,
        default=0.005,
        help="seconds spent on each command (default %(default)s)",
    )
    proc.add_argument("--activity", type=float, default=0.0, metavar="RATE", help="house events per second")
    proc.add_argument(
        "--clock-skew",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="run the processor's clock this far ahead",
    )

    q = parser.add_argument_group("quirks of real processors")
    q.add_argument("--split-packets", action="store_true", help="send output in small random chunks")
    q.add_argument("--glued-prompts", action="store_true", help="glue prompts onto and into lines")
    q.add_argument("--drop-every", type=float, metavar="SECONDS", help="close every session this often")
    q.add_argument("--silent", action="store_true", help="accept connections but never answer")
    q.add_argument("--slow-login", type=float, default=0.0, metavar="SECONDS", help="delay the login answer")
    q.add_argument(
        "--no-self-echo", action="store_true", help="no ~OUTPUT events for a session's own #OUTPUT"
    )
    q.add_argument("--xml-junk", action="store_true", help="junk bytes before the XML declaration")

    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))


class UsageError(TelegrafLutronError):
    """A bad option: the message says what to change."""


def read_password(args: argparse.Namespace) -> str:
    """--password-file, else --password, else $LUTRON_PASSWORD, else 'default'."""
    if args.password_file is not None:
        try:
            lines = args.password_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise UsageError(f"cannot read --password-file: {exc.strerror}") from None
        if not lines or not lines[0]:
            raise UsageError("--password-file is empty")
        return str(lines[0])
    if args.password is not None:
        return str(args.password)
    return os.environ.get(PASSWORD_ENV) or "default"


def parse_sysvars(items: list[str]) -> dict[int, int]:
    sysvars: dict[int, int] = {}
    for item in items:
        sid, _, state = item.partition("=")
        try:
            sysvars[int(sid)] = int(state or 0)
        except ValueError:
            raise UsageError(f"--sysvar {item!r}: expected ID or ID=STATE, both integers") from None
    return sysvars


def load_design(args: argparse.Namespace) -> tuple[Design, bytes]:
    """The design to simulate and its XML: from --design-file, or generated from the size options."""
    if args.design_file is not None:
        try:
            xml = args.design_file.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read --design-file: {exc.strerror}") from None
        from telegraf_lutron.design import DesignError
        from telegraf_lutron.design_xml import parse_design

        try:
            return parse_design(xml, source=str(args.design_file)), xml
        except DesignError as exc:
            raise UsageError(str(exc)) from None
    from telegraf_lutron.simulator.designgen import GeneratorParams, generate

    try:
        params = GeneratorParams(
            seed=args.seed,
            system=args.system,
            floors=args.floors,
            rooms_per_floor=args.rooms,
            zones_per_room=args.zones_per_room,
            keypads_per_room=args.keypads_per_room,
            nested_depth=2 if args.system == "RA2" else 4,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return generate(params)


def _url_host(host: str) -> str:
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


async def serve(sim: Simulator, user: str) -> None:
    """Run `sim` until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await sim.start()
        try:
            host = _url_host(sim.host)
            print(
                f"telnet {host}:{sim.telnet_port}  http://{host}:{sim.http_port}/DbXmlInfo.xml  user {user}",
                flush=True,
            )
            await stop.wait()
            logger.info("stopping")
        finally:
            await sim.stop()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def main(args: argparse.Namespace) -> int:
    tlog.setup(args.log_level)
    # telnetlib3 logs every connection at info; the simulator logs what matters itself.
    logging.getLogger("telnetlib3").setLevel(logging.WARNING)
    try:
        password = read_password(args)
        sysvars = parse_sysvars(args.sysvar)
        design, xml = load_design(args)
    except UsageError as exc:
        logger.error("%s", exc)
        return 2
    if not _is_loopback(args.host):
        logger.warning("listening on %s: the simulator is reachable from other machines", args.host)
    quirks = Quirks(
        split_packets=args.split_packets,
        glued_prompts=args.glued_prompts,
        drop_every=args.drop_every,
        silent=args.silent,
        slow_login=args.slow_login,
        no_self_echo=args.no_self_echo,
        xml_junk=DEFAULT_XML_JUNK if args.xml_junk else b"",
    )
    sim = Simulator(
        design,
        xml=xml,
        users={args.user: password},
        host=args.host,
        telnet_port=args.telnet_port,
        http_port=args.http_port,
        system=args.system,
        service_time=args.service_time,
        quirks=quirks,
        login_timeout=args.login_timeout,
        lockout=Lockout(max_failures=args.lockout) if args.lockout else None,
        sysvars=sysvars,
        activity_rate=args.activity,
        clock_skew=args.clock_skew,
        seed=args.seed,
    )
    try:
        asyncio.run(serve(sim, args.user))
    except OSError as exc:
        logger.error(
            "cannot listen on %s: %s (choose other ports with --telnet-port/--http-port)", args.host, exc
        )
        return 1
    return 0
