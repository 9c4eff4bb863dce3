"""Plugin writing stderr lines with and without Telegraf's level prefixes, then a `done` metric."""

import sys

sys.stderr.buffer.write(
    b"E! an error\n"
    b"W! a warning\n"
    b"I! some info\n"
    b"D! debugging\n"
    b"T! tracing\n"
    b"no prefix here\n"
    b"E!missing space\n"
    b" I! indented\n"
    b"e! lowercase\n"
    b'quote " and tab\t\n'
    b"I! crlf line\r\n"
    b"bad byte \xff\n"
)
sys.stderr.flush()
print("done,plugin=stderr_levels value=1", flush=True)
while sys.stdin.readline():
    pass
