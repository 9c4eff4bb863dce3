"""A strict reader of line protocol as Telegraf's internal influx stream parser accepts it.

Mirrors `plugins/parsers/influx/machine.go.rl` (the Ragel grammar, after influxdata/telegraf#7427 and #8720),
`handler.go` and `escape.go`, as summarised in docs/telegraf.md §4. Used by the tests to check every
line the plugin writes, and by `telegraf-lutron demo`, which plays Telegraf. The encoder in
`telegraf_lutron.lineprotocol` must never share code with this module, or a shared bug would go unseen.

Grammar, in short:
- separators are runs of space/TAB/VT/FF; a line ends in `\\n` or `\\r\\n`; blank lines, whitespace-only
  lines and lines whose first non-blank character is `#` are skipped;
- measurement: anything but TAB LF VT FF CR, space, `,`, a lone `\\`; `\\x` is a pair for any x but TAB LF
  VT FF CR; it may contain `=`; unescapes `\\,` and `\\ ` only;
- tag keys/values and field keys: also no raw `=`. Tags use Telegraf's quirk that `\\\\` consumes only one
  backslash, so `\\\\ ` continues the token; `\\,` `\\ ` `\\=` `\\"` are unescaped only when the token
  contains a space, comma or equals sign, scanning left to right; `\\\\` is never unescaped;
- string fields: `"`...`"`, any character but `"` and `\\`, raw LF/CR allowed; only `\\\\` and `\\"` escapes;
- integers `-?(0|[1-9][0-9]*)i` (int64), unsigned `(0|[1-9][0-9]*)u` (uint64), floats
  `-?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][-+]?[0-9]+)?` (finite), booleans `t T true True TRUE f F false
  False FALSE`; timestamps `-?[0-9]{1,19}` (int64, nanoseconds);
- empty tag values, missing fields, empty keys: the line is rejected. A duplicate tag or field: last wins.

On an error Telegraf drops the text from the failing character up to the next raw `\\n` (even one inside
what looked like a quoted string) and resumes there; this module does the same, and formats the error as
Telegraf does: `metric parse error: expected field at 1:5: "m a="` (column in bytes, Go %q quoting).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from telegraf_lutron.errors import TelegrafLutronError

__all__ = [
    "FieldValue",
    "IncompleteLineError",
    "LineProtocolParseError",
    "Metric",
    "StreamParser",
    "Uint",
    "fast_line",
    "go_quote",
    "parse_line",
    "parse_stream",
]

MIN_INT64 = -(2**63)
MAX_INT64 = 2**63 - 1
MAX_UINT64 = 2**64 - 1
MAX_ERROR_BUFFER = 1024  # parser.go maxErrorBufferSize

ERR_NAME = "expected measurement name"
ERR_TAG = "expected tag"
ERR_FIELD = "expected field"
ERR_TIMESTAMP = "expected timestamp"
ERR_PARSE = "parse error"
ERR_RANGE = "value out of range"  # strconv.ErrRange
ERR_SYNTAX = "invalid syntax"  # strconv.ErrSyntax

_WS = " \t\v\f"
_NOT_AFTER_BACKSLASH = "\t\n\v\f\r"

_MEASUREMENT_RE = re.compile(r"(?:[^\t\n\v\f\r ,\\]|\\[^\t\n\v\f\r])+")
# `\\` in a tag consumes one backslash only (machine.go.rl: '\\\\' %to{ fhold; }).
_TAG_RE = re.compile(r"(?:[^\t\n\v\f\r ,=\\]|\\[^\t\n\v\f\r\\]|\\(?=\\))+")
_FIELD_KEY_RE = re.compile(r"(?:[^\t\n\v\f\r ,=\\]|\\[^\t\n\v\f\r])+")
_STRING_RE = re.compile(r'"((?:[^\\"]|\\[\\"])*)"')
# integer | unsigned | float, each followed by the end of the value. The exponent sign class in
# machine.go.rl is ["\-+"], so `1e"5` passes the grammar and then fails ParseFloat.
_NUMBER_RE = re.compile(
    r"(?:(-?(?:0|[1-9][0-9]*))i|(0|[1-9][0-9]*)u|"
    r'(-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]["\-+]?[0-9]+)?))'
    r"(?=[ \t\v\f,\r\n]|\Z)"
)
_TRUE = frozenset({"t", "T", "true", "True", "TRUE"})
_FALSE = frozenset({"f", "F", "false", "False", "FALSE"})
_BOOL_PREFIXES = frozenset(word[:n] for word in _TRUE | _FALSE for n in range(1, len(word) + 1))
_VALUE_END = " \t\v\f,\r\n"
_TIMESTAMP_RE = re.compile(r"-?[0-9]{1,19}")
_is_digit = frozenset("0123456789").__contains__  # not str.isdigit(): that accepts any Unicode digit


class Uint(int):
    """An unsigned (`42u`) field value as parsed; compares equal to the plain int."""

    def __repr__(self) -> str:
        return f"Uint({int(self)})"


FieldValue = float | int | bool | str


@dataclass(frozen=True)
class Metric:
    """One metric as Telegraf holds it: tags sorted by key, fields in first-seen order, ts in ns or None."""

    name: str
    tags: dict[str, str] = field(default_factory=dict)
    fields: dict[str, FieldValue] = field(default_factory=dict)
    ts: int | None = None


class LineProtocolParseError(TelegrafLutronError, ValueError):
    """A line Telegraf rejects. `str()` is Telegraf's message; `reason`, `line`, `column` are its parts."""

    def __init__(self, reason: str, line: int, column: int, text: str) -> None:
        self.reason = reason
        self.line = line
        self.column = column
        self.text = text
        super().__init__(f"metric parse error: {reason} at {line}:{column}: {go_quote(text)}")


