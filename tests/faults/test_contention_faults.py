"""Contention and time: loaders racing, analysts holding the database, fork during
flush, clocks that jump, bursts far above the buffer, a loader job that misbehaves.
"""

from __future__ import annotations

import json
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from duckspool import DuckDBTelemetryRepository, Emitter, Loader, LoadReport, make_event
from duckspool.loader import add_loader_job
from tests.conftest import read_spool_lines, run_python, sample_event, spawn_python, write_segment
from tests.test_loader import _backlog, rows

LOAD_JSON = """
import sys, orjson
from duckspool import Loader
print(orjson.dumps(Loader(sys.argv[1], sys.argv[2]).run_once().to_dict()).decode())
"""


def test_two_loaders_at_once(tmp_path: Path, record: Any) -> None:
    spool, db = tmp_path / "spool", tmp_path / "t.duckdb"
    unique, bad = _backlog(spool, 40_000, seed=9)
    procs = [spawn_python(LOAD_JSON, str(spool), str(db)) for _ in range(2)]
    reports = [json.loads(p.communicate(timeout=180)[0]) for p in procs]
    final = Loader(spool, db).run_once()
    assert rows(db) == (unique, unique)
    inserted = sum(r["events_inserted"] for r in reports) + final.events_inserted
    assert inserted == unique
    record(lines=40_000, loaded=unique, quarantined=bad,
           skipped=[r["skipped"] for r in reports if r["skipped"]], lost=0)


def test_analyst_holding_the_database_read_write(tmp_path: Path, record: Any) -> None:
    spool, db = tmp_path / "spool", tmp_path / "t.duckdb"
    with DuckDBTelemetryRepository(db):
        pass
    write_segment(spool / "sealed", "a.jsonl", [sample_event(i).to_json_line() for i in range(50)])
    analyst = spawn_python("""
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
sys.stdin.readline()
""", str(db), stdin=subprocess.PIPE)
    try:
        assert analyst.stdout is not None and analyst.stdout.readline()
        busy = Loader(spool, db).run_once()
        assert busy.skipped and "database busy" in busy.skipped
        assert (spool / "sealed" / "a.jsonl").exists()
    finally:
        analyst.communicate("\n", timeout=30)
    assert Loader(spool, db).run_once().events_inserted == 50
    record(first_run=busy.skipped[:60], loaded_after_release=50, lost=0)


def test_analyst_reading_read_only_between_loads(tmp_path: Path, record: Any) -> None:
    spool, db = tmp_path / "spool", tmp_path / "t.duckdb"
    counts = []
    for k in range(3):
        write_segment(spool / "sealed", f"{k}.jsonl",
                      [sample_event(k * 100 + i).to_json_line() for i in range(100)])
        assert Loader(spool, db).run_once().events_inserted == 100
        proc = run_python("""
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print(con.execute("SELECT count(*) FROM job_runs").fetchone()[0],
      con.execute("SELECT count(*) FROM telemetry_events").fetchone()[0])
""", str(db))
        counts.append(int(proc.stdout.split()[1]))
    assert counts == [100, 200, 300]
    record(loads=3, analyst_reads=counts, lost=0)


def test_fork_during_flush(tmp_path: Path, record: Any) -> None:
    spool = tmp_path / "spool"
    code = """
import os, sys, threading
from duckspool import Emitter, make_event
em = Emitter(sys.argv[1], flush_interval=0.001, fsync="always")
def ev(tag, i):
    return make_event("action.test.fork", {"tag": tag, "i": i}, session_id="s", user_id="u")
stop = threading.Event()
def flusher():
    while not stop.is_set():
        em.flush(1)
t = threading.Thread(target=flusher); t.start()
kids = []
for c in range(8):
    for i in range(200):
        em.emit(ev("parent", c * 200 + i))
    pid = os.fork()
    if pid == 0:
        for i in range(100):
            em.emit(ev(f"child{c}", i))
        em.close()
        os._exit(0)
    kids.append(pid)
for pid in kids:
    assert os.waitpid(pid, 0)[1] == 0
stop.set(); t.join(); em.close()
"""
    run_python(code, str(spool), timeout=120)
    from collections import Counter

    from duckspool import parse_line

    got = Counter((parse_line(x).payload["tag"], parse_line(x).payload["i"])
                  for x in read_spool_lines(spool))
    assert max(got.values()) == 1
    assert sum(1 for t, _ in got if t == "parent") == 1600
    assert sum(1 for t, _ in got if t.startswith("child")) == 800
    record(parent_events=1600, child_events=800, written_twice=0, lost=0)


