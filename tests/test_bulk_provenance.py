"""Provenance: segments the emitter's writer sealed whole carry the CRC-32 of their bytes
in their names, and the bulk path skips the duplicate-payload-key check for them.

What must hold: a provenance-marked segment written by the real Emitter (events built
with ``model_construct`` included, which bypass validation) loads exactly as the same
lines without provenance; a marked segment whose bytes changed after sealing is not
verified and loads exactly as the same bytes without provenance; old names still load.
"""

from __future__ import annotations

import math
import uuid
import zlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from duckspool import DuckDBTelemetryRepository, Emitter, Loader
from duckspool.contracts import TelemetryEvent, uuid7
from duckspool.loader import iter_records, raw_bytes
from duckspool.loader._reader import scan_segment
from duckspool.loader._validate import validate_segment
from duckspool.spool import parse_segment_name
from duckspool.spool._layout import sealed_segment_name
from tests.conftest import sample_event
from tests.test_bulk_differential import MUTATIONS, assert_stored_as_parsed, bulk_accepts, fresh

PAYLOAD = {"method": "password", "attempt": 3, "mfa": True, "ratio": 0.25, "tags": ["a", "b"],
           "none": None, "text": "line\nbreak \"quoted\" é"}


def _constructed(i: int, **fields: Any) -> TelemetryEvent:
    """An event built without validation, as careless code can hand it to emit()."""
    base: dict[str, Any] = {
        "id": uuid7(), "event_type": "action.auth.login", "session_id": f"s-{i}",
        "user_id": "u", "product_id": None, "correlation_id": f"c-{i}",
        "timestamp": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "schema_version": 1,
        "payload": {"i": i},
    }
    base.update(fields)
    return TelemetryEvent.model_construct(**base)


# What validation would refuse or change, emitted anyway: the writer seals these with
# provenance, so the checks the bulk path keeps for verified segments must catch them.
CONSTRUCTED: list[dict[str, Any]] = [
    {"session_id": 5},
    {"session_id": ["a", "b"]},
    {"user_id": True},
    {"product_id": 7},
    {"correlation_id": ""},
    {"event_type": "Bad Type"},
    {"event_type": 12},
    {"schema_version": "1"},
    {"schema_version": 2},
    {"schema_version": 1.0},
    {"timestamp": "2026-01-02T03:04:05Z"},
    {"timestamp": "2026-01-02T03:04:05+02:00"},
    {"timestamp": datetime(2026, 1, 2, 3, 4, 5)},
    {"timestamp": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))},
    {"timestamp": datetime(2026, 1, 2, 3, 4, 5, 123, tzinfo=UTC)},
    {"id": "not-a-uuid"},
    {"id": str(uuid7()).upper()},
    {"payload": {"x": math.nan, "y": math.inf}},
    {"payload": {"big": 2**63 + 5}},
    {"payload": {"tiny": 1e-300, "huge": 1e300}},
    {"payload": {"nested": {"a": {"b": 1}}}},
    {"payload": ["not", "an", "object"]},
    {"payload": {"s": "\ud800"}},
    {"payload": {"a": (1, 2)}},
]


def _emit_segment(spool: Path, events: list[TelemetryEvent]) -> Path:
    with Emitter(spool, flush_interval=60) as em:
        for event in events:
            em.emit(event)
    (path,) = (spool / "sealed").glob("*.jsonl")
    return path


def _quarantine(spool: Path) -> list[tuple[int, str, bytes]]:
    return sorted((r.line, r.reason, raw_bytes(r)) for r in iter_records(spool / "quarantine"))


def _stored(db: Path) -> dict[uuid.UUID, dict[str, Any]]:
    with DuckDBTelemetryRepository(db, read_only=True) as repo:
        return {e.id: e.model_dump() for e in repo.find(limit=10**6)}


def _load_both(tmp: Path, segment: bytes, marked_name: str,
               max_line_bytes: int = 8 << 20) -> tuple[Any, Any]:
    """Load ``segment`` under ``marked_name`` and under a plain name; both reports."""
    reports = []
    for spool, name in (("marked", marked_name), ("plain", "plain.jsonl")):
        (tmp / spool / "sealed").mkdir(parents=True)
        (tmp / spool / "sealed" / name).write_bytes(segment)
        loader = Loader(tmp / spool, tmp / f"{spool}.duckdb", max_line_bytes=max_line_bytes)
        reports.append(loader.run_once())
    marked, plain = reports
    assert marked.ok and plain.ok
    assert (marked.events_inserted, marked.duplicates, marked.lines_read,
            dict(marked.quarantined)) == (plain.events_inserted, plain.duplicates,
                                          plain.lines_read, dict(plain.quarantined))
    assert _stored(tmp / "marked.duckdb") == _stored(tmp / "plain.duckdb")
    assert _quarantine(tmp / "marked") == _quarantine(tmp / "plain")
    return marked, plain


def test_the_writer_names_a_sealed_segment_with_the_crc_of_its_bytes(tmp_path: Path) -> None:
    path = _emit_segment(tmp_path / "spool", [sample_event(i) for i in range(50)])
    name = parse_segment_name(path.name)
    assert name is not None and name.checksum is not None
    assert name.checksum == zlib.crc32(path.read_bytes())
    assert ".crc-" in path.name


def test_old_names_and_marked_names_both_parse() -> None:
    old = "20260101T000000000000Z_host.a-b_12_000003.jsonl"
    parsed = parse_segment_name(old)
    assert parsed is not None and parsed.checksum is None and parsed.sequence == 3
    marked = sealed_segment_name(old, 0xDEADBEEF)
    assert marked == "20260101T000000000000Z_host.a-b_12_000003.crc-deadbeef.jsonl"
    parsed = parse_segment_name(marked)
    assert parsed is not None and parsed.checksum == 0xDEADBEEF and parsed.pid == 12
    assert parse_segment_name(old.replace(".jsonl", ".crc-DEADBEEF.jsonl")) is None


