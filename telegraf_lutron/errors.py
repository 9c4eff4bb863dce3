"""The root of every error telegraf-lutron raises on purpose.

Each layer has its own family below it, so a caller can catch one layer or everything:

- `config.ConfigError`: the plugin's TOML configuration;
- `connection.SessionError`: the telnet session (`LoginError`, `LoginFailed`, `NotConnected`,
  `CommandError`, `CommandTimeout`; `session` re-exports them);
- `design.DesignError`: reading, fetching or parsing a design (the design cache's failures too: it
  turns an unreadable entry into a miss and logs a cache it cannot write);
- `urls.URLError`: a design URL that cannot be used (also a `ValueError`; never echoes the URL);
- `db.DbError`: PostgreSQL (`DatabaseUnavailable`, `SchemaMissing`, `PermissionDenied`,
  `IncompatibleSchema`);
- `ui_cli.UiError`: starting the web UI;
- `lineprotocol.LineProtocolError` and `lineproto_parse.LineProtocolParseError`: line protocol
  (also `ValueError`s);
- `simulator.cli.UsageError`: the simulator's command line.

Every message is one line that says what happened and what to do, and never holds a secret.
Python's own errors (`OSError`, `ValueError` for a bad argument) are not wrapped.
"""

from __future__ import annotations


class TelegrafLutronError(Exception):
    """Base of every error the package raises on purpose; `str()` is one line, never a secret."""
