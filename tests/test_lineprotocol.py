"""The encoder and the strict parser against docs/telegraf.md §4.1 (vectors #1-#40) and properties.

Each vector is checked twice: the encoder writes exactly the "correct encoding" (or rejects, as the policy
says), and the strict parser reads that text back as the "Telegraf reads" column. Rows whose correct
encoding contains a backslash (#10, #16) are rejected by our stricter policy; the parser still checks what
Telegraf would read from them.
"""

from __future__ import annotations

import enum
import math
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from telegraf_lutron.lineproto_parse import (
    IncompleteLineError,
    LineProtocolParseError,
    Metric,
    StreamParser,
    Uint,
    fast_line,
    parse_line,
    parse_stream,
)
from telegraf_lutron.lineprotocol import (
    LineProtocolError,
    Unsigned,
    encode,
    encode_fields,
    line,
    safe_tag_value,
    series_prefix,
)

TS = 1700000000123456789


def roundtrip(text: str) -> Metric:
    """Parse encoder output: it must be exactly one newline-terminated metric line."""
    assert text.endswith("\n")
    metrics, errors = parse_stream(text)  # no EOF: the metric must not depend on the stream ending
    assert errors == []
    assert len(metrics) == 1
    return metrics[0]


# -- docs/telegraf.md §4.1 vectors: encoder output and what Telegraf reads back ---------------------------------------

# (vector, measurement, tags, fields, correct encoding without "\n", (name, tags, fields) as read back)
ENCODED = [
    ("1", "my power", {}, {"w": 1.5}, r"my\ power w=1.5", ("my power", {}, {"w": 1.5})),
    ("2", "a,b", {}, {"w": 1.5}, r"a\,b w=1.5", ("a,b", {}, {"w": 1.5})),
    ("3", "a=b", {}, {"w": 1.5}, "a=b w=1.5", ("a=b", {}, {"w": 1.5})),
    (
        "7",
        "m",
        {"room": "living room"},
        {"w": 1.5},
        r"m,room=living\ room w=1.5",
        ("m", {"room": "living room"}, {"w": 1.5}),
    ),
    ("8", "m", {"k,=1": "v,=1"}, {"w": 1.5}, r"m,k\,\=1=v\,\=1 w=1.5", ("m", {"k,=1": "v,=1"}, {"w": 1.5})),
    ("9", "m", {"t": 'say "hi"'}, {"w": 1.5}, r'm,t=say\ "hi" w=1.5', ("m", {"t": 'say "hi"'}, {"w": 1.5})),
    ("13", "m", {"t": ""}, {"w": 1.5}, "m w=1.5", ("m", {}, {"w": 1.5})),
    (
        "14",
        "m",
        {"city": "Zürich 🔌"},
        {"w": 1.5},
        r"m,city=Zürich\ 🔌 w=1.5",
        ("m", {"city": "Zürich 🔌"}, {"w": 1.5}),
    ),
    ("15", "m", {}, {"total watts": 1.5}, r"m total\ watts=1.5", ("m", {}, {"total watts": 1.5})),
    (
        "17",
        "m",
        {},
        {"s": "hello world, a=b"},
        'm s="hello world, a=b"',
        ("m", {}, {"s": "hello world, a=b"}),
    ),
    ("18", "m", {}, {"s": 'say "hi"'}, r'm s="say \"hi\""', ("m", {}, {"s": 'say "hi"'})),
    ("19", "m", {}, {"s": "C:\\dir\\file"}, r'm s="C:\\dir\\file"', ("m", {}, {"s": "C:\\dir\\file"})),
    ("20", "m", {}, {"s": "ab\\"}, r'm s="ab\\"', ("m", {}, {"s": "ab\\"})),
    ("21", "m", {}, {"s": "a\nb"}, 'm s="a\nb"', ("m", {}, {"s": "a\nb"})),
    ("22-crlf", "m", {}, {"s": "a\r\nb"}, 'm s="a\r\nb"', ("m", {}, {"s": "a\r\nb"})),
    ("22-tab", "m", {}, {"s": "a\tb"}, 'm s="a\tb"', ("m", {}, {"s": "a\tb"})),
    ("22-emoji", "m", {}, {"s": "🔌"}, 'm s="🔌"', ("m", {}, {"s": "🔌"})),
    ("22-empty", "m", {}, {"s": ""}, 'm s=""', ("m", {}, {"s": ""})),
    ("24", "m", {}, {"w": 230.123456789}, "m w=230.123456789", ("m", {}, {"w": 230.123456789})),
    ("25", "m", {}, {"w": 1234567.0}, "m w=1234567.0", ("m", {}, {"w": 1234567.0})),
    ("26", "m", {}, {"w": float(2**53)}, "m w=9007199254740992.0", ("m", {}, {"w": float(2**53)})),
    ("27", "m", {}, {"w": 230.0}, "m w=230.0", ("m", {}, {"w": 230.0})),
    ("28", "m", {}, {"w": 5e-324}, "m w=5e-324", ("m", {}, {"w": 5e-324})),
    ("29", "m", {}, {"w": math.nan, "x": 1.0, "y": math.inf}, "m x=1.0", ("m", {}, {"x": 1.0})),
    ("30", "m", {}, {"n": 42}, "m n=42i", ("m", {}, {"n": 42})),
    (
        "31",
        "m",
        {},
        {"n": 2**63 - 1, "o": -(2**63)},
        "m n=9223372036854775807i,o=-9223372036854775808i",
        ("m", {}, {"n": 2**63 - 1, "o": -(2**63)}),
    ),
    ("32", "m", {}, {"n": Unsigned(2**63)}, "m n=9223372036854775808u", ("m", {}, {"n": 2**63})),
    ("33", "m", {}, {"b": True, "c": False}, "m b=true,c=false", ("m", {}, {"b": True, "c": False})),
    ("35", "m", {}, {"w": 1.5}, "m w=1.5", ("m", {}, {"w": 1.5})),
    ("37", "m", {}, {"a": Unsigned(2**64 - 1)}, "m a=18446744073709551615u", ("m", {}, {"a": 2**64 - 1})),
]


