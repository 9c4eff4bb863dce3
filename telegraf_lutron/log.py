"""Logging for Telegraf's execd stderr reader: one line per message, `E! `/`W! `/`I! `/`D! ` prefixes.

Telegraf (>= 1.32) maps those prefixes to its own log levels and reads stderr with a 64 KiB line
limit; a longer line ends stderr reading for good. So every record is folded onto one line (tracebacks
included) and capped well below that limit.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from typing import TextIO

MAX_LINE = 4096
_PREFIX = {
    logging.CRITICAL: "E! ",
    logging.ERROR: "E! ",
    logging.WARNING: "W! ",
    logging.INFO: "I! ",
    logging.DEBUG: "D! ",
}


# C0 and C1 control characters, DEL, and the bidirectional overrides and isolates that can make
# text display as something else (Trojan Source): never sent raw to a terminal.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """`text` with every control character written as a visible escape (`\\x1b`, `\\u202e`), so
    names and replies from a processor or a design file cannot drive the terminal."""
    return _UNSAFE.sub(_escape, text)


def one_line(text: str, limit: int = MAX_LINE) -> str:
    """Fold `text` onto one line (newlines become ` | `) and cap it at `limit` characters."""
    folded = " | ".join(part.strip() for part in text.replace("\r", "\n").split("\n") if part.strip())
    if len(folded) > limit:
        folded = folded[: limit - 3] + "..."
    return folded


class TelegrafFormatter(logging.Formatter):
    """Formats a record as `<L>! [logger] message` on a single line."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = _PREFIX.get(record.levelno, "E! " if record.levelno > logging.WARNING else "D! ")
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            tb = traceback.extract_tb(exc.__traceback__)
            where = f" at {tb[-1].filename}:{tb[-1].lineno}" if tb else ""
            message = f"{message}: {type(exc).__name__}: {exc}{where}"
        name = record.name.removeprefix("telegraf_lutron.")
        return prefix + one_line(f"[{name}] {message}")


def setup(level: int | str = logging.INFO, stream: TextIO | None = None) -> None:
    """Send the package's logs to stderr (or `stream`) in Telegraf's format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(TelegrafFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # telnetlib3 logs every connect and close at INFO; our session says what matters.
    logging.getLogger("telnetlib3").setLevel(logging.WARNING)
