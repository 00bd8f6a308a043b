"""Disk faults: full, permission denied, read-only, deleted or replaced spool, EFBIG,
and DuckDB itself out of space or with a damaged WAL.

Invariant 1: emit() never raises, whatever the disk does; what it cannot keep it
counts. Invariant 2: nothing accepted and written is lost; the emitter resumes.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from duckspool import DuckDBTelemetryRepository, Emitter, Loader, parse_line
from duckspool.spool import _segment
from tests.conftest import child_env, read_spool_lines, sample_event, write_segment
from tests.faults.conftest import fill, needs_root, read_only, tmpfs
from tests.test_loader import rows


def all_lines_parse(spool: Path) -> list[int]:
    """Every line in every segment parses (no torn fragment glued to an event)."""
    return [parse_line(x).payload["attempt"] for x in read_spool_lines(spool, "sealed", "active")]


def adds_up(em: Emitter) -> None:
    s = em.stats()
    assert s.emitted == s.written + s.pending + s.dropped_total, s


@needs_root
def test_disk_full_during_emit_then_space_freed(tmp_path: Path, record: Any) -> None:
    with tmpfs(tmp_path / "mnt", "1m") as mnt:
        spool = mnt / "spool"
        em = Emitter(spool, flush_interval=0.01, max_buffer_bytes=1 << 20, fsync="always")
        filler = fill(mnt)
        for i in range(5000):  # ~1.4 MB: more than fits, more than the buffer holds
            em.emit(sample_event(i))
        assert not em.flush(timeout=0.5)
        s = em.stats()
        assert s.write_errors >= 1 and s.degraded
        assert s.dropped.get("buffer_full", 0) > 0
        adds_up(em)
        filler.unlink()  # space comes back
        assert em.flush(timeout=20)
        em.close()
        s = em.stats()
        adds_up(em)
        assert s.pending == 0 and not s.degraded
        written = all_lines_parse(spool)
        assert len(written) == s.written
        assert len(set(written)) == len(written)
        record(emitted=s.emitted, written=s.written, dropped=dict(s.dropped),
               write_errors=s.write_errors, lost=0)


@needs_root
def test_disk_full_mid_batch_never_glues_a_fragment(tmp_path: Path, record: Any) -> None:
    """The filesystem fills part-way through a write: the segment is cut back to a line end."""
    with tmpfs(tmp_path / "mnt", "256k") as mnt:
        spool = mnt / "spool"
        em = Emitter(spool, flush_interval=0.01, max_segment_bytes=1 << 30)
        total = 0
        for round_ in range(6):
            for i in range(400):
                total += 1
                em.emit(sample_event(round_ * 1000 + i))
            em.flush(timeout=0.3)
            for f in (spool / "active").glob("*.jsonl"):  # every byte on disk is whole lines
                data = f.read_bytes()
                assert data == b"" or data.endswith(b"\n")
        em.close(timeout=1)
        s = em.stats()
        adds_up(em)
        assert s.write_errors >= 1
        assert len(all_lines_parse(spool)) == s.written
        record(emitted=s.emitted, written=s.written, dropped=dict(s.dropped), lost=0)


def test_injected_enospc_and_edquot(spool_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                    record: Any) -> None:
    real_write = os.write
    failures = {"n": 0}

    def flaky_write(fd: int, data: Any) -> int:
        failures["n"] += 1
        if failures["n"] % 3 == 0:
            # Half the data, then the error: the worst case for framing.
            real_write(fd, bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC if failures["n"] % 2 else errno.EDQUOT, "injected")
        return real_write(fd, data)

    monkeypatch.setattr(_segment.os, "write", flaky_write)
    with Emitter(spool_dir, flush_interval=0.005) as em:
        for i in range(2000):
            em.emit(sample_event(i))
            if i % 100 == 0:
                em.flush(timeout=5)
    s = em.stats()
    adds_up(em)
    assert s.write_errors > 0 and s.dropped_total == 0
    assert sorted(all_lines_parse(spool_dir)) == list(range(2000))
    record(emitted=s.emitted, written=s.written, write_errors=s.write_errors, lost=0)


def test_efbig_from_rlimit_fsize_in_a_child(spool_dir: Path, record: Any) -> None:
    code = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))
from duckspool import Emitter
from tests.conftest import sample_event
em = Emitter(sys.argv[1], flush_interval=0.01, max_segment_bytes=1 << 20)
for i in range(300):
    em.emit(sample_event(i))
em.close(timeout=1)
s = em.stats()
assert s.emitted == s.written + s.pending + s.dropped_total, s
print(s.written, s.write_errors, s.dropped.get("unwritten_at_close", 0))
"""
    proc = subprocess.run([sys.executable, "-c", code, str(spool_dir)], capture_output=True,
                          text=True, env=child_env(), cwd=Path(__file__).parents[2], timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    written, errors, unwritten = map(int, proc.stdout.split())
    assert errors >= 1 and written + unwritten == 300
    assert len(all_lines_parse(spool_dir)) == written
    record(emitted=300, written=written, dropped_unwritten_at_close=unwritten, lost=0)


@needs_root
def test_permission_denied_as_another_user(tmp_path: Path, record: Any) -> None:
    spool = tmp_path / "spool"
    spool.mkdir(mode=0o700)  # root's, so uid 65534 may not write
    os.chmod(tmp_path, 0o755)
    # The interpreter lives under /root here, which uid 65534 cannot read: start as
    # root, import everything, then drop to uid 65534 before touching the spool.
    code = """
import os, sys
from duckspool import Emitter
from tests.conftest import sample_event
os.setgid(65534)
os.setuid(65534)
em = Emitter(sys.argv[1], flush_interval=0.01)
for i in range(100):
    em.emit(sample_event(i))
em.close(timeout=0.5)
s = em.stats()
assert s.emitted == s.written + s.pending + s.dropped_total, s
print(s.written, s.write_errors, s.dropped.get("unwritten_at_close", 0))
"""
    repo_root = Path(__file__).parents[2]
    proc = subprocess.run([sys.executable, "-c", code, str(spool)], capture_output=True, text=True,
                          env=child_env(), cwd=repo_root, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    written, errors, unwritten = map(int, proc.stdout.split())
    assert (written, unwritten) == (0, 100) and errors >= 1
    record(emitted=100, written=0, dropped_unwritten_at_close=100, lost_uncounted=0)


@needs_root
def test_read_only_spool_then_writable_again(tmp_path: Path, record: Any) -> None:
    spool = tmp_path / "spool"
    # Small segments: an open segment stays writable on a read-only remount, so the
    # fault shows when the emitter must create the next one.
    em = Emitter(spool, flush_interval=0.01, max_segment_bytes=2048)
    em.emit(sample_event(0))
    assert em.flush(5)
    with read_only(spool):
        for i in range(1, 200):
            em.emit(sample_event(i))
        assert not em.flush(timeout=0.5)
        assert em.stats().degraded
    assert em.flush(timeout=20)
    em.close()
    s = em.stats()
    adds_up(em)
    assert s.dropped_total == 0
    assert sorted(all_lines_parse(spool)) == list(range(200))
    record(emitted=200, written=s.written, write_errors=s.write_errors, lost=0)


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_spool_deleted_or_replaced_while_emitting(tmp_path: Path, how: str, record: Any) -> None:
    spool = tmp_path / "spool"
    em = Emitter(spool, flush_interval=0.01)
    for i in range(100):
        em.emit(sample_event(i))
    assert em.flush(5)
    shutil.rmtree(spool)
    if how == "replaced":
        spool.mkdir()
        (spool / "unrelated.txt").write_text("someone else's directory")
    for i in range(100, 200):
        em.emit(sample_event(i))
    assert em.flush(10)
    em.close()
    s = em.stats()
    adds_up(em)
    assert s.dropped_total == 0
    # The 100 lines written before the deletion were rescued from the open file.
    assert sorted(all_lines_parse(spool)) == list(range(200))
    record(emitted=200, written=s.written, rescued=100, lost=0)


@needs_root
def test_quarantine_write_on_a_full_disk_rolls_the_batch_back(tmp_path: Path,
                                                              record: Any) -> None:
    db = tmp_path / "t.duckdb"
    with tmpfs(tmp_path / "mnt", "512k") as mnt:
        spool = mnt / "spool"
        lines = [sample_event(i).to_json_line() for i in range(50)] + [b"{bad json"] * 5
        write_segment(spool / "sealed", "a.jsonl", lines)
        filler = fill(mnt)
        for _ in range(4):  # more passes than max_attempts: a full disk is not the segment's fault
            report = Loader(spool, db).run_once()
            assert not report.ok  # reported, not raised
            assert "will retry" in report.errors[0]
        assert (spool / "sealed" / "a.jsonl").exists()
        assert not (spool / "failed").exists()
        if db.exists():
            with DuckDBTelemetryRepository(db, read_only=True) as repo:
                assert repo.count() == 0
                assert repo.fetch("SELECT count(*) FROM load_ledger")[1] == [(0,)]
        filler.unlink()
        report = Loader(spool, db).run_once()
        assert report.ok, report.errors
        assert report.quarantined == {"invalid_json": 5}
    assert rows(db) == (50, 50)
    record(events=50, invalid=5, first_run="rolled back", loaded=50, quarantined=5, lost=0)


@needs_root
def test_duckdb_out_of_space_marks_nothing_loaded(tmp_path: Path, record: Any) -> None:
    spool = tmp_path / "spool"
    lines = [sample_event(i, payload={"blob": "y" * 2000, "i": i}).to_json_line()
             for i in range(3000)]
    write_segment(spool / "sealed", "big.jsonl", lines)
    with tmpfs(tmp_path / "dbmnt", "2m") as mnt:
        db = mnt / "t.duckdb"
        with DuckDBTelemetryRepository(db):
            pass
        for _ in range(4):
            report = Loader(spool, db).run_once()
            assert not report.ok
            assert (spool / "sealed" / "big.jsonl").exists()
        assert not (spool / "failed").exists()
    db2 = tmp_path / "t2.duckdb"
    assert Loader(spool, db2).run_once().events_inserted == 3000
    record(events=3000, first_run=report.errors[0][:80], loaded_after=3000, lost=0)


def test_damaged_wal_is_a_clear_error_and_deletes_nothing(tmp_path: Path, record: Any) -> None:
    spool, db = tmp_path / "spool", tmp_path / "t.duckdb"
    with DuckDBTelemetryRepository(db):
        pass
    # A writer dies with un-checkpointed rows in the WAL, and the WAL is then damaged.
    subprocess.run([sys.executable, "-c", """
import os, sys
from duckspool import DuckDBTelemetryRepository
from tests.conftest import sample_event
repo = DuckDBTelemetryRepository(sys.argv[1])
cur = repo.cursor()
cur.execute("SET wal_autocheckpoint = '1TB'")
repo.save_many([sample_event(i) for i in range(2000)])
os._exit(0)
""", str(db)], env=child_env(), cwd=Path(__file__).parents[2], check=True, timeout=60)
    wal = Path(str(db) + ".wal")
    size = wal.stat().st_size
    with wal.open("r+b") as fh:
        fh.seek(size // 2)
        fh.write(b"\xff" * 64)
    write_segment(spool / "sealed", "a.jsonl", [sample_event(5000).to_json_line()])
    report = Loader(spool, db).run_once()
    assert not report.ok
    assert "WAL" in report.errors[0] and "Traceback" not in report.errors[0]
    assert (spool / "sealed" / "a.jsonl").exists()
    proc = subprocess.run([sys.executable, "-m", "duckspool", "stats", "--db", str(db),
                           "--spool", str(spool)], capture_output=True, text=True,
                          env=child_env(), timeout=60, check=False)
    assert proc.returncode == 1 and "WAL" in proc.stderr and "Traceback" not in proc.stderr
    record(first_run=report.errors[0][:120], segments_deleted=0, lost=0)
