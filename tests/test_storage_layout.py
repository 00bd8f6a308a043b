"""How duckspool opens a DuckDB file: short row groups, and otherwise as ``duckdb.connect`` would."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from duckspool import DuckDBTelemetryRepository, Loader, RepositoryError
from duckspool.repository import open_database
from duckspool.repository._connection import ROW_GROUP_ROWS
from tests.conftest import sample_event, write_segment


def _read_plainly(db: Path, sql: str) -> list[tuple[Any, ...]]:
    """``sql``'s rows from ``db`` opened read-only by a plain ``duckdb.connect``."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _row_groups(db: Path) -> list[int]:
    """Rows per row group of ``telemetry_events``."""
    rows = _read_plainly(
        db,
        "SELECT row_group_id, max(start + count) - min(start) FROM pragma_storage_info("
        "'telemetry_events') WHERE column_name = 'id' AND segment_type <> 'VALIDITY' "
        "GROUP BY ALL ORDER BY 1",
    )
    return [int(n) for _, n in rows]


def test_a_loaded_batch_is_written_in_short_row_groups(tmp_path: Path) -> None:
    events = 3 * ROW_GROUP_ROWS + 100
    lines = [sample_event(i).to_json_line() for i in range(events)]
    spool, db = tmp_path / "spool", tmp_path / "telemetry.duckdb"
    write_segment(spool / "sealed", "seg-00001.jsonl", lines)
    report = Loader(spool, db).run_once()
    assert report.ok and report.events_inserted == events
    sizes = _row_groups(db)
    assert sum(sizes) == events
    assert max(sizes) <= ROW_GROUP_ROWS
    assert len(sizes) >= math.ceil(events / ROW_GROUP_ROWS)


def test_rows_already_in_default_row_groups_stay_readable(tmp_path: Path) -> None:
    db = tmp_path / "telemetry.duckdb"
    with DuckDBTelemetryRepository(db) as repo:
        repo.save_many([sample_event(i) for i in range(10)])
    con = duckdb.connect(str(db))
    con.execute("INSERT INTO telemetry_events SELECT t.* REPLACE (uuid() AS id) "
                "FROM telemetry_events t, range(20000)")
    con.close()
    with DuckDBTelemetryRepository(db) as repo:
        repo.save_many([sample_event(i) for i in range(10, 20)])
        assert repo.fetch("SELECT count(*) FROM telemetry_events")[1] == [(200_020,)]
    assert max(_row_groups(db)) > ROW_GROUP_ROWS  # the rows duckdb.connect wrote, as written


@pytest.mark.parametrize(
    ("name", "catalog"),
    [
        ("telemetry.duckdb", "telemetry"),
        ("it's a db.duckdb", "it's a db"),
        (".hidden.duckdb", "hidden"),
        ("system.db", "system_db"),  # as duckdb.connect names it
        ("memory.duckdb", "memory_db"),  # duckdb.connect says "memory": the instance's own here
    ],
)
def test_the_file_is_the_default_catalog_under_its_stem(
    tmp_path: Path, name: str, catalog: str
) -> None:
    db = tmp_path / name
    con = open_database(db)
    try:
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
        assert con.execute("SELECT current_database()").fetchone() == (catalog,)
        spill = con.execute("SELECT current_setting('temp_directory')").fetchone()
        assert spill == (f"{db.resolve()}.tmp",)  # beside the file, not in the working directory
    finally:
        con.close()
    check = subprocess.run(
        [sys.executable, "-c", "import sys, duckdb; "
         "print(duckdb.connect(sys.argv[1]).execute('SELECT x FROM t').fetchone()[0])", str(db)],
        capture_output=True, text=True, timeout=60, check=True,
    )
    assert check.stdout.strip() == "1"


def test_two_spellings_of_one_file_share_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    with DuckDBTelemetryRepository(Path("data/telemetry.duckdb")) as relative, \
            DuckDBTelemetryRepository(tmp_path / "link" / "telemetry.duckdb") as linked:
        relative.save_many([sample_event(1)])
        linked.save_many([sample_event(2)])
        assert relative.fetch("SELECT count(*) FROM telemetry_events")[1] == [(2,)]
        assert linked.fetch("SELECT count(*) FROM telemetry_events")[1] == [(2,)]