class IncompleteLineError(LineProtocolParseError):
    """Text after the last complete line: Telegraf holds it until its newline arrives or the stream ends."""

    def __init__(self, line: int, text: str) -> None:
        self.reason = "incomplete line, waiting for its newline"
        self.line = line
        self.column = 1
        self.text = text
        ValueError.__init__(self, f"{self.reason} at line {line}: {go_quote(text)}")


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote(text: str) -> str:
    """Quote like Go's `%q` (strconv.Quote); surrogate escapes (undecodable bytes) come out as `\\xNN`."""
    out = ['"']
    for char in text:
        code = ord(char)
        if char == '"' or char == "\\":
            out.append("\\" + char)
        elif 0xDC80 <= code <= 0xDCFF:  # a byte that was not valid UTF-8 (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif char.isprintable():
            out.append(char)
        elif char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\\ufffd")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def unescape_key(token: str) -> str:
    """escape.go unescape(): `\\,` `\\"` `\\ ` `\\=` left to right, only if the token has a space, `,` or `=`."""
    if " " not in token and "," not in token and "=" not in token:
        return token
    return _KEY_PAIR.sub(_unpair, token)


def unescape_measurement(token: str) -> str:
    """escape.go nameUnescape(): `\\,` and `\\ ` left to right, only if the token has a space or comma."""
    if " " not in token and "," not in token:
        return token
    return _NAME_PAIR.sub(_unpair, token)


def unescape_string(token: str) -> str:
    """escape.go stringFieldUnescape(): `\\"` and `\\\\`."""
    if "\\" not in token:
        return token
    return _STRING_PAIR.sub(_unpair, token)


# Go's strings.Replacer scans left to right, replacing a matching pair or copying one character; a
# regex substitution scans the same way, so `a\\,b` becomes `a\,b` in both.
_KEY_PAIR = re.compile(r'\\([,"= ])')
_NAME_PAIR = re.compile(r"\\([, ])")
_STRING_PAIR = re.compile(r'\\([\\"])')


def _unpair(match: re.Match[str]) -> str:
    return match.group(1)


class _NeedMore(Exception):
    """The buffer ended before the unit could be decided (and the stream is not at EOF)."""


class _Fail(Exception):
    def __init__(self, pos: int, reason: str) -> None:
        super().__init__(reason)
        self.pos = pos
        self.reason = reason


class _Unit:
    """What one step of the machine produced: a metric, a skipped line, or an error (then a discard)."""

    __slots__ = ("end", "error_pos", "metric", "reason")

    def __init__(self, end: int, metric: Metric | None = None, error_pos: int = -1, reason: str = "") -> None:
        self.end = end  # index after the consumed text; -1: discard continues past the buffer
        self.metric = metric
        self.error_pos = error_pos
        self.reason = reason


