"""The bulk path against the contract, line by line: it may accept only what parse_line
accepts, and must store exactly what parse_line parsed (every field, payload included).

Each case loads lines through DuckDB's bulk path with an authority that records
which lines it was handed and stages nothing, so the table holds exactly the
lines the bulk path accepted; each of those is compared with ``parse_line``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from duckspool import DuckDBTelemetryRepository, LineRejected, Loader, parse_line
from duckspool.contracts import TelemetryEvent, uuid7
from duckspool.loader import iter_records, raw_bytes
from duckspool.repository import (
    LoadBatch,
    MemoryTelemetryRepository,
    SegmentLines,
    SegmentLoad,
    StagedFile,
)
from tests.conftest import sample_event, write_segment

PAYLOAD = {"method": "password", "attempt": 3, "mfa": True, "ratio": 0.25, "tags": ["a", "b"],
           "none": None, "text": "line\nbreak \"quoted\" é"}


def canonical(**overrides: Any) -> bytes:
    fields: dict[str, Any] = {"payload": PAYLOAD}
    fields.update(overrides)
    return sample_event(1, **fields).to_json_line()


def set_field(line: bytes, wire: str, raw: bytes) -> bytes:
    """``line`` with the JSON value of top-level ``wire`` replaced by the bytes ``raw``."""
    obj = orjson.loads(line)
    marker = b"\x00MARK\x00"
    keys = list(obj)
    parts = []
    for key in keys:
        value = marker if key == wire else orjson.dumps(obj[key], option=orjson.OPT_UTC_Z)
        parts.append(orjson.dumps(key) + b":" + value)
    return b"{" + b",".join(parts) + b"}" if wire not in keys else (
        b"{" + b",".join(parts) + b"}").replace(marker, raw)


def _id(line: bytes) -> str:
    try:
        return str(orjson.loads(line)["id"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return "00000000-0000-7000-8000-000000000000"


def payload(raw: bytes) -> Callable[[bytes], bytes]:
    return lambda line: set_field(line, "payload", raw)


def field(wire: str, raw: bytes) -> Callable[[bytes], bytes]:
    return lambda line: set_field(line, wire, raw)


def text(wire: str, value: str) -> Callable[[bytes], bytes]:
    return field(wire, orjson.dumps(value))


MUTATIONS: dict[str, Callable[[bytes], bytes]] = {
    "canonical": lambda line: line,
    # structure
    "leading_space": lambda line: b" " + line,
    "trailing_space": lambda line: line + b" ",
    "space_after_colon": lambda line: line.replace(b'"userId":', b'"userId": '),
    "crlf": lambda line: line + b"\r",
    "bom": lambda line: b"\xef\xbb\xbf" + line,
    "trailing_garbage": lambda line: line + b"x",
    "two_objects": lambda line: line + line,
    "truncated": lambda line: line[:-5],
    "missing_key": lambda line: orjson.dumps(
        {k: v for k, v in orjson.loads(line).items() if k != "correlationId"}),
    "extra_key": lambda line: line[:-1] + b',"extra":1}',
    "keys_reordered": lambda line: orjson.dumps(dict(reversed(orjson.loads(line).items()))),
    "duplicate_top_key_first": lambda line: line.replace(b'{"id"', b'{"userId":"other","id"', 1),
    "duplicate_top_key_last": lambda line: line[:-1] + b',"userId":"other"}',
    "product_missing": lambda line: orjson.dumps(
        {k: v for k, v in orjson.loads(line).items() if k != "productId"}),
    "invalid_utf8": lambda line: line.replace(b"password", b"pass\xffword"),
    "nul_raw": lambda line: line.replace(b"password", b"pass\x00word"),
    "empty": lambda line: b"",
    "whitespace": lambda line: b"   \t ",
    "null": lambda line: b"null",
    "array": lambda line: b"[" + line + b"]",
    "string": lambda line: b'"' + line.replace(b'"', b'\\"') + b'"',
    # id
    "id_upper": lambda line: set_field(line, "id", orjson.dumps(_id(line).upper())),
    "id_no_hyphens": lambda line: set_field(line, "id", orjson.dumps(_id(line).replace("-", ""))),
    "id_braces": lambda line: set_field(line, "id", orjson.dumps("{" + _id(line) + "}")),
    "id_urn": lambda line: set_field(line, "id", orjson.dumps(f"urn:uuid:{_id(line)}")),
    "id_v4": lambda line: set_field(
        line, "id", orjson.dumps(_id(line)[:14] + "4" + _id(line)[15:])),
    "id_nil": field("id", b'"00000000-0000-0000-0000-000000000000"'),
    "id_number": field("id", b"12"),
    "id_bad": field("id", b'"not-a-uuid"'),
    "id_escaped": lambda line: set_field(
        line, "id", b'"' + _id(line).replace("7", "\\u0037").encode() + b'"'),
    # eventType
    "type_upper": text("eventType", "Action.Auth.Login"),
    "type_bare": text("eventType", "action"),
    "type_unknown_ns": text("eventType", "billing.paid"),
    "type_digit_segment": text("eventType", "action.1auth"),
    "type_128": text("eventType", "action." + "a" * 121),
    "type_129": text("eventType", "action." + "a" * 122),
    "type_newline": text("eventType", "action.auth.login\n"),
    "type_escaped": field("eventType", b'"action.auth.\\u006cogin"'),
    "type_number": field("eventType", b"7"),
    # ids
    "session_empty": text("sessionId", ""),
    "session_256": text("sessionId", "s" * 256),
    "session_257": text("sessionId", "s" * 257),
    "session_256_multibyte": text("sessionId", "é" * 256),
    "session_257_multibyte": text("sessionId", "é" * 257),
    "session_256_astral": text("sessionId", "😀" * 256),
    "session_quote": text("sessionId", 'a"b'),
    "session_backslash": text("sessionId", "a\\b"),
    "session_slash_escaped": field("sessionId", b'"a\\/b"'),
    "session_unicode_escape": field("sessionId", b'"\\u00e9t\\u00e9"'),
    "session_control": text("sessionId", "a\x01b"),
    "session_del": text("sessionId", "a\x7fb"),
    "session_tab_raw": field("sessionId", b'"a\tb"'),
    "session_nul_escaped": field("sessionId", b'"a\\u0000b"'),
    "session_u2028": text("sessionId", "a\u2028b"),
    "session_emoji": text("sessionId", "sess-😀"),
    "session_spaces": text("sessionId", "   "),
    "session_number": field("sessionId", b"5"),
    "session_null": field("sessionId", b"null"),
    "user_bool": field("userId", b"true"),
    "correlation_array": field("correlationId", b'["c"]'),
    "product_null": field("productId", b"null"),
    "product_empty": text("productId", ""),
    "product_257": text("productId", "p" * 257),
    "product_number": field("productId", b"1"),
    "lone_surrogate_id": field("userId", b'"a\\ud800b"'),
    "surrogate_pair_id": field("userId", b'"a\\ud83d\\ude00b"'),
    # timestamp
    "ts_no_fraction": text("timestamp", "2026-03-01T12:00:00Z"),
    "ts_millis": text("timestamp", "2026-03-01T12:00:00.123Z"),
    "ts_nanos": text("timestamp", "2026-03-01T12:00:00.123456789Z"),
    "ts_zero_micros": text("timestamp", "2026-03-01T12:00:00.000000Z"),
    "ts_offset_zero": text("timestamp", "2026-03-01T12:00:00.123456+00:00"),
    "ts_offset_plus": text("timestamp", "2026-03-01T12:00:00.123456+02:00"),
    "ts_offset_minus_half": text("timestamp", "2026-03-01T12:00:00-05:30"),
    "ts_lower_z": text("timestamp", "2026-03-01t12:00:00z"),
    "ts_space": text("timestamp", "2026-03-01 12:00:00Z"),
    "ts_naive": text("timestamp", "2026-03-01T12:00:00"),
    "ts_date_only": text("timestamp", "2026-03-01"),
    "ts_number": field("timestamp", b"1767225600"),
    "ts_year_0": text("timestamp", "0000-01-01T00:00:00Z"),
    "ts_year_1": text("timestamp", "0001-01-01T00:00:00Z"),
    "ts_year_9999": text("timestamp", "9999-12-31T23:59:59.999999Z"),
    "ts_feb_29_leap": text("timestamp", "2028-02-29T00:00:00Z"),
    "ts_feb_29_plain": text("timestamp", "2026-02-29T00:00:00Z"),
    "ts_apr_31": text("timestamp", "2026-04-31T00:00:00Z"),
    "ts_hour_24": text("timestamp", "2026-03-01T24:00:00Z"),
    "ts_leap_second": text("timestamp", "2026-12-31T23:59:60Z"),
    "ts_month_13": text("timestamp", "2026-13-01T00:00:00Z"),
    "ts_escaped": field("timestamp", b'"2026-03-01T12:00:00\\u005a"'),
    # schemaVersion
    "version_0": field("schemaVersion", b"0"),
    "version_2": field("schemaVersion", b"2"),
    "version_string": field("schemaVersion", b'"1"'),
    "version_float": field("schemaVersion", b"1.0"),
    "version_exp": field("schemaVersion", b"1e0"),
    "version_bool": field("schemaVersion", b"true"),
    "version_negative": field("schemaVersion", b"-1"),
    "version_leading_zero": field("schemaVersion", b"01"),
    "version_null": field("schemaVersion", b"null"),
    # payload shapes
    "payload_empty": payload(b"{}"),
    "payload_array": payload(b"[1,2]"),
    "payload_string": payload(b'"x"'),
    "payload_null": payload(b"null"),
    "payload_nested": payload(b'{"a":{"b":1}}'),
    "payload_nested_dup": payload(b'{"a":{"b":1,"b":2}}'),
    "payload_dup": payload(b'{"a":1,"a":2}'),
    "payload_dup_same": payload(b'{"a":1,"a":1}'),
    # 70 keys: two of them share a bit of the 64-bit key mask whatever the hash
    # (pigeonhole), so the exact fallback decides; the second has one key twice.
    "payload_70_keys": payload(orjson.dumps({f"k{i}": i for i in range(70)})),
    "payload_70_keys_one_dup": payload(
        orjson.dumps({f"k{i}": i for i in range(70)})[:-1] + b',"k7":0}'
    ),
    "payload_array_of_objects": payload(b'{"a":[{"b":1}]}'),
    "payload_deep_arrays": payload(b'{"a":' + b"[" * 300 + b"]" * 300 + b"}"),
    "payload_arrays_63": payload(b'{"a":' + b"[" * 63 + b"]" * 63 + b"}"),
    "payload_empty_key": payload(b'{"":1}'),
    "payload_key_escape": payload(b'{"a\\nb":1}'),
    "payload_whitespace": payload(b'{ "a" : 1 }'),
    # payload numbers
    "nan": payload(b'{"a":NaN}'),
    "infinity": payload(b'{"a":Infinity}'),
    "minus_infinity": payload(b'{"a":-Infinity}'),
    "nan_in_array": payload(b'{"a":[1,NaN]}'),
    "huge": payload(b'{"a":1e400}'),
    "minus_huge": payload(b'{"a":-1e400}'),
    "tiny": payload(b'{"a":1e-400}'),
    "max_double": payload(b'{"a":1.7976931348623157e308}'),
    "max_double_plus": payload(b'{"a":1.7976931348623157e+308}'),
    "min_subnormal": payload(b'{"a":5e-324}'),
    "exp_100": payload(b'{"a":1e100}'),
    "exp_upper": payload(b'{"a":1E5}'),
    "exp_plus": payload(b'{"a":1e+16}'),
    "float_tenth": payload(b'{"a":0.1}'),
    "float_point_zero": payload(b'{"a":1.0}'),
    "float_17_digits": payload(b'{"a":0.30000000000000004}'),
    "float_long": payload(b'{"a":3.14159265358979323846264338327950288}'),
    "minus_zero": payload(b'{"a":-0.0}'),
    "int_minus_zero": payload(b'{"a":-0}'),
    "int_2_63": payload(b'{"a":9223372036854775808}'),
    "int_2_64_minus_1": payload(b'{"a":18446744073709551615}'),
    "int_2_64": payload(b'{"a":18446744073709551616}'),
    "int_minus_2_63": payload(b'{"a":-9223372036854775808}'),
    "int_below_minus_2_63": payload(b'{"a":-9223372036854775809}'),
    "int_huge": payload(b'{"a":123456789012345678901234567890}'),
    "int_leading_zero": payload(b'{"a":01}'),
    "int_18_digits": payload(b'{"a":123456789012345678}'),
    "string_with_nan": payload(b'{"a":"NaN and Infinity"}'),
    # payload strings
    "str_unicode_escape": payload(b'{"a":"\\u00e9"}'),
    "str_slash_escape": payload(b'{"a":"\\/"}'),
    "str_surrogate_pair": payload(b'{"a":"\\ud83d\\ude00"}'),
    "str_lone_surrogate": payload(b'{"a":"\\ud800"}'),
    "str_control_escaped": payload(b'{"a":"\\u0001\\u001f"}'),
    "str_control_raw": payload(b'{"a":"a\x01b"}'),
    "str_del_raw": payload(b'{"a":"a\x7fb"}'),
    "str_nul_escaped": payload(b'{"a":"\\u0000"}'),
    "str_short_escapes": payload(b'{"a":"\\b\\f\\n\\r\\t\\"\\\\"}'),
    "str_u2028_raw": payload('{"a":"\u2028\u2029"}'.encode()),
    "str_emoji_raw": payload('{"a":"😀"}'.encode()),
    "str_braces": payload(b'{"a":"{not an object}"}'),
}


def _recording_authority(calls: dict[int, frozenset[int] | None]) -> Any:
    def authority(ordinal: int, wanted: frozenset[int] | None) -> SegmentLines:
        calls[ordinal] = wanted
        return SegmentLines(None, 0, 0)

    return authority


def bulk_accepts(db: Path, segments: list[list[bytes]], tmp: Path, *,
                 verified: bool = False) -> tuple[
        dict[tuple[int, int], tuple[Any, ...]], dict[int, frozenset[int] | None]]:
    """Load ``segments`` through the bulk path only; the rows it stored, by (segment, line).

    ``verified``: the segments are passed as provenance-verified (as if their names
    carried the CRC-32 of their bytes).
    """
    files, loads = [], []
    for ordinal, lines in enumerate(segments):
        path = write_segment(tmp, f"seg-{ordinal}.jsonl", lines)
        files.append(StagedFile(path, ordinal, verified))
        loads.append(SegmentLoad(ordinal, f"key-{ordinal}-{uuid.uuid4()}", path.name,
                                 path.stat().st_size, len(lines)))
    calls: dict[int, frozenset[int] | None] = {}
    with DuckDBTelemetryRepository(db) as repo:
        result = repo.commit_batch(LoadBatch(loads, raw=files,
                                             authority=_recording_authority(calls)))
        _, rows = repo.fetch(
            "SELECT source_segment, id, event_type, namespace, session_id, user_id, product_id, "
            "correlation_id, occurred_at, schema_version, payload::VARCHAR FROM telemetry_events")
    assert result.inserted == len(rows)
    by_line: dict[tuple[int, int], tuple[Any, ...]] = {}
    index = {(o, orjson.loads(line)["id"] if _is_obj(line) else None): n
             for o, lines in enumerate(segments) for n, line in enumerate(lines, start=1)}
    for row in rows:
        ordinal = int(row[0].removeprefix("seg-").removesuffix(".jsonl"))
        by_line[(ordinal, index[(ordinal, str(row[1]))])] = row[1:]
    return by_line, calls


def _is_obj(line: bytes) -> bool:
    try:
        return isinstance(orjson.loads(line), dict) and "id" in orjson.loads(line)
    except orjson.JSONDecodeError:
        return False


def assert_stored_as_parsed(line: bytes, row: tuple[Any, ...]) -> None:
    """The contract accepts ``line`` and parsed exactly the stored values."""
    event = parse_line(line)  # raises LineRejected: the bulk path took a line the contract refuses
    (id_, event_type, namespace, session_id, user_id, product_id, correlation_id, occurred_at,
     schema_version, stored_payload) = row
    assert id_ == event.id
    assert event_type == event.event_type and namespace == event.namespace
    assert (session_id, user_id, product_id, correlation_id) == (
        event.session_id, event.user_id, event.product_id, event.correlation_id)
    assert occurred_at == event.timestamp
    assert occurred_at.astimezone(UTC).isoformat() == event.timestamp.isoformat()
    assert schema_version == event.schema_version
    # Type-exact (1 is not 1.0) and key-order-exact: orjson writes both the same way.
    assert orjson.dumps(orjson.loads(stored_payload)) == orjson.dumps(event.payload)
    # What SQL sees is exactly what the contract's path stores for the parsed event (no
    # duplicate keys resolved otherwise, numbers written the same way).
    assert stored_payload == contract_payload_text(event.payload)


def contract_payload_text(value: dict[str, Any]) -> str:
    """The payload's text as the contract's path stores it: ``to_json_line``, then DuckDB's
    ``read_json`` (which writes numbers its own way: ``1e+16`` is stored as
    ``10000000000000000.0``)."""
    import tempfile

    import duckdb

    with tempfile.TemporaryDirectory() as tmp, duckdb.connect() as con:
        path = Path(tmp) / "one.jsonl"
        path.write_bytes(orjson.dumps({"payload": value}) + b"\n")
        row = con.execute(
            "SELECT payload::VARCHAR FROM read_json(?, format = 'newline_delimited', "
            "columns = {'payload': 'JSON'})", [str(path)]).fetchone()
    assert row is not None
    return str(row[0])


def segment_wide(line: bytes) -> bool:
    """A line that makes DuckDB refuse (or re-split) its whole segment."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return b"\r" in line or b"\0" in line or line.startswith(b"\xef\xbb\xbf")


