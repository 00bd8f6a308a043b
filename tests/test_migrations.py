"""Migrations: fresh database, idempotent re-run, tampered file and newer database refused."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from duckspool import DatabaseTooNew, DuckDBTelemetryRepository, MigrationChecksumMismatch
from duckspool.migrations import _runner, applied, available, migrate, pending
from duckspool.repository import open_database


def test_fresh_database_gets_every_migration_in_order(db_path: Path) -> None:
    con = open_database(db_path)
    done = migrate(con)
    assert [m.version for m in done] == [m.version for m in available()]
    assert [m.version for m in done] == sorted(m.version for m in done)
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables")
              .fetchall()}
    assert {"telemetry_events", "load_ledger", "schema_migrations"} <= tables
    recorded = applied(con)
    assert [(r.version, r.checksum) for r in recorded] == [(m.version, m.checksum)
                                                           for m in available()]
    con.close()


def test_rerun_is_a_no_op(db_path: Path) -> None:
    con = open_database(db_path)
    migrate(con)
    before = applied(con)
    assert migrate(con) == []
    assert pending(con) == []
    assert applied(con) == before
    con.close()


def test_tampered_migration_is_refused(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    con = open_database(db_path)
    migrate(con)
    con.close()
    originals = available()
    tampered = [replace(m, sql=m.sql + "\n-- edited") if m.version == 2 else m
                for m in originals]
    monkeypatch.setattr(_runner, "available", lambda: tampered)
    with pytest.raises(MigrationChecksumMismatch, match="0002_telemetry_events"):
        DuckDBTelemetryRepository(db_path)


def test_database_from_a_newer_release_is_refused_and_untouched(db_path: Path) -> None:
    with DuckDBTelemetryRepository(db_path) as repo:
        repo.save_many([])
    con = duckdb.connect(str(db_path))
    con.execute("INSERT INTO schema_migrations (version, name, checksum) "
                "VALUES (9999, 'from_the_future', 'x')")
    con.execute("CREATE TABLE future_thing (x INT)")
    con.close()
    with pytest.raises(DatabaseTooNew, match="9999_from_the_future"):
        DuckDBTelemetryRepository(db_path)
    con = duckdb.connect(str(db_path), read_only=True)
    assert con.execute("SELECT max(version) FROM schema_migrations").fetchone() == (9999,)
    con.close()


def test_a_failing_migration_rolls_back_alone(db_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    broken = [*available(), _runner.Migration(999, "broken", "CREATE TABLE ok_part (x INT);"
                                              " SELECT * FROM no_such_table;")]
    monkeypatch.setattr(_runner, "available", lambda: broken)
    con = open_database(db_path)
    with pytest.raises(_runner.MigrationError, match="0999_broken"):
        migrate(con)
    versions = [r.version for r in applied(con)]
    assert 999 not in versions
    assert versions == [m.version for m in broken[:-1]]
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables")
              .fetchall()}
    assert "ok_part" not in tables
    con.close()


def test_migrations_are_shipped_as_package_data() -> None:
    names = [f"{m.version:04d}_{m.name}" for m in available()]
    assert names[:2] == ["0001_base", "0002_telemetry_events"]
