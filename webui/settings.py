"""The UI's settings: where the history and the design are, which clock to show, what energy costs.

Each setting (named once, in `settings_map`) comes from an environment variable, else from
Streamlit secrets (`.streamlit/secrets.toml`, the lower-case key without `TL_`), else its default:

| variable       | secrets key | default                                   | meaning                                  |
|----------------|-------------|-------------------------------------------|------------------------------------------|
| `TL_DSN`       | `dsn`       | `$TELEGRAF_LUTRON_DSN`, then libpq's PG*   | PostgreSQL connection string or URI      |
| `TL_CACHE_DIR` | `cache_dir` | `/var/lib/telegraf-lutron`                | the plugin's `cache_dir` (design cache)  |
| `TL_TIMEZONE`  | `timezone`  | the database's (`db init --timezone`)     | IANA zone for every time shown           |
| `TL_TARIFF`    | `tariff`    | none (no cost shown)                      | price of one kWh                         |
| `TL_CURRENCY`  | `currency`  | `EUR`                                     | shown next to costs                      |
| `TL_OVERNIGHT` | `overnight` | `23-6`                                    | local hours counted as overnight (Why)   |

Problems (a tariff that is not a number, an unknown time zone) are collected in `warnings` for
the page to show; they never stop the UI.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from telegraf_lutron.db import DSN_ENV, mask_dsn
from telegraf_lutron.webui.settings_map import DEFAULT_CACHE_DIR, DEFAULT_CURRENCY, DEFAULT_OVERNIGHT, ENV

__all__ = ["DEFAULT_CACHE_DIR", "DEFAULT_CURRENCY", "DEFAULT_OVERNIGHT", "ENV", "Settings", "load_settings"]


@dataclass(frozen=True, slots=True)
class Settings:
    dsn: str
    cache_dir: Path
    timezone: str | None  # None: use the database's time zone
    tariff: float | None  # per kWh; None: costs are not shown
    currency: str
    overnight: tuple[int, int] = (
        DEFAULT_OVERNIGHT  # local hours (start, end): the night runs from start to end
    )
    warnings: tuple[str, ...] = field(default=())

    @property
    def masked_dsn(self) -> str:
        """The connection string with its password replaced, safe to show."""
        return mask_dsn(self.dsn)

    def cost(self, kwh: float) -> float | None:
        return None if self.tariff is None else kwh * self.tariff


def load_settings(
    environ: Mapping[str, str] | None = None, secrets: Mapping[str, Any] | None = None
) -> Settings:
    """Settings from `environ` (default os.environ), then `secrets`, then defaults."""
    environ = os.environ if environ is None else environ
    secrets = secrets or {}
    warnings: list[str] = []

    def get(key: str) -> str | None:
        value = environ.get(ENV[key])
        if value is None or value.strip() == "":
            raw = secrets.get(key)
            value = None if raw is None else str(raw)
        return value.strip() if value is not None and value.strip() else None

    dsn = get("dsn") or environ.get(DSN_ENV, "")
    cache_dir = Path(get("cache_dir") or DEFAULT_CACHE_DIR).expanduser()

    timezone = get("timezone")
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            warnings.append(
                f"TL_TIMEZONE={timezone!r} is not an IANA time zone (e.g. Europe/Berlin); "
                "showing times in the database's time zone instead"
            )
            timezone = None

    tariff: float | None = None
    if (text := get("tariff")) is not None:
        try:
            tariff = float(text.replace(",", "."))
            if not math.isfinite(tariff) or tariff < 0:
                raise ValueError
        except ValueError:
            warnings.append(f"TL_TARIFF={text!r} is not a price per kWh (e.g. 0.32); costs are not shown")
            tariff = None

    currency = get("currency") or DEFAULT_CURRENCY

    overnight = DEFAULT_OVERNIGHT
    if (text := get("overnight")) is not None:
        parsed = parse_hours(text)
        if parsed is None:
            warnings.append(
                f"TL_OVERNIGHT={text!r} is not two different hours of the day (e.g. 23-6); "
                f"counting {DEFAULT_OVERNIGHT[0]}:00 to {DEFAULT_OVERNIGHT[1]}:00 as overnight"
            )
        else:
            overnight = parsed
    return Settings(dsn, cache_dir, timezone, tariff, currency, overnight, tuple(warnings))


def parse_hours(text: str) -> tuple[int, int] | None:
    """`23-6` (or `23:00-06:00`) -> (23, 6): two different whole local hours; None if it is not."""
    m = re.fullmatch(r"\s*(\d{1,2})(?::00)?\s*[-–]\s*(\d{1,2})(?::00)?\s*", text)
    if m is None:
        return None
    start, end = int(m.group(1)), int(m.group(2))
    if not (0 <= start <= 23 and 0 <= end <= 23) or start == end:
        return None
    return start, end