def differential(db: Path, tmp: Path, lines: list[bytes], *,
                 verified: bool = False) -> dict[int, bool]:
    """Check every line in one bulk-eligible segment (and the rest alone); line -> accepted.

    ``verified``: the segments are passed as provenance-verified.
    """
    eligible = [x for x in lines if not segment_wide(x)]
    others = [x for x in lines if x not in eligible]
    segments = [eligible] + [[x] for x in others]
    rows, calls = bulk_accepts(db, segments, tmp, verified=verified)
    accepted: dict[int, bool] = {}
    for ordinal, seg in enumerate(segments):
        for number, line in enumerate(seg, start=1):
            row = rows.get((ordinal, number))
            if row is not None:
                assert_stored_as_parsed(line, row)
                assert ordinal not in calls or (
                    calls[ordinal] is not None and number not in calls[ordinal]  # type: ignore[operator]
                ), "accepted in bulk and handed to the authority too"
            else:
                wanted = calls.get(ordinal, frozenset())
                assert wanted is None or number in wanted, f"line {number} neither kept nor handed"
            if ordinal == 0:
                accepted[number] = row is not None
    return accepted


def fresh(name: str) -> bytes:
    """The mutation ``name`` applied to a canonical line with its own id."""
    return MUTATIONS[name](canonical())


