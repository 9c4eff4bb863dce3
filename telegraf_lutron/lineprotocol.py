"""Strict InfluxDB line-protocol encoder: writes only what Telegraf's influx parser reads back exactly.

Policy (docs/telegraf.md §4, "write as / reject"):

| element                    | written as                                  | rejected                              |
|----------------------------|---------------------------------------------|---------------------------------------|
| measurement                | `,` and space escaped                       | `\\`, control chars, leading `#`, empty |
| tag key, tag value, field key | `,` `=` and space escaped                | `\\`, control chars, empty key        |
| empty tag value            | the tag is omitted                          |                                       |
| string field               | `"` + (`\\`->`\\\\`, then `"`->`\\"`) + `"`  | lone surrogates (not UTF-8)           |
| float                      | `repr(float(x))`                            | NaN/±Inf: the field is dropped        |
| bool (checked before int)  | `true` / `false`                            |                                       |
| int                        | `%di`                                       | outside int64                         |
| `Unsigned`                 | `%du`                                       | outside uint64                        |
| timestamp                  | integer nanoseconds                         | floats, bools, seconds/ms/µs          |

A metric left without fields (none given, or all NaN/Inf) is rejected. "Control chars" are C0, DEL, C1 and
U+2028/U+2029: Telegraf rejects raw TAB/LF/VT/FF/CR in names and keeps its own `\\n` escapes literally, so
there is no way to carry them. Backslashes are rejected for the same reason: Telegraf unescapes `\\,` `\\ `
`\\=` only in some tokens and never `\\\\`, so a backslash cannot be written unambiguously.

Names coming from a house's design go through `safe_tag_value()` first, which maps them onto the accepted
set instead of failing. Everything else raises `LineProtocolError`.

Fast path for a snapshot: compute `series_prefix()` once per series and cache it, then call
`line(prefix, fields, ts_ns)` per interval.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from telegraf_lutron.errors import TelegrafLutronError

__all__ = [
    "MAX_INT64",
    "MAX_UINT64",
    "MIN_INT64",
    "MIN_TIMESTAMP_NS",
    "FieldValue",
    "LineProtocolError",
    "Unsigned",
    "encode",
    "encode_fields",
    "line",
    "safe_tag_value",
    "series_prefix",
]

MIN_INT64 = -(2**63)
MAX_INT64 = 2**63 - 1
MAX_UINT64 = 2**64 - 1
# 1973-03-03 in ns. Seconds (1.7e9), ms (1.7e12) and µs (1.7e15) for any date after 1970 are below this,
# so a timestamp in the wrong unit fails here instead of landing in 1970 (docs/telegraf.md §4.1 #36).
MIN_TIMESTAMP_NS = 10**17

_CONTROL = "\x00-\x1f\x7f-\x9f\u2028\u2029"
_SURROGATE = "\ud800-\udfff"
# Anything that may not appear in a measurement, tag key, tag value or field key.
_BAD_NAME_CHAR = re.compile(f"[\\\\{_CONTROL}{_SURROGATE}]")
_CONTROL_RUN = re.compile(f"[{_CONTROL}]")
_LONE_SURROGATE = re.compile(f"[{_SURROGATE}]")


# Field keys repeat every interval ("level", "watts"...): validate and escape each once.
_FIELD_KEY_CACHE: dict[str, str] = {}
_FIELD_KEY_CACHE_MAX = 4096

FieldValue = float | int | bool | str


class LineProtocolError(TelegrafLutronError, ValueError):
    """A value that Telegraf would reject or misread; the message is one line and names the element."""


class Unsigned(int):
    """An integer written as an unsigned field (`42u`, uint64). Plain `int` is written as int64 (`42i`)."""

    def __new__(cls, value: int) -> Unsigned:
        number = int.__new__(cls, value)
        if not 0 <= number <= MAX_UINT64:
            raise LineProtocolError(f"unsigned value {int(number)} is outside 0..2**64-1")
        return number


def _show(value: object, limit: int = 60) -> str:
    """`repr(value)` cut to `limit` characters: error messages stay on one line and short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_name(kind: str, text: object) -> str:
    if not isinstance(text, str):
        raise LineProtocolError(f"{kind} must be str, got {type(text).__name__}: {_show(text)}")
    if not text:
        raise LineProtocolError(f"{kind} is empty")
    bad = _BAD_NAME_CHAR.search(text)
    if bad is not None:
        char = bad.group()
        what = "a backslash" if char == "\\" else f"the character {char!r}"
        raise LineProtocolError(
            f"{kind} {_show(text)} contains {what}, which Telegraf cannot read back; "
            "pass design names through safe_tag_value()"
        )
    return text


