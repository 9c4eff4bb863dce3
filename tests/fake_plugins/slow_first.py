"""STDIN-mode plugin whose first collection takes 1 s; each collection reports how many ticks it drained."""

import os
import sys
import time


def main() -> int:
    first = True
    while data := os.read(0, 1):  # block until a tick; b"" at EOF
        ticks = data.count(b"\n")
        if first:
            time.sleep(1.0)  # slow first collection: ticks keep queueing meanwhile
            first = False
        os.set_blocking(0, False)
        try:
            while more := os.read(0, 4096):
                ticks += more.count(b"\n")
        except BlockingIOError:
            pass
        os.set_blocking(0, True)
        print(f"slow,plugin=slow_first ticks_seen={ticks}i", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
