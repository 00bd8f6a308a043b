"""The loader on real segments and a real DuckDB file."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path
from typing import Any

import orjson

from duckspool import DuckDBTelemetryRepository, Loader, LoadReport, TelemetryEvent
from duckspool.contracts import register_schema_version, unregister_schema_version
from duckspool.loader import iter_records, raw_bytes, replay_quarantine
from tests.conftest import (
    sample_event,
    spawn_python,
    write_segment,
)


def rows(db: Path) -> tuple[int, int]:
    with DuckDBTelemetryRepository(db, read_only=True) as r:
        return tuple(r.fetch("SELECT count(*), count(DISTINCT id) FROM telemetry_events")[1][0])


def quarantine_reasons(spool: Path) -> list[str]:
    return [r.reason for r in iter_records(spool / "quarantine")]


def _backlog(spool: Path, n: int, seed: int = 1) -> tuple[int, int]:
    """n lines over many segments, ~10% duplicate ids and ~1% invalid; returns (unique, bad)."""
    rng = random.Random(seed)
    events: list[TelemetryEvent] = []
    unique = 0
    bad = 0
    segment: list[bytes] = []
    seg_no = 0
    for i in range(n):
        roll = rng.random()
        if roll < 0.01:
            segment.append(b'{"id": "broken", "eventType": 7}' if i % 2 else b"\xff\xfe garbage")
            bad += 1
        elif roll < 0.11 and events:
            segment.append(rng.choice(events[-5000:]).to_json_line())  # a redelivery
        else:
            e = sample_event(i)
            events.append(e)
            unique += 1
            segment.append(e.to_json_line())
        if len(segment) >= rng.randint(500, 3000):
            seg_no += 1
            write_segment(spool / "sealed", f"seg-{seg_no:05d}.jsonl", segment)
            segment = []
    if segment:
        seg_no += 1
        write_segment(spool / "sealed", f"seg-{seg_no:05d}.jsonl", segment)
    return unique, bad


def test_backlog_with_duplicates_and_invalid_lines_loads_exactly(spool_dir: Path,
                                                                  db_path: Path) -> None:
    unique, bad = _backlog(spool_dir, 200_000)
    report = Loader(spool_dir, db_path, batch_events=50_000).run_once()
    assert report.ok, report.errors
    assert rows(db_path) == (unique, unique)
    assert report.events_inserted == unique
    assert report.lines_read == 200_000
    assert report.quarantined_total == bad
    assert report.duplicates == 200_000 - unique - bad
    assert len(quarantine_reasons(spool_dir)) == bad
    again = Loader(spool_dir, db_path).run_once()
    assert (again.segments_loaded, again.events_inserted) == (0, 0)
    assert rows(db_path) == (unique, unique)


def test_replayed_segment_under_a_new_name_adds_nothing(spool_dir: Path, db_path: Path) -> None:
    lines = [sample_event(i).to_json_line() for i in range(100)]
    write_segment(spool_dir / "sealed", "a.jsonl", lines)
    Loader(spool_dir, db_path).run_once()
    write_segment(spool_dir / "sealed", "b.jsonl", lines)  # same bytes, other name
    write_segment(spool_dir / "sealed", "c.jsonl", lines[::-1])  # same events, other bytes
    report = Loader(spool_dir, db_path).run_once()
    assert report.events_inserted == 0
    assert report.segments_already_loaded == 1
    assert report.duplicates == 100
    assert rows(db_path) == (100, 100)


def test_a_new_segment_with_an_old_name_is_loaded(spool_dir: Path, db_path: Path) -> None:
    write_segment(spool_dir / "sealed", "host_1_000001.jsonl",
                  [sample_event(i).to_json_line() for i in range(10)])
    Loader(spool_dir, db_path).run_once()
    write_segment(spool_dir / "sealed", "host_1_000001.jsonl",  # pid reused
                  [sample_event(i).to_json_line() for i in range(10, 25)])
    report = Loader(spool_dir, db_path).run_once()
    assert report.events_inserted == 15
    assert rows(db_path) == (25, 25)


def test_id_conflict_is_quarantined_and_the_first_row_stays(spool_dir: Path,
                                                            db_path: Path) -> None:
    first = sample_event(1)
    collision = first.model_copy(update={"payload": {"other": True}})
    write_segment(spool_dir / "sealed", "a.jsonl", [first.to_json_line()])
    Loader(spool_dir, db_path).run_once()
    write_segment(spool_dir / "sealed", "b.jsonl",
                  [collision.to_json_line(), first.to_json_line(), collision.to_json_line()])
    report = Loader(spool_dir, db_path).run_once()
    assert report.quarantined == {"id_conflict": 2}
    assert report.duplicates == 1
    with DuckDBTelemetryRepository(db_path, read_only=True) as r:
        assert r.get(first.id) == first
    conflicts = [r for r in iter_records(spool_dir / "quarantine") if r.reason == "id_conflict"]
    assert [c.line for c in conflicts] == [1, 3]
    assert conflicts[0].fields["eventId"] == str(first.id)


def test_conflict_within_one_batch_keeps_the_earliest(spool_dir: Path, db_path: Path) -> None:
    first = sample_event(1)
    collision = first.model_copy(update={"payload": {"other": True}})
    write_segment(spool_dir / "sealed", "a.jsonl", [first.to_json_line(),
                                                     collision.to_json_line()])
    report = Loader(spool_dir, db_path).run_once()
    assert report.events_inserted == 1
    assert report.quarantined == {"id_conflict": 1}
    with DuckDBTelemetryRepository(db_path, read_only=True) as r:
        assert r.get(first.id) == first


def test_malformed_segments_never_stop_the_others(spool_dir: Path, db_path: Path) -> None:
    good = [sample_event(i).to_json_line() for i in range(5)]
    sealed = spool_dir / "sealed"
    garbage = bytes(b for b in range(256) if b != 0x0A) * 4
    write_segment(sealed, "1-garbage.jsonl", [garbage, good[0]])
    write_segment(sealed, "2-nul-tail.jsonl", [good[1], b"\x00" * 4096], trailing_newline=False)
    write_segment(sealed, "3-invalid-utf8.jsonl", [b'{"eventType": "\xc3\x28"}', good[2]])
    write_segment(sealed, "4-empty.jsonl", [])
    write_segment(sealed, "5-blank-lines.jsonl", [b"", b"   ", good[3], b""])
    write_segment(sealed, "6-torn.jsonl", [good[4], good[4][:57]], trailing_newline=False)
    mb = sample_event(99).to_json_line()
    write_segment(sealed, "7-cut-mid-utf8.jsonl",
                  [mb, "{\"x\": \"Grüße\"}".encode()[:10]], trailing_newline=False)
    report = Loader(spool_dir, db_path).run_once()
    assert report.ok, report.errors
    assert report.events_inserted == 6
    assert report.segments_loaded == 7
    assert report.quarantined == {"invalid_json": 2, "truncated": 3}
    assert list(sealed.iterdir()) == []


def test_a_50_mb_line_is_quarantined_as_oversize_in_bounded_memory(spool_dir: Path,
                                                                   db_path: Path) -> None:
    sealed = spool_dir / "sealed"
    sealed.mkdir(parents=True)
    good = sample_event(1).to_json_line()
    with (sealed / "big.jsonl").open("wb") as fh:
        fh.write(good + b"\n")
        fh.write(b'{"payload": "' + b"x" * (50 << 20) + b'"}\n')
        fh.write(sample_event(2).to_json_line() + b"\n")
    report = Loader(spool_dir, db_path).run_once()
    assert report.quarantined == {"oversize": 1}
    assert report.events_inserted == 2
    (record,) = iter_records(spool_dir / "quarantine")
    assert record.line == 2
    assert len(raw_bytes(record)) == (50 << 20) + 15


def test_quarantine_replay_after_registering_a_new_schema_version(spool_dir: Path,
                                                                  db_path: Path) -> None:
    v2 = [orjson.dumps({**orjson.loads(sample_event(i).to_json_line()), "schemaVersion": 2,
                        "user": f"user-{i}"}) for i in range(20)]
    v2 = [orjson.dumps({k: v for k, v in orjson.loads(x).items() if k != "userId"}) for x in v2]
    write_segment(spool_dir / "sealed", "v2.jsonl", [*v2, b"not json"])
    report = Loader(spool_dir, db_path).run_once()
    assert report.quarantined == {"unsupported_schema_version": 20, "invalid_json": 1}

    def v2_to_v1(obj: dict[str, Any]) -> dict[str, Any]:
        out = dict(obj)
        out["userId"] = out.pop("user")
        return out

    register_schema_version(2, v2_to_v1)
    try:
        result = replay_quarantine(spool_dir)
        assert (result.replayed, result.kept) == (20, 1)
        report = Loader(spool_dir, db_path).run_once()
    finally:
        unregister_schema_version(2)
    assert report.events_inserted == 20
    assert rows(db_path) == (20, 20)
    assert quarantine_reasons(spool_dir) == ["invalid_json"]


def test_two_loaders_at_once_one_steps_aside(spool_dir: Path, db_path: Path) -> None:
    _backlog(spool_dir, 30_000, seed=3)
    code = """