def _measurement(name: object) -> str:
    text = _check_name("measurement", name)
    if text[0] == "#":
        # A line starting with '#' is a comment to Telegraf: the metric would vanish silently.
        raise LineProtocolError(
            f"measurement {_show(text)} starts with '#', which Telegraf reads as a comment"
        )
    # Backslashes were rejected, so escaping cannot be ambiguous. (str.translate is 5x slower here.)
    if "," in text:
        text = text.replace(",", "\\,")
    if " " in text:
        text = text.replace(" ", "\\ ")
    return text


def _key(kind: str, name: object) -> str:
    text = _check_name(kind, name)
    if "," in text:
        text = text.replace(",", "\\,")
    if "=" in text:
        text = text.replace("=", "\\=")
    if " " in text:
        text = text.replace(" ", "\\ ")
    return text


def _field_key(name: object) -> str:
    escaped = _FIELD_KEY_CACHE.get(name) if isinstance(name, str) else None
    if escaped is None:
        escaped = _key("field key", name)
        if len(_FIELD_KEY_CACHE) < _FIELD_KEY_CACHE_MAX:
            _FIELD_KEY_CACHE[name] = escaped  # type: ignore[index]  # _key() proved it is a str
    return escaped


def _string_field(value: str) -> str:
    if not value.isascii() and _LONE_SURROGATE.search(value):
        raise LineProtocolError(f"string field {_show(value)} contains a lone surrogate, not valid UTF-8")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _int_field(key: str, value: int) -> str:
    if not MIN_INT64 <= value <= MAX_INT64:
        raise LineProtocolError(
            f"field {key!r}: integer {int(value)} is outside int64; use Unsigned() (up to 2**64-1) or a float"
        )
    return f"{int(value)}i"  # int(): an IntEnum must not print as its name


def _other_field(key: str, value: object) -> str | None:
    """Encode a value that is not exactly float/int/bool/str (subclasses, Unsigned); None drops the field."""
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "true" if value else "false"
    if isinstance(value, Unsigned):
        return f"{int(value)}u"
    if isinstance(value, int):  # IntEnum and friends: written as their integer value
        return _int_field(key, value)
    if isinstance(value, float):  # numpy.float64 and friends: repr() of the subclass may differ
        number = float(value)
        return repr(number) if math.isfinite(number) else None
    if isinstance(value, str):
        return _string_field(str(value))
    raise LineProtocolError(
        f"field {key!r}: unsupported type {type(value).__name__} ({_show(value)}); "
        "convert to float, int, bool or str"
    )


def encode_fields(fields: Mapping[str, FieldValue]) -> str | None:
    """Return the escaped field set `k=v,k2=v2` in the mapping's order, or None if no field is left.

    NaN and ±Inf floats are dropped (Telegraf would reject the whole line); None therefore means "nothing
    to write", and `line()` turns it into a LineProtocolError. Raises LineProtocolError for a bad key,
    an integer outside int64 or an unsupported type.
    """
    parts: list[str] = []
    append = parts.append
    isfinite = math.isfinite
    cache = _FIELD_KEY_CACHE
    for key, value in fields.items():
        escaped = cache.get(key)
        if escaped is None:
            escaped = _field_key(key)
        kind = type(value)
        # Exact-type dispatch first: the common case costs one dict lookup and one comparison.
        if kind is float:
            if isfinite(value):  # type: ignore[arg-type]  # kind is float; mypy cannot narrow through `kind`
                append(f"{escaped}={value!r}")
        elif kind is bool:
            append(f"{escaped}=true" if value else f"{escaped}=false")
        elif kind is int:
            append(f"{escaped}={_int_field(key, value)}")  # type: ignore[arg-type]  # kind is int (as above)
        elif kind is str:
            append(f"{escaped}={_string_field(value)}")  # type: ignore[arg-type]  # kind is str (as above)
        else:
            encoded = _other_field(key, value)
            if encoded is not None:
                append(f"{escaped}={encoded}")
    return ",".join(parts) if parts else None


