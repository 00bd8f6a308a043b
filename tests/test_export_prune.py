"""``prune`` deletes only rows proven to be in the export: tried adversarially.

After every prune, each event ever stored is either still in DuckDB or in an
export file a manifest lists: nothing is lost between the two.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from duckspool import ConfigurationError, DuckDBTelemetryRepository, TelemetryEvent
from duckspool.repository import _export, export_parquet, prune_exported, read_manifests
from tests.conftest import child_env
from tests.export_data import DAY0, events

CUT = DAY0 + timedelta(days=2)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "duckspool", *args], capture_output=True,
                          text=True, env=child_env(), timeout=120, check=False)


def db_ids(repo: DuckDBTelemetryRepository) -> set[str]:
    return {r[0] for r in repo.fetch("SELECT id::VARCHAR FROM telemetry_events")[1]}


def manifest_ids(lake: Path) -> set[str]:
    files = [str(lake / f.path) for _, m in read_manifests(lake) for f in m.files
             if (lake / f.path).exists()]
    if not files:
        return set()
    return {r[0] for r in duckdb.sql(f"SELECT id FROM read_parquet({files!r})").fetchall()}


def assert_nothing_lost(repo: DuckDBTelemetryRepository, lake: Path,
                        stored: list[TelemetryEvent]) -> None:
    assert {str(e.id) for e in stored} <= db_ids(repo) | manifest_ids(lake)


def old_ids(stored: list[TelemetryEvent]) -> set[str]:
    return {str(e.id) for e in stored if e.timestamp < CUT}


def test_prune_deletes_exactly_the_exported_rows_before_the_cutoff(
    db_path: Path, tmp_path: Path
) -> None:
    lake, stored = tmp_path / "lake", events(1, 400, 4)
    with DuckDBTelemetryRepository(db_path) as repo:
        repo.save_many(stored)
        export_parquet(repo, lake)
        dry = prune_exported(repo, lake, CUT, dry_run=True)
        assert dry.deleted == dry.candidates == len(old_ids(stored)) and repo.count() == 400
        result = prune_exported(repo, lake, CUT)
        assert (result.deleted, result.kept, result.problems) == (len(old_ids(stored)), 0, ())
        assert db_ids(repo) == {str(e.id) for e in stored} - old_ids(stored)
        assert_nothing_lost(repo, lake, stored)
        again = prune_exported(repo, lake, CUT)
        assert (again.candidates, again.deleted) == (0, 0)


def test_a_row_loaded_late_with_an_old_timestamp_is_kept_until_exported(
    db_path: Path, tmp_path: Path
) -> None:
    lake, stored = tmp_path / "lake", events(1, 200, 4)
    late = events(9, 5, 1)  # occurred on day 0, loaded after the export
    with DuckDBTelemetryRepository(db_path) as repo:
        repo.save_many(stored)
        export_parquet(repo, lake)
        repo.save_many(late)
        result = prune_exported(repo, lake, CUT)
        assert result.kept == 5 and {str(e.id) for e in late} <= db_ids(repo)
        assert_nothing_lost(repo, lake, stored + late)
        export_parquet(repo, lake)
        assert prune_exported(repo, lake, CUT).deleted == 5
        assert not {str(e.id) for e in late} & db_ids(repo)
        assert_nothing_lost(repo, lake, stored + late)


def test_rows_of_a_deleted_or_rewritten_export_file_are_kept(db_path: Path, tmp_path: Path) -> None:
    lake, stored = tmp_path / "lake", events(1, 400, 4)
    with DuckDBTelemetryRepository(db_path) as repo:
        repo.save_many(stored)
        export_parquet(repo, lake)
        day0 = sorted((lake / "date=2026-03-01").rglob("*.parquet"))
        gone, rewritten = day0[0], day0[1]
        gone_ids = {r[0] for r in duckdb.sql(f"SELECT id FROM '{gone}'").fetchall()}
        cut_ids = {r[0] for r in duckdb.sql(f"SELECT id FROM '{rewritten}'").fetchall()}
        gone.unlink()
        # Same name, fewer rows (someone "compacted" it): the manifest no longer matches.
        duckdb.sql(f"COPY (SELECT * FROM '{rewritten}' LIMIT 1) TO '{rewritten}.tmp' (FORMAT parquet)")
        Path(f"{rewritten}.tmp").replace(rewritten)
        result = prune_exported(repo, lake, CUT)
        assert len(result.problems) == 2
        assert "missing" in result.problems[0] or "missing" in result.problems[1]
        assert gone_ids | cut_ids <= db_ids(repo)
        assert result.kept == len(gone_ids | cut_ids)
        assert result.deleted == len(old_ids(stored)) - result.kept
        assert_nothing_lost(repo, lake, stored)


def test_rows_of_a_failed_export_are_kept(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake, first, second = tmp_path / "lake", events(1, 200, 4), events(2, 100, 4)
    with DuckDBTelemetryRepository(db_path) as repo:
        repo.save_many(first)
        export_parquet(repo, lake)
        repo.save_many(second)

        def crash(*_: object) -> None:
            raise OSError("killed before the manifest")

        monkeypatch.setattr(_export, "write_manifest", crash)
        with pytest.raises(OSError):
            export_parquet(repo, lake)
        monkeypatch.undo()
        # The failed run's files are on disk, complete even, but no manifest vouches for them.
        on_disk = {r[0] for r in duckdb.sql(
            f"SELECT id FROM read_parquet('{lake}/**/*.parquet')").fetchall()}
        assert {str(e.id) for e in second} <= on_disk
        result = prune_exported(repo, lake, CUT)
        assert result.deleted == len(old_ids(first))
        assert old_ids(second) <= db_ids(repo)
        assert_nothing_lost(repo, lake, first + second)


def test_prune_refuses_what_it_cannot_check(db_path: Path, tmp_path: Path) -> None:
    with DuckDBTelemetryRepository(db_path) as repo:
        repo.save_many(events(1, 20, 1))
        with pytest.raises(ConfigurationError, match="does not exist"):
            prune_exported(repo, tmp_path / "nowhere", CUT)
        with pytest.raises(ConfigurationError, match="timezone-aware"):
            prune_exported(repo, tmp_path, CUT.replace(tzinfo=None))
        empty = prune_exported(repo, tmp_path, CUT)  # a directory with no manifest
        assert (empty.candidates, empty.deleted) == (20, 0)


def test_cli_prune(db_path: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    with DuckDBTelemetryRepository(db_path) as repo:
        repo.save_many(events(1, 100, 4))
        export_parquet(repo, lake)
        old = len([1 for e in events(1, 100, 4) if e.timestamp < CUT])
    args = ["prune", "--db", str(db_path), "--export-dir", str(lake), "--exported-before"]
    dry = cli(*args, "2026-03-03", "--dry-run")
    assert dry.returncode == 0 and f"would delete {old} of {old} row(s)" in dry.stdout
    next(lake.rglob("*.parquet")).unlink()
    proc = cli(*args, "2026-03-03")
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "missing" in proc.stderr
    assert "Traceback" not in proc.stderr
    missing = cli("prune", "--db", str(tmp_path / "none.duckdb"), "--export-dir", str(lake),
                  "--exported-before", "2026-03-03")
    assert missing.returncode == 1 and "none.duckdb" in missing.stderr
    assert not (tmp_path / "none.duckdb").exists()
