"""Design parsing figures: speed on a ~1.1 MB export and memory of a 2,000-zone model.

Run: .venv/bin/python bench/bench_design.py
Targets: parse of ~1.1 MB <= 80 ms (median of 10); model of 2,000 zones / 1,000 keypads <= 30 MB.
The ratio to a bare xml.etree.ElementTree.fromstring of the same bytes, timed in the same run,
says how much the hardening and the model cost on whatever machine this runs on.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
import xml.etree.ElementTree as ET
from collections.abc import Callable

from telegraf_lutron.design_xml import parse_design
from telegraf_lutron.simulator.designgen import GeneratorParams, generate

RUNS = 10
TARGET_BYTES = 1_100_000


def medians_ms(fns: list[Callable[[], object]], runs: int = RUNS) -> list[float]:
    """Median time of each function, run interleaved so load changes hit all of them alike."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, out in zip(fns, times, strict=True):
            gc.collect()
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return [statistics.median(t) * 1000 for t in times]


def export_of_about(size: int) -> tuple[GeneratorParams, bytes]:
    """A default-quirks HWQS export just over `size` bytes (real big exports are ~1.1 MB)."""
    for rooms in range(4, 1000):
        params = GeneratorParams(
            seed=1, floors=1, rooms_per_floor=rooms, zones_per_room=4, keypads_per_room=3
        )
        _, xml = generate(params)
        if len(xml) >= size:
            return params, xml
    raise RuntimeError("no export that large")


def main() -> None:
    _, xml = export_of_about(TARGET_BYTES)
    design = parse_design(xml)
    print(
        f"export: {len(xml) / 1e6:.2f} MB, {len(design.zones)} zones, {len(design.keypads)} keypads, "
        f"{sum(len(k.buttons) for k in design.keypads)} buttons"
    )
    parse, bare = medians_ms([lambda: parse_design(xml), lambda: ET.fromstring(xml)])
    print(f"parse_design: median {parse:.1f} ms of {RUNS} (target <= 80 ms)")
    print(f"ElementTree.fromstring: median {bare:.1f} ms; ratio {parse / bare:.2f}")

    sized = GeneratorParams.sized(2000, 1000, seed=2)
    _, big_xml = generate(sized)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    big = parse_design(big_xml)
    gc.collect()
    retained, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"model of {len(big.zones)} zones, {len(big.keypads)} keypads "
        f"({sum(len(k.buttons) for k in big.keypads)} buttons; export {len(big_xml) / 1e6:.1f} MB): "
        f"{(retained - before) / 2**20:.1f} MB retained (target <= 30 MB), "
        f"{(peak - before) / 2**20:.1f} MB peak while parsing"
    )


if __name__ == "__main__":
    main()
