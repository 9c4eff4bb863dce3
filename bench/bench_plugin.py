"""Benchmark: `telegraf-lutron run` as Telegraf runs it, against the simulator.

Four figures, each with its target and a baseline measured in the same run:

1. Processor commands per interval in steady state (STDIN mode, 200 zones, keepalive 60 s).
   Target: 0 besides the keepalive. Baseline: a polling client re-reading all state each interval.
2. Change-to-stdout latency, `signal = "none"` with `emit_on_change = true`: a level set at the
   simulator until its lutron_zone line arrives on the plugin's stdout. Target: p95 < 100 ms.
   Baseline: the same change arriving at a plain telnet monitoring client (a second login).
3. Snapshot encoding, in-process, for 2,000 zones and ~5,000 LEDs and buttons. Target: < 50 ms
   (median of 20). Baseline: a naive f-string join of the same lines, no escaping or checks.
4. Plugin RSS over one simulated hour at 10 events/s (36,000 house events at 200/s, ticked every
   second). Target: < 80 MB and flat. Baseline: the RSS right after the first state read.

    .venv/bin/python bench/bench_plugin.py [--quick] [--only 1,2,3,4]

Every server binds 127.0.0.1; every subprocess and simulator is stopped on the way out.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from telegraf_lutron.connection import Counters
from telegraf_lutron.metrics import MetricSet, ProcessorHealth
from telegraf_lutron.simulator import SimulatorThread
from telegraf_lutron.simulator.designgen import GeneratorParams, generate
from telegraf_lutron.state import ButtonCounts, Counts, HouseState

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from telegraf_lutron.lineproto_parse import parse_stream  # the strict Telegraf parser

PLUGIN = [sys.executable, "-m", "telegraf_lutron", "run", "-c"]
USERS = {"default": "default", "bench": "bench"}
ZONE_ID_RE = re.compile(r",zone_id=(\d+)[, ]")
OUTPUT_RE = re.compile(r"~OUTPUT,(\d+),(\d+),([\d.]+)")


# --- the plugin as a subprocess -------------------------------------------------------------------


def write_config(directory: Path, sim: SimulatorThread, **plugin: str) -> Path:
    extra = "".join(f"{k} = {v}\n" for k, v in plugin.items())
    path = directory / "lutron.toml"
    path.write_text(
        f"""[processor]
