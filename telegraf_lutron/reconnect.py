"""When to try the processor again: a policy that cannot lock an account or storm the network.

Pure logic (no I/O, no sleeping): the session asks it for a delay after each failure. The clock and
the random source are injectable so tests move time instead of waiting.

- Network failures (refused, reset, timeouts, silent peer): exponential backoff with jitter,
  1 s doubling up to 60 s. The count only resets once a connection has stayed up for
  `stable_after` seconds, so a processor that accepts and drops at once cannot cause a storm.
- Bad logins: 60 s doubling up to 15 min, and never more than 5 bad logins in any hour; repeated
  failed logins have left real repeaters refusing every client for many minutes.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BackoffSettings:
    network_min: float = 1.0
    network_max: float = 60.0
    bad_login_min: float = 60.0
    bad_login_max: float = 15 * 60.0
    bad_logins_per_hour: int = 5
    stable_after: float = 30.0


class ReconnectPolicy:
    def __init__(
        self,
        settings: BackoffSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings or BackoffSettings()
        self._clock = clock
        self._rng = rng
        self._network_failures = 0
        self._bad_login_streak = 0
        self._bad_login_times: deque[float] = deque()

    def network_failure(self) -> float:
        """Delay before the next attempt after a connection failed or died."""
        s = self.settings
        base = min(s.network_max, s.network_min * 2.0 ** min(self._network_failures, 30))
        self._network_failures += 1
        # Jitter in [0.75, 1.25) x base, so many clients restarted together spread out.
        return max(s.network_min, min(s.network_max, base * (0.75 + 0.5 * self._rng())))

    def bad_login(self) -> float:
        """Delay before the next attempt after the processor rejected the credentials."""
        s = self.settings
        now = self._clock()
        self._bad_login_times.append(now)
        while self._bad_login_times and now - self._bad_login_times[0] >= 3600.0:
            self._bad_login_times.popleft()
        delay = min(s.bad_login_max, s.bad_login_min * 2.0 ** min(self._bad_login_streak, 30))
        self._bad_login_streak += 1
        if len(self._bad_login_times) >= s.bad_logins_per_hour:
            # The next attempt must wait until the oldest of the last N leaves the one-hour window.
            oldest = self._bad_login_times[-s.bad_logins_per_hour]
            delay = max(delay, oldest + 3600.0 - now)
        return delay

    def logged_in(self) -> None:
        """Credentials are good: the bad-login backoff starts over (the hourly cap stays)."""
        self._bad_login_streak = 0

    def connection_ended(self, uptime: float) -> float:
        """Delay after a connection that was logged in for `uptime` seconds ended."""
        if uptime >= self.settings.stable_after:
            self._network_failures = 0
        return self.network_failure()