class _Machine:
    """Parses one unit of `buf` starting at `start`; `eof` says no more text will follow."""

    def __init__(self, buf: str, eof: bool, fast: bool = True) -> None:
        self.buf = buf
        self.n = len(buf)
        self.eof = eof
        self.fast = fast

    def at(self, i: int) -> str:
        """The character at i, "" at the end of the stream; raises _NeedMore at the end of the buffer."""
        if i < self.n:
            return self.buf[i]
        if self.eof:
            return ""
        raise _NeedMore

    def unit(self, start: int) -> _Unit:
        buf = self.buf
        newline = buf.find("\n", start) if self.fast else -1
        if newline >= 0:
            metric = fast_line(buf[start:newline])
            if metric is not None:
                return _Unit(newline + 1, metric=metric)
        i = start
        # align: skip whitespace, empty lines and comment lines.
        while True:
            char = self.at(i)
            if char == "":
                return _Unit(self.n)
            if char in _WS:
                i += 1
                continue
            if char == "\n":
                return _Unit(i + 1)
            if char == "\r":
                if self.at(i + 1) == "\n":
                    return _Unit(i + 2)
                return self._error(i + 1, ERR_PARSE)
            if char == "#":
                newline = buf.find("\n", i)
                if newline < 0:
                    if self.eof:
                        return _Unit(self.n)
                    raise _NeedMore
                return _Unit(newline + 1)
            break
        try:
            metric, end = self._metric(i)
        except _Fail as fail:
            return self._error(fail.pos, fail.reason)
        return _Unit(end, metric=metric)

    def _error(self, pos: int, reason: str) -> _Unit:
        # discard_line: drop everything from the failing character to the next raw newline, inclusive.
        newline = self.buf.find("\n", pos)
        if newline < 0:
            return _Unit(self.n if self.eof else -1, error_pos=pos, reason=reason)
        return _Unit(newline + 1, error_pos=pos, reason=reason)

    def _token(self, regex: re.Pattern[str], i: int, reason: str) -> int:
        """End of the token matching `regex` at i; a trailing lone backslash fails on what follows it."""
        match = regex.match(self.buf, i)
        end = match.end() if match else i
        if end < self.n and self.buf[end] == "\\":
            self.at(end + 1)  # the backslash was accepted; the machine fails on the next character
            raise _Fail(end + 1, reason)
        if end == self.n:
            self.at(end)  # may still grow
        return end

    def _metric(self, start: int) -> tuple[Metric, int]:
        buf = self.buf
        # measurement
        if self.at(start) == ",":
            raise _Fail(start, ERR_NAME)
        end = self._token(_MEASUREMENT_RE, start, ERR_PARSE)
        name = unescape_measurement(buf[start:end])
        tags: dict[str, str] = {}
        i = end
        # tag set
        while self.at(i) == ",":
            key_end = self._token(_TAG_RE, i + 1, ERR_TAG)
            if key_end == i + 1 or self.at(key_end) != "=":
                raise _Fail(key_end, ERR_TAG)
            value_end = self._token(_TAG_RE, key_end + 1, ERR_TAG)
            if value_end == key_end + 1:
                raise _Fail(value_end, ERR_TAG)
            tags[unescape_key(buf[i + 1 : key_end])] = unescape_key(buf[key_end + 1 : value_end])
            i = value_end
        char = self.at(i)
        if char == "" or char not in _WS:
            raise _Fail(i, ERR_TAG)
        i = self._skip_ws(i)
        # field set
        fields: dict[str, FieldValue] = {}
        while True:
            key_end = self._token(_FIELD_KEY_RE, i, ERR_FIELD)
            if key_end == i or self.at(key_end) != "=":
                raise _Fail(key_end, ERR_FIELD)
            key = unescape_key(buf[i:key_end])
            value, i = self._value(key_end + 1)
            fields[key] = value
            if self.at(i) != ",":
                break
            i += 1
        # optional timestamp, trailing whitespace, end of line
        ts: int | None = None
        char = self.at(i)
        if char != "" and char in _WS:
            i = self._skip_ws(i)
            char = self.at(i)
            if char == "-" or _is_digit(char):
                ts, i = self._timestamp(i)
                char = self.at(i)
                if char != "" and char in _WS:
                    end = self._eol(self._skip_ws(i), ERR_PARSE)
                else:
                    end = self._eol(i, ERR_TIMESTAMP)
            else:
                end = self._eol(i, ERR_TIMESTAMP)
        else:
            end = self._eol(i, ERR_FIELD)
        return Metric(name, dict(sorted(tags.items())), fields, ts), end

    def _skip_ws(self, i: int) -> int:
        while True:
            char = self.at(i)
            if char == "" or char not in _WS:
                return i
            i += 1

    def _eol(self, i: int, reason: str) -> int:
        char = self.at(i)
        if char == "":
            return i
        if char == "\n":
            return i + 1
        if char == "\r":
            if self.at(i + 1) == "\n":
                return i + 2
            raise _Fail(i + 1, ERR_PARSE)
        raise _Fail(i, reason)

    def _value(self, i: int) -> tuple[FieldValue, int]:
        """Parse a field value at i; return it and the index of the character after it."""
        buf = self.buf
        char = self.at(i)
        if char == '"':
            match = _STRING_RE.match(buf, i)
            if match is None:
                self._string_failure(i + 1)
            assert match is not None
            end = match.end()
            self._value_end(end)
            return unescape_string(match.group(1)), end
        if char in _BOOL_PREFIXES:
            j = i
            while (follower := self.at(j)) != "" and buf[i:j] + follower in _BOOL_PREFIXES:
                j += 1
            word = buf[i:j]
            if word not in _TRUE and word not in _FALSE:
                raise _Fail(j, ERR_FIELD)
            self._value_end(j)
            return word in _TRUE, j
        if char == "-" or char == "." or _is_digit(char):
            return self._number(i)
        raise _Fail(i, ERR_FIELD)

    def _value_end(self, i: int) -> None:
        char = self.at(i)
        if char != "" and char not in _VALUE_END:
            raise _Fail(i, ERR_FIELD)

    def _string_failure(self, i: int) -> None:
        """Find where an unmatched string fails: a bad escape, or the end of the text."""
        while True:
            char = self.at(i)
            if char == "":
                raise _Fail(i, ERR_FIELD)
            if char == '"':
                raise AssertionError("unreachable: _STRING_RE would have matched")
            if char == "\\":
                follower = self.at(i + 1)
                if follower not in ('"', "\\") or follower == "":
                    raise _Fail(i + 1, ERR_FIELD)
                i += 2
            else:
                i += 1

    def _number(self, i: int) -> tuple[FieldValue, int]:
        match = _NUMBER_RE.match(self.buf, i)
        if match is None:
            raise _Fail(self._number_failure(i), ERR_FIELD)
        end = match.end()
        self.at(end)  # a number at the end of the buffer may still grow
        integer, unsigned, real = match.groups()
        if integer is not None:
            number = int(integer)
            if not MIN_INT64 <= number <= MAX_INT64:
                raise _Fail(end, ERR_RANGE)
            return number, end
        if unsigned is not None:
            number = int(unsigned)
            if number > MAX_UINT64:
                raise _Fail(end, ERR_RANGE)
            return Uint(number), end
        try:
            value = float(real)
        except ValueError:
            raise _Fail(end, ERR_SYNTAX) from None
        if value in (float("inf"), float("-inf")):
            raise _Fail(end, ERR_RANGE)
        return value, end

    def _number_failure(self, i: int) -> int:
        """Index of the first character the number grammar cannot take (the machine's error position)."""
        at = self.at
        j = i
        negative = at(j) == "-"
        if negative:
            j += 1
        if _is_digit(at(j)):
            leading_zero = at(j) == "0"
            digits_start = j
            while _is_digit(at(j)):
                j += 1
            several = j - digits_start > 1
            char = at(j)
            if char == "i":
                # `01i` fails at the 'i'; after a valid `12i` nothing but a separator may follow.
                return j if leading_zero and several else j + 1
            if char == "u":
                return j if negative or (leading_zero and several) else j + 1
            if char == ".":
                j += 1
                while _is_digit(at(j)):
                    j += 1
        elif at(j) == ".":
            j += 1
            if not _is_digit(at(j)):
                return j
            while _is_digit(at(j)):
                j += 1
        else:
            return j  # '-' followed by neither digit nor '.'
        if at(j) in ("e", "E"):
            j += 1
            if at(j) in ('"', "-", "+"):
                j += 1
            if not _is_digit(at(j)):
                return j
            while _is_digit(at(j)):
                j += 1
        return j

    def _timestamp(self, i: int) -> tuple[int, int]:
        match = _TIMESTAMP_RE.match(self.buf, i)
        if match is None:
            self.at(i + 1)
            raise _Fail(i + 1, ERR_TIMESTAMP)  # a lone '-'
        end = match.end()
        char = self.at(end)
        if char != "" and (_is_digit(char) or char not in " \t\v\f\r\n"):
            raise _Fail(end, ERR_TIMESTAMP)  # a 20th digit, or anything else glued to it
        number = int(match.group())
        if not MIN_INT64 <= number <= MAX_INT64:
            raise _Fail(end, ERR_RANGE)
        return number, end