@pytest.mark.parametrize(
    ("measurement", "tags", "fields", "expected", "read"),
    [pytest.param(*row[1:], id=f"#{row[0]}") for row in ENCODED],
)
def test_vector_encodes_exactly_and_reads_back_as_telegraf_does(
    measurement: str,
    tags: dict[str, str],
    fields: dict[str, object],
    expected: str,
    read: tuple[str, dict[str, str], dict[str, object]],
) -> None:
    text = encode(measurement, tags, fields)  # type: ignore[arg-type]
    assert text == expected + "\n"
    metric = roundtrip(text)
    assert (metric.name, metric.tags, metric.fields) == read
    assert metric.ts is None  # vector 35: no timestamp, Telegraf uses the parse time
    for key, value in read[2].items():
        assert type(metric.fields[key]) is type(value) or isinstance(fields[key], Unsigned)


@pytest.mark.parametrize(
    ("measurement", "tags", "fields"),
    [
        pytest.param("#power", {}, {"w": 1.5}, id="#4-leading-hash"),
        pytest.param("ab\\", {}, {"w": 1.5}, id="#5-backslash-measurement"),
        pytest.param("a\nb", {}, {"w": 1.5}, id="#6-newline-measurement"),
        pytest.param("m", {"path": "C:\\dir"}, {"w": 1.5}, id="#10-backslash-tag-value"),
        pytest.param("m", {"t": "ab\\"}, {"w": 1.5}, id="#11-trailing-backslash-tag"),
        pytest.param("m", {"t": "a\nb"}, {"w": 1.5}, id="#12-newline-tag-value"),
        pytest.param("m", {"t": "a\tb"}, {"w": 1.5}, id="#12-tab-tag-value"),
        pytest.param("m", {}, {"a\\b": 1.5}, id="#16-backslash-field-key"),
        pytest.param("m", {}, {"w": math.nan, "x": -math.inf}, id="#29-only-nan-and-inf"),
        pytest.param("m", {}, {"n": 2**63}, id="#32-int-beyond-int64"),
        pytest.param("m", {"t": "x"}, {}, id="#34-no-fields"),
    ],
)
def test_vector_rejected_by_the_policy(
    measurement: str, tags: dict[str, str], fields: dict[str, object]
) -> None:
    with pytest.raises(LineProtocolError) as caught:
        encode(measurement, tags, fields)  # type: ignore[arg-type]
    assert "\n" not in str(caught.value)