def test_the_mutation_corpus_agrees_with_the_contract(tmp_path: Path) -> None:
    names = list(MUTATIONS)
    lines = [fresh(n) for n in names]
    accepted = differential(tmp_path / "d.duckdb", tmp_path / "segs", lines)
    eligible = [n for n, x in zip(names, lines, strict=True) if not segment_wide(x)]
    taken = {eligible[i - 1] for i, ok in accepted.items() if ok}
    # The bulk path is really taken for canonical lines, not just safe by refusing all.
    for must in ("canonical", "product_null", "session_256", "session_256_multibyte",
                 "ts_year_1", "ts_year_9999", "ts_feb_29_leap", "payload_empty",
                 "float_tenth", "float_point_zero", "minus_zero", "int_18_digits",
                 "str_short_escapes", "str_emoji_raw", "session_emoji", "payload_70_keys"):
        assert must in taken, must
    # ... and never for what the contract refuses or would store differently.
    for never in ("nan", "infinity", "huge", "int_huge", "payload_dup", "payload_nested_dup",
                  "payload_70_keys_one_dup",
                  "duplicate_top_key_last", "ts_year_0", "ts_hour_24", "ts_leap_second",
                  "version_2", "type_129", "session_257", "session_control", "payload_array",
                  "payload_deep_arrays", "lone_surrogate_id", "str_lone_surrogate"):
        assert never not in taken, never


