"""The bulk path's read lane: verified segments read by ``read_json`` straight into columns.

What the lane takes on trust is only what ``TelemetryEvent.to_json_line`` guarantees
(nine keys once each, in order, orjson's text; docs/loader.md, "Provenance"). So
every line an emitter *can* write, however its event was built, must come out of a
verified segment exactly as ``parse_line`` parses it, or go to the authority.
"""

from __future__ import annotations

import os
import random
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from duckspool import Emitter, Loader, MemoryTelemetryRepository
from duckspool.contracts import TelemetryEvent, uuid7
from duckspool.repository import _bulk_read
from duckspool.repository._bulk_read import has_line_longer_than
from duckspool.repository._envelope import ENVELOPE
from tests.conftest import sample_event
from tests.test_bulk_differential import MUTATIONS, differential, fresh, lines
from tests.test_bulk_provenance import (
    CONSTRUCTED,
    PAYLOAD,
    _constructed,
    _load_both,
    _quarantine,
    _serialisable,
    _stored,
)

WIRE_KEYS = [f.wire for f in ENVELOPE]


def emitter_could_write(line: bytes) -> bool:
    """Whether ``to_json_line`` of some event (built any way, no ``orjson.Fragment``) is ``line``.

    orjson's text is a function of the JSON values it writes, so a line is such
    output exactly when it has the nine keys in order and re-encodes to itself.
    """
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(obj, dict) or list(obj) != WIRE_KEYS:
        return False
    try:
        return orjson.dumps(obj) == line
    except TypeError:
        return False


@pytest.fixture
def lanes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """(files read by the read lane, files it passed on) for every bulk validation."""
    seen: list[tuple[int, int]] = []
    real = _bulk_read.read_verified

    def spy(*args: Any) -> Any:
        read, refused = real(*args)
        seen.append((len(read), len(refused)))
        return read, refused

    monkeypatch.setattr("duckspool.repository._bulk.read_verified", spy)
    return seen


def _emittable(candidates: list[bytes]) -> list[bytes]:
    # Ids unique per line (a duplicate would be deduplicated, not compared).
    out = []
    for line in filter(emitter_could_write, candidates):
        old_id = orjson.loads(line)["id"]
        fresh_id = str(uuid7()).encode()
        out.append(line.replace(old_id.encode(), fresh_id, 1) if isinstance(old_id, str) else line)
    return out


def test_the_corpus_lines_an_emitter_can_write_agree_with_the_contract(
        tmp_path: Path, lanes: list[tuple[int, int]]) -> None:
    corpus = [fresh(name) for name in MUTATIONS]
    corpus += [_constructed(i, **f).to_json_line() for i, f in enumerate(CONSTRUCTED)
               if _serialisable(_constructed(i, **f))]
    corpus += [sample_event(i, payload={**PAYLOAD, "n": n}).to_json_line()
               for i, n in enumerate([1e16, 1.5e-7, 1e-5, 1e300, 5e-324, -0.0, 2**63, 2**64 - 1,
                                      123456789.125, {"deep": [[1, {"a": None}]]}, "é\u2028/"])]
    emittable = _emittable(corpus)
    assert len(emittable) > 60
    accepted = differential(tmp_path / "v.duckdb", tmp_path / "segs", emittable, verified=True)
    assert lanes == [(1, 0)]  # one segment, read by the read lane
    assert sum(accepted.values()) > 40


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(lines(), min_size=1, max_size=25))
def test_generated_lines_an_emitter_can_write_agree_with_the_contract(
        tmp_path: Path, batch: list[bytes]) -> None:
    emittable = _emittable(batch)
    if emittable:
        run = tmp_path / uuid.uuid4().hex
        differential(run / "d.duckdb", run / "segs", emittable, verified=True)


def test_a_verified_segment_read_json_cannot_read_takes_the_text_lane(
        tmp_path: Path, lanes: list[tuple[int, int]]) -> None:
    """orjson.Fragment writes raw bytes: the one way an emitter writes a line that is not
    JSON. The segment is still verified; it takes the text lane and loads as without."""
    events = [sample_event(i, payload={**PAYLOAD, "i": i}) for i in range(300)]
    events.insert(40, sample_event(1000, payload={"raw": orjson.Fragment(b"not json")}))
    with Emitter(tmp_path / "emit", flush_interval=60) as em:
        for event in events:
            em.emit(event)
    (path,) = (tmp_path / "emit" / "sealed").glob("*.jsonl")
    assert b"not json" in path.read_bytes() and ".crc-" in path.name
    marked, _ = _load_both(tmp_path, path.read_bytes(), path.name)
    assert dict(marked.quarantined) == {"invalid_json": 1}
    assert lanes[0] == (0, 1)


def test_an_oversize_line_in_a_verified_segment_is_quarantined_as_without_provenance(
        tmp_path: Path) -> None:
    events = [sample_event(i, payload={"i": i}) for i in range(200)]
    events.insert(77, sample_event(999, payload={"blob": "x" * 5000}))
    with Emitter(tmp_path / "emit", flush_interval=60) as em:
        for event in events:
            em.emit(event)
    (path,) = (tmp_path / "emit" / "sealed").glob("*.jsonl")
    assert ".crc-" in path.name
    marked, _ = _load_both(tmp_path, path.read_bytes(), path.name, max_line_bytes=4096)
    assert dict(marked.quarantined) == {"oversize": 1}


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 64, 100])
def test_has_line_longer_than_is_exact(tmp_path: Path, limit: int) -> None:
    rng = random.Random(limit)
    for trial in range(60):
        lengths = [rng.choice([0, limit - 1, limit, limit + 1, rng.randrange(3 * limit + 2)])
                   for _ in range(rng.randrange(1, 12))]
        lengths = [max(n, 0) for n in lengths]
        data = b"".join(b"a" * n + b"\n" for n in lengths)
        if trial % 3 == 0:
            data = data[:-1]  # no newline after the last line
        path = tmp_path / f"{trial}.jsonl"
        path.write_bytes(data)
        expected = any(len(x) > limit for x in data.split(b"\n"))
        assert has_line_longer_than(path, limit) is expected, (lengths, trial)


