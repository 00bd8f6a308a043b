"""The Parquet export: its column contract, manifests, windows, crash recovery, modes, CLI edges."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import duckdb
import psutil
import pytest

from duckspool import ConfigurationError, DuckDBTelemetryRepository
from duckspool.repository import (
    EXPORT_COLUMNS,
    EXPORT_SCHEMA_VERSION,
    _export,
    export_parquet,
    prune_exported,
    read_manifests,
)
from tests.conftest import child_env, spawn_python
from tests.export_data import DAY0, events


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "duckspool", *args], capture_output=True,
                          text=True, env=child_env(), timeout=120, check=False)


def lake_rows(lake: Path) -> list[tuple]:
    return duckdb.sql(
        f"SELECT id::UUID, event_type, occurred_at, payload FROM read_parquet("
        f"'{lake}/**/*.parquet', hive_partitioning = true) ORDER BY id").fetchall()


def table_rows(repo: DuckDBTelemetryRepository) -> list[tuple]:
    return repo.fetch("SELECT id, event_type, occurred_at, payload::VARCHAR "
                      "FROM telemetry_events ORDER BY id")[1]


def test_files_follow_the_documented_column_contract(db_path: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    with DuckDBTelemetryRepository(db_path) as repo:
        repo.save_many(events(1, 300, 2))
        export_parquet(repo, lake)
    files = sorted(lake.rglob("*.parquet"))
    assert files
    for f in files:
        date, namespace = f.parent.parent.name, f.parent.name
        assert date.startswith("date=2026-0") and namespace.startswith("namespace=")
        schema = duckdb.sql(
            f"SELECT name, type, logical_type, converted_type FROM parquet_schema('{f}') "
            "WHERE name != 'duckdb_schema'").fetchall()
        assert [s[0] for s in schema] == list(EXPORT_COLUMNS)
        by_name = {s[0]: s for s in schema}
        for name, duck_type in EXPORT_COLUMNS.items():
            _, physical, logical, converted = by_name[name]
            assert "UUID" not in str(logical) and "JSON" not in str(logical), name
            if duck_type == "VARCHAR":
                assert (physical, converted) == ("BYTE_ARRAY", "UTF8"), name
            elif duck_type == "TIMESTAMPTZ":
                assert physical == "INT64" and "isAdjustedToUTC=1" in str(logical), name
                assert converted == "TIMESTAMP_MICROS", name
            else:
                assert (physical, converted) == ("INT32", "INT_32"), name


def test_export_is_incremental_and_reads_back_exactly(db_path: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    with DuckDBTelemetryRepository(db_path) as repo:
        repo.save_many(events(1, 200, 3))
        first = export_parquet(repo, lake)
        assert (first.rows, first.manifest is not None) == (200, True)
        assert export_parquet(repo, lake).rows == 0
        repo.save_many(events(2, 50, 1) + events(3, 1, 1, start=DAY0 - timedelta(days=30)))
        second = export_parquet(repo, lake)
        assert second.rows == 51
        assert lake_rows(lake) == table_rows(repo)
    assert (lake / "date=2026-01-30").is_dir()  # the late, old event went to its own day


def test_a_manifest_per_run_says_what_it_covers(db_path: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    with DuckDBTelemetryRepository(db_path) as repo:
        repo.save_many(events(1, 120, 2))
        export_parquet(repo, lake)
        repo.save_many(events(2, 30, 1))
        export_parquet(repo, lake)
        ids = repo.fetch("SELECT min(id)::VARCHAR, max(id)::VARCHAR FROM telemetry_events")[1][0]
    (_, one), (_, two) = list(read_manifests(lake))
    assert (one.rows, two.rows) == (120, 30)
    assert one.loaded_after is None and two.loaded_after == one.loaded_until
    assert one.export_schema_version == two.export_schema_version == EXPORT_SCHEMA_VERSION
    assert one.event_schema_versions == (1,)
    assert min(one.min_id, two.min_id) == ids[0] and max(one.max_id, two.max_id) == ids[1]
    for manifest in (one, two):
        assert sum(f.rows for f in manifest.files) == manifest.rows
        for entry in manifest.files:
            path = lake / entry.path
            assert path.stat().st_size == entry.bytes
            ((n, lo, hi),) = duckdb.sql(f"SELECT count(*), min(occurred_at), max(occurred_at) "
                                        f"FROM read_parquet('{path}')").fetchall()
            assert n == entry.rows
            assert (lo.isoformat(), hi.isoformat()) == (entry.min_occurred_at, entry.max_occurred_at)
    assert len(set(lake.rglob("*.parquet"))) == len(one.files) + len(two.files)


def test_files_and_directories_are_owner_only(db_path: Path, tmp_path: Path) -> None:
    lake = tmp_path / "deep" / "lake"
    with DuckDBTelemetryRepository(db_path) as repo:
        repo.save_many(events(1, 100, 2))
        export_parquet(repo, lake)
    paths = [lake, lake.parent, *lake.rglob("*")]
    for p in paths:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (0o700 if p.is_dir() else 0o600), (p, oct(mode))


def test_a_crashed_run_is_redone_without_doubling_or_leftovers(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = tmp_path / "lake"
    with DuckDBTelemetryRepository(db_path) as repo:
        repo.save_many(events(1, 200, 3))

        def crash(*_: object) -> None:
            raise OSError("disk gone")

        monkeypatch.setattr(_export, "write_manifest", crash)
        with pytest.raises(OSError, match="disk gone"):
            export_parquet(repo, lake)
        monkeypatch.undo()
        written = sorted(lake.rglob("*.parquet"))
        assert written and not list(read_manifests(lake))
        # The failed attempt split differently: an extra file of its run must go too.
        shutil.copy(written[0], written[0].with_name(written[0].name.replace("-0.", "-9.")))
        again = export_parquet(repo, lake)
        assert again.rows == 200
        assert lake_rows(lake) == table_rows(repo)
        ((_, manifest),) = list(read_manifests(lake))
        assert manifest.rows == 200
        assert export_parquet(repo, lake).rows == 0


def test_since_until_windows_keep_their_own_progress_and_never_overlap(
    db_path: Path, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    d1, d3 = DAY0 + timedelta(days=1), DAY0 + timedelta(days=3)
    with DuckDBTelemetryRepository(db_path) as repo:
        repo.save_many(events(1, 400, 4))
        first = export_parquet(repo, lake, since=d1, until=d3)
        expected = repo.fetch(
            "SELECT count(*) FROM telemetry_events WHERE occurred_at >= ? AND occurred_at < ?",
            [d1, d3])[1][0][0]
        assert first.rows == expected
        assert {p.parent.parent.name for p in lake.rglob("*.parquet")} == {
            "date=2026-03-02", "date=2026-03-03"}
        later = export_parquet(repo, lake, since=d3)
        assert export_parquet(repo, lake, since=d1, until=d3).rows == 0
        with pytest.raises(ConfigurationError, match="overlaps"):
            export_parquet(repo, lake, since=DAY0 + timedelta(days=2))
        with pytest.raises(ConfigurationError, match="overlaps"):
            export_parquet(repo, lake)
        with pytest.raises(ConfigurationError, match="before"):
            export_parquet(repo, tmp_path / "other", since=d3, until=d1)
        newer = repo.fetch("SELECT count(*) FROM telemetry_events WHERE occurred_at >= ?",
                           [d1])[1][0][0]
    assert first.rows + later.rows == newer
    ((n, distinct),) = duckdb.sql(f"SELECT count(*), count(DISTINCT id) FROM read_parquet("
                                  f"'{lake}/**/*.parquet')").fetchall()
    assert n == distinct == newer


def test_cli_export_errors_name_what_is_missing_and_create_nothing(tmp_path: Path) -> None:
    db, lake = tmp_path / "absent" / "t.duckdb", tmp_path / "lake"
    proc = cli("export", "--db", str(db), "--to", str(lake))
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and str(db) in proc.stderr and "Traceback" not in proc.stderr
    assert not db.parent.exists() and not lake.exists()
    bad = cli("export", "--db", str(db), "--to", str(lake), "--since", "yesterday")
    assert bad.returncode == 2 and "not a date" in bad.stderr


def test_cli_export_then_busy_database_exits_75(db_path: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    with DuckDBTelemetryRepository(db_path) as repo:
        repo.save_many(events(1, 50, 1))
        busy = cli("export", "--db", str(db_path), "--to", str(lake))
        assert busy.returncode == 75, busy.stderr
        assert busy.stderr.count("\n") == 1 and "locked" in busy.stderr
    proc = cli("export", "--db", str(db_path), "--to", str(lake), "--since", "2026-03-01")
    assert proc.returncode == 0, proc.stderr
    assert "exported 50 row(s)" in proc.stdout
    manifest = json.loads(next((lake / "_manifests").glob("run-*.json")).read_text())
    assert manifest["since"] == "2026-03-01T00:00:00+00:00" and manifest["rows"] == 50


EXPORT_CHILD = """
import os, signal, sys
from duckspool import DuckDBTelemetryRepository
from duckspool.repository import _export, export_parquet
db, lake, when = sys.argv[1], sys.argv[2], sys.argv[3]
original = _export.write_manifest
def stopping(root, manifest):
    if when == "before_manifest":
        os.kill(os.getpid(), signal.SIGSTOP)  # the parent kills us -9 here
    path = original(root, manifest)
    if when == "after_manifest":
        os.kill(os.getpid(), signal.SIGSTOP)
    return path