# Lines with any of these go to the full machine: string fields, unusual spacing, CR.
_NOT_FAST = re.compile(r'[\t\v\f\r"]|  ')
# Escaped pairs become private-use placeholders while the line is split at raw separators.
_ESCAPED_PAIR = re.compile(r"\\([ ,=])")
_PLACEHOLDER = re.compile("[\ue000-\ue002]")
_TO_PLACEHOLDER = {" ": "\ue000", ",": "\ue001", "=": "\ue002"}


def _to_placeholder(match: re.Match[str]) -> str:
    return _TO_PLACEHOLDER[match.group(1)]


def _key_text(token: str) -> str:
    # A raw key token holding an escaped pair contains a space, comma or equals sign, so Telegraf
    # unescapes it; without one the token has no backslash at all.
    if _PLACEHOLDER.search(token):
        return token.replace("\ue000", " ").replace("\ue001", ",").replace("\ue002", "=")
    return token


def _name_text(token: str) -> str:
    # nameUnescape() knows only `\,` and `\ `; `\=` stays as written.
    if _PLACEHOLDER.search(token):
        return token.replace("\ue000", " ").replace("\ue001", ",").replace("\ue002", "\\=")
    return token


def fast_line(text: str) -> Metric | None:
    """Parse a common simple line (without its newline) exactly as the machine would, or return None.

    Handles `name[,k=v...] k=v[,k=v...][ ts]` with single spaces, number/boolean fields and the escapes
    `\\ ` `\\,` `\\=` only; anything else (strings, other backslashes, CR/TAB/VT/FF, every line with an
    error) returns None and goes to the full machine, which alone reports errors.
    """
    if not text or text[0] in " ,#":
        return None
    if not text.isascii() and _PLACEHOLDER.search(text):
        return None  # the line itself uses the placeholder characters
    if "\\" in text:
        if "\\\\" in text:
            return None
        text = _ESCAPED_PAIR.sub(_to_placeholder, text)
        if "\\" in text:
            return None
    if _NOT_FAST.search(text):
        return None
    parts = text.split(" ")
    if len(parts) == 2:
        series, fieldset = parts
        ts: int | None = None
    elif len(parts) == 3:
        series, fieldset, stamp = parts
        if _TIMESTAMP_RE.fullmatch(stamp) is None:
            return None
        ts = int(stamp)
        if not MIN_INT64 <= ts <= MAX_INT64:
            return None
    else:
        return None
    name, *tag_items = series.split(",")
    tags: dict[str, str] = {}
    for item in tag_items:
        key, _, value = item.partition("=")
        if not key or not value or "=" in value:
            return None
        tags[_key_text(key)] = _key_text(value)
    fields: dict[str, FieldValue] = {}
    for item in fieldset.split(","):
        key, _, raw = item.partition("=")
        if not key or not raw or "=" in raw:
            return None
        key = _key_text(key)
        if raw in _TRUE:
            fields[key] = True
        elif raw in _FALSE:
            fields[key] = False
        else:
            match = _NUMBER_RE.fullmatch(raw)
            if match is None:
                return None
            integer, unsigned, real = match.groups()
            if integer is not None:
                number = int(integer)
                if not MIN_INT64 <= number <= MAX_INT64:
                    return None
                fields[key] = number
            elif unsigned is not None:
                number = int(unsigned)
                if number > MAX_UINT64:
                    return None
                fields[key] = Uint(number)
            else:
                try:
                    real_value = float(real)
                except ValueError:
                    return None
                if real_value in (float("inf"), float("-inf")):
                    return None
                fields[key] = real_value
    return Metric(_name_text(name), dict(sorted(tags.items())), fields, ts)


