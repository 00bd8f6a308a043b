"""Numbers the contract refuses: RFC 8259 has no NaN or Infinity, and no double holds 1e400."""

from __future__ import annotations

import pytest

from duckspool import LineRejected, parse_line
from duckspool.contracts import INVALID_JSON, NUMBER_OUT_OF_RANGE
from tests.conftest import sample_event

BASE = sample_event(1).to_json_line()


def with_payload(raw: bytes) -> bytes:
    head, _, _ = BASE.partition(b'"payload":')
    return head + b'"payload":' + raw + b"}"


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity", b"-NaN", b"+Infinity"])
@pytest.mark.parametrize("where", ["payload", "nested", "array"])
def test_nan_and_infinity_are_invalid_json(token: bytes, where: str) -> None:
    raw = {
        "payload": b'{"x":%s}' % token,
        "nested": b'{"a":{"b":%s}}' % token,
        "array": b'{"a":[1,%s]}' % token,
    }[where]
    with pytest.raises(LineRejected) as info:
        parse_line(with_payload(raw))
    assert info.value.reason == INVALID_JSON


@pytest.mark.parametrize("number", [b"1e400", b"-1e400", b"1E+309", b"9" * 310 + b".5"])
def test_a_number_past_a_double_is_refused_with_its_path(number: bytes) -> None:
    with pytest.raises(LineRejected) as info:
        parse_line(with_payload(b'{"a":{"b":[0,%s]}}' % number))
    assert info.value.reason == NUMBER_OUT_OF_RANGE
    assert info.value.detail.startswith("payload.a.b.1:")


def test_a_number_past_a_double_in_a_line_that_also_breaks_a_rule_is_still_named() -> None:
    line = with_payload(b'{"a":1e400}').replace(b'"sess-1"', b'""')
    with pytest.raises(LineRejected) as info:
        parse_line(line)
    assert info.value.reason == NUMBER_OUT_OF_RANGE


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"a":"NaN","b":"Infinity"}', {"a": "NaN", "b": "Infinity"}),
        (b'{"a":1e308,"b":-1.7976931348623157e308}', {"a": 1e308, "b": -1.7976931348623157e308}),
        (b'{"a":1e-400}', {"a": 0.0}),  # underflow rounds to the nearest double, like 0.1 does
        (b'{"e100":1}', {"e100": 1}),
        (b'{"a":123456789012345678901234567890}', {"a": 123456789012345678901234567890}),
    ],
)
def test_finite_numbers_and_strings_that_look_like_them_are_kept(
    raw: bytes, expected: dict[str, object]
) -> None:
    event = parse_line(with_payload(raw))
    assert event.payload == expected
