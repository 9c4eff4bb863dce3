"""Plugin writing one stderr line of argv[1] bytes between two short ones, then a `done` metric.

With argv[2] == "hold", the long line's newline (and the line after it) is written only at stdin EOF.
"""

import sys

length = int(sys.argv[1])
hold = sys.argv[2:] == ["hold"]
sys.stderr.buffer.write(b"I! before\n" + b"x" * length + (b"" if hold else b"\nI! after\n"))
sys.stderr.flush()
print("done,plugin=long_stderr value=1", flush=True)
while sys.stdin.readline():
    pass
if hold:
    sys.stderr.buffer.write(b"\nI! after\n")