def test_vector_4_hash_line_is_a_comment_to_telegraf() -> None:
    assert parse_stream("#power w=1.5\n") == ([], [])


def test_vector_5_trailing_backslash_in_measurement_is_a_parse_error() -> None:
    metrics, errors = parse_stream("ab\\ w=1.5\n")
    assert metrics == []
    assert len(errors) == 1


def test_vector_6_raw_newline_in_measurement_gives_an_error_and_a_bogus_metric() -> None:
    metrics, errors = parse_stream("a\nb w=1.5\n")
    assert [m.name for m in metrics] == ["b"]
    assert [e.reason for e in errors] == ["expected tag"]


def test_vector_10_tag_backslash_is_kept_verbatim_and_doubled_backslashes_stay_doubled() -> None:
    assert parse_line("m,path=C:\\dir w=1.5").tags == {"path": "C:\\dir"}
    assert parse_line("m,path=C:\\\\dir w=1.5").tags == {"path": "C:\\\\dir"}
    assert encode("m", {"path": safe_tag_value("C:\\dir")}, {"w": 1.5}) == "m,path=C:⧵dir w=1.5\n"


def test_vector_11_escaped_trailing_backslash_in_tag_is_a_parse_error() -> None:
    with pytest.raises(LineProtocolParseError):
        parse_line("m,t=ab\\\\ w=1.5")
    with pytest.raises(LineProtocolParseError):
        parse_line("m,t=ab\\ w=1.5")


def test_vector_12_raw_tab_or_newline_in_tag_value_is_rejected_by_telegraf() -> None:
    assert parse_stream("m,t=a\tb w=1.5\n")[0] == []
    metrics, errors = parse_stream("m,t=a\nb w=1.5\n")
    assert [m.name for m in metrics] == ["b"]  # the bogus metric after the error
    assert len(errors) == 1


def test_vector_13_empty_tag_value_is_a_parse_error() -> None:
    with pytest.raises(LineProtocolParseError, match="expected tag"):
        parse_line("m,t= w=1.5")


def test_vector_16_field_key_backslash_is_kept_verbatim() -> None:
    assert parse_line("m a\\b=1.5").fields == {"a\\b": 1.5}
    assert parse_line("m a\\\\b=1.5").fields == {"a\\\\b": 1.5}


def test_vector_23_unknown_escape_in_string_is_a_parse_error() -> None:
    with pytest.raises(LineProtocolParseError, match="expected field"):
        parse_line('m s="C:\\dir"')


def test_vector_27_integer_looking_float_reads_as_float() -> None:
    value = parse_line("m w=230").fields["w"]
    assert value == 230.0
    assert type(value) is float


def test_vector_29_nan_and_inf_text_lose_the_whole_line() -> None:
    for text in ("m w=nan", "m w=inf", "m w=NaN", "m w=+Inf", "m w=-inf"):
        with pytest.raises(LineProtocolParseError):
            parse_line(text)


def test_vector_32_int64_overflow_is_out_of_range() -> None:
    with pytest.raises(LineProtocolParseError, match="value out of range"):
        parse_line("m n=9223372036854775808i")
    with pytest.raises(LineProtocolParseError, match="value out of range"):
        parse_line("m n=-9223372036854775809i")


def test_vector_33_short_booleans_are_valid() -> None:
    assert parse_line("m b=t,c=f,d=T,e=F,g=TRUE,h=False").fields == {
        "b": True,
        "c": False,
        "d": True,
        "e": False,
        "g": True,
        "h": False,
    }


def test_vector_34_no_fields_is_a_parse_error() -> None:
    with pytest.raises(LineProtocolParseError):
        parse_line(f"m,t=x {TS}")


