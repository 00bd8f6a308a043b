"""The CLI as a user runs it: real processes, exit codes, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import child_env, load_vectors, write_segment


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "duckspool", *args], capture_output=True,
                          text=True, env=child_env(), cwd=cwd, timeout=120, check=False)


@pytest.fixture
def loaded(tmp_path: Path) -> tuple[Path, Path]:
    spool, db = tmp_path / "spool", tmp_path / "t.duckdb"
    write_segment(spool / "sealed", "v.jsonl", [v["line"] for v in load_vectors()])
    assert cli("migrate", "--db", str(db)).returncode == 0  # load never creates the database
    proc = cli("load", "--spool", str(spool), "--db", str(db), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["events_inserted"] == 9
    assert report["quarantined"]["invalid_event"] == 11
    return spool, db


def test_version_and_help() -> None:
    assert cli("--version").stdout.startswith("duckspool ")
    assert "migrate" in cli("--help").stdout


def test_defaults_come_from_the_environment(tmp_path: Path) -> None:
    env = child_env() | {"DUCKSPOOL_DB": str(tmp_path / "env.duckdb")}
    proc = subprocess.run([sys.executable, "-m", "duckspool", "migrate"], capture_output=True,
                          text=True, env=env, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "env.duckdb").exists()


def test_query_formats(loaded: tuple[Path, Path]) -> None:
    _, db = loaded
    sql = "SELECT namespace, count(*) AS n FROM telemetry_events GROUP BY 1 ORDER BY 1"
    table = cli("query", sql, "--db", str(db))
    assert table.returncode == 0
    assert "action" in table.stdout and "(5 rows)" in table.stdout
    csv = cli("query", sql, "--db", str(db), "--format", "csv").stdout.splitlines()
    assert csv[0] == "namespace,n" and csv[1] == "action,5"
    rows = json.loads(cli("query", sql, "--db", str(db), "--format", "json").stdout)
    assert rows[0] == {"namespace": "action", "n": 5}


def test_query_is_read_only_and_errors_are_one_line(loaded: tuple[Path, Path]) -> None:
    _, db = loaded
    for sql in ("DELETE FROM telemetry_events", "SELECT nope FROM telemetry_events", "garbage"):
        proc = cli("query", sql, "--db", str(db))
        assert proc.returncode == 1
        assert "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "9" in cli("query", "SELECT count(*) FROM telemetry_events", "--db", str(db)).stdout


def test_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    proc = cli("query", "SELECT 1", "--db", str(tmp_path / "none.duckdb"))
    assert proc.returncode == 1
    assert "does not exist" in proc.stderr and "duckspool migrate" in proc.stderr


def test_stats_and_quarantine_list(loaded: tuple[Path, Path]) -> None:
    spool, db = loaded
    stats = json.loads(cli("stats", "--spool", str(spool), "--db", str(db), "--json").stdout)
    assert stats["rows"] == 9
    assert stats["quarantine"]["invalid_event"] == 11
    assert stats["sealed"]["segments"] == 0
    assert stats["recent_loads"][0]["first_segment"] == "v.jsonl"
    assert stats["recent_loads"][0]["segments"] == 1
    text = cli("stats", "--spool", str(spool), "--db", str(db)).stdout
    assert "quarantine 14 line(s)" in text
    listed = cli("quarantine", "list", "--spool", str(spool), "--reason", "invalid_json")
    assert "invalid_json" in listed.stdout and "(1 row)" in listed.stdout
    full = json.loads(cli("quarantine", "list", "--spool", str(spool), "--json",
                          "--limit", "0").stdout)
    assert len(full) == 14


def test_quarantine_replay_keeps_what_still_fails(loaded: tuple[Path, Path]) -> None:
    spool, db = loaded
    proc = cli("quarantine", "replay", "--spool", str(spool), "--db", str(db))
    assert proc.returncode == 0, proc.stderr
    assert "replayed 0 line(s)" in proc.stdout
    assert "14 stay in quarantine" in proc.stdout


def test_newer_database_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    import duckdb

    db = tmp_path / "t.duckdb"
    assert cli("migrate", "--db", str(db)).returncode == 0
    con = duckdb.connect(str(db))
    con.execute("INSERT INTO schema_migrations VALUES (9999, 'future', 'x', now())")
    con.close()
    proc = cli("migrate", "--db", str(db))
    assert proc.returncode == 1
    assert "newer release" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_export_command(loaded: tuple[Path, Path], tmp_path: Path) -> None:
    _, db = loaded
    out = cli("export", "--db", str(db), "--to", str(tmp_path / "lake"))
    assert out.returncode == 0, out.stderr
    assert "exported 9 row(s)" in out.stdout
    assert "exported 0 row(s)" in cli("export", "--db", str(db), "--to",
                                      str(tmp_path / "lake")).stdout


def test_demo_command_runs_to_its_report(tmp_path: Path) -> None:
    proc = cli("demo", "--dir", str(tmp_path / "d"), "--events", "600", "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    assert "exchange funnel" in proc.stdout
    assert "quarantined lines: 3" in proc.stdout
