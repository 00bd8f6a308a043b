"""Celery: eager mode, a real in-process worker (memory broker), and a real prefork worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery, signals
from celery.contrib.testing.worker import start_worker

import duckspool
from duckspool import telemetry_context
from duckspool.integrations.celery import connect
from duckspool.testing import Capture, assert_emitted
from tests.celery_site import add_tasks, filesystem_config
from tests.conftest import child_env
from tests.integrations_support import load_rows

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def postruns() -> Iterator[threading.Semaphore]:
    """Released after duckspool's own task_postrun handler (receivers run in order)."""
    done = threading.Semaphore(0)

    def released(**_: Any) -> None:
        done.release()

    signals.task_postrun.connect(released, weak=False)
    yield done
    signals.task_postrun.disconnect(released)


def make_app(**conf: Any) -> Celery:
    app = Celery("test")
    app.conf.update(conf)
    add_tasks(app)
    connect(app)
    return app


def by_run(events: Capture, job: str) -> list[tuple[str, dict[str, Any]]]:
    return [(e.event_type, e.payload) for e in events
            if e.event_type.startswith("job.run.") and e.payload.get("job") == job]


def test_eager_success_failure_and_retry(telemetry_events: Capture) -> None:
    app = make_app(task_always_eager=True)
    with telemetry_context(correlation_id="req-eager", session_id="s-1", user_id="u-1"):
        assert app.tasks["site.add"].delay(2, 3).get() == 5
        failed = app.tasks["site.fail"].delay()
        assert isinstance(failed.result, ValueError)
        assert app.tasks["site.flaky"].delay().get() == "recovered"

    add = by_run(telemetry_events, "site.add")
    assert [t for t, _ in add] == ["job.run.started", "job.run.completed"]
    assert add[1][1]["outcome"] == "success" and add[1][1]["durationMs"] >= 0
    # Eager tasks run inside the caller's context.
    assert_emitted(telemetry_events, "job.run.completed", job="site.add",
                   correlation_id="req-eager", user_id="u-1")
    assert_emitted(telemetry_events, "job.task.step", sum=5, correlation_id="req-eager")
    assert_emitted(telemetry_events, "job.run.failed", job="site.fail", errorType="ValueError",
                   outcome="failure")
    flaky = by_run(telemetry_events, "site.flaky")
    assert sorted((t, p["retries"]) for t, p in flaky) == [
        ("job.run.completed", 1), ("job.run.retried", 0),
        ("job.run.started", 0), ("job.run.started", 1)]
    retried = assert_emitted(telemetry_events, "job.run.retried", job="site.flaky")
    assert retried.payload["errorType"] == "ConnectionError"
    assert len({p["runId"] for _, p in flaky}) == 1  # a retry is the same task id


def test_a_real_worker_gets_the_correlation_id_from_the_task_headers(
    telemetry_events: Capture, postruns: threading.Semaphore
) -> None:
    app = make_app(broker_url="memory://", result_backend="cache+memory://",
                   broker_connection_retry_on_startup=True)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        with telemetry_context(correlation_id="req-worker", session_id="s", user_id="u"):
            ok = app.tasks["site.add"].delay(20, 22)
            bad = app.tasks["site.fail"].delay()
            flaky = app.tasks["site.flaky"].delay()
        assert ok.get(timeout=60) == 42
        with pytest.raises(ValueError, match="on purpose"):
            bad.get(timeout=60)
        assert flaky.get(timeout=60) == "recovered"
        for _ in range(4):  # add, fail, flaky (retry), flaky
            assert postruns.acquire(timeout=60)

    completed = assert_emitted(telemetry_events, "job.run.completed", job="site.add",
                               correlation_id="req-worker")
    # Outside the caller's thread only the correlation id travels; the job runs as system.
    assert (completed.user_id, completed.session_id) == ("system", "job:site.add")
    assert completed.payload["runId"] == ok.id
    assert_emitted(telemetry_events, "job.task.step", sum=42, correlation_id="req-worker")
    assert_emitted(telemetry_events, "job.run.failed", job="site.fail", errorType="ValueError",
                   correlation_id="req-worker")
    assert_emitted(telemetry_events, "job.run.retried", job="site.flaky", retries=0,
                   correlation_id="req-worker")
    assert_emitted(telemetry_events, "job.run.completed", job="site.flaky", retries=1,
                   correlation_id="req-worker")


def test_a_prefork_worker_s_children_emit_and_flush_into_the_table(tmp_path: Path) -> None:
    """A real ``celery worker -P prefork`` process: the main process emits before forking,
    the pool's children run the tasks and emit, and everything reaches the table once."""
    spool, db, base = tmp_path / "spool", tmp_path / "t.duckdb", tmp_path / "celery"
    app = Celery("site")
    app.conf.update(filesystem_config(base))
    add_tasks(app)
    connect(app)
    env = {**child_env(), "DUCKSPOOL_TEST_CELERY_DIR": str(base),
           "DUCKSPOOL_SPOOL_DIR": str(spool),
           "PYTHONPATH": str(REPO) + os.pathsep + child_env()["PYTHONPATH"]}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tests.celery_site", "worker", "-P", "prefork",
         "-c", "2", "--without-gossip", "--without-mingle", "--without-heartbeat",
         "-l", "WARNING"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        with telemetry_context(correlation_id="req-prefork", session_id="s", user_id="u"):
            results = [app.send_task("site.add", (i, i)) for i in range(6)]
            failed = app.send_task("site.fail")
        assert [r.get(timeout=120) for r in results] == [0, 2, 4, 6, 8, 10]
        with pytest.raises(ValueError, match="on purpose"):
            failed.get(timeout=120, propagate=True)
    finally:
        worker.send_signal(signal.SIGTERM)  # warm shutdown: children exit, then the main
        output, _ = worker.communicate(timeout=120)
    assert worker.returncode == 0, output

    rows = load_rows(spool, db)
    [started] = [r for r in rows if r["event_type"] == "job.worker.started"]
    main_pid = started["payload"]["pid"]
    assert main_pid == worker.pid
    steps = [r for r in rows if r["event_type"] == "job.task.step"]
    assert sorted(r["payload"]["sum"] for r in steps) == [0, 2, 4, 6, 8, 10]
    assert main_pid not in {r["payload"]["pid"] for r in steps}  # emitted by forked children
    assert {r["correlation_id"] for r in steps} == {"req-prefork"}
    runs = [r for r in rows if r["event_type"].startswith("job.run.")]
    assert sorted((r["event_type"], r["payload"]["job"]) for r in runs) == sorted(
        [("job.run.started", "site.add")] * 6 + [("job.run.completed", "site.add")] * 6
        + [("job.run.started", "site.fail"), ("job.run.failed", "site.fail")])
    assert {r["correlation_id"] for r in runs} == {"req-prefork"}
    ids = [r["payload"]["runId"] for r in runs if r["event_type"] == "job.run.completed"]
    assert sorted(ids) == sorted(r.id for r in results)
    # Nothing the main process buffered before forking was written twice by a child.
    assert len(rows) == 1 + 6 + 12 + 2
    duckspool.shutdown()
