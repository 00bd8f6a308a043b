"""The envelope contract: vectors, naming, ids, round trips, and parse_line under fuzzing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from duckspool import LineRejected, TelemetryEvent, make_event, parse_line, telemetry_context
from duckspool.contracts import (
    CURRENT_SCHEMA_VERSION,
    NAMESPACES,
    check_event_type,
    current_context,
    register_schema_version,
    unregister_schema_version,
    uuid7,
    uuid7_time_ms,
)
from tests.conftest import load_vectors

VECTORS = load_vectors()


@pytest.mark.parametrize("case", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector_outcome(case: dict[str, Any]) -> None:
    line = case["line"].encode()
    if case["expect"] == "load":
        event = parse_line(line)
        assert parse_line(event.to_json_line()) == event
    else:
        with pytest.raises(LineRejected) as info:
            parse_line(line)
        if case["reason"]:
            assert info.value.reason == case["reason"]
        assert info.value.detail


def test_contract_violation_detail_names_the_field() -> None:
    by_name = {v["name"]: v for v in VECTORS}
    expected = {
        "unknown_namespace": "eventType: unknown namespace 'billing'",
        "bare_namespace": "eventType:",
        "missing_session": "sessionId:",
        "empty_user": "userId:",
        "bad_uuid": "id:",
        "naive_timestamp": "timestamp:",
        "payload_not_object": "payload:",
        "extra_top_level_key": "extra:",
        "schema_version_zero": "schemaVersion:",
    }
    for name, prefix in expected.items():
        with pytest.raises(LineRejected) as info:
            parse_line(by_name[name]["line"].encode())
        assert info.value.detail.startswith(prefix), (name, info.value.detail)


def test_offset_timestamp_is_normalised_to_utc() -> None:
    by_name = {v["name"]: v for v in VECTORS}
    event = parse_line(by_name["offset_timestamp"]["line"].encode())
    assert event.timestamp == datetime(2026, 11, 26, 10, 15, 30, tzinfo=UTC)
    assert event.timestamp.tzinfo is UTC


def test_build_by_python_names_and_by_wire_names() -> None:
    a = TelemetryEvent(event_type="job.run.completed", session_id="s", user_id="u",
                       correlation_id="c")
    b = TelemetryEvent.model_validate({"id": str(a.id), "eventType": "job.run.completed",
                                       "sessionId": "s", "userId": "u", "correlationId": "c",
                                       "timestamp": a.timestamp})
    assert a == b
    assert a.schema_version == CURRENT_SCHEMA_VERSION
    assert a.payload == {}
    assert a.product_id is None
    assert a.namespace == "job"


def test_event_is_frozen() -> None:
    e = make_event("action.auth.login", session_id="s", user_id="u")
    with pytest.raises(ValidationError):
        e.user_id = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    "bad",
    [
        {"timestamp": datetime(2026, 1, 1)},  # naive
        {"timestamp": 1_700_000_000},  # a number is not ISO-8601
        {"schema_version": 0},
        {"schema_version": True},
        {"session_id": ""},
        {"session_id": "x" * 257},
        {"user_id": "bad\nid"},
        {"event_type": "action." + "a" * 130},
        {"event_type": "action..login"},
        {"event_type": "action.Login"},
        {"event_type": "action.9lives"},
        {"payload": [1, 2]},
        {"unknown": 1},
    ],
)
def test_invalid_events_are_refused(bad: dict[str, Any]) -> None:
    fields: dict[str, Any] = {"event_type": "action.auth.login", "session_id": "s",
                              "user_id": "u", "correlation_id": "c"}
    fields.update(bad)
    with pytest.raises(ValidationError):
        TelemetryEvent(**fields)


def test_event_type_rules_explain_themselves() -> None:
    for ns in NAMESPACES:
        assert check_event_type(f"{ns}.thing_1.done") == f"{ns}.thing_1.done"
    with pytest.raises(ValueError, match="unknown namespace"):
        check_event_type("billing.paid")
    with pytest.raises(ValueError, match="bare namespace"):
        check_event_type("job")
    with pytest.raises(ValueError, match="lowercase"):
        check_event_type("job.Run")
    with pytest.raises(ValueError, match="maximum"):
        check_event_type("job." + "a" * 200)


def test_to_json_line_is_camel_case_utc_z_without_newline() -> None:
    e = make_event("action.auth.login", {"k": "v"}, session_id="s", user_id="u",
                   correlation_id="c",
                   timestamp=datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2))))
    line = e.to_json_line()
    assert not line.endswith(b"\n")
    obj = orjson.loads(line)
    assert set(obj) == {"id", "eventType", "sessionId", "userId", "productId", "correlationId",
                        "timestamp", "schemaVersion", "payload"}
    assert obj["timestamp"] == "2026-01-01T10:00:00Z"


# -- UUIDv7 ---------------------------------------------------------------------------
def test_uuid7_version_variant_and_time() -> None:
    before = datetime.now(UTC).timestamp() * 1000
    u = uuid7()
    after = datetime.now(UTC).timestamp() * 1000
    assert u.version == 7
    assert u.variant == uuid.RFC_4122
    assert before - 1 <= uuid7_time_ms(u) <= after + 1
    assert uuid.UUID(str(u)) == u
    assert hash(uuid.UUID(str(u))) == hash(u)


def test_uuid7_strictly_increasing_even_within_a_millisecond() -> None:
    ids = [uuid7() for _ in range(50_000)]
    assert all(a < b for a, b in zip(ids, ids[1:], strict=False))
    assert len(set(ids)) == len(ids)


def test_uuid7_monotonic_when_the_clock_goes_back(monkeypatch: pytest.MonkeyPatch) -> None:
    from duckspool.contracts import _uuid7

    first = uuid7()
    monkeypatch.setattr(_uuid7, "_time_ns", lambda: 1_000_000_000)  # 1970
    later = [uuid7() for _ in range(5000)]  # overflows the 12-bit counter at least once
    assert first < later[0]
    assert all(a < b for a, b in zip(later, later[1:], strict=False))


def test_default_ids_are_time_ordered() -> None:
    events = [make_event("action.x", session_id="s", user_id="u") for _ in range(100)]
    assert [e.id for e in events] == sorted(e.id for e in events)


# -- context ------------------------------------------------------------------------------
def test_telemetry_context_nests_and_restores() -> None:
    assert current_context().session_id is None
    with telemetry_context(session_id="s1", user_id="u1", correlation_id="c1"):
        with telemetry_context(user_id="u2", product_id="p"):
            e = make_event("action.auth.login")
            assert (e.session_id, e.user_id, e.correlation_id, e.product_id) == (
                "s1", "u2", "c1", "p")
        assert make_event("action.auth.login").user_id == "u1"
    assert current_context().user_id is None


def test_make_event_without_ids_is_a_contract_error() -> None:
    from duckspool import InvalidEvent

    with pytest.raises(InvalidEvent, match="session_id"):
        make_event("action.auth.login")


async def _in_task(name: str) -> str:
    import asyncio

    with telemetry_context(session_id=name, user_id="u"):
        await asyncio.sleep(0.01)
        return make_event("action.x").session_id


def test_context_follows_asyncio_tasks() -> None:
    import asyncio

    async def main() -> list[str]:
        return list(await asyncio.gather(*(_in_task(f"s{i}") for i in range(5))))

    assert asyncio.run(main()) == [f"s{i}" for i in range(5)]


# -- schema versions ----------------------------------------------------------------------
def test_registered_version_is_converted_and_unknown_is_rejected() -> None:
    line = orjson.dumps({"id": str(uuid7()), "eventType": "action.auth.login",
                         "session": "s", "userId": "u", "correlationId": "c",
                         "timestamp": "2026-11-26T10:15:30Z", "schemaVersion": 2,
                         "payload": {}})
    with pytest.raises(LineRejected) as info:
        parse_line(line)
    assert info.value.reason == "unsupported_schema_version"

    def v2_to_v1(obj: dict[str, Any]) -> dict[str, Any]:
        out = dict(obj)
        out["sessionId"] = out.pop("session")
        return out

    register_schema_version(2, v2_to_v1)
    try:
        event = parse_line(line)
        assert event.session_id == "s"
        assert event.schema_version == CURRENT_SCHEMA_VERSION
    finally:
        unregister_schema_version(2)


def test_a_failing_converter_rejects_the_line_only() -> None:
    def broken(obj: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("nope")

    register_schema_version(3, broken)
    try:
        with pytest.raises(LineRejected) as info:
            parse_line(b'{"schemaVersion": 3}')
        assert info.value.reason == "invalid_event"
        assert "converter" in info.value.detail
    finally:
        unregister_schema_version(3)


# -- properties ---------------------------------------------------------------------------
_ids = st.text(alphabet=st.characters(min_codepoint=0x20, blacklist_characters="\x7f",
                                      blacklist_categories=("Cs",)),
               min_size=1, max_size=40)
_json_scalars = (st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
                 | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20))
_json = st.recursive(_json_scalars,
                     lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                     max_leaves=20)
_segment = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)


@st.composite
def events(draw: st.DrawFn) -> TelemetryEvent:
    ns = draw(st.sampled_from(NAMESPACES))
    rest = draw(st.lists(_segment, min_size=1, max_size=3))
    ts = draw(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1),
                           timezones=st.just(UTC)))
    return TelemetryEvent(
        id=draw(st.uuids()),
        event_type=".".join([ns, *rest]),
        session_id=draw(_ids),
        user_id=draw(_ids),
        product_id=draw(st.none() | _ids),
        correlation_id=draw(_ids),
        timestamp=ts,
        payload=draw(st.dictionaries(st.text(max_size=10), _json, max_size=5)),
    )


@given(events())
@settings(max_examples=300, deadline=None)
def test_round_trip_is_exact(event: TelemetryEvent) -> None:
    assert parse_line(event.to_json_line()) == event


@given(st.binary(max_size=600))
@settings(max_examples=1500, deadline=None)
def test_parse_line_raises_only_line_rejected_on_arbitrary_bytes(data: bytes) -> None:
    try:
        parse_line(data)
    except LineRejected as exc:
        assert exc.reason in {"invalid_json", "not_an_object", "invalid_event",
                              "unsupported_schema_version"}


@given(st.dictionaries(st.sampled_from(["id", "eventType", "sessionId", "userId", "productId",
                                        "correlationId", "timestamp", "schemaVersion",
                                        "payload", "x"]), _json, max_size=10))
@settings(max_examples=800, deadline=None)
def test_parse_line_on_arbitrary_objects(obj: dict[str, Any]) -> None:
    try:
        parse_line(orjson.dumps(obj))
    except LineRejected as exc:
        assert exc.reason in {"invalid_event", "unsupported_schema_version"}


def test_parse_line_on_hostile_inputs() -> None:
    for data in [b"", b"\x00" * 10, b"\xff\xfe", b"[" * 5000, b'{"a":' * 3000,
                 b'"\\ud800"', b"1e999999", b"{" + b'"k":1,' * 10000 + b'"z":1}']:
        with pytest.raises(LineRejected):
            parse_line(data)