_export.write_manifest = stopping
with DuckDBTelemetryRepository(db) as repo:
    export_parquet(repo, lake)
"""


@pytest.mark.parametrize("when", ["before_manifest", "after_manifest"])
def test_export_killed_9_is_redone_exactly(db_path: Path, tmp_path: Path, when: str) -> None:
    lake = tmp_path / "lake"
    with DuckDBTelemetryRepository(db_path) as repo:
        repo.save_many(events(1, 300, 3))
        export_parquet(repo, lake)  # a first, complete run
        repo.save_many(events(2, 200, 3))
    child = spawn_python(EXPORT_CHILD, str(db_path), str(lake), when)
    proc = psutil.Process(child.pid)
    deadline = time.monotonic() + 120
    while child.poll() is None and proc.status() != psutil.STATUS_STOPPED:
        assert time.monotonic() < deadline, "the export never reached its kill point"
        time.sleep(0.02)  # waiting on the child's state, not on time passing
    assert child.poll() is None, child.communicate()
    os.kill(child.pid, signal.SIGKILL)
    child.communicate(timeout=30)
    with DuckDBTelemetryRepository(db_path) as repo:
        again = export_parquet(repo, lake)
        assert again.rows == 200
        assert lake_rows(lake) == table_rows(repo)
        assert [m.rows for _, m in read_manifests(lake)] == [300, 200]
        result = prune_exported(repo, lake, DAY0 + timedelta(days=10))
        assert (result.deleted, result.kept, repo.count()) == (500, 0, 0)
