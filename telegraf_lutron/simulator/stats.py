"""What the simulator saw, for tests and the demo: logins, connections, sessions, commands."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field


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