host = "127.0.0.1"
telnet_port = {sim.telnet_port}
http_port = {sim.http_port}
username = "default"
password = "default"
keepalive_interval = "60s"
[plugin]
cache_dir = "{directory / "cache"}"
site = "bench house"
{extra}"""
    )
    return path


class PluginProcess:
    """The plugin with its three pipes; stdout and stderr drained by threads, lines timestamped on
    arrival (time.perf_counter, the same clock the bench threads use)."""

    def __init__(self, config: Path, on_line: Callable[[str, float], None] | None = None) -> None:
        self.proc = subprocess.Popen(
            [*PLUGIN, str(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
        )
        self.on_line = on_line
        self.snapshots = 0  # lutron_processor lines seen
        self.last_processor_line = ""
        self.stopped = ""  # how the stop went, once closed
        self.stderr: list[str] = []
        self.synced = threading.Event()
        self._threads = [
            threading.Thread(target=self._read_stdout, name="plugin-stdout", daemon=True),
            threading.Thread(target=self._read_stderr, name="plugin-stderr", daemon=True),
        ]
        for t in self._threads:
            t.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        rest = b""
        while True:
            chunk = os.read(fd, 1 << 16)
            arrived = time.perf_counter()
            if not chunk:
                return
            *lines, rest = (rest + chunk).split(b"\n")
            for raw in lines:
                if raw.startswith(b"lutron_processor,"):
                    self.snapshots += 1
                    self.last_processor_line = raw.decode()
                if self.on_line is not None:
                    self.on_line(raw.decode(), arrived)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            text = raw.decode(errors="replace").rstrip("\n")
            self.stderr.append(text)
            if "state read" in text:
                self.synced.set()

    def wait_synced(self, timeout: float = 60.0) -> None:
        if not self.synced.wait(timeout):
            tail = "\n  ".join(self.stderr[-10:])
            raise SystemExit(f"the plugin did not read the state within {timeout:.0f} s:\n  {tail}")

    def tick(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"\n")
        self.proc.stdin.flush()

    def wait_snapshots(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.snapshots < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {self.snapshots} of {count} snapshots arrived")
            time.sleep(0.01)

    def rss_mb(self) -> float:
        return proc_status_kb(self.pid, "VmRSS") / 1024

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def processor_field(self, name: str) -> float:
        m = re.search(rf"[ ,]{name}=([^, ]+)", self.last_processor_line)
        return float(m.group(1)) if m else float("nan")

    def close(self) -> tuple[int | None, float]:
        """Stop as Telegraf does: close stdin, 5 s, SIGTERM, 5 s, SIGKILL. (returncode, seconds)."""
        started = time.monotonic()
        with contextlib.suppress(OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        for step in (None, self.proc.terminate, self.proc.kill):
            if step is not None:
                step()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5.0)
                break
        for t in self._threads:
            t.join(2.0)
        took = time.monotonic() - started
        self.stopped = f"stop: stdin closed, the plugin exited {self.proc.returncode} after {took:.2f} s"
        return self.proc.returncode, took


def proc_status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


@contextlib.contextmanager
def house(
    zones: int, keypads: int, service_time: float, **plugin: str
) -> Iterator[tuple[SimulatorThread, PluginProcess]]:
    """A simulator and the plugin logged in to it; both stopped on the way out, errors or not."""
    design, xml = generate(GeneratorParams.sized(zones, keypads))
    with tempfile.TemporaryDirectory(prefix="bench-plugin-") as tmp:
        sim = SimulatorThread(
            design, xml=xml, telnet_port=0, http_port=0, service_time=service_time, users=USERS
        ).start()
        plugin_process: PluginProcess | None = None
        try:
            plugin_process = PluginProcess(write_config(Path(tmp), sim, **plugin))
            yield sim, plugin_process
        finally:
            if plugin_process is not None:
                plugin_process.close()
            sim.stop()


# --- a plain telnet monitoring client -------------------------------------------------------------


class MonitorClient:
    """A second login that only listens: the raw protocol events, timestamped on arrival."""

    def __init__(self, port: int, user: str = "bench", password: str = "bench") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self._buffer = b""
        self._expect(b"login: ")
        self.sock.sendall(user.encode() + b"\r\n")
        self._expect(b"password: ")
        self.sock.sendall(password.encode() + b"\r\n")
        self._expect(b"> ")
        self.sock.settimeout(0.2)
        self.levels: dict[tuple[int, float], float] = {}  # (zone, level) -> first arrival
        self.house_events = 0  # what the simulator's activity did: taps, occupancy, local levels
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="monitor", daemon=True)
        self._thread.start()

    def _expect(self, token: bytes) -> None:
        while token not in self._buffer:
            data = self.sock.recv(4096)
            if not data:
                raise SystemExit(f"the simulator closed the monitoring login before {token!r}")
            self._buffer += data
        self._buffer = self._buffer.split(token, 1)[1]

    def _run(self) -> None:
        rest = self._buffer
        while not self._closed:
            try:
                chunk = self.sock.recv(1 << 16)
            except TimeoutError:
                continue
            except OSError:
                return
            arrived = time.perf_counter()
            if not chunk:
                return
            *lines, rest = (rest + chunk).split(b"\r\n")
            for raw in lines:
                self._line(raw.decode(errors="replace"), arrived)

    def _line(self, text: str, arrived: float) -> None:
        text = text.replace("\x00", "").rpartition("> ")[2]  # prompts glued in front
        if text.startswith("~OUTPUT,"):
            m = OUTPUT_RE.match(text)
            if m is None:
                return
            zone, action, value = int(m.group(1)), m.group(2), m.group(3)
            if action == "1":
                self.levels.setdefault((zone, float(value)), arrived)
            elif action == "29" and value == "24":  # a level set locally (not by a keypad scene)
                self.house_events += 1
        elif text.startswith("~GROUP,") or (text.startswith("~DEVICE,") and text.endswith(",3")):
            self.house_events += 1  # an occupancy change, a button press

    def close(self) -> None:
        self._closed = True
        self._thread.join(2.0)
        self.sock.close()


# --- figures --------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def slope(xs: list[float], ys: list[float]) -> float:
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def bench_commands(args: argparse.Namespace) -> None:
    print(f"1. processor commands per interval, steady state ({args.zones} zones, STDIN mode)")
    with house(args.zones, args.keypads, args.service_ms / 1000) as (sim, plugin):
        before = sim.stats.commands_total
        plugin.wait_synced()
        time.sleep(0.5)  # let the last replies of the read land
        sync_commands = sim.stats.commands_total - before
        state_read = next(line for line in plugin.stderr if "state read" in line)
        queries = int(re.search(r"state read: (\d+) queries", state_read).group(1))  # type: ignore[union-attr]
        start_commands, started = sim.stats.commands_total, time.monotonic()
        for _ in range(args.ticks):
            plugin.tick()
            time.sleep(args.tick_interval)
        plugin.wait_snapshots(args.ticks)
        elapsed = time.monotonic() - started
        commands = sim.stats.commands_total - start_commands
        keepalives = int(elapsed // 60.0) + 1  # at most one per started minute
        per_interval = commands / args.ticks
        print(f"   after the login: {sync_commands} commands ({queries} state queries) in the first read")
        print(
            f"   {args.ticks} ticks every {args.tick_interval:g} s ({elapsed:.1f} s): {plugin.snapshots} "
            f"snapshots, {commands} commands at the simulator (keepalive allows <= {keepalives})"
        )
        print(f"   commands per interval: {per_interval:.2f} (target: 0 besides the keepalive)")
        print(f"   baseline, a client polling all state each interval: {queries} commands per interval")
        verdict = "OK" if commands <= keepalives else "MORE THAN THE KEEPALIVE"
        print(f"   ratio to the baseline: {per_interval / queries:.4f}  -> {verdict}")
    print(f"   {plugin.stopped}")


def bench_latency(args: argparse.Namespace) -> None:
    print(f"2. change-to-stdout latency, signal none + emit_on_change ({args.samples} changes)")
    arrivals: dict[tuple[int, float], float] = {}

    def on_line(text: str, arrived: float) -> None:
        if not text.startswith("lutron_zone,"):
            return
        prefix, fields, _ = text.rsplit(" ", 2)
        zone = ZONE_ID_RE.search(prefix + " ")
        level = re.match(r"level=([^,]+)", fields)
        if zone and level:
            arrivals.setdefault((int(zone.group(1)), float(level.group(1))), arrived)

    with house(
        args.zones,
        args.keypads,
        args.service_ms / 1000,
        signal='"none"',
        interval='"10s"',
        emit_on_change="true",
    ) as (sim, plugin):
        plugin.on_line = on_line
        plugin.wait_synced()
        monitor = MonitorClient(sim.telnet_port)
        try:
            design = sim.call(lambda s: s.design)
            dimmable = [z.id for z in design.zones if z.dimmable]
            rng = random.Random(3)
            time.sleep(0.5)
            sent: list[tuple[int, float, float]] = []
            for i in range(args.samples):
                # Every (zone, level) is used once and is never a level the zone already had.
                zone, level = dimmable[i % len(dimmable)], round(1.01 + 0.13 * (i % 750), 2)
                t = time.perf_counter()
                sim.set_level(zone, level)
                sent.append((zone, level, t))
                time.sleep(rng.uniform(0.020, 0.050))
            deadline = time.monotonic() + 3.0
            while time.monotonic() < deadline and not all((z, lv) in arrivals for z, lv, _ in sent):
                time.sleep(0.05)
        finally:
            monitor.close()
    ours = [(arrivals[(z, lv)] - t) * 1000 for z, lv, t in sent if (z, lv) in arrivals]
    raw = [(monitor.levels[(z, lv)] - t) * 1000 for z, lv, t in sent if (z, lv) in monitor.levels]
    added = [
        (arrivals[(z, lv)] - monitor.levels[(z, lv)]) * 1000
        for z, lv, _ in sent
        if (z, lv) in arrivals and (z, lv) in monitor.levels
    ]
    missing = len(sent) - len(ours)
    if not ours or not raw:
        print(f"   no matching lines: plugin {len(ours)}, monitor {len(raw)} of {len(sent)}")
        return

    def row(name: str, xs: list[float]) -> str:
        return (
            f"   {name:<34} p50 {percentile(xs, 50):6.2f}  p95 {percentile(xs, 95):6.2f}  "
            f"p99 {percentile(xs, 99):6.2f}  max {max(xs):7.2f} ms  (n={len(xs)})"
        )

    print(row("plugin stdout:", ours))
    print(row("baseline, telnet monitoring client:", raw))
    print(row("added by the plugin (per change):", added))
    p95 = percentile(ours, 95)
    verdict = "OK" if p95 < 100 and missing == 0 else "MISSED"
    print(
        f"   p95 ratio plugin / raw protocol: {p95 / percentile(raw, 95):.2f}x; changes never seen on "
        f"stdout: {missing}; target p95 < 100 ms -> {verdict}"
    )
    print(f"   {plugin.stopped}")


def naive_snapshot(ms: MetricSet, state: HouseState, health: ProcessorHealth, ts_ns: int) -> str:
    """The same lines with f-strings: cached prefixes, no escaping, no checks, repr() for floats."""
    ts = ts_ns
    c = health.counters
    lines = [
        f"{ms.processor_prefix} up={float(health.up)!r},connects_total={float(c.connects)!r},"
        f"disconnects_total={float(c.disconnects)!r},bad_logins_total={float(c.bad_logins)!r},"
        f"commands_total={float(c.commands)!r},errors_total={float(c.errors)!r},"
        f"timeouts_total={float(c.timeouts)!r},events_total={float(c.events)!r},"
        f"unknown_events_total={float(health.unknown_events)!r},"
        f"command_latency_seconds={health.command_latency!r},zones={float(len(ms.design.zones))!r},"
        f"keypads={float(len(ms.design.keypads))!r}"
        + (f",design_export_timestamp_seconds={ms.export_timestamp!r}" if ms.export_timestamp else "")
        + f" {ts}\n"
    ]
    c = state.system_totals()
    lines.append(
        f"{ms.power_prefix} watts={c.watts!r},energy_joules_total={state.total_energy!r},"
        f"lights_on={float(c.lights_on)!r},fans_on={float(c.fans_on)!r},"
        f"shades_open={float(c.shades_open)!r},lights_total={float(c.lights)!r} {ts}\n"
    )
    totals = state.area_totals()
    for key, prefix in ms.area_prefix.items():
        a = totals.get(key) or Counts()
        e = state.area_energy.get(key, 0.0)
        lines.append(
            f"{prefix} watts={a.watts!r},energy_joules_total={e!r},lights_on={float(a.lights_on)!r},"
            f"fans_on={float(a.fans_on)!r},shades_open={float(a.shades_open)!r} {ts}\n"
        )
    for zone in ms.design.zones:
        live = state.zones[zone.id]
        pulses = f",pulses_total={state.pulses.get(zone.id, 0.0)!r}" if zone.pulsed else ""
        lines.append(
            f"{ms.zone_prefix[zone.id]} level={live.level!r},watts={live.watts!r},"
            f"rated_watts={zone.rated_watts!r},energy_joules_total={state.zone_energy[zone.id]!r}{pulses} {ts}\n"
        )
    for key, value in state.leds.items():
        lines.append(f"{ms.led_prefix[key]} state={float(value)!r} {ts}\n")
    zero = ButtonCounts()
    for key, prefix in ms.button_prefix.items():
        b = state.buttons.get(key, zero)
        lines.append(
            f"{prefix} presses_total={b.presses!r},releases_total={b.releases!r},"
            f"holds_total={b.holds!r},multitaps_total={b.multitaps!r} {ts}\n"
        )
    for iid, prefix in ms.occupancy_prefix.items():
        occupied = state.occupancy.get(iid)
        if occupied is not None:
            lines.append(f"{prefix} occupied={1.0 if occupied else 0.0!r} {ts}\n")
    return "".join(lines)


def times_ms(fn: Callable[[], object], runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds per run (CPU time is the steadier one on a busy machine)."""
    fn()  # warm-up
    wall, cpu = [], []
    for _ in range(runs):
        began, began_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - began) * 1000)
        cpu.append((time.process_time() - began_cpu) * 1000)
    return wall, cpu


