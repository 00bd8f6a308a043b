"""The bulk path's read lane: verified segments read by ``read_json`` straight into columns.

What the lane takes on trust is only what ``TelemetryEvent.to_json_line`` guarantees
(nine keys once each, in order, orjson's text; docs/loader.md, "Provenance"). So
every line an emitter *can* write, however its event was built, must come out of a
verified segment exactly as ``parse_line`` parses it, or go to the authority.
"""

from __future__ import annotations

import random
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from duckspool import Emitter, Loader
from duckspool.contracts import TelemetryEvent, uuid7
from duckspool.repository import _bulk_read
from duckspool.repository._bulk_read import has_line_longer_than
from duckspool.repository._envelope import ENVELOPE
from tests.conftest import sample_event
from tests.test_bulk_differential import MUTATIONS, differential, fresh, lines
from tests.test_bulk_provenance import CONSTRUCTED, PAYLOAD, _constructed, _load_both

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
               if _writes(_constructed(i, **f))]
    corpus += [sample_event(i, payload={**PAYLOAD, "n": n}).to_json_line()
               for i, n in enumerate([1e16, 1.5e-7, 1e-5, 1e300, 5e-324, -0.0, 2**63, 2**64 - 1,
                                      123456789.125, {"deep": [[1, {"a": None}]]}, "é\u2028/"])]
    emittable = _emittable(corpus)
    assert len(emittable) > 60
    accepted = differential(tmp_path / "v.duckdb", tmp_path / "segs", emittable, verified=True)
    assert lanes == [(1, 0)]  # one segment, read by the read lane
    assert sum(accepted.values()) > 40


def _writes(event: TelemetryEvent) -> bool:
    try:
        event.to_json_line()
    except TypeError:
        return False
    return True


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


def test_an_emitter_segment_of_many_events_loads_through_the_read_lane(
        tmp_path: Path, lanes: list[tuple[int, int]]) -> None:
    with Emitter(tmp_path / "spool", flush_interval=60) as em:
        for i in range(3000):
            em.emit(sample_event(i, payload={**PAYLOAD, "i": i}))
    report = Loader(tmp_path / "spool", tmp_path / "db.duckdb").run_once()
    assert report.ok and report.bulk_lines == 3000 and report.events_inserted == 3000
    assert lanes == [(1, 0)]
