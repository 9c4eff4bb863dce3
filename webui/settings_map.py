"""The UI's settings, named once: for each, its key (in Streamlit secrets, and the attribute of
`settings.Settings`), its environment variable, and what `telegraf-lutron ui --help` says about it
(the option is `--` and the key with `-` for `_`).

`settings.load_settings` reads them; `telegraf-lutron ui` turns its options into the variables. This
module imports nothing else, so `telegraf-lutron ui --help` needs neither Streamlit nor psycopg.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_CACHE_DIR = Path("/var/lib/telegraf-lutron")
DEFAULT_CURRENCY = "EUR"
DEFAULT_OVERNIGHT = (23, 6)  # local hours: from 23:00 to 06:00


@dataclass(frozen=True, slots=True)
class Setting:
    key: str  # secrets key, `Settings` attribute and argparse dest
    variable: str  # the environment variable the app reads
    help: str  # for `telegraf-lutron ui --help`

    @property
    def option(self) -> str:
        return "--" + self.key.replace("_", "-")


SETTINGS = (
    Setting(
        "dsn", "TL_DSN", "PostgreSQL connection string (default: $TELEGRAF_LUTRON_DSN, then libpq's PG*)"
    ),
    Setting(
        "cache_dir", "TL_CACHE_DIR", f"the plugin's cache_dir, for the design (default {DEFAULT_CACHE_DIR})"
    ),
    Setting("timezone", "TL_TIMEZONE", "IANA time zone for times shown (default: the database's)"),
    Setting("tariff", "TL_TARIFF", "price of one kWh, to show costs (default: none, no costs shown)"),
    Setting("currency", "TL_CURRENCY", f"currency of the tariff (default {DEFAULT_CURRENCY})"),
    Setting(
        "overnight",
        "TL_OVERNIGHT",
        "local hours the Why page counts as overnight, START-END "
        f"(default {DEFAULT_OVERNIGHT[0]}-{DEFAULT_OVERNIGHT[1]})",
    ),
)
ENV = {s.key: s.variable for s in SETTINGS}  # key -> environment variable