def _emit_segments(spool: Path, events: list[TelemetryEvent], segment_bytes: int) -> list[Path]:
    with Emitter(spool, flush_interval=60, max_segment_bytes=segment_bytes) as em:
        for event in events:
            em.emit(event)
    return sorted((spool / "sealed").glob("*.jsonl"), key=lambda p: (p.stat().st_mtime, p.name))


def _load_three_ways(tmp: Path, segments: list[Path], before: list[bytes],
                     lanes: list[tuple[int, int]], plain: set[int] = frozenset()) -> Any:
    """Load ``segments`` (after ``before``) three ways: as sealed (those in ``plain``
    renamed without their checksum), all renamed without checksums, and into the
    contract-only memory store. All three must store, count and quarantine the same.
    The first report."""
    reports, stored, quarantined = [], [], []
    for way in ("marked", "plain", "memory"):
        target: Any = MemoryTelemetryRepository() if way == "memory" else tmp / f"{way}.duckdb"
        if before:
            (tmp / way / "pre" / "sealed").mkdir(parents=True)
            (tmp / way / "pre" / "sealed" / "0.jsonl").write_bytes(b"\n".join(before) + b"\n")
            assert Loader(tmp / way / "pre", target).run_once().ok
        (tmp / way / "sealed").mkdir(parents=True)
        for index, path in enumerate(segments):
            keep = way == "marked" and index not in plain
            copy = tmp / way / "sealed" / (path.name if keep else f"{index:04d}.jsonl")
            copy.write_bytes(path.read_bytes())
            os.utime(copy, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns))
        lanes.clear()
        reports.append(Loader(tmp / way, target).run_once())
        if way == "marked":
            assert lanes == [(len(segments) - len(plain), 0)], lanes
        if way == "memory":
            stored.append({e.id: e.model_dump() for e in target.find(limit=10**6)})
        else:
            stored.append(_stored(target))
        quarantined.append(_quarantine(tmp / way))
    assert all(r.ok for r in reports)
    counts = [(r.events_inserted, r.duplicates, r.lines_read, dict(r.quarantined))
              for r in reports]
    assert counts[0] == counts[1] == counts[2]
    assert stored[0] == stored[1] == stored[2]
    assert quarantined[0] == quarantined[1] == quarantined[2]
    return reports[0]


def test_a_batch_of_emitter_segments_loads_through_the_read_lane_as_without(
        tmp_path: Path, lanes: list[tuple[int, int]]) -> None:
    """Redeliveries within and across segments, id conflicts (the earliest copy wins, the
    others are quarantined with their line numbers) and ids stored by an earlier load."""
    stored_before = [sample_event(i, payload={"early": i}) for i in range(60)]
    events = []
    for i in range(1500):
        events.append(sample_event(i, payload={**PAYLOAD, "i": i}))
        if i % 7 == 0:
            events.append(events[rng_index(i)])  # a redelivery, maybe from an earlier segment
        if i % 101 == 0:  # a conflict: an id seen before, other content
            events.append(events[rng_index(i)].model_copy(update={"payload": {"other": i}}))
        if i % 50 == 0:  # already stored by the earlier load: with the same and other content
            events.append(stored_before[i // 50])
            events.append(stored_before[i // 50 + 30].model_copy(update={"user_id": "else"}))
    segments = _emit_segments(tmp_path / "emit", events, 64 * 1024)
    assert len(segments) >= 5 and all(".crc-" in p.name for p in segments)
    marked = _load_three_ways(tmp_path, segments,
                              [e.to_json_line() for e in stored_before], lanes)
    assert marked.bulk_lines == len(events)
    assert marked.quarantined.get("id_conflict", 0) > 10
    assert marked.duplicates > 200


def test_a_batch_mixing_both_lanes_keeps_the_earliest_copy_across_them(
        tmp_path: Path, lanes: list[tuple[int, int]]) -> None:
    """Verified segments (read lane) and unverified ones (text lane) in one batch, with
    redeliveries and conflicts between them: rows from both lanes are compared by
    segment and line, whichever temp table holds them."""
    events = []
    for i in range(1200):
        events.append(sample_event(i, payload={**PAYLOAD, "i": i}))
        if i % 5 == 0:
            events.append(events[rng_index(i)])
        if i % 37 == 0:
            events.append(events[rng_index(i)].model_copy(update={"payload": {"other": i}}))
    segments = _emit_segments(tmp_path / "emit", events, 48 * 1024)
    assert len(segments) >= 6
    marked = _load_three_ways(tmp_path, segments, [], lanes, plain={1, 3, 4})
    assert marked.quarantined.get("id_conflict", 0) > 10 and marked.duplicates > 100


def rng_index(i: int) -> int:
    return random.Random(i).randrange(i + 1)


def test_a_line_the_contract_refuses_in_a_verified_segment_goes_to_the_authority(
        tmp_path: Path, lanes: list[tuple[int, int]]) -> None:
    events = [sample_event(i, payload={"i": i}) for i in range(500)]
    events.insert(250, _constructed(7, session_id=12345))
    (path,) = _emit_segments(tmp_path / "emit", events, 16 << 20)
    marked, _ = _load_both(tmp_path, path.read_bytes(), path.name)
    assert dict(marked.quarantined) == {"invalid_event": 1}
    assert lanes[0] == (1, 0)