class StreamParser:
    """Incremental parser with the stream semantics of execd's stdout reader.

    `feed(text)` returns the metrics and errors that the new text completes: a metric only once its
    newline has arrived, an error as soon as the failing character is seen. `close()` ends the stream:
    a last line without newline is parsed then (Telegraf emits it at EOF). `pending` is the text held.
    `fast=False` disables the shortcut for simple lines (`fast_line`), for checking it against the machine.
    """

    def __init__(self, *, fast: bool = True) -> None:
        self._fast = fast
        self._buf = ""
        self._line = 1  # line number of _buf[0]
        self._discarding = False
        self._closed = False

    @property
    def pending(self) -> str:
        """Text received but not yet turned into a metric or an error."""
        return "" if self._discarding else self._buf

    def feed(self, text: str) -> list[Metric | LineProtocolParseError]:
        if self._closed:
            raise RuntimeError("StreamParser.feed() after close()")
        self._buf += text
        return self._run(eof=False)

    def close(self) -> list[Metric | LineProtocolParseError]:
        """End of stream: parse what is left as Telegraf does at EOF."""
        self._closed = True
        return self._run(eof=True)

    def _run(self, eof: bool) -> list[Metric | LineProtocolParseError]:
        out: list[Metric | LineProtocolParseError] = []
        if self._discarding:
            newline = self._buf.find("\n")
            if newline < 0:
                self._consume(len(self._buf))
                return out
            self._consume(newline + 1)
            self._discarding = False
        machine = _Machine(self._buf, eof, self._fast)
        pos = 0
        while pos < len(self._buf):
            try:
                unit = machine.unit(pos)
            except _NeedMore:
                break
            if unit.metric is not None:
                out.append(unit.metric)
            elif unit.error_pos >= 0:
                out.append(self._make_error(unit.error_pos, unit.reason))
                if unit.end < 0:
                    self._discarding = True
                    pos = len(self._buf)
                    break
            pos = unit.end
        self._consume(pos)
        return out

    def _consume(self, count: int) -> None:
        self._line += self._buf.count("\n", 0, count)
        self._buf = self._buf[count:]

    def _make_error(self, pos: int, reason: str) -> LineProtocolParseError:
        # Units start at a line start, so the line of the error begins inside the buffer.
        before = self._buf[:pos]
        line = self._line + before.count("\n")
        text = before[before.rfind("\n") + 1 :]
        return LineProtocolParseError(reason, line, len(_utf8(text)) + 1, _error_text(text))


