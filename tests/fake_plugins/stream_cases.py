"""Plugin exercising the stdout stream rules, then waiting for stdin EOF.

Writes, in order: a bad line, a good line, a comment and a blank line, a string field with a raw
newline, a UTF-8 tag split across two writes, and finally (at EOF) a last line without newline.
"""

import os
import sys
import time


def out(data: bytes) -> None:
    os.write(1, data)  # unbuffered: each call is one write on the pipe


out(b"m a=\n")
out(b"good,plugin=stream_cases value=1\n")
out(b"# a comment\n\n")
out(b'multi text="first\nsecond"\n')
emoji = "utf8,city=Zürich\\ 🔌 value=2\n".encode()
split = emoji.index("🔌".encode()) + 2  # in the middle of the 4-byte sequence
out(emoji[:split])
time.sleep(0.2)  # let the reader see the first half on its own
out(emoji[split:])
while sys.stdin.readline():
    pass
out(b"tail value=3")  # no newline: Telegraf emits it only at EOF
sys.exit(0)
