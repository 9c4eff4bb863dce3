"""Plugin that writes one metric and dies: with a traceback (exit 1), or with FAKE_EXIT_CODE."""

import os
import sys

print(f"crash,plugin=crasher pid={os.getpid()}i", flush=True)
if "FAKE_EXIT_CODE" in os.environ:
    sys.exit(int(os.environ["FAKE_EXIT_CODE"]))
raise RuntimeError("simulated crash")
