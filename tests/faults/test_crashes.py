"""Crashes: kill -9 of emitters and loaders, SIGTERM to `duckspool run`.

Invariants 2-4: every flushed event reaches the table or the quarantine; no id
twice; a segment is marked loaded only with its rows.
"""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from duckspool import DuckDBTelemetryRepository, Loader
from duckspool.loader import iter_records
from duckspool.spool import recover
from tests.conftest import run_python, sample_event, spawn_python
from tests.test_loader import _backlog, quarantine_reasons, rows

EMITTER = """
import sys
from duckspool import Emitter, make_event
em = Emitter(sys.argv[1], max_segment_bytes=int(sys.argv[2]), flush_interval=0.005)
i = 0
while True:
    for _ in range(100):
        i += 1
        em.emit(make_event("action.test.crash", {"i": i, "pad": "x" * (i % 300)},
                           session_id=sys.argv[3], user_id="u"))
    if em.flush(5):
        print(i, flush=True)
"""


def test_kill_9_of_emitters_many_times_then_load(tmp_path: Path, record: Any) -> None:
    """Invariant 2: every event an emitter saw flush() accept reaches the table."""
    spool, db = tmp_path / "spool", tmp_path / "t.duckdb"
    rng = random.Random(42)
    flushed_total = 0
    for run in range(8):
        child = spawn_python(EMITTER, str(spool), str(rng.choice([4096, 65536])), f"run-{run}")
        assert child.stdout is not None
        assert child.stdout.readline()  # it is emitting; now kill it at a random moment
        time.sleep(rng.uniform(0.0, 0.5))
        child.send_signal(signal.SIGKILL)
        out = child.communicate(timeout=30)[0].split()
        flushed = int(out[-1]) if out else 0
        flushed_total += flushed
        report = Loader(spool, db).run_once()  # recovers the dead child's segment first
        assert report.ok, report.errors
        assert set(report.quarantined) <= {"truncated"}
        with DuckDBTelemetryRepository(db, read_only=True) as repo:
            got = {r[0] for r in repo.fetch(
                "SELECT (payload->>'i')::INT FROM telemetry_events WHERE session_id = ?",
                [f"run-{run}"])[1]}
        assert set(range(1, flushed + 1)) <= got, f"run {run}: flushed events missing"
    with DuckDBTelemetryRepository(db, read_only=True) as repo:
        total, distinct = repo.fetch("SELECT count(*), count(DISTINCT id) FROM telemetry_events")[1][0]
    assert total == distinct
    record(runs=8, flushed=flushed_total, loaded=total, lost=0)


def test_a_torn_last_line_is_quarantined_never_loaded_half(tmp_path: Path, record: Any) -> None:
    """A crash mid-write leaves a partial last line: quarantined as truncated."""
    spool, db = tmp_path / "spool", tmp_path / "t.duckdb"
    rng = random.Random(7)
    lines = [sample_event(i).to_json_line() for i in range(200)]
    torn = 0
    for k in range(20):
        cut = rng.randrange(1, len(lines[k]) - 1)
        data = b"\n".join(lines[k * 10:(k + 1) * 10]) + b"\n" + lines[k][:cut]
        (spool / "active").mkdir(parents=True, exist_ok=True)
        (spool / "active" / f"crashed-{k}.jsonl").write_bytes(data)
        torn += 1
    assert len(recover(spool)) == 20
    report = Loader(spool, db).run_once()
    assert report.ok
    assert report.quarantined == {"truncated": torn}
    assert rows(db) == (200, 200)
    for r in iter_records(spool / "quarantine"):
        assert r.fields["raw"] and r.reason == "truncated"
    record(segments=20, loaded=200, quarantined_truncated=torn, lost=0)


KILL_POINTS = {
    # stage: (module, attribute path, loader workers)
    "reading": ("duckspool.loader._validate", "scan_segment", 0),
    "validating_in_bulk": ("duckspool.repository._ingest", "bulk_validate", 0),
    "validating_with_the_contract": ("duckspool.loader._validate", "validate_lines", 0),
    "validating_in_workers": ("duckspool.loader._loader", "Loader._add", 2),
    "inside_transaction": ("duckspool.loader._quarantine", "QuarantineWriter.publish", 0),
    "inside_transaction_with_workers": ("duckspool.loader._quarantine",
                                        "QuarantineWriter.publish", 2),
    "after_commit_before_removal": ("duckspool.loader._segments", "SegmentShelf.dispose", 0),
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_kill_9_of_the_loader_at_each_stage(tmp_path: Path, point: str, record: Any) -> None:
    """Invariants 3 and 4: a rerun after kill -9 gives exact counts, no id twice."""
    spool, db = tmp_path / "spool", tmp_path / "t.duckdb"
    unique, bad = _backlog(spool, 20_000, seed=7)
    module, attribute, workers = KILL_POINTS[point]
    code = f"""
import os, signal, sys, importlib
from duckspool import Loader
owner = importlib.import_module({module!r})
*path, name = {attribute!r}.split(".")
for part in path:
    owner = getattr(owner, part)
original = getattr(owner, name)
calls = [0]
def killer(*a, **k):
    calls[0] += 1
    if calls[0] == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(*a, **k)
setattr(owner, name, killer)
Loader(sys.argv[1], sys.argv[2], batch_events=2000, workers={workers}).run_once()
"""
    proc = run_python(code, str(spool), str(db), check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    report = Loader(spool, db).run_once()
    assert report.ok, report.errors
    assert rows(db) == (unique, unique)
    assert len(quarantine_reasons(spool)) == bad
    assert list((spool / "sealed").glob("*.jsonl")) == []
    assert list((spool / "tmp").iterdir()) == []
    record(lines=20_000, loaded=unique, quarantined=bad, duplicates_skipped=20_000 - unique - bad,
           lost=0)


def test_sigterm_to_duckspool_run_mid_batch(tmp_path: Path, record: Any) -> None:
    """SIGTERM finishes or rolls back the batch in progress; a later load completes it."""
    spool, db = tmp_path / "spool", tmp_path / "t.duckdb"
    unique, bad = _backlog(spool, 60_000, seed=5)
    proc = spawn_python("""
import sys
from duckspool.cli import main
sys.exit(main(["run", "--spool", sys.argv[1], "--db", sys.argv[2], "--interval", "3600",
               "--batch-events", "3000"]))
""", str(spool), str(db))
    before = len(list((spool / "sealed").glob("*.jsonl")))
    deadline = time.monotonic() + 60
    while len(list((spool / "sealed").glob("*.jsonl"))) == before:
        assert time.monotonic() < deadline, "the loader never started"
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    left = len(list((spool / "sealed").glob("*.jsonl")))
    assert 0 < left < before, "expected to stop mid-backlog"
    report = Loader(spool, db).run_once()
    assert report.ok
    assert rows(db) == (unique, unique)
    assert len(quarantine_reasons(spool)) == bad
    record(segments=before, left_after_sigterm=left, loaded=unique, quarantined=bad, lost=0)