def test_vector_36_timestamp_is_integer_nanoseconds() -> None:
    ts = round(1700000000.5 * 1_000_000_000)
    assert encode("m", {}, {"w": 1.5}, ts) == "m w=1.5 1700000000500000000\n"
    assert parse_line("m w=1.5 1700000000500000000").ts == 1700000000500000000
    assert encode("m", {}, {"w": 1.5}, TS) == f"m w=1.5 {TS}\n"
    assert roundtrip(encode("m", {}, {"w": 1.5}, TS)).ts == TS


@pytest.mark.parametrize(
    "ts",
    [1700000000.5, 1700000000, 1700000000123, 1700000000123456, True, "1700000000123456789", 2**63],
    ids=["float-seconds", "int-seconds", "ms", "us", "bool", "str", "beyond-int64"],
)
def test_vector_36_timestamps_that_are_not_nanoseconds_are_rejected(ts: object) -> None:
    with pytest.raises(LineProtocolError, match="timestamp"):
        encode("m", {}, {"w": 1.5}, ts)  # type: ignore[arg-type]


def test_vector_37_uint64_reads_as_unsigned() -> None:
    value = parse_line("m a=18446744073709551615u").fields["a"]
    assert isinstance(value, Uint)
    assert value == 2**64 - 1
    with pytest.raises(LineProtocolParseError, match="value out of range"):
        parse_line("m a=18446744073709551616u")


@pytest.mark.parametrize("value", ["01i", "+1i", "+1.5", "0x10", "1_000", "NaN", "tRuE"])
def test_vector_38_malformed_numbers_and_booleans_are_parse_errors(value: str) -> None:
    with pytest.raises(LineProtocolParseError):
        parse_line(f"m a={value}")


@pytest.mark.parametrize(
    ("value", "expected"), [("1.", 1.0), (".5", 0.5), ("1E5", 1e5), ("-1.5e-3", -1.5e-3), ("01.5", 1.5)]
)
def test_vector_39_float_spellings_telegraf_accepts(value: str, expected: float) -> None:
    parsed = parse_line(f"m a={value}").fields["a"]
    assert parsed == expected
    assert type(parsed) is float


def test_vector_40_last_line_without_newline_is_emitted_only_at_eof() -> None:
    metrics, errors = parse_stream("m w=1\nm w=2")
    assert [m.fields for m in metrics] == [{"w": 1.0}]
    assert len(errors) == 1
    assert isinstance(errors[0], IncompleteLineError)
    metrics, errors = parse_stream("m w=1\nm w=2", eof=True)
    assert [m.fields for m in metrics] == [{"w": 1.0}, {"w": 2.0}]
    assert errors == []


def test_vector_40_encoder_lines_always_end_in_newline() -> None:
    assert encode("m", {}, {"w": 1.0}).endswith("\n")
    assert line(series_prefix("m", {}), {"w": 1.0}, TS).endswith("\n")


# -- the parser beyond the vectors (cases from Telegraf's own parser tests) --------------------------


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        ("cpu,ho\\st=localhost value=42", {"ho\\st": "localhost"}),
        ("cpu,ho\\=st=localhost value=42", {"ho=st": "localhost"}),
        ("cpu,ho\\,st=localhost value=42", {"ho,st": "localhost"}),
        ("cpu,host=two\\ words value=42", {"host": "two words"}),
        ("cpu,host=two\\\\ words value=42", {"host": "two\\ words"}),
        ("cpu,host=two\\\\\\ words value=42", {"host": "two\\\\ words"}),
        ('cpu,t=a\\"b value=42', {"t": 'a\\"b'}),  # no space/comma/equals: nothing is unescaped
        ('cpu,t=a\\"b\\ c value=42', {"t": 'a"b c'}),  # space present: \" is unescaped too
    ],
)
def test_tag_unescaping_follows_telegraf(text: str, tags: dict[str, str]) -> None:
    assert parse_line(text).tags == tags


def test_measurement_unescapes_only_comma_and_space() -> None:
    assert parse_line('m\\"x\\=y w=1').name == 'm\\"x\\=y'
    assert parse_line("m\\ x\\=y w=1").name == "m x\\=y"


