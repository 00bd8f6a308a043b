"""Three hosts ship into one central spool while its loader runs; ``ship`` is killed -9 at
chosen points and segments are redelivered: the table ends with exactly the events sent.

Kill points are deterministic: the shipping child stops itself (SIGSTOP) at the n-th
time it reaches a stage (mid-copy, copied, renamed, deleted) and the test then kills
it with SIGKILL; stage and n come from a seeded random generator.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import psutil

from tests.conftest import spawn_python

EVENTS_PER_HOST = 1000
HOSTS = 3

EMITTER = """
import sys
from duckspool import Emitter, make_event
spool, host, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
em = Emitter(spool, max_segment_bytes=12 * 1024, flush_interval=0.01)
for i in range(n):
    em.emit(make_event("action.host.tick", {"host": host, "i": i}, session_id=f"{host}-s",
                       user_id=f"u{i % 9}", correlation_id=f"{host}-{i}"))
em.close()
s = em.stats()
assert s.written == n and s.dropped_total == 0, s
"""

SHIPPER = """
import os, signal, sys
from duckspool import ship_segments
host, central, stage, nth = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
seen = 0
def checkpoint(at, name):
    global seen
    if at == stage:
        seen += 1
        if seen == nth:
            os.kill(os.getpid(), signal.SIGSTOP)  # the parent kills us -9 here
print(ship_segments(host, central, checkpoint=checkpoint).summary())
"""

STAGES = ("copying", "copied", "renamed", "deleted")


def wait_until(condition: object, what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def ship_and_kill(host: Path, central: Path, stage: str, nth: int) -> str:
    """Run a shipper; if it reaches the kill point, kill -9 it there. Says what happened."""
    proc = spawn_python(SHIPPER, str(host), str(central), stage, str(nth))
    child = psutil.Process(proc.pid)

    def stopped_or_done() -> bool:
        if proc.poll() is not None:
            return True
        try:
            return child.status() == psutil.STATUS_STOPPED
        except psutil.NoSuchProcess:
            return True

    wait_until(stopped_or_done, "the shipper to stop or finish")
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        return f"killed at {stage} #{nth}"
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return "finished"


def sealed(spool: Path) -> list[Path]:
    return sorted((spool / "sealed").glob("*.jsonl")) if (spool / "sealed").is_dir() else []


def test_three_hosts_ship_into_a_running_loader_with_kills_and_redelivery(tmp_path: Path) -> None:
    hosts = [tmp_path / f"host{h}" for h in range(HOSTS)]
    central, db = tmp_path / "central", tmp_path / "central.duckdb"
    central.mkdir()
    emitters = [spawn_python(EMITTER, str(h), h.name, str(EVENTS_PER_HOST)) for h in hosts]
    for p in emitters:
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
    originals = {p.read_bytes() for h in hosts for p in sealed(h)}
    assert len(originals) >= 3 * HOSTS  # several segments per host
    stash = tmp_path / "stash"  # what a sync tool will deliver a second time
    stash.mkdir()
    for p in sealed(hosts[0])[:3] + sealed(hosts[1])[-2:]:
        shutil.copy2(p, stash / p.name)

    loader = subprocess.Popen(
        [sys.executable, "-m", "duckspool", "run", "--spool", str(central), "--db", str(db), "--interval", "0.2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src")},
    )
    try:
        rng = random.Random(20261126)
        outcomes = []
        for _ in range(24):
            busy = [h for h in hosts if sealed(h)]
            if not busy:
                break
            host = rng.choice(busy)
            outcomes.append(ship_and_kill(host, central, rng.choice(STAGES), rng.randint(1, 3)))
        assert sum(o.startswith("killed") for o in outcomes) >= 8, outcomes
        for host in hosts:  # whatever the kills left behind
            assert ship_and_kill(host, central, "none", 1) == "finished"
        for p in stash.iterdir():  # redelivery of segments already shipped (and loaded)
            shutil.copy2(p, hosts[2] / "sealed" / p.name)
        assert ship_and_kill(hosts[2], central, "none", 1) == "finished"
        wait_until(lambda: not sealed(central) and all(not sealed(h) for h in hosts),
                   "the central loader to drain sealed/")
    finally:
        loader.send_signal(signal.SIGINT)
        out, err = loader.communicate(timeout=60)
    # Ctrl-C ends `duckspool run` with 130 (interrupted, docs/cli.md), after the batch.
    assert loader.returncode == 130, err
    assert "interrupted (the batch in progress was finished)" in err

    con = duckdb.connect(str(db), read_only=True)
    try:
        rows, ids, corr = con.execute(
            "SELECT count(*), count(DISTINCT id), count(DISTINCT correlation_id) "
            "FROM telemetry_events").fetchone()
        ledger = con.execute("SELECT count(*) FROM load_ledger").fetchone()[0]
        per_host = dict(con.execute(
            "SELECT payload->>'host', count(*) FROM telemetry_events GROUP BY 1").fetchall())
    finally:
        con.close()
    assert rows == ids == corr == HOSTS * EVENTS_PER_HOST
    assert per_host == {h.name: EVENTS_PER_HOST for h in hosts}
    assert ledger == len(originals)  # each segment's content loaded once
    leftovers = [p.name for p in (central / "sealed").iterdir()]
    assert leftovers == [], leftovers  # no temp file of a killed shipper survives a rerun
    for aside in ("quarantine", "failed"):
        assert not (central / aside).exists() or not list((central / aside).iterdir()), aside
