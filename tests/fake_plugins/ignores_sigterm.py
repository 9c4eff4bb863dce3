"""Plugin that ignores both stdin EOF and SIGTERM: only SIGKILL ends it."""

import signal
import sys
import time

signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready,plugin=ignores_sigterm value=1", flush=True)
while sys.stdin.readline():
    pass
while True:
    time.sleep(60)
