"""What the simulator saw, for tests and the demo: logins, connections, sessions, commands, and its
own account of energy: by the cause of each level and in empty rooms (`EnergyAccount`)."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from telegraf_lutron.design import Design
from telegraf_lutron.state import zone_watts


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    user: str
    ok: bool
    at: float  # time.monotonic() when the password was answered
    locked_out: bool = False  # refused because of the lockout emulation, whatever the password


@dataclass(slots=True)
class SimulatorStats:
    """Counters kept by a running simulator. Mutated only on the simulator's event loop."""

    connections_accepted: int = 0
    login_attempts: list[LoginAttempt] = field(default_factory=list)
    commands_total: int = 0
    # session id -> commands received after login (empty lines excluded)
    commands_per_session: dict[int, int] = field(default_factory=dict)
    live_connections: int = 0  # connected, logged in or not
    sessions_per_user: dict[str, int] = field(default_factory=dict)  # logged in right now
    max_concurrent_sessions: dict[str, int] = field(default_factory=dict)
    sessions_dropped: int = 0  # closed by drop_sessions() or the drop_every quirk
    output_queries: dict[int, int] = field(default_factory=dict)  # zone -> `?OUTPUT` received
    # The simulator's own energy account (EnergyAccount), integrated up to `account_at`:
    energy_by_cause: dict[str, float] = field(default_factory=dict)  # joules by cause of the level
    unoccupied_energy: dict[int, float] = field(default_factory=dict)  # joules by sensor area (IID)
    zone_energy: dict[int, float] = field(default_factory=dict)  # joules by zone
    account_at: float = 0.0  # time.monotonic() the account is integrated up to

    @property
    def live_sessions(self) -> int:
        """Sessions logged in right now."""
        return sum(self.sessions_per_user.values())

    @property
    def good_logins(self) -> int:
        return sum(1 for a in self.login_attempts if a.ok)

    @property
    def bad_logins(self) -> int:
        return sum(1 for a in self.login_attempts if not a.ok)

    def snapshot(self) -> SimulatorStats:
        """An independent copy, safe to hand to another thread."""
        return copy.deepcopy(self)

    def session_started(self, user: str) -> None:
        n = self.sessions_per_user.get(user, 0) + 1
        self.sessions_per_user[user] = n
        self.max_concurrent_sessions[user] = max(n, self.max_concurrent_sessions.get(user, 0))

    def session_ended(self, user: str) -> None:
        n = self.sessions_per_user.get(user, 0) - 1
        if n > 0:
            self.sessions_per_user[user] = n
        else:
            self.sessions_per_user.pop(user, None)


# What each change source the simulator reports means (docs/protocol.md §11): its own list, kept
# apart from the plugin's so the tests compare two accounts.
SOURCE_CAUSES: Mapping[int, str] = {
    0: "unknown",
    6: "integration",
    7: "app",
    8: "keypad",
    10: "occupancy",
    11: "occupancy",
    15: "sequence",
    16: "timeclock",
    24: "local",
}


@dataclass(slots=True)
class _Draw:
    level: float
    watts: float
    cause: str
    since: float


class EnergyAccount:
    """Energy from the simulator's own levels and occupancy, exactly (power is constant between
    changes): by the cause of each zone's level (the source the simulator reports with it, or
    `unknown` for a change it reports without one), and for each room with occupancy sensors the
    energy of its lights while it is vacant. Kept in `SimulatorStats`; mutated on the simulator's
    loop only."""

    def __init__(self, stats: SimulatorStats, clock: Callable[[], float] = time.monotonic) -> None:
        self.stats = stats
        self.clock = clock
        self._design: Design | None = None
        self._draws: dict[int, _Draw] = {}
        self._vacant: set[int] = set()  # sensor rooms whose last report was vacant
        self._lights: dict[int, tuple[int, ...]] = {}  # sensor room -> its lights

    def set_design(self, design: Design, levels: Mapping[int, float], vacant: Iterable[int]) -> None:
        now = self.clock()
        self.advance(now)
        self._design = design
        old = self._draws
        self._draws = {}
        for zone in design.zones:
            cause = old[zone.id].cause if zone.id in old else "unknown"
            level = levels.get(zone.id, 0.0)
            self._draws[zone.id] = _Draw(level, zone_watts(zone, level), cause, now)
        sensor_rooms = {a.iid for a in design.occupancy_areas}
        self._lights = {iid: () for iid in sensor_rooms}
        for zone in design.zones:
            if zone.kind == "light" and zone.area_key in sensor_rooms:
                self._lights[zone.area_key] += (zone.id,)
        self._vacant = set(vacant) & sensor_rooms
        for iid in sensor_rooms:
            self.stats.unoccupied_energy.setdefault(iid, 0.0)

    def _integrate(self, zone_id: int, draw: _Draw, now: float, area: int | None) -> None:
        dt = now - draw.since
        draw.since = now
        if dt <= 0 or draw.watts <= 0:
            return
        joules = draw.watts * dt
        stats = self.stats
        stats.energy_by_cause[draw.cause] = stats.energy_by_cause.get(draw.cause, 0.0) + joules
        stats.zone_energy[zone_id] = stats.zone_energy.get(zone_id, 0.0) + joules
        if area is not None and area in self._vacant and zone_id in self._lights.get(area, ()):
            stats.unoccupied_energy[area] = stats.unoccupied_energy.get(area, 0.0) + joules

    def _area_of(self, zone_id: int) -> int | None:
        zone = self._design.zone(zone_id) if self._design is not None else None
        return None if zone is None else zone.area_key

    def level(self, zone_id: int, level: float, cause: str) -> None:
        """A zone's level was set with this cause. Set to the level it has, it keeps the cause of
        the change that set it: a level set again is no change."""
        draw = self._draws.get(zone_id)
        zone = self._design.zone(zone_id) if self._design is not None else None
        if draw is None or zone is None or level == draw.level:
            return
        now = self.clock()
        self._integrate(zone_id, draw, now, zone.area_key)
        draw.level, draw.watts, draw.cause = level, zone_watts(zone, level), cause

    def occupancy(self, area: int, vacant: bool) -> None:
        now = self.clock()
        for zone_id in self._lights.get(area, ()):
            self._integrate(zone_id, self._draws[zone_id], now, area)
        if vacant:
            self._vacant.add(area)
        else:
            self._vacant.discard(area)

    def advance(self, now: float | None = None) -> None:
        """Integrate every zone up to `now` (default: the clock)."""
        now = self.clock() if now is None else now
        for zone_id, draw in self._draws.items():
            self._integrate(zone_id, draw, now, self._area_of(zone_id))
        self.stats.account_at = now