def test_tags_are_sorted_and_duplicates_last_win() -> None:
    metric = parse_line("m,z=1,a=2,z=3 w=1,v=2,w=3")
    assert list(metric.tags.items()) == [("a", "2"), ("z", "3")]
    assert metric.fields == {"w": 3.0, "v": 2.0}


def test_separators_are_runs_of_space_tab_vt_ff() -> None:
    metric = parse_line(f"m,t=x \t\v\fw=1\t \v\f{TS}\t ")
    assert metric == Metric("m", {"t": "x"}, {"w": 1.0}, TS)


def test_crlf_line_endings_and_skipped_lines() -> None:
    text = "  \r\n\t# comment\r\n\n   m w=1\r\n#m w=2\nn w=3\r\n"
    metrics, errors = parse_stream(text)
    assert errors == []
    assert [m.name for m in metrics] == ["m", "n"]


@pytest.mark.parametrize(
    "text",
    ["m", "m ", "m,t w=1", "m,=v w=1", "m,t=v,w=1", "m =1", "m w", "m w=1,", "m w=1 x", "m w=1\rx", ",m w=1"],
)
def test_malformed_lines_are_rejected(text: str) -> None:
    with pytest.raises(LineProtocolParseError):
        parse_line(text)


@pytest.mark.parametrize(
    ("text", "ts"),
    [("m w=1 0", 0), ("m w=1 -1", -1), ("m w=1 9223372036854775807", 2**63 - 1), ("m w=1 1", 1)],
)
def test_timestamps_one_to_nineteen_digits(text: str, ts: int) -> None:
    assert parse_line(text).ts == ts


@pytest.mark.parametrize(
    "text", ["m w=1 12345678901234567890", "m w=1 9223372036854775808", "m w=1 -", "m w=1 1.5"]
)
def test_bad_timestamps_are_rejected(text: str) -> None:
    with pytest.raises(LineProtocolParseError):
        parse_line(text)


def test_float_beyond_double_range_is_out_of_range() -> None:
    with pytest.raises(LineProtocolParseError, match="value out of range"):
        parse_line("m w=1e400")
    assert parse_line("m w=1e-400").fields == {"w": 0.0}  # underflow is not an error in Go either


def test_error_messages_match_telegrafs_stream_parser() -> None:
    _, errors = parse_stream("cpu value=42\ncpu value=invalid\ncpu value=42\n")
    assert [str(e) for e in errors] == ['metric parse error: expected field at 2:11: "cpu value="']
    _, errors = parse_stream("foo value=1asdf2.0\nfoo value=2.0\nfoo value=3asdf2.0\nfoo value=4.0\n")
    assert [str(e) for e in errors] == [
        'metric parse error: expected field at 1:12: "foo value=1"',
        'metric parse error: expected field at 3:12: "foo value=3"',
    ]
    _, errors = parse_stream("cpu value=9223372036854775808i\ncpu value=42\n")
    assert [str(e) for e in errors] == [
        'metric parse error: value out of range at 1:31: "cpu value=9223372036854775808i"'
    ]
    _, errors = parse_stream("m a=\n")
    assert [str(e) for e in errors] == ['metric parse error: expected field at 1:5: "m a="']


def test_error_excerpt_is_cut_to_the_last_1024_bytes() -> None:
    _, errors = parse_stream("cpu " + "ab" * 1024 + "=invalid\ncpu value=42\n")
    assert str(errors[0]) == (
        'metric parse error: expected field at 1:2054: "...b' + "ab" * 511 + '=<-- here"'
    )


def test_discard_after_an_error_stops_at_the_first_raw_newline_even_inside_quotes() -> None:
    # The error (at "x") comes before the string's newline, so Telegraf resumes inside the "string".
    metrics, errors = parse_stream('m x=1x,s="a\nb w=2\n')
    assert [m.name for m in metrics] == ["b"]
    assert len(errors) == 1


def test_stream_emits_a_metric_only_when_its_newline_arrives() -> None:
    parser = StreamParser()
    assert parser.feed("m w=1") == []
    assert parser.feed(',s="a\n') == []  # the newline is inside the string
    assert parser.feed('b"') == []
    assert parser.feed("\n") == [Metric("m", {}, {"w": 1.0, "s": "a\nb"}, None)]
    assert parser.pending == ""


