"""Ctrl-C and SIGTERM against real `duckspool` processes: exit 130 with one line, no traceback,
nothing lost or doubled; a rerun loads exactly what is left.

Ctrl-C is sent as a terminal sends it, to the whole process group. Each phase is
reached by observation: the child announces the phase on stderr from a hook and
then stays in it (inside DuckDB for the insert phase), so the signal lands there
whatever the machine's speed. No sleeps.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import child_env
from tests.test_loader import _backlog, quarantine_reasons, rows

HOOKED_LOAD = """
import sys, threading
import duckspool.loader._loader as L
import duckspool.repository._ingest as I
from duckspool.cli import main

phase = sys.argv[1]

def announce(name):
    sys.stderr.write(f"PHASE {name}\\n")
    sys.stderr.flush()

def hold(name):
    announce(name)
    threading.Event().wait()  # until the signal arrives

if phase == "startup":
    original_recover = L.recover
    def recover(root):
        hold("startup")
    L.recover = recover
elif phase == "validate":
    original_add = L.Loader._add
    def _add(self, *a, **k):
        original_add(self, *a, **k)
        hold("validate")
    L.Loader._add = _add
elif phase == "insert":
    original_insert = I._insert
    def _insert(cur, *args):
        announce("insert")  # the real staging and insert of the whole backlog follow
        return original_insert(cur, *args)
    I._insert = _insert
elif phase == "insert-held":
    original_insert = I._insert
    def _insert(cur, *args):
        result = original_insert(cur, *args)
        announce("insert-held")
        # Still inside the transaction, rows inserted, nothing committed: a long
        # DuckDB query keeps the process inside DuckDB until Ctrl-C interrupts it.
        # One thread: DuckDB checks for Ctrl-C between the main thread's tasks, and
        # with several threads the main one may sit in a single task for minutes.
        cur.execute("SET threads = 1")
        cur.execute("SELECT sum(hash(range::VARCHAR || random())) FROM range(1000000000000)")
        return result
    I._insert = _insert
elif phase == "dispose":
    from duckspool.loader._segments import SegmentShelf
    def dispose(self, path):
        hold("dispose")  # committed, not yet removed from sealed/
    SegmentShelf.dispose = dispose

sys.exit(main(["load", "--spool", sys.argv[2], "--db", sys.argv[3], "--batch-events", sys.argv[4]]))
"""


def _interrupt_in(phase: str, spool: Path, db: Path) -> str:
    # The real insert phase loads the whole backlog in one transaction (seconds of
    # DuckDB work for the signal to land in); the others use 50k-event batches.
    batch = "300000" if phase == "insert" else "50000"
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOOKED_LOAD), phase, str(spool), str(db), batch],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(),
        start_new_session=True,
    )
    assert proc.stderr is not None
    seen = []
    try:
        for line in proc.stderr:
            seen.append(line)
            if line.strip() == f"PHASE {phase}":
                break
        else:
            pytest.fail(f"the load never reached {phase}: {''.join(seen)}")
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, (phase, out, err)
    assert "Traceback" not in err, err
    assert err.strip().splitlines() == ["duckspool load: interrupted"], err
    return out


def test_ctrl_c_in_every_phase_of_a_300k_load_then_a_rerun_loads_exactly(tmp_path: Path) -> None:
    spool, db = tmp_path / "spool", tmp_path / "t.duckdb"
    unique, bad = _backlog(spool, 300_000, seed=11)
    migrate = subprocess.run([sys.executable, "-m", "duckspool", "migrate", "--db", str(db)],
                             capture_output=True, text=True, env=child_env(), timeout=120,
                             check=False)
    assert migrate.returncode == 0, migrate.stderr
    segments = len(list((spool / "sealed").glob("*.jsonl")))
    for phase in ("startup", "validate", "insert", "insert-held", "dispose"):
        _interrupt_in(phase, spool, db)
        stored, distinct = rows(db)
        assert stored == distinct <= unique, phase
        if phase != "dispose":
            assert stored == 0, f"nothing may commit before {phase} ends"
    assert rows(db)[0] > 0, "the dispose phase comes after a commit"
    assert len(list((spool / "sealed").glob("*.jsonl"))) == segments  # none deleted yet
    rerun = subprocess.run(
        [sys.executable, "-m", "duckspool", "load", "--spool", str(spool), "--db", str(db),
         "--json"],
        capture_output=True, text=True, env=child_env(), timeout=600, check=False,
    )
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert rows(db) == (unique, unique)
    assert len(quarantine_reasons(spool)) == bad
    assert report["segments_already_loaded"] > 0  # the batch committed before the Ctrl-C
    assert list((spool / "sealed").glob("*.jsonl")) == []
    assert list((spool / "tmp").iterdir()) == []


RUN = """
import sys
from duckspool.cli import main
sys.exit(main(["run", "--spool", sys.argv[1], "--db", sys.argv[2], "--interval", "86400"]))
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_run_stops_on_a_signal_while_idle(tmp_path: Path, sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(RUN), str(tmp_path / "spool"),
         str(tmp_path / "t.duckdb")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(),
        start_new_session=True,
    )
    try:
        assert proc.stderr is not None
        assert "Ctrl-C to stop" in proc.stderr.readline()
        (tmp_path / "spool" / "sealed").mkdir(parents=True, exist_ok=True)
        os.killpg(proc.pid, sig)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == (130 if sig == signal.SIGINT else 0), err
    assert "stopped" in err and "Traceback" not in err


def test_ctrl_c_during_a_long_query(tmp_path: Path) -> None:
    db = tmp_path / "t.duckdb"
    subprocess.run([sys.executable, "-m", "duckspool", "migrate", "--db", str(db)],
                   env=child_env(), capture_output=True, timeout=120, check=True)
    sql = ("SET threads = 1; "  # DuckDB notices Ctrl-C between the main thread's tasks
           "SELECT sum(hash(range::VARCHAR || random())) FROM range(1000000000000)")
    proc = subprocess.Popen(
        [sys.executable, "-m", "duckspool", "query", sql, "--db", str(db)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=child_env() | {"PYTHONUNBUFFERED": "1"}, start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # the first statement's result: the second one runs now
            if line.startswith("("):
                break
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    assert err.strip() == "duckspool query: interrupted"
