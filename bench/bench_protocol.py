"""Benchmark: a read costs the parser the same however much it has buffered.

A peer that sends 60 KB of whitespace and then one byte per read used to make every read rescan
and re-decode the whole buffer (a core burnt at a byte every 3 ms: about 3 ms per read here). The
baseline is the cost of a one-byte read of ordinary short report lines (nothing buffered); each
hostile case is the same one-byte reads behind a big buffer. Figure: time per read divided by the
baseline's, target <= 2x (about 1x when the cost is linear in the bytes fed).

    .venv/bin/python bench/bench_protocol.py [--quick]
"""

from __future__ import annotations

import argparse
import time

from telegraf_lutron import protocol as p


def cost(chunks: list[bytes]) -> float:
    """Seconds to feed `chunks` to a new parser."""
    parser = p.LineParser()
    started = time.perf_counter()
    for chunk in chunks:
        parser.feed(chunk)
    return time.perf_counter() - started


def cases(n: int) -> dict[str, list[bytes]]:
    report_lines = b"".join(b"~OUTPUT,%d,1,50.00\r\n" % i for i in range(n // 19 + 1))
    return {
        "baseline: report lines, 1 byte/read": [bytes([c]) for c in report_lines[:n]],
        "60 KB whitespace, then a line 1 byte/read": [b" " * 60_000 + b"~"] + [b"x"] * n + [b"\r\n"],
        "a 60 KB line, then 1 byte/read": [b"~OUTPUT,27,1,75.00," + b"9" * 60_000] + [b"9"] * n + [b"\r\n"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer reads (well under a second)")
    args = parser.parse_args()
    n = 3_000 if args.quick else 30_000
    per_read = {name: cost(chunks) / len(chunks) for name, chunks in cases(n).items()}
    baseline = next(iter(per_read.values()))
    for name, seconds in per_read.items():
        ratio = seconds / baseline
        verdict = "" if name.startswith("baseline") else (" -> OK" if ratio <= 2 else " -> SLOW")
        print(f"{name:<44} {n:>6} reads: {seconds * 1e6:8.2f} us/read, {ratio:7.1f}x the baseline{verdict}")


if __name__ == "__main__":
    main()