def test_stream_reports_an_error_as_soon_as_the_failing_character_arrives() -> None:
    parser = StreamParser()
    events = parser.feed("m w=1x")
    assert len(events) == 1
    assert isinstance(events[0], LineProtocolParseError)
    assert parser.feed("rest of the bad line\nn w=2\n") == [Metric("n", {}, {"w": 2.0}, None)]


def test_stream_close_parses_the_tail_as_at_eof() -> None:
    parser = StreamParser()
    assert parser.feed("m w=1\nn w=") == [Metric("m", {}, {"w": 1.0}, None)]
    events = parser.close()
    assert len(events) == 1
    assert isinstance(events[0], LineProtocolParseError)


# -- encoder details --------------------------------------------------------------------------------


def test_bool_is_checked_before_int() -> None:
    assert encode_fields({"b": True, "n": 1}) == "b=true,n=1i"


class Level(enum.IntEnum):
    FULL = 100


class Watts(float):
    def __repr__(self) -> str:
        return f"Watts({float(self)})"


def test_int_and_float_subclasses_are_written_as_their_plain_values() -> None:
    assert encode_fields({"level": Level.FULL, "w": Watts(1.5), "x": Watts(math.nan)}) == "level=100i,w=1.5"


@pytest.mark.parametrize("value", [None, Decimal("1.5"), b"bytes", [1], 1 + 2j])
def test_unsupported_field_types_are_rejected(value: object) -> None:
    with pytest.raises(LineProtocolError, match="unsupported type"):
        encode_fields({"v": value})  # type: ignore[dict-item]


def test_unsigned_range_is_checked() -> None:
    with pytest.raises(LineProtocolError):
        Unsigned(-1)
    with pytest.raises(LineProtocolError):
        Unsigned(2**64)


@pytest.mark.parametrize(
    ("measurement", "tags", "fields"),
    [
        ("", {}, {"w": 1.0}),
        ("m", {"": "v"}, {"w": 1.0}),
        ("m", {}, {"": 1.0}),
        ("m\u2028x", {}, {"w": 1.0}),
        ("m", {"t": "a\x85b"}, {"w": 1.0}),
        ("m", {"t": "a\x7fb"}, {"w": 1.0}),
        ("m", {"t\x00": "v"}, {"w": 1.0}),
        ("m", {}, {"a\rb": 1.0}),
        ("m", {"t": 5}, {"w": 1.0}),
        (5, {}, {"w": 1.0}),
        ("m", {}, {"s": "lone \ud800 surrogate"}),
    ],
)
def test_policy_rejects_what_telegraf_cannot_read_back(
    measurement: object, tags: dict[str, object], fields: dict[str, object]
) -> None:
    with pytest.raises(LineProtocolError):
        encode(measurement, tags, fields)  # type: ignore[arg-type]


def test_a_rejected_field_key_stays_rejected_on_the_second_call() -> None:
    # Field keys are cached after validation: a bad key must never reach the cache.
    for _ in range(2):
        with pytest.raises(LineProtocolError):
            encode_fields({"a\\b": 1.0})


def test_series_prefix_sorts_tags_and_escapes_once_for_reuse() -> None:
    prefix = series_prefix("lutron zone", {"zone": "Kitchen, Main", "area": "Ground=1", "site": "home"})
    assert prefix == r"lutron\ zone,area=Ground\=1,site=home,zone=Kitchen\,\ Main"
    assert line(prefix, {"level": 75.0}) == prefix + " level=75.0\n"
    assert line(prefix, {"level": 0.0}, TS) == prefix + f" level=0.0 {TS}\n"


def test_line_without_fields_is_rejected() -> None:
    with pytest.raises(LineProtocolError, match="no field"):
        line("m", {"w": math.nan})
    assert encode_fields({"w": math.inf}) is None


def test_hash_is_fine_outside_the_measurements_first_character() -> None:
    metric = roundtrip(encode("m#", {"#t": "#v"}, {"#f": 1.0}))
    assert (metric.name, metric.tags, metric.fields) == ("m#", {"#t": "#v"}, {"#f": 1.0})


