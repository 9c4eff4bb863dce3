"""The reconnect policy: exponential backoff with jitter, and bad logins that can never lock an account."""

from __future__ import annotations

from telegraf_lutron.reconnect import BackoffSettings, ReconnectPolicy


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_network_failures_double_from_1_s_up_to_60_s_with_jitter() -> None:
    for jitter in (0.0, 0.5, 0.999):
        policy = ReconnectPolicy(rng=lambda j=jitter: j)
        delays = [policy.network_failure() for _ in range(12)]
        for n, delay in enumerate(delays):
            base = min(60.0, 2.0**n)
            assert max(1.0, base * 0.75) <= delay <= min(60.0, base * 1.25)
        assert delays[-1] <= 60.0
        assert delays[7] >= 60.0 * 0.75


def test_jitter_spreads_clients() -> None:
    low = ReconnectPolicy(rng=lambda: 0.0)
    high = ReconnectPolicy(rng=lambda: 0.99)
    for _ in range(4):
        a, b = low.network_failure(), high.network_failure()
    assert b > a


def test_a_connection_that_drops_at_once_keeps_backing_off() -> None:
    policy = ReconnectPolicy(rng=lambda: 0.5)
    delays = [policy.connection_ended(uptime=0.2) for _ in range(8)]
    assert delays == sorted(delays)
    assert delays[-1] == 60.0


def test_a_stable_connection_resets_the_backoff() -> None:
    policy = ReconnectPolicy(rng=lambda: 0.5)
    for _ in range(8):
        policy.network_failure()
    assert policy.connection_ended(uptime=3600) == 1.0


def test_bad_logins_back_off_from_60_s_to_15_min() -> None:
    clock = FakeClock()
    policy = ReconnectPolicy(clock=clock, settings=BackoffSettings(bad_logins_per_hour=100))
    delays = []
    for _ in range(7):
        delay = policy.bad_login()
        delays.append(delay)
        clock.now += delay
    assert delays == [60.0, 120.0, 240.0, 480.0, 900.0, 900.0, 900.0]


def test_never_more_than_5_bad_logins_in_any_hour() -> None:
    clock = FakeClock()
    policy = ReconnectPolicy(clock=clock)
    attempts = [clock.now]
    for _ in range(30):
        clock.now += policy.bad_login()
        attempts.append(clock.now)
    for i, start in enumerate(attempts):
        in_window = [t for t in attempts[i:] if t - start < 3600.0]
        assert len(in_window) <= 5


def test_successful_login_restarts_the_bad_login_backoff() -> None:
    clock = FakeClock()
    policy = ReconnectPolicy(clock=clock)
    clock.now += policy.bad_login()
    clock.now += policy.bad_login()
    policy.logged_in()
    clock.now += 10_000
    assert policy.bad_login() == 60.0
