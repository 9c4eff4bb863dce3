"""Benchmark: encode one interval's snapshot (2,000 zones + 5,000 LEDs/buttons) with cached series prefixes.

Prints the median over 20 runs and its ratio to a baseline measured in the same run: a naive f-string
join of the same data with no escaping or checks (what the strict encoder costs on top). Target: the
whole snapshot in < 50 ms.

    .venv/bin/python bench/bench_encode.py
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable

from telegraf_lutron.lineprotocol import FieldValue, line, safe_tag_value, series_prefix

ZONES = 2_000
LEDS = 2_500
BUTTONS = 2_500
RUNS = 20
TARGET_MS = 50.0

ROOMS = [
    "Kitchen",
    "Living Room",
    "Master Suite",
    "Guest Bath",
    "Mudroom",
    "Wine Cellar",
    'Kids\' "Den"',
    "Salle à manger",
    "Zürich Office",
    "Pool House, East",
]
FIXTURES = ["Downlights", "Pendants", "Sconces", "Cove", "Table Lamp", "Step Lights", "Chandelier", "Vanity"]
FLOORS = ["Basement", "Ground Floor", "First Floor", "Attic"]
OUTPUTS = ["INC", "MLV", "ELV", "LED", "NON_DIM", "AUTO_DETECT"]
KEYPAD_BUTTONS = ["Scene 1", "Scene 2", "Off", "All On", "Goodnight", "Entertain", "Raise", "Lower"]

Row = tuple[str, dict[str, FieldValue]]


def snapshot(seed: int = 7) -> list[Row]:
    """Cached prefixes plus this interval's field values, as the plugin holds them."""
    rng = random.Random(seed)
    rows: list[Row] = []
    for zone_id in range(1, ZONES + 1):
        room = rng.choice(ROOMS)
        tags = {
            "site": "home",
            "zone_id": str(zone_id),
            "zone": safe_tag_value(f"{room} {rng.choice(FIXTURES)} {zone_id % 7}"),
            "area": safe_tag_value(room),
            "floor": rng.choice(FLOORS),
            "output_type": rng.choice(OUTPUTS),
        }
        rated = float(rng.choice([60, 120, 250, 500, 1000]))
        level = round(rng.uniform(0, 100), 2)
        fields: dict[str, FieldValue] = {
            "level": level,
            "watts": rated * level / 100,
            "rated_watts": rated,
            "energy_joules_total": rng.uniform(0, 5e9),
        }
        rows.append((series_prefix("lutron_zone", tags), fields))
    for index in range(LEDS + BUTTONS):
        device_id = 100 + index // 8
        room = rng.choice(ROOMS)
        button = KEYPAD_BUTTONS[index % 8]
        tags = {
            "site": "home",
            "device_id": str(device_id),
            "device": safe_tag_value(f"{room} Keypad {device_id % 5}"),
            "area": safe_tag_value(room),
            "button": safe_tag_value(button),
        }
        if index < LEDS:
            rows.append((series_prefix("lutron_led", tags), {"state": float(rng.random() < 0.3)}))
        else:
            rows.append(
                (series_prefix("lutron_button", tags), {"presses_total": float(rng.randrange(0, 5000))})
            )
    return rows


def strict(rows: list[Row], ts: int) -> str:
    return "".join([line(prefix, fields, ts) for prefix, fields in rows])


def naive(rows: list[Row], ts: int) -> str:
    # The baseline: no validation, no escaping, no NaN handling; repr() only so floats are exact.
    return "".join(
        [f"{prefix} {','.join(f'{k}={v!r}' for k, v in fields.items())} {ts}\n" for prefix, fields in rows]
    )


def median_ms(encoder: Callable[[list[Row], int], str], rows: list[Row], ts: int) -> float:
    encoder(rows, ts)  # warm-up
    samples = []
    for _ in range(RUNS):
        began = time.perf_counter()
        encoder(rows, ts)
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def main() -> int:
    began = time.perf_counter()
    rows = snapshot()
    build_ms = (time.perf_counter() - began) * 1000
    ts = time.time_ns()
    text = strict(rows, ts)
    assert text.count("\n") == len(rows)
    ours = median_ms(strict, rows, ts)
    base = median_ms(naive, rows, ts)
    print(f"lines per snapshot:         {len(rows)} ({len(text) / 1024:.0f} KiB)")
    print(f"series prefixes (once):     {build_ms:.1f} ms, including the synthetic data")
    print(f"strict encoder, median/{RUNS}: {ours:.1f} ms ({ours * 1000 / len(rows):.2f} µs/line)")
    print(f"naive f-string baseline:    {base:.1f} ms")
    print(f"ratio strict / baseline:    {ours / base:.2f}x")
    verdict = "OK" if ours < TARGET_MS else "TOO SLOW"
    print(f"target < {TARGET_MS:.0f} ms:             {verdict}")
    return 0 if ours < TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