def _error_text(text: str) -> str:
    """ParseError.Error()'s excerpt: the line up to the error, trimmed to its last 1024 bytes."""
    raw = _utf8(text)
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if len(raw) > MAX_ERROR_BUFFER:
        raw = b"..." + raw[-MAX_ERROR_BUFFER:] + b"<-- here"
    return raw.decode("utf-8", "surrogateescape")


def parse_stream(
    text: str, *, eof: bool = False, fast: bool = True
) -> tuple[list[Metric], list[LineProtocolParseError]]:
    """Parse `text` as execd's stdout: return the metrics and the errors, in order.

    Without `eof`, a last line lacking its newline is not a metric yet: it is reported as an
    `IncompleteLineError` at the end of the error list (unless it is blank or a comment, which Telegraf
    would skip). With `eof=True` the stream ends after `text`, and that line is parsed as at process exit.
    """
    parser = StreamParser(fast=fast)
    events = parser.feed(text)
    if eof:
        events += parser.close()
    metrics = [event for event in events if isinstance(event, Metric)]
    errors = [event for event in events if isinstance(event, LineProtocolParseError)]
    tail = parser.pending
    if not eof and tail.strip(_WS + "\r\n") and not tail.lstrip(_WS).startswith("#"):
        errors.append(IncompleteLineError(parser._line, tail))
    return metrics, errors


def parse_line(text: str) -> Metric:
    """Parse text holding exactly one metric line (its final newline optional, as at EOF).

    Raises LineProtocolParseError with Telegraf's message if Telegraf would reject it, or if the text
    yields no metric or more than one.
    """
    metrics, errors = parse_stream(text, eof=True)
    if errors:
        raise errors[0]
    if len(metrics) != 1:
        raise LineProtocolParseError(f"expected exactly one metric, got {len(metrics)}", 1, 1, text[:80])
    return metrics[0]
