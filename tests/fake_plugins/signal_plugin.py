"""Plugin collecting on SIGHUP/SIGUSR1/SIGUSR2 (handlers installed first), exiting 0 at stdin EOF."""

import signal
import sys

counts: dict[str, int] = {}


def collect(signum: int, _frame: object) -> None:
    name = signal.Signals(signum).name
    counts[name] = counts.get(name, 0) + 1
    print(f"sig,plugin=signal,signal={name} count={counts[name]}i", flush=True)


for sig in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
    signal.signal(sig, collect)
print("I! handlers installed", file=sys.stderr, flush=True)
while sys.stdin.readline():
    pass