# -- safe_tag_value ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("Kitchen", "Kitchen"),
        ("C:\\dir", "C:⧵dir"),
        ("ab\\", "ab⧵"),
        ("Living\nRoom", "Living Room"),
        ("Living\r\n\tRoom", "Living Room"),
        ("  Hall  \x00 Way\x7f\x85\u2028\u2029 ", "Hall Way"),
        ("Nbsp\u00a0\u00a0Room", "Nbsp Room"),
        ('Say "hi", a=b', 'Say "hi", a=b'),
        ("Zürich 🔌", "Zürich 🔌"),
        ("#1 Lamp", "#1 Lamp"),
        ("", ""),
        ("\t\n \x00", ""),
        ("bad \ud800 half", "bad \ufffd half"),
    ],
)
def test_safe_tag_value_substitutes_only_what_cannot_be_written(raw: str, safe: str) -> None:
    assert safe_tag_value(raw) == safe


@given(st.text(alphabet=st.characters(codec=None)))
@example('Kitchen "Main", a=b \\ 🔌\n')
@example("\ud800")
def test_property_any_str_tag_value_after_safe_tag_value_round_trips(raw: str) -> None:
    value = safe_tag_value(raw)
    assert safe_tag_value(value) == value  # idempotent
    metric = roundtrip(encode("lutron_zone", {"zone": value, "site": "home"}, {"level": 1.0}))
    expected = {"site": "home", "zone": value} if value else {"site": "home"}
    assert metric.tags == expected


FORBIDDEN_IN_NAMES = set("\\") | {chr(c) for c in range(0x20)} | {chr(c) for c in range(0x7F, 0xA0)}
FORBIDDEN_IN_NAMES |= {"\u2028", "\u2029"}


@given(st.text())
@example("total watts")
@example("k,=1")
@example("a\\b")
@example('"quoted"')
def test_property_any_field_key_round_trips_or_is_rejected_by_policy(key: str) -> None:
    allowed = bool(key) and not (set(key) & FORBIDDEN_IN_NAMES)
    if not allowed:
        with pytest.raises(LineProtocolError):
            encode("m", {}, {key: 1.0})
        return
    assert roundtrip(encode("m", {}, {key: 1.0})).fields == {key: 1.0}


@given(st.text())
@example("#power")
@example("my power, a=b")
def test_property_any_measurement_round_trips_or_is_rejected_by_policy(name: str) -> None:
    allowed = bool(name) and not name.startswith("#") and not (set(name) & FORBIDDEN_IN_NAMES)
    if not allowed:
        with pytest.raises(LineProtocolError):
            encode(name, {}, {"w": 1.0})
        return
    assert roundtrip(encode(name, {}, {"w": 1.0})).name == name


@given(st.text())
@example('C:\\dir\\file "quoted" \\')
@example('a\r\nb\n\\\\"')
def test_property_any_string_field_round_trips(text: str) -> None:
    assert roundtrip(encode("m", {}, {"s": text})).fields == {"s": text}


@given(st.floats(allow_nan=False, allow_infinity=False))
@example(230.123456789)
@example(5e-324)
@example(-0.0)
@example(1.7976931348623157e308)
def test_property_any_finite_float_round_trips_exactly(value: float) -> None:
    parsed = roundtrip(encode("m", {}, {"w": value})).fields["w"]
    assert type(parsed) is float
    assert parsed.hex() == value.hex()  # bit-exact, sign of zero included


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1), st.integers(min_value=0, max_value=2**64 - 1))
def test_property_int64_and_uint64_round_trip(signed: int, unsigned: int) -> None:
    fields = roundtrip(encode("m", {}, {"i": signed, "u": Unsigned(unsigned)})).fields
    assert fields == {"i": signed, "u": unsigned}
    assert isinstance(fields["u"], Uint)
    assert not isinstance(fields["i"], Uint)


