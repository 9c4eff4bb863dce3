"""House activity: people moving about, so dashboards fed by the simulator move too.

At `rate` events per second on average (Poisson arrivals from a seeded generator) it sets a
zone level at the device (source 24) or as another integration would (source 6), taps a keypad
button (its LED and zones follow, source 8), toggles a room's occupancy (its motion sensors follow,
and in rooms with occupancy sensors they switch the lights on when someone comes, source 10, and
usually off when the room empties, so lights are sometimes left on in a vacant room), opens or
closes a door (a contact input), runs a time clock event (source 16) or drains a battery a step
(good, low, missing), each reported to monitoring sessions exactly as the control methods do. Zones get what their kind takes: shades open by day (processor clock) and close at
night, ceiling fans run at a speed step, motors and contacts switch, a gate's pulsed contact is
pulsed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import TYPE_CHECKING

from telegraf_lutron.design import Zone
from telegraf_lutron.simulator.house import (
    BATTERY_GOOD,
    BATTERY_LOW,
    BATTERY_MISSING,
    OCCUPIED,
    PRESS,
    SOURCE_INTEGRATION,
    SOURCE_LOCAL,
)

if TYPE_CHECKING:
    from telegraf_lutron.simulator.core import Simulator

log = logging.getLogger(__name__)

LEVELS = (0.0, 0.0, 25.0, 50.0, 75.0, 100.0)  # off is as common as it is in a real house
SHADE_DAY_LEVELS = (100.0, 100.0, 75.0, 50.0)  # how far a shade is opened by day
FAN_LEVELS = (0.0, 25.0, 50.0, 50.0, 75.0, 100.0)  # off and the four speed steps
DAYTIME = range(7, 20)  # processor-clock hours when people open the shades
LIGHTS_OFF_WHEN_VACANT = 0.7  # how often the sensors switch a room's lights off as it empties


class HouseActivity:
    def __init__(self, sim: Simulator, rate: float, seed: int):
        self.rate = rate  # may be changed while running; 0 pauses
        self._sim = sim
        self._rng = random.Random(seed)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="lutron-sim-activity")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            if self.rate <= 0:
                await asyncio.sleep(0.1)
                continue
            await asyncio.sleep(self._rng.expovariate(self.rate))
            try:
                self.step()
            except Exception:
                # One odd design element must not end the activity for good.
                log.exception("house activity step failed")

    def step(self) -> None:
        """One random event."""
        design = self._sim.design
        rng = self._rng
        roll = rng.random()
        buttons = [
            (kp.id, b.component) for kp in design.keypads for b in kp.buttons if b.led_component is not None
        ]
        house = self._sim.house
        rooms = list(house.occupancy_areas())
        contacts = [(i.device, i.component) for i in design.inputs if i.kind == "contact"]
        events = [(t.id, e.number) for t in design.timeclocks for e in t.events]
        if roll < 0.30 and buttons:
            keypad, button = rng.choice(buttons)
            self._sim.tap(keypad, button)
        elif roll < 0.42 and rooms:
            area = rng.choice(rooms)
            occupied = self._sim.occupancy(area) != OCCUPIED
            lights = occupied or rng.random() < LIGHTS_OFF_WHEN_VACANT
            self._sim.set_occupancy(area, occupied, lights=lights)
        elif roll < 0.52 and contacts:
            device, component = rng.choice(contacts)
            self._sim.set_input(device, component, house.inputs[(device, component)] != PRESS)
        elif roll < 0.56 and events:
            clock, number = rng.choice(events)
            if house.events_enabled[(clock, number)]:
                self._sim.run_timeclock_event(clock, number)
        elif roll < 0.58 and house.batteries:
            # One battery runs down: good, then low, then missing.
            device = min(house.batteries)
            status = house.batteries[device]
            drained = {BATTERY_GOOD: BATTERY_LOW, BATTERY_LOW: BATTERY_MISSING}.get(status, status)
            self._sim.set_battery(device, drained)
        elif design.zones:
            zone = rng.choice(design.zones)
            source = SOURCE_LOCAL if roll < 0.85 else SOURCE_INTEGRATION
            self._sim.set_level(zone.id, self.level_for(zone), source=source)

    def level_for(self, zone: Zone) -> float:
        """A level people would choose for this zone now: shades open by day and close at night,
        fans run at one of their speeds, a gate's pulsed contact is pulsed."""
        rng = self._rng
        if zone.kind == "shade":
            return (
                rng.choice(SHADE_DAY_LEVELS) if DAYTIME.start <= self._sim.now().hour < DAYTIME.stop else 0.0
            )
        if zone.has_speeds:
            return rng.choice(FAN_LEVELS)
        if zone.pulsed:
            return 100.0
        if zone.kind in ("motor", "contact"):
            return rng.choice((0.0, 100.0))
        return rng.choice(LEVELS)
