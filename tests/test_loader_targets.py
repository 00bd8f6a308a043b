"""A slice of the loader's behaviour run over every load target (DuckDB file, memory).

The loader is typed against ``LoadTarget``; these tests hold it to that: the
same segments give the same rows, counts and quarantine records whichever
store is behind it. DuckDB-specific behaviour stays in test_loader.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from duckspool import (
    DuckDBTelemetryRepository,
    Loader,
    MemoryTelemetryRepository,
    TelemetryEvent,
    TelemetryRepository,
)
from duckspool.exceptions import SpoolNotFound
from duckspool.loader import iter_records, raw_bytes
from tests.conftest import load_vectors, sample_event, write_segment
from tests.test_loader import _backlog


class Target:
    """What a test loads into and reads back from."""

    def __init__(self, kind: str, tmp: Path) -> None:
        self.kind = kind
        self.path = tmp / "t.duckdb"
        self.memory = MemoryTelemetryRepository()

    def loader(self, spool: Path, **options: object) -> Loader:
        db = self.path if self.kind == "duckdb" else self.memory
        return Loader(spool, db, **options)  # type: ignore[arg-type]

    def reader(self) -> TelemetryRepository:
        if self.kind == "duckdb":
            return DuckDBTelemetryRepository(self.path, read_only=True)
        return self.memory


@pytest.fixture(params=["duckdb", "memory"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    return Target(request.param, tmp_path)


def test_every_vector_gets_its_outcome(spool_dir: Path, target: Target) -> None:
    vectors = load_vectors()
    write_segment(spool_dir / "sealed", "vectors.jsonl", [v["line"] for v in vectors])
    report = target.loader(spool_dir).run_once()
    assert report.ok, report.errors
    loads = [v for v in vectors if v["expect"] == "load"]
    assert report.events_inserted == len(loads)
    reader = target.reader()
    for v in loads:
        event = TelemetryEvent.model_validate_json(v["line"])
        assert reader.get(event.id) == event
    records = {r.line: r for r in iter_records(spool_dir / "quarantine")}
    for number, v in enumerate(vectors, start=1):
        if v["expect"] == "quarantine":
            assert records[number].reason == v["reason"] or not v["reason"], v["name"]
            assert raw_bytes(records[number]) == v["line"].encode()
    reader.close() if target.kind == "duckdb" else None


def test_backlog_with_duplicates_and_invalid_lines(spool_dir: Path, target: Target) -> None:
    unique, bad = _backlog(spool_dir, 20_000)
    report = target.loader(spool_dir, batch_events=5_000).run_once()
    assert report.ok, report.errors
    assert (report.events_inserted, report.quarantined_total) == (unique, bad)
    assert report.duplicates == 20_000 - unique - bad
    again = target.loader(spool_dir).run_once()
    assert (again.segments_loaded, again.events_inserted) == (0, 0)
    reader = target.reader()
    assert reader.count() == unique
    reader.close() if target.kind == "duckdb" else None


def test_conflicts_keep_the_first_and_quarantine_the_rest(spool_dir: Path,
                                                          target: Target) -> None:
    first = sample_event(1)
    collision = first.model_copy(update={"payload": {"other": True}})
    write_segment(spool_dir / "sealed", "a.jsonl", [first.to_json_line()])
    target.loader(spool_dir).run_once()
    write_segment(spool_dir / "sealed", "b.jsonl",
                  [collision.to_json_line(), first.to_json_line(), collision.to_json_line()])
    report = target.loader(spool_dir).run_once()
    assert report.quarantined == {"id_conflict": 2}
    assert report.duplicates == 1
    reader = target.reader()
    assert reader.get(first.id) == first
    reader.close() if target.kind == "duckdb" else None
    assert [r.line for r in iter_records(spool_dir / "quarantine")] == [1, 3]


def test_a_replayed_segment_adds_nothing(spool_dir: Path, target: Target) -> None:
    lines = [sample_event(i).to_json_line() for i in range(100)]
    write_segment(spool_dir / "sealed", "a.jsonl", lines)
    target.loader(spool_dir).run_once()
    write_segment(spool_dir / "sealed", "b.jsonl", lines)
    write_segment(spool_dir / "sealed", "c.jsonl", lines[::-1])
    report = target.loader(spool_dir).run_once()
    assert (report.events_inserted, report.segments_already_loaded, report.duplicates) == (
        0, 1, 100)


def test_a_missing_spool_is_reported_and_not_created(tmp_path: Path, target: Target) -> None:
    spool = tmp_path / "nowhere" / "spool"
    report = target.loader(spool).run_once()
    assert not report.ok
    assert str(spool.absolute()) in report.errors[0] and "does not exist" in report.errors[0]
    assert not spool.exists() and not spool.parent.exists()
    assert not target.path.exists()
    assert issubclass(SpoolNotFound, FileNotFoundError)