def test_an_emitter_segment_loads_exactly_as_the_same_lines_without_provenance(
        tmp_path: Path) -> None:
    events = []
    for i in range(2000):
        events.append(sample_event(i, payload={**PAYLOAD, "i": i}))
        if i % 40 == 0:
            events.append(events[i // 2])  # a redelivery
        if i % 50 == 0:
            events.append(_constructed(i, **CONSTRUCTED[(i // 50) % len(CONSTRUCTED)]))
    for i, fields in enumerate(CONSTRUCTED):
        events.append(_constructed(10_000 + i, **fields))
    path = _emit_segment(tmp_path / "emit", events)
    scan = scan_segment(path)
    result = validate_segment(path, 0, tmp_path, tmp_path, 1 << 20, bulk=True)
    assert result.raw and result.verified
    assert scan.lines > 2000
    marked, plain = _load_both(tmp_path, path.read_bytes(), path.name)
    assert marked.bulk_lines >= 2000  # the bulk path was taken for both
    assert marked.quarantined_total > 0  # the constructed events were caught


def test_the_checks_kept_for_verified_segments_refuse_what_parse_line_refuses(
        tmp_path: Path) -> None:
    """Lines an emitter can write (model_construct included) in a verified segment: every
    line the bulk path keeps is stored exactly as parse_line parses it."""
    lines = [_constructed(i, **f).to_json_line() for i, f in enumerate(CONSTRUCTED)
             if _serialisable(_constructed(i, **f))]
    lines += [sample_event(i, payload=PAYLOAD).to_json_line() for i in range(5)]
    rows, calls = bulk_accepts(tmp_path / "v.duckdb", [lines], tmp_path / "segs", verified=True)
    for number, line in enumerate(lines, start=1):
        row = rows.get((0, number))
        if row is not None:
            assert_stored_as_parsed(line, row)
        else:
            assert calls[0] is None or number in calls[0]
    assert len(rows) >= 5


def _serialisable(event: TelemetryEvent) -> bool:
    try:
        event.to_json_line()
    except TypeError:
        return False
    return True


def test_only_duplicate_payload_keys_are_trusted_to_provenance(tmp_path: Path) -> None:
    """The whole mutation corpus in a segment claiming provenance: the one check skipped is
    the duplicate-payload-key check (orjson cannot write a duplicate key: it refuses any
    dict key that is not exactly ``str``), so only those lines may be taken differently."""
    class Key(str):
        def __hash__(self) -> int:
            return id(self)

        def __eq__(self, other: object) -> bool:
            return self is other

    twice = {Key("a"): 1, Key("a"): 2}
    assert len(twice) == 2
    with pytest.raises(TypeError):
        orjson.dumps(twice)
    names = list(MUTATIONS)
    lines = [fresh(n) for n in names]
    keep = [i for i, x in enumerate(lines) if _bulk_readable(x)]
    lines = [lines[i] for i in keep]
    names = [names[i] for i in keep]
    plain, _ = bulk_accepts(tmp_path / "p.duckdb", [lines], tmp_path / "p")
    trusted, _ = bulk_accepts(tmp_path / "t.duckdb", [lines], tmp_path / "t", verified=True)
    differ = {names[n - 1] for (_, n) in set(plain) ^ set(trusted)}
    assert differ <= {"payload_dup", "payload_dup_same", "payload_70_keys_one_dup"}, differ
    assert set(plain) <= set(trusted)


def _bulk_readable(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\r" not in line and b"\0" not in line and not line.startswith(b"\xef\xbb\xbf")


def _flip(data: bytes) -> bytes:
    i = data.index(b'"payload"') + 12  # inside the first payload
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]


def _dup_key(data: bytes) -> bytes:
    first, _, rest = data.partition(b"\n")
    event = orjson.loads(first)
    event["id"] = str(uuid7())
    line = orjson.dumps(event).replace(b'"payload":{', b'"payload":{"attempt":99,', 1)
    return data + line + b"\n"


ALTERATIONS = {
    "byte_flipped": _flip,
    "line_appended": lambda d: d + sample_event(99_999).to_json_line() + b"\n",
    "dup_key_line_appended": _dup_key,
    "truncated_mid_line": lambda d: d[: len(d) - 40],
    "truncated_at_line": lambda d: d[: d.rindex(b"\n", 0, len(d) - 1) + 1],
    "line_removed": lambda d: d[d.index(b"\n") + 1:],
}


@pytest.mark.parametrize("alteration", list(ALTERATIONS))
def test_a_marked_segment_altered_after_sealing_takes_the_slow_path(
        tmp_path: Path, alteration: str) -> None:
    events = [sample_event(i, payload={**PAYLOAD, "i": i}) for i in range(1500)]
    path = _emit_segment(tmp_path / "emit", events)
    altered = ALTERATIONS[alteration](path.read_bytes())
    assert altered != path.read_bytes()
    path.write_bytes(altered)
    result = validate_segment(path, 0, tmp_path, tmp_path, 1 << 20, bulk=True)
    assert not result.verified
    _load_both(tmp_path, altered, path.name)
    if alteration == "dup_key_line_appended":
        # parse_line keeps the last of duplicate keys; so must the store.
        with DuckDBTelemetryRepository(tmp_path / "marked.duckdb", read_only=True) as repo:
            attempts = {e.payload["attempt"] for e in repo.find(limit=10**6)
                        if e.payload.get("i") == 0}
        assert attempts == {3}