def bench_encoding(args: argparse.Namespace) -> None:
    design, _ = generate(GeneratorParams.sized(args.big_zones, args.big_keypads))
    buttons = sum(len(k.buttons) for k in design.keypads)
    leds = sum(len(k.leds) for k in design.keypads)
    print(
        f"3. snapshot encoding, in-process: {len(design.zones)} zones, {len(design.keypads)} keypads, "
        f"{buttons} buttons + {leds} LEDs = {buttons + leds}, {len(design.areas)} areas, "
        f"{len(design.occupancy_areas)} occupancy groups"
    )
    rng = random.Random(5)
    state = HouseState(design, now=0.0)
    for zone in design.zones:
        state.set_level(zone.id, rng.choice((0.0, 25.0, 50.0, 75.0, 100.0, 33.33)), now=0.0)
    for k in design.keypads:
        for led in k.leds:
            state.leds[(k.id, led)] = rng.choice((0, 1))
        for b in k.buttons[::3]:
            n = float(rng.randrange(1, 5000))
            state.buttons[(k.id, b.component)] = ButtonCounts(n, n, float(rng.randrange(0, 50)), 0.0)
    for a in design.occupancy_areas:
        state.occupancy[a.iid] = rng.random() < 0.5
    state.advance(3600.0)
    health = ProcessorHealth(True, Counters(connects=1, commands=5000, events=123456), 0.004)
    began = time.perf_counter()
    ms = MetricSet(design, "bench house", "192.0.2.10")
    build_ms = (time.perf_counter() - began) * 1000
    ts = time.time_ns()
    text = ms.snapshot(state, health, ts, house=True)
    naive = naive_snapshot(ms, state, health, ts)
    if naive != text:
        print("   (the naive baseline's text differs from the snapshot's)")
    metrics, errors = parse_stream(text)
    ours_all, ours_cpu = times_ms(lambda: ms.snapshot(state, health, ts, house=True), args.runs)
    base_all, base_cpu = times_ms(lambda: naive_snapshot(ms, state, health, ts), args.runs)
    ours, base = statistics.median(ours_all), statistics.median(base_all)
    lines = text.count("\n")
    print(
        f"   {lines} lines, {len(text.encode()):,} bytes ({len(text.encode()) / lines:.0f} bytes/line); "
        f"naive: {naive.count(chr(10))} lines, {len(naive.encode()):,} bytes"
    )
    print(f"   strict Telegraf parser: {len(metrics)} metrics, {len(errors)} errors")
    print(f"   MetricSet(design) once per revision: {build_ms:.1f} ms")
    print(
        f"   snapshot(), median of {args.runs}: {ours:.1f} ms ({ours * 1000 / lines:.2f} µs/line), "
        f"min {min(ours_all):.1f} ms, CPU median {statistics.median(ours_cpu):.1f} ms"
    )
    print(
        f"   baseline, naive f-string join: median {base:.1f} ms, min {min(base_all):.1f} ms, "
        f"CPU median {statistics.median(base_cpu):.1f} ms"
    )
    verdict = "OK" if ours < 50 else "TOO SLOW"
    print(f"   ratio to the baseline: {ours / base:.2f}x; target < 50 ms -> {verdict}")


