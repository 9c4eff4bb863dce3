"""Plugin reporting its environment variable FAKE_VAR, its argv and its working directory."""

import json
import os
import sys


def quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


print(
    f"probe var={quoted(os.environ.get('FAKE_VAR', '<unset>'))},"
    f"argv={quoted(json.dumps(sys.argv[1:]))},cwd={quoted(os.getcwd())}",
    flush=True,
)
while sys.stdin.readline():
    pass
