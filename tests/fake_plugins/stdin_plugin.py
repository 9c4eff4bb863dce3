"""Well-behaved STDIN-mode plugin: one collection per stdin line, exit 0 at EOF, exit 0 on SIGTERM."""

import signal
import sys


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("I! fake plugin started", file=sys.stderr, flush=True)
    collection = 0
    while sys.stdin.readline():  # "" only at EOF: Telegraf is stopping us
        collection += 1
        print(f"fake,plugin=stdin collection={collection}i", flush=True)
    print("I! stdin closed, exiting", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
