"""`telegraf-lutron demo`: the product working against its built-in simulator, no processor needed.

Starts the simulator with a generated house whose occupants switch lights, press buttons and
walk around; logs in over telnet exactly as against a real processor; reads the whole state;
then prints every event as it happens, in words. Ctrl-C stops everything cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from typing import TextIO

from telegraf_lutron import log as tlog
from telegraf_lutron import protocol as p
from telegraf_lutron.design import Design
from telegraf_lutron.session import Session, SessionConfig
from telegraf_lutron.simulator import Simulator
from telegraf_lutron.simulator.core import DEFAULT_USERS
from telegraf_lutron.simulator.designgen import GeneratorParams, generate
from telegraf_lutron.state import HouseState

LED_WORDS = {0: "off", 1: "on", 2: "flashing", 3: "flashing fast"}
BUTTON_WORDS = {3: "pressed", 4: "released", 5: "held", 6: "double-tapped", 32: "hold released"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=1, help="which generated house (default 1)")
    parser.add_argument("--activity", type=float, default=2.0, help="house events per second (default 2)")
    parser.add_argument(
        "--telnet-port", type=int, default=0, help="simulator telnet port (default: any free)"
    )
    parser.add_argument("--http-port", type=int, default=0, help="simulator HTTP port (default: any free)")
    parser.add_argument(
        "--duration", type=float, default=0.0, help="stop after this many seconds (default: run until Ctrl-C)"
    )


def describe(event: p.Event, design: Design) -> str | None:
    """One line in words for an event, or None for the ones a person does not care about."""
    if isinstance(event, p.OutputLevel):
        zone = design.zone(event.zone)
        name = f"{zone.name} ({zone.area})" if zone else f"zone {event.zone}"
        return f"light  {name}: {event.level:.0f} %"
    if isinstance(event, p.ButtonEvent):
        keypad = design.keypad(event.device)
        button = next((b for b in keypad.buttons if b.component == event.component), None) if keypad else None
        where = keypad.name if keypad else f"device {event.device}"
        label = button.name if button else f"component {event.component}"
        return f"button {where}: {label!r} {BUTTON_WORDS.get(event.action, event.action)}"
    if isinstance(event, p.LedState):
        keypad = design.keypad(event.device)
        where = keypad.name if keypad else f"device {event.device}"
        return f"led    {where}: LED {event.led} {LED_WORDS.get(event.state, event.state)}"
    if isinstance(event, p.OccupancyState):
        area = next((a for a in design.rooms if a.iid == event.group), None)
        words = {True: "occupied", False: "vacant", None: "unknown"}[event.occupied]
        return f"motion {area.name if area else event.group}: {words}"
    return None


async def run_demo(args: argparse.Namespace, out: TextIO) -> int:
    design, xml = generate(GeneratorParams(seed=args.seed))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sim = Simulator(
        design,
        xml=xml,
        telnet_port=args.telnet_port,
        http_port=args.http_port,
        activity_rate=args.activity,
        seed=args.seed,
    )
    await sim.start()
    state = HouseState(design, now=time.monotonic())
    user, password = next(iter(DEFAULT_USERS.items()))  # the simulator's documented demo login
    session = Session(SessionConfig(host="127.0.0.1", port=sim.telnet_port, username=user, password=password))
    ready = False

    def show(event: p.Event) -> None:
        state.apply(event, time.monotonic())
        if ready and (line := describe(event, design)):
            print(f"{time.strftime('%H:%M:%S')}  {line}", file=out, flush=True)

    session.add_listener(show)
    try:
        print(
            f"simulator: {design.project.name!r}, {len(design.zones)} zones, {len(design.keypads)} keypads\n"
            f"  telnet 127.0.0.1:{sim.telnet_port} (user default, password default)\n"
            f"  design http://127.0.0.1:{sim.http_port}/DbXmlInfo.xml",
            file=out,
            flush=True,
        )
        session.start()
        await session.wait_connected(10)
        print(
            f"logged in ({session.prompt_kind}); reading every zone, LED and occupancy sensor...",
            file=out,
            flush=True,
        )
        commands = [p.query_output_level(z.id) for z in design.zones]
        commands += [p.query_led(k.id, led) for k in design.keypads for led in k.leds]
        commands += [p.query_occupancy(a.iid) for a in design.occupancy_areas]
        started = time.monotonic()
        await session.query_many(commands)
        watts, on, total = state.system_totals()
        print(
            f"read {len(commands)} values in {time.monotonic() - started:.2f} s: "
            f"{on} of {total} zones on, {watts:.0f} W. Live events follow (Ctrl-C stops).",
            file=out,
            flush=True,
        )
        ready = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), args.duration or None)
    finally:
        await session.close()
        await sim.stop()
    watts, on, total = state.system_totals()
    print(
        f"stopped: {on} of {total} zones on, {watts:.0f} W, {state.total_energy / 3600:.1f} Wh seen.",
        file=out,
    )
    return 0


def main(args: argparse.Namespace) -> int:
    tlog.setup("WARNING")
    return asyncio.run(run_demo(args, sys.stdout))
