"""Bad input: corrupt segments of every kind, poison segments, duplicates everywhere.

Invariant 6: each bad line gets a specific reason, the lines after the damage and
the other segments load, and the loader never crashes. Invariant 3: one row per id.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from duckspool import DuckDBTelemetryRepository, Loader
from duckspool.loader import iter_records, raw_bytes
from duckspool.repository import _duckdb
from tests.conftest import sample_event, write_segment
from tests.test_loader import rows


def good(i: int) -> bytes:
    return sample_event(i).to_json_line()


GOOD = good(1)


CORRUPTIONS: dict[str, tuple[list[bytes], bool, dict[str, int]]] = {
    # name: (lines, trailing newline, expected quarantine reasons)
    "binary_garbage": ([os.urandom(3000).replace(b"\n", b" "), GOOD], True,
                       {"invalid_json": 1}),
    "nul_tail": ([GOOD, b"\x00" * 8192], False, {"truncated": 1}),
    "invalid_utf8": ([b'{"eventType": "action.x", "userId": "\xff\xfe"}', GOOD], True,
                     {"invalid_json": 1}),
    "empty_file": ([], False, {}),
    "not_json_lines": ([b"<html><body>502 Bad Gateway</body></html>", b"id,eventType",
                        GOOD], True, {"invalid_json": 2}),
    "cut_mid_multibyte": ([GOOD, '{"payload": "Grüße 你好'.encode()[:-2]], False,
                          {"truncated": 1}),
    "json_but_wrong": ([b"null", b"42", b'"x"', b"{}", GOOD], True,
                       {"not_an_object": 3, "invalid_event": 1}),
}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_corrupt_segment(tmp_path: Path, name: str, record: Any) -> None:
    spool, db = tmp_path / "spool", tmp_path / "t.duckdb"
    lines, newline, expected = CORRUPTIONS[name]
    write_segment(spool / "sealed", f"{name}.jsonl", lines, trailing_newline=newline)
    write_segment(spool / "sealed", "healthy.jsonl", [good(i) for i in range(100, 150)])
    report = Loader(spool, db).run_once()
    assert report.ok, report.errors
    assert report.quarantined == expected
    valid = sum(1 for x in lines if x == GOOD)
    assert rows(db) == (50 + valid, 50 + valid)
    for r in iter_records(spool / "quarantine"):
        assert raw_bytes(r) in lines or r.reason == "truncated"
        assert r.detail
    assert list((spool / "sealed").iterdir()) == []
    record(lines=len(lines), loaded=50 + valid, quarantined=expected, lost=0)


def test_a_50_mb_line_among_good_ones(tmp_path: Path, record: Any) -> None:
    spool, db = tmp_path / "spool", tmp_path / "t.duckdb"
    (spool / "sealed").mkdir(parents=True)
    with (spool / "sealed" / "big.jsonl").open("wb") as fh:
        fh.write(good(1) + b"\n" + b"[" + b"1," * (25 << 20) + b"1]\n" + good(2) + b"\n")
    report = Loader(spool, db).run_once()
    assert report.quarantined == {"oversize": 1}
    assert rows(db) == (2, 2)
    record(lines=3, loaded=2, quarantined={"oversize": 1}, lost=0)


def test_a_fifo_named_like_a_segment_is_set_aside_not_waited_on(tmp_path: Path,
                                                                record: Any) -> None:
    spool, db = tmp_path / "spool", tmp_path / "t.duckdb"
    write_segment(spool / "sealed", "ok.jsonl", [good(1)])
    os.mkfifo(spool / "sealed" / "trap.jsonl")
    report = Loader(spool, db).run_once()
    assert report.events_inserted == 1
    assert (spool / "failed" / "trap.jsonl").exists()
    assert "not a regular file" in (spool / "failed" / "trap.jsonl.reason").read_text()
    record(loaded=1, set_aside=1, lost=0)


def test_a_segment_that_keeps_failing_is_set_aside_after_three_tries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, record: Any,
) -> None:
    spool, db = tmp_path / "spool", tmp_path / "t.duckdb"
    write_segment(spool / "sealed", "a-good.jsonl", [good(i) for i in range(10)])
    write_segment(spool / "sealed", "b-poison.jsonl", [good(i) for i in range(10, 20)])
    write_segment(spool / "sealed", "c-good.jsonl", [good(i) for i in range(20, 30)])
    original = _duckdb.DuckDBTelemetryRepository.commit_batch

    def poisoned(self: Any, batch: Any, before_commit: Any = None) -> Any:
        if any(s.name == "b-poison.jsonl" for s in batch.segments):
            import duckdb

            raise _duckdb.RepositoryError(f"bulk insert failed: {duckdb.ConversionException('x')}")
        return original(self, batch, before_commit)

    monkeypatch.setattr(_duckdb.DuckDBTelemetryRepository, "commit_batch", poisoned)
    reports = [Loader(spool, db).run_once() for _ in range(3)]
    assert reports[0].events_inserted == 20  # the good ones load on the first pass
    assert all("b-poison.jsonl" in r.errors[0] for r in reports)
    assert reports[2].segments_set_aside == 1
    assert (spool / "failed" / "b-poison.jsonl").exists()
    assert "3 failed attempt" in (spool / "failed" / "b-poison.jsonl.reason").read_text()
    assert list((spool / "sealed").iterdir()) == []
    record(loaded=20, set_aside=1, attempts=3, lost=0)


def test_duplicate_ids_everywhere_give_one_row_each(tmp_path: Path, record: Any) -> None:
    spool, db = tmp_path / "spool", tmp_path / "t.duckdb"
    events = [good(i) for i in range(300)]
    write_segment(spool / "sealed", "1.jsonl", events[:200] + events[:50])  # within a segment
    write_segment(spool / "sealed", "2.jsonl", events[100:300])  # across segments
    first = Loader(spool, db).run_once()
    write_segment(spool / "sealed", "3.jsonl", events[250:] + events[:10])  # across loads
    write_segment(spool / "sealed", "4.jsonl", events[100:300])  # a replayed segment
    (spool / "sealed" / "5.jsonl").write_bytes((spool / "sealed" / "4.jsonl").read_bytes())
    second = Loader(spool, db).run_once()
    assert rows(db) == (300, 300)
    assert first.events_inserted == 300 and second.events_inserted == 0
    with DuckDBTelemetryRepository(db, read_only=True) as repo:
        assert repo.fetch("SELECT sum(inserted), sum(duplicates) FROM load_ledger")[1] == [
            (300, first.duplicates + second.duplicates)]
    record(lines=450 + 60 + 400, loaded=300, duplicates_skipped=first.duplicates
           + second.duplicates, identical_segments_skipped=second.segments_already_loaded)
