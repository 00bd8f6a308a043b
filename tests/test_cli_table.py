"""The CLI's answer to each bad input: exit code, one line on stderr, never a traceback.

Run in-process through ``main(argv)``; the working directory is a fresh temporary
one, so "nothing created by mistake" is checked by listing it afterwards.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from duckspool.cli import build_parser, main
from duckspool.cli._locate import holder_of
from duckspool.cli._parser import QUARANTINE_REASONS
from duckspool.cli._reference import _subparsers
from tests.conftest import child_env, load_vectors, sample_event, spawn_python, write_segment


@pytest.fixture(autouse=True)
def _in_empty_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("DUCKSPOOL_SPOOL_DIR", raising=False)
    monkeypatch.delenv("DUCKSPOOL_DB", raising=False)
    level = logging.getLogger("apscheduler").level
    yield
    logging.getLogger("apscheduler").setLevel(level)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    if code != 0:
        assert len(err.strip().splitlines()) == 1, err
    return code, out, err


USAGE = [
    [],
    ["bogus"],
    ["quarantine"],
    ["quarantine", "list", "--reason", "bogus"],
    ["quarantine", "list", "--limit", "-1"],
    ["query", ""],
    ["query", ";"],
    ["query", "-- comment"],
    ["query", " ;; -- nothing\n"],
    ["query"],
    ["query", "SELECT 1", "--file", "q.sql"],
    ["query", "SELECT 1", "--format", "xml"],
    ["query", "SELECT 1", "--max-rows", "-1"],
    ["query", "SELECT 1", "--wait", "-1"],
    ["query", "SELECT 1", "--wait", "nan"],
    ["query", "SELECT 1; SELECT 2", "--format", "json"],
    ["stats", "--loads", "-1"],
    ["stats", "--loads", "1e9"],
    ["stats", "--wait", "inf"],
    ["demo", "--workers", "0"],
    ["demo", "--workers", "-3"],
    ["demo", "--events", "0"],
    ["demo", "--events", "abc"],
    ["load", "--batch-events", "0"],
    ["load", "--batch-events", "1.5"],
    ["load", "--spool", ""],
    ["load", "--db", ""],
    ["run", "--interval", "-5"],
    ["run", "--interval", "0"],
    ["run", "--interval", "nan"],
    ["run", "--interval", "inf"],
    ["run", "--interval", "1e9"],
    ["run", "--interval", "abc"],
    ["run", "--batch-events", "0"],
    ["migrate", "--dry-run", "extra"],
]


@pytest.mark.parametrize("argv", USAGE, ids=lambda a: " ".join(a) or "(none)")
def test_usage_mistakes_exit_2_with_one_line(capsys: pytest.CaptureFixture[str],
                                             argv: list[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2, (out, err)
    assert err.startswith("duckspool"), err
    assert list(Path().iterdir()) == []  # nothing created


def test_reason_and_interval_errors_say_what_is_allowed(capsys: pytest.CaptureFixture[str]) -> None:
    _, _, err = run(capsys, "quarantine", "list", "--reason", "bogus")
    assert all(reason in err for reason in QUARANTINE_REASONS)
    _, _, err = run(capsys, "run", "--interval", "-5")
    assert "--interval" in err and "0.1" in err and "86400" in err


def test_quarantine_reasons_are_the_documented_ones() -> None:
    import re

    text = (Path(__file__).resolve().parent.parent / "docs" / "loader.md").read_text()
    table = text.split("| reason | meaning |", 1)[1].split("\n\n", 1)[0]
    documented = re.findall(r"^\| `([a-z_]+)` \|", table, re.M)
    assert sorted(QUARANTINE_REASONS) == sorted(documented)


READERS = [
    ["load"],
    ["load", "--spool", "/nonexistent/spool"],
    ["stats"],
    ["query", "SELECT 1"],
    ["quarantine", "list"],
    ["quarantine", "replay"],
]


@pytest.mark.parametrize("argv", READERS, ids=" ".join)
def test_read_commands_never_create_and_say_where_they_looked(
        capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 1
    assert "does not exist" in err
    if "/nonexistent/spool" not in argv:
        assert os.getcwd() in err  # the working directory they looked in
    assert list(Path().iterdir()) == []
    assert not Path("/nonexistent/spool").exists()


def test_env_path_that_is_a_file(capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUCKSPOOL_SPOOL_DIR", "/etc/passwd")
    code, _, err = run(capsys, "load")
    assert code == 1 and "not a directory" in err and "$DUCKSPOOL_SPOOL_DIR" in err


def test_db_path_that_is_not_a_database(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    write_segment(tmp_path / "spool" / "sealed", "a.jsonl", [sample_event(1).to_json_line()])
    for argv in (["query", "SELECT 1"], ["stats"], ["load"], ["migrate"]):
        code, _, err = run(capsys, *argv, "--spool", str(tmp_path / "spool"), "--db", "/etc/passwd")
        assert code == 1, argv
        assert "not a valid DuckDB database" in err, err


def test_tilde_is_expanded_in_options_and_variables(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DUCKSPOOL_DB", "~/tele.duckdb")
    assert run(capsys, "migrate")[0] == 0
    assert (home / "tele.duckdb").exists()
    assert run(capsys, "migrate", "--db", "~/other.duckdb")[0] == 0
    assert (home / "other.duckdb").exists()
    monkeypatch.setenv("DUCKSPOOL_SPOOL_DIR", "~/spool")
    (home / "spool").mkdir()
    assert run(capsys, "stats")[0] == 0
    assert list(Path().iterdir()) == []  # no literal ./~


def test_migrate_dry_run_creates_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "migrate", "--dry-run", "--db", "new/t.duckdb")
    assert code == 0 and "pending 0001_base" in out and "does not exist yet" in out
    assert list(Path().iterdir()) == []
    assert run(capsys, "migrate", "--db", "t.duckdb")[0] == 0
    before = sorted(p.name for p in Path().iterdir())
    code, out, _ = run(capsys, "migrate", "--dry-run", "--db", "t.duckdb")
    assert code == 0 and "up to date" in out
    assert sorted(p.name for p in Path().iterdir()) == before


@pytest.fixture
def loaded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    spool, db = tmp_path / "spool", tmp_path / "t.duckdb"
    write_segment(spool / "sealed", "v.jsonl", [v["line"] for v in load_vectors()])
    write_segment(spool / "sealed", "w.jsonl", [sample_event(i).to_json_line() for i in range(3)])
    assert run(capsys, "migrate", "--db", str(db))[0] == 0
    code, out, _ = run(capsys, "load", "--spool", str(spool), "--db", str(db), "--json", "-v")
    assert code == 0
    assert json.loads(out)["events_inserted"] == 12
    return spool, db


def test_stats_reports_loads_as_loads(loaded: tuple[Path, Path],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    spool, db = loaded
    write_segment(spool / "sealed", "x.jsonl", [sample_event(99).to_json_line()])
    assert run(capsys, "load", "--spool", str(spool), "--db", str(db))[0] == 0
    code, out, _ = run(capsys, "stats", "--spool", str(spool), "--db", str(db), "--json")
    data = json.loads(out)
    assert code == 0 and data["database_state"] == "ok" and data["rows"] == 13
    assert [(x["segments"], x["inserted"]) for x in data["recent_loads"]] == [(1, 1), (2, 12)]
    code, out, _ = run(capsys, "stats", "--spool", str(spool), "--db", str(db), "--loads", "1")
    assert "1 segment(s)  lines=1 inserted=1" in out and "lines=23" not in out


def test_strangers_in_sealed_are_named(loaded: tuple[Path, Path],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    spool, db = loaded
    (spool / "sealed" / "notes.txt").write_text("hello")
    (spool / "sealed" / "old.jsonl.gz").write_bytes(b"\x1f\x8b")
    code, out, err = run(capsys, "load", "--spool", str(spool), "--db", str(db))
    assert code == 0 and "notes.txt" in err and "old.jsonl.gz" in err
    code, out, _ = run(capsys, "stats", "--spool", str(spool), "--db", str(db))
    assert "notes.txt" in out and "old.jsonl.gz" in out
    data = json.loads(run(capsys, "stats", "--spool", str(spool), "--db", str(db), "--json")[1])
    assert data["not_segments"] == ["notes.txt", "old.jsonl.gz"]


def test_load_says_when_only_active_segments_wait(loaded: tuple[Path, Path],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from duckspool import Emitter, make_event

    spool, db = loaded
    emitter = Emitter(spool, max_segment_age=3600)
    try:
        emitter.emit(make_event("action.test.wait", {}, session_id="s", user_id="u"))
        assert emitter.flush(30)
        code, out, err = run(capsys, "load", "--spool", str(spool), "--db", str(db))
        assert code == 0
        assert "active" in err and "1 segment(s) still being written" in err
        assert "max_segment_age" in err
    finally:
        emitter.close()


def test_busy_database(loaded: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    spool, db = loaded
    write_segment(spool / "sealed", "y.jsonl", [sample_event(77).to_json_line()])
    holder = spawn_python("""
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
sys.stdin.readline()
""", str(db), stdin=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline()
        code, out, err = run(capsys, "stats", "--spool", str(spool), "--db", str(db), "--json")
        assert code == 75
        data = json.loads(out)
        assert data["sealed"]["segments"] == 1  # the backlog is still shown
        assert data["database_state"] == "busy" and data["rows"] is None
        assert f"pid {holder.pid}" in err and "--wait SECONDS" in err
        code, out, err = run(capsys, "stats", "--spool", str(spool), "--db", str(db))
        assert code == 75 and "1 segment(s)" in out and "BUSY" in out
        code, _, err = run(capsys, "query", "SELECT 1", "--db", str(db))
        assert code == 75 and "--wait SECONDS" in err and f"pid {holder.pid}" in err
        code, _, err = run(capsys, "load", "--spool", str(spool), "--db", str(db))
        assert code == 75 and "busy" in err
        assert (spool / "sealed" / "y.jsonl").exists()
    finally:
        holder.communicate("\n", timeout=60)
    code, out, _ = run(capsys, "query", "SELECT count(*) AS n FROM telemetry_events",
                       "--db", str(db), "--wait", "30")
    assert code == 0 and "12" in out


def test_the_holder_is_named_from_its_command_line(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "duckspool", "run", "--spool", str(tmp_path / "s"),
         "--db", str(tmp_path / "t.duckdb"), "--interval", "86400"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(),
    )
    try:
        assert proc.stderr is not None and "Ctrl-C" in proc.stderr.readline()
        assert "duckspool run" in holder_of(f"Conflicting lock is held in x (PID {proc.pid})")
    finally:
        proc.terminate()
        proc.communicate(timeout=60)
    assert holder_of(f"(PID {os.getpid()})").startswith(f"pid {os.getpid()} (")


def test_query_output(loaded: tuple[Path, Path], capsys: pytest.CaptureFixture[str],
                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, db = loaded
    sql = ("SELECT NULL AS n, true AS b, [1, 2] AS l, repeat('x', 100) AS long, "
           "'{\"a\": {\"b\": 1}}'::JSON AS j")
    code, out, _ = run(capsys, "query", sql, "--db", str(db))
    lines = out.splitlines()
    assert code == 0 and lines[2].startswith("NULL  true  [1,2]  ")
    assert "x" * 59 + "…" in lines[2] and "x" * 61 not in out
    rows = json.loads(run(capsys, "query", sql, "--db", str(db), "--format", "json")[1])
    assert rows == [{"n": None, "b": True, "l": [1, 2], "long": "x" * 100, "j": {"a": {"b": 1}}}]
    csv = run(capsys, "query", sql, "--db", str(db), "--format", "csv")[1].splitlines()
    assert csv[1].startswith(',true,"[1,2]",')
    nd = run(capsys, "query", "SELECT range AS i FROM range(3)", "--db", str(db),
             "--format", "ndjson")[1]
    assert [json.loads(x) for x in nd.splitlines()] == [{"i": 0}, {"i": 1}, {"i": 2}]
    code, out, _ = run(capsys, "query", "SELECT range FROM range(250)", "--db", str(db))
    assert "(100 rows)" in out and "150 more row(s) not shown, 250 in all" in out
    out = run(capsys, "query", "SELECT range FROM range(250)", "--db", str(db),
              "--max-rows", "0")[1]
    assert "(250 rows)" in out and "not shown" not in out
    (tmp_path / "q.sql").write_text("SELECT 1 AS one;\nSELECT 2 AS two;")
    out = run(capsys, "query", "--file", str(tmp_path / "q.sql"), "--db", str(db))[1]
    assert "one" in out and "two" in out and out.count("(1 row)") == 2
    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO("SELECT 42 AS answer"))
    out = run(capsys, "query", "-", "--db", str(db), "--format", "csv")[1]
    assert out.splitlines() == ["answer", "42"]
    code, _, err = run(capsys, "query", "SELECT 1; SELECT nope", "--db", str(db))
    assert code == 1 and "statement 2 of 2" in err


def test_verbose_after_the_subcommand_keeps_apscheduler_quiet(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(capsys, "migrate", "--db", str(tmp_path / "t.duckdb"), "-v")[0] == 0
    assert logging.getLogger("apscheduler").level == logging.WARNING
    assert run(capsys, "-v", "migrate", "--db", str(tmp_path / "t.duckdb"), "-vv")[0] == 0
    assert logging.getLogger("apscheduler").level == logging.DEBUG


def _commands() -> dict[str, object]:
    found: dict[str, object] = {}
    for name, sub in _subparsers(build_parser()).items():
        nested = _subparsers(sub)
        found.update({f"{name} {n}": p for n, p in nested.items()} if nested else {name: sub})
    return found


@pytest.mark.parametrize("command", [c for c in _commands() if c != "export"])
def test_every_help_has_a_description_defaults_and_an_example(
        capsys: pytest.CaptureFixture[str], command: str) -> None:
    code, out, _ = run(capsys, *command.split(), "--help")
    assert code == 0
    assert "example:\n  duckspool " + command in out
    parser = _commands()[command]
    assert parser.description and parser.description.endswith(".")  # type: ignore[attr-defined]
    for action in parser._actions:  # type: ignore[attr-defined]
        if action.default not in (None, False, "==SUPPRESS==") and action.help:
            assert "default" in action.help, (command, action.dest)
    assert "-v, --verbose" in out


BAD_VALUES = ["", "-1", "0", "nan", "inf", "abc", "1e400", "99999999999999999999",
              "/etc/passwd", "/nonexistent/x"]


@pytest.mark.parametrize("command", list(_commands()))
def test_fuzz_every_option_with_bad_values(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path, command: str) -> None:
    """No value of any option produces a traceback or more than one line of error."""
    parser = _commands()[command]
    for action in parser._actions:  # type: ignore[attr-defined]
        if not action.option_strings or action.nargs == 0 or action.dest == "help":
            continue
        numeric = getattr(action.type, "__name__", "") in ("integer", "number")
        if command in ("run", "demo") and not numeric:
            continue  # a valid path would start a long-running command
        for value in BAD_VALUES:
            argv = [*command.split(), action.option_strings[-1], value]
            if command == "query":
                argv.append("SELECT 1")
            if command == "export" and action.dest != "to":
                argv += ["--to", str(tmp_path / "lake")]
            code, _, _ = run(capsys, *argv)
            assert code in (0, 1, 2, 75), argv
            if numeric and value in ("", "nan", "inf", "abc", "1e400", "99999999999999999999"):
                assert code == 2, argv
