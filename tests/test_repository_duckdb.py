"""DuckDB-only repository behaviour: one file shared by threads and processes, formats, modes."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest

from duckspool import DatabaseLocked, DuckDBTelemetryRepository, Loader, RepositoryError
from duckspool.exceptions import StorageUnavailable
from duckspool.repository._errors import translate
from tests.conftest import sample_event, spawn_python, write_segment


def test_two_repositories_on_one_file_share_the_write_lock(db_path: Path) -> None:
    events = [sample_event(i) for i in range(3000)]
    with DuckDBTelemetryRepository(db_path) as a, DuckDBTelemetryRepository(db_path) as b:
        barrier = threading.Barrier(2)

        def save(r: DuckDBTelemetryRepository) -> None:
            barrier.wait()
            r.save_many(events)

        threads = [threading.Thread(target=save, args=(r,)) for r in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert a.fetch("SELECT count(*), count(DISTINCT id) FROM telemetry_events")[1] == [
            (3000, 3000)]


def test_file_held_by_another_process_gives_a_clear_error(db_path: Path) -> None:
    with DuckDBTelemetryRepository(db_path):
        pass
    holder = spawn_python(
        """
        import sys, duckdb
        con = duckdb.connect(sys.argv[1])
        print("held", flush=True)
        sys.stdin.readline()
        """,
        str(db_path), stdin=__import__("subprocess").PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(DatabaseLocked) as info:
            DuckDBTelemetryRepository(db_path)
        message = str(info.value)
        assert str(db_path) in message
        assert f"PID {holder.pid}" in message
        assert "retry" in message
    finally:
        holder.communicate("\n", timeout=30)


def test_written_in_a_storage_format_older_duckdb_can_read(db_path: Path) -> None:
    with DuckDBTelemetryRepository(db_path) as repo:
        repo.save_many([sample_event(1)])
        _, rows = repo.fetch("SELECT tags FROM duckdb_databases() WHERE NOT internal")
    assert rows[0][0]["storage_version"].startswith("v1.")


def test_read_only_repository_refuses_writes(db_path: Path) -> None:
    with DuckDBTelemetryRepository(db_path) as repo:
        repo.save_many([sample_event(1)])
    with DuckDBTelemetryRepository(db_path, read_only=True) as ro:
        assert ro.count() == 1
        with pytest.raises(Exception, match="read-only"):
            ro.save_many([sample_event(2)])


def test_database_and_wal_are_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "t.duckdb"
    write_segment(tmp_path / "spool" / "sealed", "a.jsonl",
                  [sample_event(i).to_json_line() for i in range(20)])
    with DuckDBTelemetryRepository(db) as repo:
        repo.save_many([sample_event(100)])
        wal = db.with_name(db.name + ".wal")
        assert wal.exists()  # written, not yet checkpointed
        assert stat.S_IMODE(wal.stat().st_mode) == 0o600
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
        report = Loader(tmp_path / "spool", repo).run_once()
        assert report.events_inserted == 20
        assert stat.S_IMODE(wal.stat().st_mode) == 0o600


def test_an_existing_world_readable_database_is_made_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "t.duckdb"
    with DuckDBTelemetryRepository(db):
        pass
    db.chmod(0o644)
    with DuckDBTelemetryRepository(db):
        assert stat.S_IMODE(db.stat().st_mode) == 0o600


def test_a_bad_query_is_a_repository_error_not_duckdbs(tmp_path: Path) -> None:
    with (
        DuckDBTelemetryRepository(tmp_path / "t.duckdb") as repo,
        pytest.raises(RepositoryError, match="query failed"),
    ):
        repo.fetch("SELEC 1")


def test_duckdb_errors_are_translated_by_type() -> None:
    import duckdb

    full = translate(duckdb.IOException("IO Error: No space left on device"), "writing", "x")
    assert isinstance(full, StorageUnavailable) and full.errno == 28
    memory = translate(duckdb.OutOfMemoryException("Out of Memory Error: x"), "loading", "x")
    assert isinstance(memory, StorageUnavailable)
    other = translate(duckdb.ConversionException("Conversion Error: x"), "loading", "x")
    assert type(other) is RepositoryError
    locked = translate(duckdb.IOException('IO Error: Could not set lock on file "x": '
                                          "Conflicting lock is held in p (PID 42)"), "open", "x")
    assert isinstance(locked, DatabaseLocked) and "PID 42" in str(locked)


def test_days_are_utc_days_whatever_the_process_time_zone(tmp_path: Path) -> None:
    # With ICU loaded, DuckDB sessions follow $TZ; the views group on occurred_at::TIMESTAMP,
    # so a service running in Chicago would otherwise count 03:00 UTC in yesterday.
    from tests.conftest import run_python

    proc = run_python("""
        import os, sys, time
        os.environ["TZ"] = "America/Chicago"
        time.tzset()
        from duckspool.repository import open_database
        con = open_database(sys.argv[1])
        print(con.execute("SELECT (TIMESTAMPTZ '2026-01-01 03:00:00+00')::DATE").fetchone()[0])
    """, str(tmp_path / "tz.duckdb"))
    assert proc.stdout.strip() == "2026-01-01"