import sys, orjson
from duckspool import Loader
r = Loader(sys.argv[1], sys.argv[2]).run_once()
print(orjson.dumps(r.to_dict()).decode())
"""
    procs = [spawn_python(code, str(spool_dir), str(db_path)) for _ in range(2)]
    reports = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        reports.append(orjson.loads(out))
    final = Loader(spool_dir, db_path).run_once()
    inserted = sum(r["events_inserted"] for r in reports) + final.events_inserted
    unique = rows(db_path)
    assert unique[0] == unique[1] == inserted
    assert any(r["skipped"] and "another loader" in r["skipped"] for r in reports) or all(
        not r["skipped"] for r in reports)  # both may run one after the other


def test_database_held_by_another_process_leaves_the_spool_alone(spool_dir: Path,
                                                                 db_path: Path) -> None:
    write_segment(spool_dir / "sealed", "a.jsonl", [sample_event(1).to_json_line()])
    with DuckDBTelemetryRepository(db_path):
        pass
    holder = spawn_python("""
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("held", flush=True)
sys.stdin.readline()
""", str(db_path), stdin=__import__("subprocess").PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        report = Loader(spool_dir, db_path).run_once()
        assert report.skipped and "database busy" in report.skipped
        assert f"PID {holder.pid}" in report.skipped
        assert [p.name for p in (spool_dir / "sealed").iterdir()] == ["a.jsonl"]
    finally:
        holder.communicate("\n", timeout=30)
    assert Loader(spool_dir, db_path).run_once().events_inserted == 1


def test_a_segment_that_appears_during_a_run_loads_next_time(spool_dir: Path,
                                                             db_path: Path) -> None:
    write_segment(spool_dir / "sealed", "a.jsonl", [sample_event(1).to_json_line()])
    seen: list[int] = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        write_segment(spool_dir / "sealed", f"late-{done}.jsonl",
                      [sample_event(100 + done).to_json_line()])

    first = Loader(spool_dir, db_path, progress=progress).run_once()
    assert first.events_inserted == 1
    second = Loader(spool_dir, db_path).run_once()
    assert second.events_inserted == 1
    assert rows(db_path) == (2, 2)


def test_keep_loaded_moves_segments_aside(spool_dir: Path, db_path: Path) -> None:
    write_segment(spool_dir / "sealed", "a.jsonl", [sample_event(1).to_json_line()])
    Loader(spool_dir, db_path, keep_loaded_for=3600).run_once()
    assert [p.name for p in (spool_dir / "loaded").iterdir()] == ["a.jsonl"]


def test_loader_recovers_abandoned_active_segments(spool_dir: Path, db_path: Path) -> None:
    write_segment(spool_dir / "active", "dead.jsonl", [sample_event(1).to_json_line()])
    report = Loader(spool_dir, db_path).run_once()
    assert report.events_inserted == 1


def test_run_once_reports_instead_of_raising(spool_dir: Path, tmp_path: Path) -> None:
    write_segment(spool_dir / "sealed", "a.jsonl", [sample_event(1).to_json_line()])
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    report = Loader(spool_dir, not_a_dir / "db.duckdb").run_once()
    assert isinstance(report, LoadReport)
    assert not report.ok
    assert (spool_dir / "sealed" / "a.jsonl").exists()


def test_parallel_validation_gives_the_same_result_as_inline(tmp_path: Path) -> None:
    counts = []
    for workers in (0, 2):
        spool = tmp_path / f"spool{workers}"
        db = tmp_path / f"db{workers}.duckdb"
        unique, bad = _backlog(spool, 30_000, seed=11)
        report = Loader(spool, db, workers=workers, batch_events=5000).run_once()
        assert report.ok, report.errors
        assert rows(db) == (unique, unique)
        counts.append((report.events_inserted, report.duplicates, report.quarantined,
                       report.segments_loaded))
    assert counts[0] == counts[1]


def test_duckspool_run_loads_on_its_interval_and_stops_on_sigterm(spool_dir: Path,
                                                                   db_path: Path) -> None:
    proc = spawn_python("""
import sys
from duckspool.cli import main
sys.exit(main(["run", "--spool", sys.argv[1], "--db", sys.argv[2], "--interval", "0.5"]))
""", str(spool_dir), str(db_path))
    try:
        for k in range(3):
            write_segment(spool_dir / "sealed", f"s{k}.jsonl",
                          [sample_event(k * 10 + i).to_json_line() for i in range(10)])
            deadline = time.monotonic() + 20
            while (spool_dir / "sealed" / f"s{k}.jsonl").exists():
                assert time.monotonic() < deadline, "the scheduled loader did not run"
                time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped" in err
    assert rows(db_path) == (30, 30)