def test_clock_jumps_do_not_break_sealing_or_loading(tmp_path: Path, record: Any) -> None:
    spool, db = tmp_path / "spool", tmp_path / "t.duckdb"
    now = [10_000.0]
    em = Emitter(spool, max_segment_age=30, clock=lambda: now[0], flush_interval=0.005)
    base = datetime.now(UTC)
    stamps = [base, base - timedelta(days=3650), base + timedelta(days=3650), base]
    for k, ts in enumerate(stamps):
        em.emit(make_event("action.test.clock", {"k": k}, session_id="s", user_id="u",
                           timestamp=ts))
        assert em.flush(5)
        now[0] += [-5000.0, 100_000.0, -1.0, 0.0][k]  # back, far forward, back a little
    em.close()
    report = Loader(spool, db).run_once()
    assert report.events_inserted == 4
    with DuckDBTelemetryRepository(db, read_only=True) as repo:
        assert sorted(e.timestamp for e in repo.find(limit=10)) == sorted(stamps)
    record(events=4, loaded=4, lost=0)


def test_burst_far_above_the_bound(tmp_path: Path, record: Any) -> None:
    code = """
import resource, sys, time
from duckspool import Emitter, make_event
e = make_event("action.test.burst", {"pad": "x" * 300}, session_id="s", user_id="u")
em = Emitter(sys.argv[1], max_buffer_events=20_000, max_buffer_bytes=8 << 20)
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize() >> 20
for _ in range(1000):
    em.emit(e)
em.flush(10)
start = rss()
lat = []
em._io_lock.acquire()  # the disk stalls for the whole burst: nothing drains
for i in range(1_000_000):
    if i % 1000 == 0:
        t0 = time.perf_counter_ns(); em.emit(e); lat.append(time.perf_counter_ns() - t0)
    else:
        em.emit(e)
peak = rss()
em._io_lock.release()
em.close()
s = em.stats()
assert s.emitted == s.written + s.pending + s.dropped_total, s
lat.sort()
print(start, peak, s.written, s.dropped.get("buffer_full", 0),
      lat[len(lat) // 2], lat[len(lat) * 99 // 100])
"""
    proc = run_python(code, str(tmp_path / "spool"), timeout=300)
    start, peak, written, dropped, p50, p99 = map(int, proc.stdout.split())
    assert written + dropped == 1_001_000
    assert dropped >= 1_001_000 - 20_000 - 1000
    assert peak - start <= 8 + 16  # the 8 MiB ring plus allocator slack, not the burst
    record(emitted=1_001_000, written=written, dropped_buffer_full=dropped,
           rss_growth_mib=peak - start, emit_p50_ns=p50, emit_p99_ns=p99)


class _Misbehaving(Loader):
    """A loader job that raises on its first run and overruns its interval on its second.

    The overrun lasts until the test releases it, so "the scheduler tried to start
    the job again meanwhile" is observed (APScheduler's max-instances event), not
    assumed from how long a sleep took.
    """

    def __init__(self, *a: Any, **k: Any) -> None:
        super().__init__(*a, **k)
        self.calls = 0
        self.running = 0
        self.max_running = 0
        self.lock = threading.Lock()
        self.overrunning = threading.Event()
        self.release = threading.Event()

    def run_once(self) -> LoadReport:
        with self.lock:
            self.calls += 1
            self.running += 1
            self.max_running = max(self.max_running, self.running)
            call = self.calls
        try:
            if call == 1:
                raise RuntimeError("injected failure inside the job")
            if call == 2:
                self.overrunning.set()
                assert self.release.wait(120), "the test never released the overrun"
            return super().run_once()
        finally:
            with self.lock:
                self.running -= 1


def test_loader_job_raising_and_overrunning_stays_scheduled(tmp_path: Path,
                                                            record: Any) -> None:
    import logging

    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES

    logging.getLogger("apscheduler").setLevel(logging.CRITICAL)
    spool, db = tmp_path / "spool", tmp_path / "t.duckdb"
    loader = _Misbehaving(spool, db)
    loaded = threading.Condition()
    inserted = [0]

    def on_report(report: LoadReport) -> None:
        with loaded:
            inserted[0] += report.events_inserted
            loaded.notify_all()

    raised, refused = threading.Event(), threading.Event()
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_listener(lambda _: raised.set(), EVENT_JOB_ERROR)
    scheduler.add_listener(lambda _: refused.set(), EVENT_JOB_MAX_INSTANCES)
    job = add_loader_job(scheduler, loader, interval=0.2, on_report=on_report)
    write_segment(spool / "sealed", "0.jsonl", [sample_event(0).to_json_line()])
    scheduler.start()
    try:
        assert raised.wait(120), "the first run's exception never reached the scheduler"
        assert loader.overrunning.wait(120), "the job was not scheduled again after raising"
        for k in range(1, 4):
            write_segment(spool / "sealed", f"{k}.jsonl", [sample_event(k).to_json_line()])
        assert refused.wait(120), "no run was due while the job overran"
        loader.release.set()
        with loaded:
            assert loaded.wait_for(lambda: inserted[0] >= 4, timeout=120)
        assert scheduler.get_job(job.id) is not None
    finally:
        loader.release.set()
        scheduler.shutdown(wait=True)
    assert loader.max_running == 1
    assert rows(db) == (4, 4)
    record(runs=loader.calls, raised=1, overran=1, max_concurrent=loader.max_running,
           loaded=4, lost=0)
