"""`SimulatorThread`: a `Simulator` on its own event loop in its own thread.

For synchronous tests, and for tests that run the plugin as a subprocess against it. Every public
method hands its work to the simulator's loop and waits for it, so callers never touch the
simulator's state from another thread.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable
from concurrent.futures import Future
from types import TracebackType
from typing import Any, TypeVar

from telegraf_lutron.design import Area, Design, Keypad, Zone
from telegraf_lutron.simulator.core import Simulator
from telegraf_lutron.simulator.quirks import Quirks
from telegraf_lutron.simulator.stats import SimulatorStats

T = TypeVar("T")


class SimulatorThread:
    """`with SimulatorThread(design, **simulator_options) as sim: ... sim.telnet_port ...`"""

    def __init__(self, design: Design, *, start_timeout: float = 10.0, **options: Any):
        self._design = design
        self._options = options
        self._timeout = start_timeout
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sim: Simulator | None = None
        self._stop: asyncio.Event | None = None
        self._started: Future[None] = Future()
        self._final_stats: SimulatorStats | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> SimulatorThread:
        """Start the thread and return once both ports are bound (or raise what went wrong)."""
        if self._thread is not None:
            raise RuntimeError("already started")
        self._thread = threading.Thread(target=self._main, name="lutron-simulator", daemon=True)
        self._thread.start()
        try:
            self._started.result(self._timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        sim = Simulator(self._design, **self._options)
        try:
            await sim.start()
        except BaseException as exc:
            self._started.set_exception(exc)
            return
        self._sim = sim
        self._started.set_result(None)
        try:
            await self._stop.wait()
        finally:
            await sim.stop()
            # Kept for tests that check what happened after the simulator stopped.
            self._final_stats = sim.stats_now()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the simulator, close every socket and join the thread; idempotent."""
        if self._thread is None:
            return
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:  # the loop closed in between
                pass
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError("the simulator thread did not stop")
        self._thread = None
        self._sim = None
        self._loop = None

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- calls into the loop ------------------------------------------------------------------------

    def call(self, fn: Callable[[Simulator], T], timeout: float = 10.0) -> T:
        """Run `fn(simulator)` on the simulator's loop and return its result."""
        loop, sim = self._loop, self._sim
        if loop is None or sim is None:
            raise RuntimeError("the simulator is not running")

        async def run() -> T:
            return fn(sim)

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout)

    @property
    def host(self) -> str:
        return self.call(lambda s: s.host)

    @property
    def telnet_port(self) -> int:
        return self.call(lambda s: s.telnet_port)

    @property
    def http_port(self) -> int:
        return self.call(lambda s: s.http_port)

    @property
    def stats(self) -> SimulatorStats:
        """A snapshot of the simulator's statistics (the final ones once stopped)."""
        if self._sim is None and self._final_stats is not None:
            return self._final_stats
        return self.call(lambda s: s.stats_now())

    @property
    def quirks(self) -> Quirks:
        """A copy of the current quirks; change them with `set_quirks`."""
        return self.call(lambda s: dataclasses.replace(s.quirks))

    def set_quirks(self, **changes: Any) -> None:
        """Switch quirks at runtime, e.g. `set_quirks(split_packets=True, slow_login=2.0)`."""

        def apply(s: Simulator) -> None:
            for name, value in changes.items():
                if not hasattr(s.quirks, name):
                    raise AttributeError(f"no quirk named {name!r}")
                setattr(s.quirks, name, value)

        self.call(apply)

    def drop_sessions(self) -> int:
        return self.call(lambda s: s.drop_sessions())

    def set_design(self, design: Design, xml: bytes | None = None) -> None:
        self.call(lambda s: s.set_design(design, xml))

    def set_activity(self, rate: float) -> None:
        def apply(s: Simulator) -> None:
            s.activity_rate = rate

        self.call(apply)

    def set_level(self, zone: int | Zone, level: float, *, source: int = 24) -> None:
        self.call(lambda s: s.set_level(zone, level, source=source))

    def level(self, zone: int | Zone) -> float:
        return self.call(lambda s: s.level(zone))

    def press(self, keypad: int | Keypad, button: int) -> None:
        self.call(lambda s: s.press(keypad, button))

    def release(self, keypad: int | Keypad, button: int) -> None:
        self.call(lambda s: s.release(keypad, button))

    def tap(self, keypad: int | Keypad, button: int) -> None:
        self.call(lambda s: s.tap(keypad, button))

    def button(self, keypad: int | Keypad, button: int, action: int) -> None:
        self.call(lambda s: s.button(keypad, button, action))

    def set_led(self, keypad: int | Keypad, led: int, state: int) -> None:
        self.call(lambda s: s.set_led(keypad, led, state))

    def led(self, keypad: int | Keypad, led: int) -> int:
        return self.call(lambda s: s.led(keypad, led))

    def set_occupancy(self, area: int | Area, occupied: bool, *, lights: bool = False) -> None:
        self.call(lambda s: s.set_occupancy(area, occupied, lights=lights))

    def occupancy(self, area: int | Area) -> int:
        return self.call(lambda s: s.occupancy(area))

    def set_sysvar(self, sysvar: int, state: int) -> None:
        self.call(lambda s: s.set_sysvar(sysvar, state))

    def set_input(self, device: int | Keypad, component: int, closed: bool) -> None:
        self.call(lambda s: s.set_input(device, component, closed))

    def input(self, device: int | Keypad, component: int) -> bool:
        return self.call(lambda s: s.input(device, component))

    def run_timeclock_event(self, clock: int, event: int) -> None:
        self.call(lambda s: s.run_timeclock_event(clock, event))

    def set_timeclock_mode(self, clock: int, mode: int) -> None:
        self.call(lambda s: s.set_timeclock_mode(clock, mode))

    def enable_timeclock_event(self, clock: int, event: int, enabled: bool) -> None:
        self.call(lambda s: s.enable_timeclock_event(clock, event, enabled))

    def set_shade_group(self, group: int, level: float) -> None:
        self.call(lambda s: s.set_shade_group(group, level))

    def set_tilt(self, zone: int | Zone, tilt: float, lift: float | None = None) -> None:
        self.call(lambda s: s.set_tilt(zone, tilt, lift))

    def set_green_mode(self, mode: int, step: int) -> None:
        self.call(lambda s: s.set_green_mode(mode, step))

    def set_battery(self, device: int | Keypad, status: int) -> None:
        self.call(lambda s: s.set_battery(device, status))

    def set_clock_skew(self, seconds: float) -> None:
        def apply(s: Simulator) -> None:
            s.clock_skew = seconds

        self.call(apply)
