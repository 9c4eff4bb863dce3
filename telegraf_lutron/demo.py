"""`telegraf-lutron demo`: the whole product against its built-in simulator, in one command.

- the simulator: a generated HomeWorks QS house whose occupants switch lights, press buttons and
  walk around (telnet and DbXmlInfo.xml on free loopback ports);
- the plugin, `telegraf-lutron run`, exactly as Telegraf's inputs.execd runs it: a subprocess fed
  one newline per interval, its stdout parsed with Telegraf's line-protocol grammar;
- where a PostgreSQL is reachable (`--dsn`, $TL_DSN, or a local server on 127.0.0.1:5432): `db
  init`, a generated history (30 days by default) and then the plugin's change rows (what
  outputs.postgresql's namepass takes: the snapshots are for Prometheus), written the way
  Telegraf's outputs.postgresql writes them;
- the web UI on 127.0.0.1:8501, when the `ui` extra is installed.

It prints what runs where and one line per snapshot. Ctrl-C stops everything cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from telegraf_lutron import log as tlog
from telegraf_lutron.lineproto_parse import Metric, StreamParser
from telegraf_lutron.metrics import postgres_measurements
from telegraf_lutron.simulator import Simulator
from telegraf_lutron.simulator.core import DEFAULT_USERS
from telegraf_lutron.simulator.designgen import GeneratorParams, generate

LOCAL_SERVER = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
DEMO_DATABASE = "telegraf_lutron_demo"
# What outputs.postgresql's namepass sends (the metric catalogue): the change rows.
DB_MEASUREMENTS = postgres_measurements()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=1, help="which generated house (default 1)")
    parser.add_argument("--activity", type=float, default=1.0, help="house events per second (default 1)")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between snapshots (default 5)")
    parser.add_argument("--days", type=float, default=30.0, help="days of generated history (default 30)")
    parser.add_argument("--dsn", help="PostgreSQL to use (default: $TL_DSN, else a local server)")
    parser.add_argument("--no-db", action="store_true", help="no PostgreSQL, no history, no UI")
    parser.add_argument("--no-ui", action="store_true", help="do not start the web UI")
    parser.add_argument("--ui-port", type=int, default=8501, help="web UI port on 127.0.0.1 (default 8501)")
    parser.add_argument(
        "--timezone", default=os.environ.get("TL_TIMEZONE", "UTC"), help="the house's time zone"
    )
    parser.add_argument(
        "--dir", help="working directory for the plugin's config and cache (default: a temporary one)"
    )
    parser.add_argument(
        "--duration", type=float, default=0.0, help="stop after this many seconds (default: Ctrl-C)"
    )


def say(out: TextIO, text: str) -> None:
    print(text, file=out, flush=True)


# --- PostgreSQL ----------------------------------------------------------------------------------


def masked(dsn: str) -> str:
    """`dsn` safe to print: secrets masked, an unparseable string not shown at all."""
    from telegraf_lutron.db import mask_dsn

    return mask_dsn(dsn)


def choose_database(args: argparse.Namespace, out: TextIO) -> str | None:
    """The DSN to use, or None (with the reason said) when no PostgreSQL can be had."""
    if args.no_db:
        return None
    if importlib.util.find_spec("psycopg") is None:
        say(out, "database: psycopg is not installed (pip install -e '.[db,ui]'): running without PostgreSQL")
        return None
    import psycopg
    from psycopg import conninfo, sql

    explicit = args.dsn or os.environ.get("TL_DSN")
    if explicit:
        from telegraf_lutron.db import DbError, connect

        try:
            connect(explicit, connect_timeout=5).close()
        except DbError as exc:  # one line, never a secret (an unparseable string is not shown)
            say(out, f"database: {exc} (running without PostgreSQL)")
            return None
        return explicit
    try:
        with psycopg.connect(LOCAL_SERVER, autocommit=True) as conn:
            # The demo's own database: made afresh each time so the history is consistent.
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DEMO_DATABASE))
            )
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DEMO_DATABASE)))
    except psycopg.Error:
        say(
            out,
            "database: no PostgreSQL on 127.0.0.1:5432 (give one with --dsn): running without history and UI",
        )
        return None
    return conninfo.make_conninfo(LOCAL_SERVER, dbname=DEMO_DATABASE)


def prepare_database(dsn: str, design: Any, args: argparse.Namespace, out: TextIO) -> None:
    """db init, then the generated history (unless the tables already hold data)."""
    import psycopg

    from telegraf_lutron.db.history import seed_history
    from telegraf_lutron.db.schema import init

    with psycopg.connect(dsn) as conn:
        report = init(conn, timezone=args.timezone)
        conn.commit()
        say(
            out,
            f"database: {masked(dsn)} ready (schema version {report.version}, time zone {report.timezone})",
        )
        row = conn.execute("SELECT EXISTS (SELECT 1 FROM lutron_house)").fetchone()
        if row is not None and row[0]:
            say(out, "database: it already has data: no history generated")
            return
        if args.days <= 0:
            return
        started = time.monotonic()
        bar = ProgressBar(out, f"history: {args.days:g} days")
        rows = seed_history(
            conn,
            design,
            duration=timedelta(days=args.days),
            end=datetime.now(UTC),
            tz=args.timezone,
            progress=bar.update,
            namepass=DB_MEASUREMENTS,
            # The house row comes every minute (a reader tells "no data" from "no changes" by it):
            # one-minute steps throughout, not the coarser steps snapshots could use.
            coarse_step=timedelta(minutes=1),
        )
        conn.commit()
        bar.done(f"{rows:,} rows in {time.monotonic() - started:.0f} s")


class ProgressBar:
    def __init__(self, out: TextIO, label: str, width: int = 30) -> None:
        self.out, self.label, self.width = out, label, width
        self.tty = out.isatty()
        self.shown = -1

    def update(self, fraction: float) -> None:
        percent = int(fraction * 100)
        if percent == self.shown or (not self.tty and percent % 25):
            return
        self.shown = percent
        filled = int(fraction * self.width)
        text = f"{self.label} [{'#' * filled}{' ' * (self.width - filled)}] {percent:3d} %"
        print(f"\r{text}" if self.tty else text, end="" if self.tty else "\n", file=self.out, flush=True)

    def done(self, summary: str) -> None:
        if self.tty:
            print(file=self.out)
        say(self.out, f"{self.label}: {summary}")


class TelegrafPostgres:
    """What outputs.postgresql does with our metrics: namepass, one COPY per measurement per flush."""

    def __init__(self, dsn: str) -> None:
        import psycopg

        from telegraf_lutron.db.history import TelegrafWriter

        self._conn = psycopg.connect(dsn)
        self._writer = TelegrafWriter(self._conn, namepass=DB_MEASUREMENTS)

    def write(self, metrics: list[Metric]) -> None:
        batch = [m for m in metrics if m.name in DB_MEASUREMENTS]
        if batch:
            self._writer.write(batch)

    def close(self) -> None:
        self._conn.close()


# --- the plugin, run as Telegraf's inputs.execd runs it ---------------------------------------------


def plugin_config(workdir: Path, telnet_port: int, http_port: int) -> Path:
    user, password = next(iter(DEFAULT_USERS.items()))  # the simulator's documented demo login
    (workdir / "password").write_text(password + "\n")
    (workdir / "password").chmod(0o600)
    path = workdir / "lutron.toml"
    path.write_text(
        "[processor]\n"
        'host = "127.0.0.1"\n'
        f"telnet_port = {telnet_port}\n"
        f"http_port = {http_port}\n"
        f'username = "{user}"\n'
        'password_file = "password"\n'
        "[plugin]\n"
        'cache_dir = "cache"\n'
        'site = "home"\n'
    )
    return path


class ExecdRunner:
    """Starts the plugin, sends one newline per tick, parses stdout as Telegraf does, and stops it
    the way Telegraf does (close stdin, 5 s, SIGTERM, 5 s, SIGKILL)."""

    def __init__(self, config: Path, on_snapshot: Callable[[list[Metric]], None], out: TextIO) -> None:
        self.config, self.on_snapshot, self.out = config, on_snapshot, out
        self.proc: asyncio.subprocess.Process | None = None
        self.parse_errors = 0
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "telegraf_lutron",
            "run",
            "--config",
            str(self.config),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        self._tasks = [asyncio.create_task(self._stdout()), asyncio.create_task(self._stderr())]

    def tick(self) -> None:
        if self.proc is not None and self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.write(b"\n")

    async def _stdout(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        parser = StreamParser()
        batch: list[Metric] = []
        while chunk := await self.proc.stdout.read(1 << 16):
            for item in parser.feed(chunk.decode("utf-8", "replace")):
                if isinstance(item, Metric):
                    batch.append(item)
                else:
                    self.parse_errors += 1
                    say(self.out, f"E! [inputs.execd] metric parse error: {item}")
            if batch and not parser.pending:  # a snapshot is one write: complete when nothing is pending
                self.on_snapshot(batch)
                batch = []

    async def _stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            text = line.decode("utf-8", "replace").rstrip()
            if text.startswith(("E! ", "W! ")):  # Telegraf's log would show these
                say(self.out, f"plugin: {text}")

    async def stop(self) -> str:
        proc = self.proc
        if proc is None:
            return "not started"
        how = "exited on stdin EOF"
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            how = "stopped with SIGTERM"
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except TimeoutError:
                how = "killed"
                proc.kill()
                await proc.wait()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 2)
        return f"{how} (code {proc.returncode})"


# --- the web UI ------------------------------------------------------------------------------------


async def start_ui(
    dsn: str, cache_dir: Path, args: argparse.Namespace, out: TextIO
) -> asyncio.subprocess.Process | None:
    if args.no_ui:
        return None
    if importlib.util.find_spec("streamlit") is None:
        say(out, "web UI: not installed (pip install -e '.[db,ui]' to get it)")
        return None
    env = dict(os.environ, TL_DSN=dsn)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "telegraf_lutron",
        "ui",
        "--port",
        str(args.ui_port),
        "--cache-dir",
        str(cache_dir),
        "--timezone",
        args.timezone,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def stop_process(proc: asyncio.subprocess.Process | None) -> None:
    if proc is None or proc.returncode is not None:
        return
    proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), 5)
    except TimeoutError:
        proc.kill()
        await proc.wait()


# --- the whole demo ------------------------------------------------------------------------------


class Snapshots:
    """Prints one line per snapshot, plus the zones that changed since the previous one."""

    def __init__(self, out: TextIO, db: TelegrafPostgres | None) -> None:
        self.out, self.db = out, db
        self.count = 0
        self.levels: dict[str, float] = {}

    def __call__(self, metrics: list[Metric]) -> None:
        by_name: dict[str, list[Metric]] = {}
        for m in metrics:
            by_name.setdefault(m.name, []).append(m)
        processor = by_name.get("lutron_processor", [None])[0]
        power = by_name.get("lutron_power", [None])[0]
        stamp = time.strftime("%H:%M:%S")
        if power is None:
            if processor is not None:
                up = processor.fields.get("up") == 1.0
                say(self.out, f"{stamp}  processor {'up, reading the house' if up else 'not connected yet'}")
            self._store(metrics)  # change rows written between snapshots
            return
        self.count += 1
        f = power.fields
        say(
            self.out,
            f"{stamp}  {f['watts']:7.0f} W  {int(f['lights_on']):3d} of {int(f['lights_total'])} lights on,"
            f" {int(f['fans_on'])} fans on, {int(f['shades_open'])} shades open  "
            f"{float(f['energy_joules_total']) / 3.6e6:8.3f} kWh since start  ({len(metrics)} metrics)",
        )
        for zone in by_name.get("lutron_zone", []):
            level = zone.fields.get("level")
            if not isinstance(level, float):
                continue
            before = self.levels.get(zone.tags["zone_id"])
            self.levels[zone.tags["zone_id"]] = level
            if before is not None and before != level:
                say(
                    self.out,
                    f"          {zone.tags['zone']} ({zone.tags['area']}, {zone.tags.get('kind', '')}):"
                    f" {before:.0f} % -> {level:.0f} %",
                )
        self._store(metrics)

    def _store(self, metrics: list[Metric]) -> None:
        if self.db is not None:
            try:
                self.db.write(metrics)
            except Exception as exc:  # the demo goes on without the database, as Telegraf would retry
                say(self.out, f"database write failed: {str(exc).strip().splitlines()[0]}")


async def run_demo(args: argparse.Namespace, out: TextIO) -> int:
    design, xml = generate(GeneratorParams(seed=args.seed))
    workdir = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="telegraf-lutron-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    sim = Simulator(design, xml=xml, activity_rate=args.activity, seed=args.seed)
    await sim.start()
    db: TelegrafPostgres | None = None
    ui: asyncio.subprocess.Process | None = None
    plugin: ExecdRunner | None = None
    snapshots = Snapshots(out, None)
    try:
        say(
            out,
            f"simulator: {design.project.name!r}, {len(design.zones)} zones, {len(design.keypads)} keypads",
        )
        say(out, f"  telnet   127.0.0.1:{sim.telnet_port} (user default, password default)")
        say(out, f"  design   http://127.0.0.1:{sim.http_port}/DbXmlInfo.xml")
        dsn = await asyncio.to_thread(choose_database, args, out)
        if dsn is not None:
            await asyncio.to_thread(prepare_database, dsn, design, args, out)
            db = await asyncio.to_thread(TelegrafPostgres, dsn)
        config = plugin_config(workdir, sim.telnet_port, sim.http_port)
        snapshots.db = db
        plugin = ExecdRunner(config, snapshots, out)
        await plugin.start()
        say(out, f"plugin:   telegraf-lutron run --config {config} (a snapshot every {args.interval:g} s)")
        if dsn is not None:
            ui = await start_ui(dsn, workdir / "cache", args, out)
            if ui is not None:
                say(out, f"web UI:   http://127.0.0.1:{args.ui_port}/")
        say(out, "Ctrl-C stops everything.")
        deadline = time.monotonic() + args.duration if args.duration else None
        while not stop.is_set():
            wait = args.interval if deadline is None else min(args.interval, deadline - time.monotonic())
            if wait <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
            if not stop.is_set():
                plugin.tick()
    finally:
        say(out, "stopping...")
        how = await plugin.stop() if plugin is not None else "not started"
        await stop_process(ui)
        if db is not None:
            db.close()
        await sim.stop()
    errors = plugin.parse_errors if plugin is not None else 0
    say(out, f"stopped: plugin {how}; {snapshots.count} snapshots, {errors} rejected lines")
    return 1 if errors else 0


def main(args: argparse.Namespace) -> int:
    tlog.setup("WARNING")
    return asyncio.run(run_demo(args, sys.stdout))
