"""Benchmark: a full state read (N zone levels + M LED states) through the session.

The simulator runs in its own thread and event loop and serves each connection serially with a
service time S per command, like a processor. The serial limit (N+M) x S is the best any client
can do; the figure that matters is our time divided by it (target <= 1.15 at N=200, M=560,
S=5 ms). The same read with one command in flight (window 1) is measured in the same run as the
baseline a naive client gets.

    .venv/bin/python bench/bench_session.py [--zones 200] [--leds 560] [--service-ms 5] [--window 8]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from telegraf_lutron import protocol as p
from telegraf_lutron.processor_settings import ProcessorSettings
from telegraf_lutron.session import Session
from telegraf_lutron.simulator import SimulatorThread
from telegraf_lutron.simulator.designgen import GeneratorParams, generate_design


async def read_all(port: int, commands: list[p.Command], window: int, runs: int) -> list[float]:
    config = ProcessorSettings(host="127.0.0.1", telnet_port=port, password="default", window=window)
    times = []
    async with Session(config) as session:
        await session.wait_connected(10)
        for _ in range(runs):
            started = time.perf_counter()
            results = await session.query_many(commands)
            times.append(time.perf_counter() - started)
            bad = [r for r in results if not isinstance(r, p.Report)]
            if bad:
                raise SystemExit(f"{len(bad)} queries failed, first: {bad[0]}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zones", type=int, default=200)
    parser.add_argument("--leds", type=int, default=560)
    parser.add_argument("--service-ms", type=float, default=5.0)
    parser.add_argument("--window", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    design = generate_design(GeneratorParams.sized(zones=args.zones, keypads=max(1, args.leds // 5)))
    leds = [(k.id, led) for k in design.keypads for led in k.leds][: args.leds]
    if len(leds) < args.leds:
        raise SystemExit(f"the generated design has only {len(leds)} LEDs")
    commands = [p.query_output_level(z.id) for z in design.zones[: args.zones]]
    commands += [p.query_led(d, c) for d, c in leds]
    service = args.service_ms / 1000.0
    limit = len(commands) * service

    with SimulatorThread(design, service_time=service) as sim:
        piped = asyncio.run(read_all(sim.telnet_port, commands, args.window, args.runs))
        serial = asyncio.run(read_all(sim.telnet_port, commands, 1, 1))

    best = min(piped)
    print(
        f"queries: {len(commands)} ({args.zones} zones + {len(leds)} LEDs), service time {args.service_ms:g} ms"
    )
    print(f"serial limit (N+M) x S: {limit:.3f} s")
    print(
        f"pipelined, window {args.window}: best {best:.3f} s, median {statistics.median(piped):.3f} s over {args.runs} runs"
    )
    print(f"one at a time (baseline): {serial[0]:.3f} s")
    print(f"ratio to the serial limit: {best / limit:.3f} (target <= 1.15)")
    print(f"speed-up over one at a time: {serial[0] / best:.2f}x")


if __name__ == "__main__":
    main()
