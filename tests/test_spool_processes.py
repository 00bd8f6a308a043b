"""The spool across real processes: many writers, kill -9, fork, and every exit path."""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from duckspool import parse_line
from duckspool.spool import recover
from tests.conftest import read_spool_lines, run_python, spawn_python

EMIT_PREAMBLE = """
import os, sys, threading
from duckspool import Emitter, make_event
def ev(tag, i):
    return make_event("action.test.emitted", {"tag": tag, "i": i},
                      session_id="s", user_id="u", correlation_id=f"{tag}-{i}")
"""


def _payloads(spool: Path, *dirs: str) -> list[tuple[str, int]]:
    out = []
    for line in read_spool_lines(spool, *dirs):
        e = parse_line(line)
        out.append((e.payload["tag"], e.payload["i"]))
    return out


def test_four_processes_times_four_threads_into_one_spool(spool_dir: Path) -> None:
    code = EMIT_PREAMBLE + """
spool, proc = sys.argv[1], sys.argv[2]
em = Emitter(spool, max_segment_bytes=64 * 1024)
def work(t):
    for i in range(2000):
        em.emit(ev(f"p{proc}t{t}", i))
threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
for t in threads: t.start()
for t in threads: t.join()
em.close()
s = em.stats()
assert s.written == 8000 and s.dropped_total == 0, s
"""
    procs = [spawn_python(code, str(spool_dir), str(p)) for p in range(4)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    got = _payloads(spool_dir)
    assert len(got) == 4 * 4 * 2000
    assert Counter(got).most_common(1)[0][1] == 1
    ids = [orjson.loads(x)["id"] for x in read_spool_lines(spool_dir)]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("run", range(6))
def test_kill_9_loses_nothing_that_was_flushed(spool_dir: Path, run: int) -> None:
    code = EMIT_PREAMBLE + """
em = Emitter(sys.argv[1], max_segment_bytes=32 * 1024, flush_interval=0.01)
i = 0
while True:
    for _ in range(50):
        i += 1
        em.emit(ev("k", i))
    if em.flush(5):
        print(i, flush=True)
"""
    child = spawn_python(code, str(spool_dir))
    assert child.stdout is not None
    rng = random.Random(run)
    deadline = time.monotonic() + rng.uniform(0.3, 1.5)
    flushed = 0
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        flushed = int(line)
    child.send_signal(signal.SIGKILL)
    # Anything the child printed after our last read was flushed too; that only adds.
    rest = child.communicate(timeout=30)[0].split()
    if rest:
        flushed = int(rest[-1])
    assert flushed > 0
    recover(spool_dir)
    seen = set()
    for seg in (spool_dir / "sealed").glob("*.jsonl"):
        lines = seg.read_bytes().split(b"\n")
        for k, line in enumerate(lines):
            if not line:
                continue
            try:
                e = parse_line(line)
            except Exception:
                assert k == len(lines) - 1, "only the last line of a segment may be torn"
                continue
            seen.add(e.payload["i"])
    missing = set(range(1, flushed + 1)) - seen
    assert not missing, f"{len(missing)} flushed events missing"
    assert list((spool_dir / "active").glob("*.jsonl")) == []


def test_fork_while_emitting_writes_nothing_twice(spool_dir: Path) -> None:
    # The emitting thread sends events built beforehand: fork() while another thread
    # is *building* an event can deadlock the child inside pydantic-core's own locks
    # (a hazard of fork with threads that no library above it can remove; see
    # docs/spool.md). What this test pins down is the emitter's own fork safety.
    code = EMIT_PREAMBLE + """
em = Emitter(sys.argv[1], flush_interval=0.001)
parent_events = [ev("parent", i) for i in range(1, 100_001)]
stop = threading.Event()
sent = [0]
def parent_work():
    for e in parent_events:
        if stop.is_set():
            break
        em.emit(e)
        sent[0] += 1
t = threading.Thread(target=parent_work)
t.start()
children = []
for c in range(5):
    pid = os.fork()
    if pid == 0:
        for i in range(1, 501):
            em.emit(ev(f"child{c}", i))
        em.close()
        os._exit(0)
    children.append(pid)
for pid in children:
    _, status = os.waitpid(pid, 0)
    assert status == 0, status
stop.set()
t.join()
em.close()
print(sent[0], flush=True)
"""
    proc = run_python(code, str(spool_dir), timeout=120)
    parent_total = int(proc.stdout.split()[-1])
    got = Counter(_payloads(spool_dir))
    assert max(got.values()) == 1, "an event was written twice"
    for c in range(5):
        assert {i for tag, i in got if tag == f"child{c}"} == set(range(1, 501))
    assert {i for tag, i in got if tag == "parent"} == set(range(1, parent_total + 1))


EXIT_CASES = {
    "normal_exit": ("pass", 0),
    "sys_exit": ("sys.exit(3)", 3),
    "sigterm_with_handler": (
        "import signal\n"
        "signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n"
        "import time; time.sleep(5)",
        0,
    ),
    "unhandled_exception": ("raise RuntimeError('crash')", 1),
}


@pytest.mark.parametrize("case", list(EXIT_CASES))
def test_exit_paths_that_lose_nothing(spool_dir: Path, case: str) -> None:
    ending, code_expected = EXIT_CASES[case]
    code = EMIT_PREAMBLE + f"""
import duckspool
duckspool.configure(sys.argv[1], flush_interval=30)  # nothing gets written before exit
for i in range(1, 1001):
    duckspool.emit(ev("exit", i))
{ending}
"""
    proc = run_python(code, str(spool_dir), check=False)
    assert proc.returncode == code_expected, proc.stderr
    assert sorted(i for _, i in _payloads(spool_dir)) == list(range(1, 1001))


@pytest.mark.parametrize("ending", ["os._exit(0)", "os.kill(os.getpid(), signal.SIGTERM)"])
def test_exit_paths_that_lose_at_most_the_flush_interval(spool_dir: Path, ending: str) -> None:
    code = EMIT_PREAMBLE + f"""
import signal, time
em = Emitter(sys.argv[1], flush_interval=0.05)
for i in range(1, 501):
    em.emit(ev("x", i))
assert em.flush(5)
for i in range(501, 1001):
    em.emit(ev("x", i))
{ending}
"""
    run_python(code, str(spool_dir), check=False)
    recover(spool_dir)
    got = sorted(i for _, i in _payloads(spool_dir))
    assert got[:500] == list(range(1, 501))  # everything flushed survived
    assert len(got) <= 1000


def test_multiprocessing_children_flush_at_exit(spool_dir: Path) -> None:
    code = EMIT_PREAMBLE + """
import multiprocessing as mp
import duckspool
def work(k):
    duckspool.configure(sys.argv[1], flush_interval=30)
    for i in range(1, 201):
        duckspool.emit(ev(f"w{k}", i))
if __name__ == "__main__":
    ctx = mp.get_context("fork")
    ps = [ctx.Process(target=work, args=(k,)) for k in range(3)]
    for p in ps: p.start()
    for p in ps: p.join()
    assert all(p.exitcode == 0 for p in ps)
"""
    run_python(code, str(spool_dir))
    got = Counter(tag for tag, _ in _payloads(spool_dir))
    assert got == {"w0": 200, "w1": 200, "w2": 200}


def test_recover_seals_the_segment_of_a_dead_process(spool_dir: Path) -> None:
    code = EMIT_PREAMBLE + """
em = Emitter(sys.argv[1])
for i in range(10):
    em.emit(ev("dead", i))
assert em.flush(5)
os._exit(0)
"""
    run_python(code, str(spool_dir))
    assert len(list((spool_dir / "active").glob("*.jsonl"))) == 1
    sealed = recover(spool_dir)
    assert len(sealed) == 1
    assert len(_payloads(spool_dir)) == 10
    assert recover(spool_dir) == []
