"""The rest of the house: contact inputs and motion sensors, time clocks, system variables, shade
groups and blind tilt, green modes and batteries.

Pure logic like `state.py`, which hands it every event first: `apply` answers None for an event
that is not about these things, else whether something observable changed. State is kept only for
what the design lists (inputs, time clocks and their events, shade groups, zones, green modes,
battery devices) or the configuration names (system variables); reports about anything else are
dropped, so a processor cannot grow this model.

A contact closure (`~DEVICE,<id>,<cci>,3|4`) or a sensor's own `~DEVICE,<id>,2,3|4` looks exactly
like a button press; the design tells them apart (`Design.input`), and they are counted here as
input changes, never as presses (docs/protocol.md §5.2). The first state known after a start (the
state read, or the first event) is not a change: `changes_total` counts transitions only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from telegraf_lutron import protocol as p
from telegraf_lutron.design import Design

# Battery status as reported (2 good, 3 low, 4 missing) -> the metric's 0 good, 1 low, 2 missing.
BATTERY_STATUS = {p.BATTERY_GOOD: 0, p.BATTERY_LOW: 1, p.BATTERY_MISSING: 2}
INPUT_ACTIVE: dict[int, bool] = {p.ButtonAction.PRESS: True, p.ButtonAction.RELEASE: False}


@dataclass(frozen=True, slots=True)
class EventRun:
    """The last `~TIMECLOCK,<id>,5,<n>` seen: event number and when (wall clock, seconds)."""

    number: int
    wall: float | None


@dataclass
class RestOfHouse:
    design: Design
    sysvar_ids: frozenset[int] = frozenset()
    inputs: dict[tuple[int, int], bool] = field(default_factory=dict)  # True closed / occupied
    input_changes: dict[tuple[int, int], float] = field(default_factory=dict)
    input_since: dict[tuple[int, int], float] = field(default_factory=dict)  # wall clock of the last change
    clock_modes: dict[int, int] = field(default_factory=dict)
    events_run: dict[int, float] = field(default_factory=dict)
    last_run: dict[int, EventRun] = field(default_factory=dict)
    events_enabled: dict[tuple[int, int], bool] = field(default_factory=dict)
    sysvars: dict[int, int] = field(default_factory=dict)
    shade_levels: dict[int, float] = field(default_factory=dict)
    tilts: dict[int, float] = field(default_factory=dict)
    green_steps: dict[int, int] = field(default_factory=dict)
    batteries: dict[int, int] = field(default_factory=dict)  # 0 good, 1 low, 2 missing
    changes: int = 0  # bumped on every change (the live state file is rewritten after one)

    def __post_init__(self) -> None:
        self.set_design(self.design)

    def set_design(self, design: Design) -> None:
        """Keep the state of everything that is still in the design, forget the rest."""
        self.design = design
        inputs = {(i.device, i.component) for i in design.inputs}
        clocks = {t.id for t in design.timeclocks}
        events = {(t.id, e.number) for t in design.timeclocks for e in t.events}
        zones = {z.id for z in design.zones}
        self.inputs = _keep(self.inputs, inputs)
        self.input_changes = _keep(self.input_changes, inputs)
        self.input_since = _keep(self.input_since, inputs)
        self.clock_modes = _keep(self.clock_modes, clocks)
        self.events_run = _keep(self.events_run, clocks)
        self.last_run = _keep(self.last_run, clocks)
        self.events_enabled = _keep(self.events_enabled, events)
        self.shade_levels = _keep(self.shade_levels, {s.id for s in design.shade_groups})
        self.tilts = _keep(self.tilts, zones)
        self.green_steps = _keep(self.green_steps, {g.id for g in design.green_modes})
        self.batteries = _keep(self.batteries, {k.id for k in design.keypads})

    def set_sysvars(self, ids: Iterable[int]) -> None:
        self.sysvar_ids = frozenset(ids)
        self.sysvars = _keep(self.sysvars, self.sysvar_ids)

    # --- events ------------------------------------------------------------------------------

    def apply(self, event: p.Event, wall: float | None = None) -> bool | None:
        """None: not ours (a button, a zone level, ...). Else True when something changed."""
        changed = self._apply(event, wall)
        if changed:
            self.changes += 1
        return changed

    def _apply(self, event: p.Event, wall: float | None) -> bool | None:
        if isinstance(event, p.ButtonEvent):
            if self.design.input(event.device, event.component) is None:
                return None  # a real button
            return self._input(event, wall)
        if isinstance(event, p.TimeclockReport):
            return self._timeclock(event, wall)
        if isinstance(event, p.SysvarState):
            return event.sysvar in self.sysvar_ids and _set(self.sysvars, event.sysvar, event.state)
        if isinstance(event, p.ShadeGroupLevel):
            known = any(s.id == event.group for s in self.design.shade_groups)
            return known and _set(self.shade_levels, event.group, event.level)
        if isinstance(event, p.OutputTilt):
            return self.design.zone(event.zone) is not None and _set(self.tilts, event.zone, event.tilt)
        if isinstance(event, p.GreenModeStep):
            known = any(g.id == event.area for g in self.design.green_modes)
            return known and _set(self.green_steps, event.area, event.step)
        if isinstance(event, p.BatteryReport):
            status = BATTERY_STATUS.get(event.status)
            if status is None or self.design.keypad(event.device) is None:
                return False
            return _set(self.batteries, event.device, status)
        return None

    def _input(self, event: p.ButtonEvent, wall: float | None) -> bool:
        active = INPUT_ACTIVE.get(event.action)
        if active is None:
            return False  # hold, multi-tap: not a state
        key = (event.device, event.component)
        before = self.inputs.get(key)
        if before == active:
            return False
        self.inputs[key] = active
        self.input_changes.setdefault(key, 0.0)
        if wall is not None:
            self.input_since[key] = wall
        if before is not None:
            self.input_changes[key] += 1
        return True

    def _timeclock(self, event: p.TimeclockReport, wall: float | None) -> bool:
        clock = next((t for t in self.design.timeclocks if t.id == event.clock), None)
        if clock is None or not event.values or not event.values[0].strip().isdigit():
            return False
        value = int(event.values[0])
        if event.action == p.TIMECLOCK_MODE:
            return _set(self.clock_modes, clock.id, value)
        if event.action == p.TIMECLOCK_RUN_EVENT:
            self.events_run[clock.id] = self.events_run.get(clock.id, 0.0) + 1
            self.last_run[clock.id] = EventRun(value, wall)
            return True
        if event.action == p.TIMECLOCK_EVENT_STATE and len(event.values) >= 2:
            if not any(e.number == value for e in clock.events):
                return False
            return _set(self.events_enabled, (clock.id, value), event.values[1].strip() == "1")
        return False

    # --- persistence (inside counters.json) ----------------------------------------------------

    def counters_document(self) -> dict[str, Any]:
        return {
            "inputs": {f"{d}:{c}": v for (d, c), v in self.input_changes.items()},
            "timeclocks": {str(k): v for k, v in self.events_run.items()},
        }

    def load_counters(self, doc: dict[str, Any]) -> None:
        """Restore the counters of things still in the design (raises ValueError/TypeError on junk)."""
        inputs = {(i.device, i.component) for i in self.design.inputs}
        clocks = {t.id for t in self.design.timeclocks}
        for key, value in dict(doc.get("inputs", {})).items():
            device, component = (int(x) for x in key.split(":"))
            if (device, component) in inputs:
                self.input_changes[(device, component)] = _count(value)
        for key, value in dict(doc.get("timeclocks", {})).items():
            if int(key) in clocks:
                self.events_run[int(key)] = _count(value)


def _count(value: Any) -> float:
    number = float(value)
    if not number >= 0:  # negative or NaN
        raise ValueError("negative or NaN counter")
    return number


def _keep(values: dict[Any, Any], keys: set[Any] | frozenset[Any]) -> dict[Any, Any]:
    return {k: v for k, v in values.items() if k in keys}


def _set(values: dict[Any, Any], key: Any, value: Any) -> bool:
    if values.get(key) == value:
        return False
    values[key] = value
    return True
