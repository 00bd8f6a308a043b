"""How duckspool opens a DuckDB file: short row groups, and otherwise as ``duckdb.connect`` would."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from duckspool import DuckDBTelemetryRepository, Loader, RepositoryError
from duckspool.repository import open_database
from duckspool.repository._connection import ROW_GROUP_ROWS
from tests.conftest import sample_event, write_segment


def _row_groups(db: Path) -> list[int]:
    """Rows per row group of ``telemetry_events``, read by a plain ``duckdb.connect``."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT row_group_id, max(start + count) - min(start) FROM pragma_storage_info("
            "'telemetry_events') WHERE column_name = 'id' AND segment_type <> 'VALIDITY' "
            "GROUP BY ALL ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
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


@pytest.mark.parametrize("name", ["telemetry.duckdb", "memory.duckdb", "it's a db.duckdb"])
def test_the_file_is_the_default_catalog_under_its_stem(tmp_path: Path, name: str) -> None:
    db = tmp_path / name
    con = open_database(db)
    try:
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
        stem = name.split(".", maxsplit=1)[0]
        expected = "duckspool" if stem == "memory" else stem
        assert con.execute("SELECT current_database()").fetchone() == (expected,)
        spill = con.execute("SELECT current_setting('temp_directory')").fetchone()
        assert spill == (f"{db}.tmp",)  # beside the file, not in the working directory
    finally:
        con.close()
    check = subprocess.run(
        [sys.executable, "-c", "import sys, duckdb; "
         "print(duckdb.connect(sys.argv[1]).execute('SELECT x FROM t').fetchone()[0])", str(db)],
        capture_output=True, text=True, timeout=60, check=True,
    )
    assert check.stdout.strip() == "1"


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