def test_cursors_see_the_file_not_the_instance_catalog(db_path: Path) -> None:
    with DuckDBTelemetryRepository(db_path) as repo:
        repo.save_many([sample_event(1)])
        cur = repo.cursor()
        try:
            assert cur.execute("SELECT count(*) FROM telemetry_events").fetchone() == (1,)
        finally:
            cur.close()


def test_read_only_beside_a_writer_in_one_process_is_a_clear_error(db_path: Path) -> None:
    with DuckDBTelemetryRepository(db_path), pytest.raises(RepositoryError, match=str(db_path)):
        DuckDBTelemetryRepository(db_path, read_only=True)


def _storage_version(db: Path) -> str:
    (row,) = _read_plainly(
        db, "SELECT tags['storage_version'] FROM duckdb_databases() WHERE path IS NOT NULL"
    )
    return str(row[0])


def test_an_existing_file_keeps_its_storage_format(tmp_path: Path) -> None:
    newer = tmp_path / "newer.duckdb"
    con = duckdb.connect(str(newer), config={"storage_compatibility_version": "latest"})
    con.execute("CREATE TABLE notes (x INTEGER)")
    con.close()
    written_by_duckdb = _storage_version(newer)
    with DuckDBTelemetryRepository(newer) as repo:  # asks for v1.1.0; a file is never lowered
        repo.save_many([sample_event(1)])
    assert _storage_version(newer) == written_by_duckdb

    older = tmp_path / "older.duckdb"
    with DuckDBTelemetryRepository(older) as repo:
        repo.save_many([sample_event(1)])
    assert _storage_version(older).startswith("v1.0")  # v1.1.0 is tagged "v1.0.0+"
    with DuckDBTelemetryRepository(older, storage_version="v1.3.0") as repo:
        repo.save_many([sample_event(2)])  # nor silently raised past older readers
    assert _storage_version(older).startswith("v1.0")


_OLD_READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print(duckdb.__version__)
print(con.execute(sys.argv[2]).fetchone())
"""
_FINGERPRINT = (
    "SELECT count(*), count(DISTINCT id), sum(strlen(payload::VARCHAR)), "
    "min(occurred_at)::VARCHAR, max(occurred_at)::VARCHAR, count(DISTINCT source_segment) "
    "FROM telemetry_events"
)


@pytest.mark.old_duckdb
def test_duckdb_1_1_reads_a_file_the_loader_wrote(tmp_path: Path) -> None:
    old_python = os.environ.get("DUCKSPOOL_OLD_DUCKDB_PYTHON")
    if not old_python:
        if os.environ.get("DUCKSPOOL_REQUIRE_OLD_DUCKDB") == "1":
            pytest.fail("DUCKSPOOL_OLD_DUCKDB_PYTHON is required here (.ci/run sets it)")
        pytest.skip("set DUCKSPOOL_OLD_DUCKDB_PYTHON to a Python with duckdb 1.1 (.ci/run does)")
    events = 2 * ROW_GROUP_ROWS + 7
    spool, db = tmp_path / "spool", tmp_path / "telemetry.duckdb"
    for n in range(2):
        lines = [sample_event(i).to_json_line() for i in range(n * events, (n + 1) * events)]
        write_segment(spool / "sealed", f"seg-{n:05d}.jsonl", lines)
    assert Loader(spool, db).run_once().ok
    assert len(_row_groups(db)) >= 4  # short row groups, in the format that reader knows
    (expected,) = _read_plainly(db, _FINGERPRINT)
    old = subprocess.run(
        [old_python, "-c", _OLD_READER, str(db), _FINGERPRINT],
        capture_output=True, text=True, timeout=120, check=True,
    )
    version, fingerprint = old.stdout.strip().splitlines()
    assert version.startswith("1.1.")
    assert fingerprint == repr(expected)
