"""Plugin that keeps running after stdin EOF and has no SIGTERM handler: only SIGTERM ends it."""

import sys
import time

print("ready,plugin=ignores_eof value=1", flush=True)
while sys.stdin.readline():
    pass
while True:
    time.sleep(60)