def bench_rss(args: argparse.Namespace) -> None:
    events = args.events
    duration = events / args.rate
    print(
        f"4. plugin RSS over {events:,} house events at {args.rate:g}/s (~{duration:.0f} s, "
        f"= {events / 36_000:.2f} h at 10/s), {args.zones} zones, ticked every second"
    )
    with house(args.zones, args.keypads, args.service_ms / 1000) as (sim, plugin):
        plugin.wait_synced()
        time.sleep(0.5)
        plugin.tick()  # the first snapshot: events_total before the activity
        plugin.wait_snapshots(1)
        ticks = 1
        monitor = MonitorClient(sim.telnet_port)
        try:
            start_rss, cpu0 = plugin.rss_mb(), plugin.cpu_seconds()
            samples: list[tuple[int, float]] = [(0, start_rss)]
            events0 = plugin.processor_field("events_total")
            sim.set_activity(args.rate)
            started = time.monotonic()
            next_tick = next_sample = started
            deadline = started + duration * 3 + 30
            while monitor.house_events < events:
                now = time.monotonic()
                if now > deadline:
                    raise SystemExit(f"only {monitor.house_events} events in {now - started:.0f} s")
                if now >= next_tick:
                    plugin.tick()
                    ticks += 1
                    next_tick += 1.0
                if now >= next_sample:
                    samples.append((monitor.house_events, plugin.rss_mb()))
                    next_sample += args.sample_every
                time.sleep(min(next_tick, next_sample, now + 0.05) - now)
            sim.set_activity(0.0)
            elapsed = time.monotonic() - started
            done = monitor.house_events
            plugin.tick()
            ticks += 1
            plugin.wait_snapshots(ticks, timeout=15)
            samples.append((done, plugin.rss_mb()))
            cpu = plugin.cpu_seconds() - cpu0
            received = plugin.processor_field("events_total") - events0
            peak = proc_status_kb(plugin.pid, "VmHWM") / 1024
        finally:
            monitor.close()
    print(
        f"   {done:,} house events in {elapsed:.0f} s ({done / elapsed:.0f}/s), {received:,.0f} report "
        f"lines received by the plugin, {plugin.snapshots} snapshots for {ticks} ticks, plugin CPU {cpu:.1f} s "
        f"({cpu / elapsed * 100:.0f} %)"
    )
    marks = []
    for pct in (25, 50, 75, 100):
        goal = events * pct / 100
        n, rss = next(((n, r) for n, r in samples if n >= goal), samples[-1])
        marks.append(f"{pct}% {rss:.1f} (at {n:,})")
    print(f"   RSS (MB): start (after the state read) {start_rss:.1f}; " + "; ".join(marks))
    xs = [n for n, _ in samples]
    ys = [r for _, r in samples]
    half = [(n, r) for n, r in samples if n >= events / 2]
    per_10k = slope(xs, ys) * 10_000
    per_10k_2nd = slope([n for n, _ in half], [r for _, r in half]) * 10_000 if len(half) > 2 else 0.0
    end = samples[-1][1]
    print(
        f"   slope: {per_10k:+.3f} MB per 10,000 events overall, {per_10k_2nd:+.3f} over the second half; "
        f"peak (VmHWM) {peak:.1f} MB; {len(samples)} samples"
    )
    verdict = "OK" if peak < 80 and per_10k_2nd < 0.5 else "CHECK"
    print(f"   ratio end / start: {end / start_rss:.2f}; target < 80 MB and flat -> {verdict}")
    print(f"   {plugin.stopped}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="1,2,3,4", help="which figures, e.g. 1,3")
    parser.add_argument(
        "--quick", action="store_true", help="figure 4 over ~20 s instead of an hour's events"
    )
    parser.add_argument("--zones", type=int, default=200)
    parser.add_argument("--keypads", type=int, default=40)
    parser.add_argument("--service-ms", type=float, default=5.0, help="simulator time per command")
    parser.add_argument("--ticks", type=int, default=20)
    parser.add_argument("--tick-interval", type=float, default=0.5)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--big-zones", type=int, default=2000)
    parser.add_argument("--big-keypads", type=int, default=400)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--events", type=int, default=36_000)
    parser.add_argument("--rate", type=float, default=200.0, help="house events per second (figure 4)")
    parser.add_argument("--sample-every", type=float, default=3.0, help="seconds between RSS samples")
    args = parser.parse_args()
    if args.quick:
        args.events = int(args.rate * 20)
    chosen = {int(x) for x in args.only.split(",")}
    figures = {1: bench_commands, 2: bench_latency, 3: bench_encoding, 4: bench_rss}
    for number, bench in figures.items():
        if number in chosen:
            bench(args)
            print()


if __name__ == "__main__":
    main()