def test_the_corpus_loaded_by_the_loader_matches_the_contract_only_store(tmp_path: Path) -> None:
    """In a big segment (where the bulk path is taken), DuckDB ends up with exactly what the
    in-memory store, which validates every line with parse_line, ends up with."""
    lines: list[bytes] = []
    for i in range(3000):
        lines.append(sample_event(i, payload=PAYLOAD).to_json_line())
        if i % 15 == 0:
            lines.append(fresh(list(MUTATIONS)[(i // 15) % len(MUTATIONS)]))
    lines = [x for x in lines if not segment_wide(x)]
    for spool in ("a", "b"):
        write_segment(tmp_path / spool / "sealed", "big.jsonl", lines)
    db = tmp_path / "big.duckdb"
    report = Loader(tmp_path / "a", db).run_once()
    memory = MemoryTelemetryRepository()
    reference = Loader(tmp_path / "b", memory).run_once()
    assert report.ok and reference.ok
    assert report.bulk_lines >= 3000 and reference.bulk_lines == 0
    assert (report.events_inserted, report.duplicates, dict(report.quarantined)) == (
        reference.events_inserted, reference.duplicates, dict(reference.quarantined))
    with DuckDBTelemetryRepository(db, read_only=True) as repo:
        stored = {e.id: e for e in repo.find(limit=10**6)}
    expected = {e.id: e for e in memory.find(limit=10**6)}
    assert stored.keys() == expected.keys()
    for key, event in expected.items():
        assert stored[key].model_dump() == event.model_dump()
        assert orjson.dumps(stored[key].payload) == orjson.dumps(event.payload)

    def reasons(spool: Path) -> list[tuple[int, str, bytes]]:
        return sorted((r.line, r.reason, raw_bytes(r)) for r in iter_records(spool / "quarantine"))

    assert reasons(tmp_path / "a") == reasons(tmp_path / "b")


# -- hypothesis --------------------------------------------------------------------------
_json_scalars = (st.none() | st.booleans() | st.integers(-(2**64), 2**64)
                 | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
_payloads = st.dictionaries(
    st.text(max_size=8),
    st.recursive(_json_scalars, lambda kids: st.lists(kids, max_size=3)
                 | st.dictionaries(st.text(max_size=5), kids, max_size=3), max_leaves=8),
    max_size=6)
_ids = st.text(min_size=0, max_size=260) | st.sampled_from(["s", "x" * 256, "é" * 256, "a\"b"])


@st.composite
def lines(draw: st.DrawFn) -> bytes:
    """A wire line built from drawn values (maybe invalid), maybe mutated after."""
    obj: dict[str, Any] = {
        "id": str(draw(st.uuids())),
        "eventType": draw(st.sampled_from(["action.auth.login", "job.run.done", "Action.x",
                                           "launch.a_b.c9", "review"])),
        "sessionId": draw(_ids),
        "userId": draw(_ids),
        "productId": draw(st.none() | _ids),
        "correlationId": draw(_ids),
        "timestamp": draw(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                                       timezones=st.just(UTC))),
        "schemaVersion": draw(st.sampled_from([1, 1, 1, 2, 0])),
        "payload": draw(_payloads),
    }
    try:
        line = orjson.dumps(obj, option=orjson.OPT_UTC_Z)
    except orjson.JSONEncodeError:
        line = orjson.dumps({**obj, "payload": {}}, option=orjson.OPT_UTC_Z)
    if draw(st.booleans()):
        line = MUTATIONS[draw(st.sampled_from(sorted(MUTATIONS)))](line)
    return line


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(lines(), min_size=1, max_size=25))
def test_generated_lines_agree_with_the_contract(tmp_path: Path, batch: list[bytes]) -> None:
    run = tmp_path / uuid.uuid4().hex
    # Ids unique per line (a duplicate would be deduplicated, not compared).
    batch = [x.replace(_id(x).encode(), str(uuid7()).encode()) if _is_obj(x) else x
             for x in batch]
    differential(run / "d.duckdb", run / "segs", batch)


def test_every_line_the_bulk_path_refuses_still_gets_the_contracts_reason(tmp_path: Path) -> None:
    bad = [fresh("nan"), fresh("huge"), fresh("type_bare"), fresh("version_2")]
    good = [sample_event(i).to_json_line() for i in range(50)]
    write_segment(tmp_path / "spool" / "sealed", "s.jsonl", good[:25] + bad + good[25:])
    report = Loader(tmp_path / "spool", tmp_path / "t.duckdb").run_once()
    assert report.bulk_lines == 50 and report.events_inserted == 50
    records = sorted((r.line, r.reason) for r in iter_records(tmp_path / "spool" / "quarantine"))
    assert records == [(26, "invalid_json"), (27, "number_out_of_range"),
                       (28, "invalid_event"), (29, "unsupported_schema_version")]
    for line in bad:
        with pytest.raises(LineRejected):
            parse_line(line)


def test_canonical_events_of_every_shape_take_the_bulk_path(tmp_path: Path) -> None:
    events = [sample_event(i, payload=p) for i, p in enumerate(
        [{}, {"a": 1}, {"f": 1.5, "s": "x"}, {"l": [1, "2", None, True]}, {"n": None}])]
    events.append(TelemetryEvent(event_type="launch.flag.flipped", session_id="s", user_id="u",
                                 correlation_id="c", product_id=None, payload={"on": False}))
    write_segment(tmp_path / "spool" / "sealed", "s.jsonl", [e.to_json_line() for e in events])
    report = Loader(tmp_path / "spool", tmp_path / "t.duckdb").run_once()
    assert report.bulk_lines == len(events) == report.events_inserted