def _timestamp(ts_ns: object) -> str:
    if type(ts_ns) is not int:
        if isinstance(ts_ns, bool) or not isinstance(ts_ns, int):
            raise LineProtocolError(
                f"timestamp must be integer nanoseconds (time.time_ns()), got {type(ts_ns).__name__} "
                f"{_show(ts_ns)}"
            )
        ts_ns = int(ts_ns)
    if not MIN_TIMESTAMP_NS <= ts_ns <= MAX_INT64:
        raise LineProtocolError(
            f"timestamp {ts_ns} is not nanoseconds after 1973 within int64; "
            "use time.time_ns() (seconds, ms or µs would land in 1970)"
        )
    return str(ts_ns)


def line(prefix: str, fields: Mapping[str, FieldValue], ts_ns: int | None = None) -> str:
    """Return one complete line `prefix fields[ ts]\\n`.

    `prefix` must come from `series_prefix()` (it is not re-checked, so it can be cached). Without
    `ts_ns` Telegraf stamps the metric with its parse time. Raises LineProtocolError when no field is left
    or the timestamp is not plausible integer nanoseconds.
    """
    encoded = encode_fields(fields)
    if encoded is None:
        raise LineProtocolError(
            f"metric {_show(prefix)} has no field left to write (none given, or all NaN/Inf)"
        )
    if ts_ns is None:
        return f"{prefix} {encoded}\n"
    return f"{prefix} {encoded} {_timestamp(ts_ns)}\n"


def series_prefix(measurement: str, tags: Mapping[str, str]) -> str:
    """Return the escaped series key `measurement,k1=v1,k2=v2` with tags sorted by key.

    Tags with an empty value are omitted (Telegraf rejects `k=`); tag values from a design should be
    passed through `safe_tag_value()` first. Raises LineProtocolError for anything the policy rejects.
    The result is meant to be computed once per series and cached by the caller.
    """
    parts = [_measurement(measurement)]
    for key in sorted(tags):
        value = tags[key]
        if not isinstance(value, str):
            raise LineProtocolError(
                f"tag {key!r}: value must be str, got {type(value).__name__} {_show(value)}"
            )
        escaped_key = _key("tag key", key)
        if value:
            parts.append(f"{escaped_key}={_key('tag value', value)}")
    return ",".join(parts)


def encode(
    measurement: str,
    tags: Mapping[str, str],
    fields: Mapping[str, FieldValue],
    ts_ns: int | None = None,
) -> str:
    """Return one complete line for a single metric (`series_prefix()` + `line()`, nothing cached)."""
    return line(series_prefix(measurement, tags), fields, ts_ns)


def safe_tag_value(value: str) -> str:
    """Map any string (a name from a house's design) onto a tag value the encoder accepts.

    Substitutions, in order:
    - a backslash becomes U+29F5 "⧵" (REVERSE SOLIDUS OPERATOR): it looks alike and is never an escape;
    - every control character (C0, DEL, C1, U+2028 LINE SEPARATOR, U+2029 PARAGRAPH SEPARATOR) becomes
      a space, and a lone surrogate (not encodable as UTF-8) becomes U+FFFD;
    - every run of whitespace (`str.isspace()`, so NBSP and other Unicode spaces too) becomes one
      ASCII space, and leading/trailing whitespace is stripped.

    Everything else (quotes, commas, equals signs, `#`, emoji, any UTF-8) is kept and round-trips exactly
    through Telegraf's parser. Returns "" when nothing is left: the caller omits the tag or substitutes
    something like the integration ID. Different inputs can map to the same value (`a\\b` and `a⧵b`).
    The function is idempotent.
    """
    if not isinstance(value, str):
        raise TypeError(f"safe_tag_value() needs a str, got {type(value).__name__}")
    if value.isascii() and value.isprintable() and "\\" not in value and "  " not in value:
        return value.strip()  # fast path: nothing to substitute, at most outer spaces to strip
    text = value.replace("\\", "\u29f5")
    text = _CONTROL_RUN.sub(" ", text)
    text = _LONE_SURROGATE.sub("\ufffd", text)
    return " ".join(text.split())