@given(
    st.lists(
        st.tuples(st.text(), st.dictionaries(st.text(max_size=5), st.text(), max_size=3), st.text()),
        min_size=1,
        max_size=5,
    )
)
def test_property_a_batch_of_lines_parses_as_a_stream_line_by_line(
    rows: list[tuple[str, dict[str, str], str]],
) -> None:
    texts = []
    expected = []
    for zone, tags, note in rows:
        safe_tags = {k: safe_tag_value(v) for k, v in tags.items() if safe_tag_value(k) == k and k}
        safe_tags["zone"] = safe_tag_value(zone)
        texts.append(encode("lutron_zone", safe_tags, {"level": 50.0, "note": note}))
        expected.append({k: v for k, v in sorted(safe_tags.items()) if v})
    metrics, errors = parse_stream("".join(texts))
    assert errors == []
    assert [m.tags for m in metrics] == expected
    assert [m.fields["note"] for m in metrics] == [row[2] for row in rows]


# -- the parser's fast path for simple lines must agree with the full machine ------------------------

TOKEN = st.text(alphabet='ab#\\ ,="-.0123456789eEiutrfalsTF\t\r\u00e9\ue000', min_size=0, max_size=6)


@given(st.lists(TOKEN, min_size=1, max_size=12).map(lambda parts: "".join(parts)))
@example("m,t=a\\ b w=1i,x=-2.5e3,y=true 1700000000123456789")
@example("m\\=x,k\\,=v\\= w\\ =1u")
@example("m w=1 12345678901234567890")
@example("\ue000 0=0")
def test_property_fast_path_and_full_machine_agree(text: str) -> None:
    for line_end in ("\n", ""):
        fast = parse_stream(text + line_end, eof=not line_end)
        slow = parse_stream(text + line_end, eof=not line_end, fast=False)
        assert fast[0] == slow[0]
        assert [str(e) for e in fast[1]] == [str(e) for e in slow[1]]


# Mostly pieces the fast path takes (repeated to weight them), some it must hand to the machine.
COMMON_PIECES = ["a", "b", "é", "#", "\\ ", "\\,", "\\="]
RARE_PIECES = ["=", "\\", '"', "\ue000", "\t", "\\\\"]
NAME_PART = st.lists(st.sampled_from(COMMON_PIECES * 8 + RARE_PIECES), min_size=1, max_size=4).map("".join)
COMMON_VALUES = ["1", "1i", "-0", "01", "1u", "t", "True", "FALSE", "1.5e3", "-.5", "1.", "0u"]
RARE_VALUES = [
    "01i",
    "-1u",
    "tRuE",
    "1e400",
    '"s"',
    "9223372036854775808i",
    "18446744073709551616u",
    "x",
    "",
    "-",
]
VALUE = st.sampled_from(COMMON_VALUES * 5 + RARE_VALUES)
STAMP = st.sampled_from(["", "0", "-1", "1700000000123456789", "12345678901234567890", "9999999999999999999"])


@st.composite
def simple_lines(draw: st.DrawFn) -> str:
    """Mostly well-formed lines in the fast path's shape, with escapes and a few defects mixed in."""
    tags = draw(st.lists(st.tuples(NAME_PART, NAME_PART), max_size=3))
    fields = draw(st.lists(st.tuples(NAME_PART, VALUE), min_size=1, max_size=3))
    separator = draw(st.sampled_from([" "] * 8 + ["  ", "\t"]))
    stamp = draw(STAMP)
    text = draw(NAME_PART) + "".join(f",{k}={v}" for k, v in tags)
    text += separator + ",".join(f"{k}={v}" for k, v in fields)
    return text + (separator + stamp if stamp else "")


@given(simple_lines())
@example("m,k=v\\ w w=1i,x=t 1")
def test_property_fast_path_result_matches_the_machine(text: str) -> None:
    fast = parse_stream(text + "\n")
    slow = parse_stream(text + "\n", fast=False)
    assert fast[0] == slow[0]
    assert [str(e) for e in fast[1]] == [str(e) for e in slow[1]]


def test_fast_path_takes_the_encoders_usual_output() -> None:
    text = encode("lutron_zone", {"zone": "Living Room, Main", "area": "a=b"}, {"level": 1.5, "n": 2}, TS)
    assert fast_line(text.rstrip("\n")) == parse_stream(text, fast=False)[0][0]
