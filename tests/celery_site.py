"""A Celery app for tests/test_integrations_celery.py: in-process (memory broker) or as a
real ``celery worker -P prefork`` subprocess (filesystem broker, file result backend).

The subprocess reads its directories from ``DUCKSPOOL_TEST_CELERY_DIR``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from celery import Celery, signals

import duckspool
from duckspool.integrations.celery import connect


def filesystem_config(base: Path) -> dict[str, Any]:
    broker = base / "broker"
    for d in (broker, base / "processed", base / "results", base / "control"):
        d.mkdir(parents=True, exist_ok=True)
    return {
        "broker_url": "filesystem://",
        "broker_transport_options": {
            "data_folder_in": str(broker),
            "data_folder_out": str(broker),
            "processed_folder": str(base / "processed"),
            # kombu writes broadcast exchanges to ./control unless told otherwise
            "control_folder": str(base / "control"),
            "polling_interval": 0.1,
        },
        "result_backend": f"file://{base / 'results'}",
        "worker_enable_remote_control": False,
        "worker_hijack_root_logger": False,
        "broker_connection_retry_on_startup": True,
    }


def add_tasks(app: Celery) -> None:
    @app.task(name="site.add", shared=False)
    def add(x: int, y: int) -> int:
        duckspool.track("job.task.step", {"pid": os.getpid(), "sum": x + y})
        return x + y

    @app.task(name="site.fail", shared=False)
    def fail() -> None:
        raise ValueError("task failed on purpose")

    @app.task(name="site.flaky", bind=True, max_retries=3, shared=False)
    def flaky(self: Any) -> str:
        if self.request.retries < 1:
            raise self.retry(exc=ConnectionError("backend down"), countdown=0)
        return "recovered"


app = Celery("site")
if "DUCKSPOOL_TEST_CELERY_DIR" in os.environ:  # the prefork worker subprocess
    app.conf.update(filesystem_config(Path(os.environ["DUCKSPOOL_TEST_CELERY_DIR"])))
    add_tasks(app)
    connect(app)

    @signals.worker_init.connect
    def emit_before_forking(**_: Any) -> None:
        # The main process emits (starting the emitter's writer thread) before the pool
        # forks: the children must not inherit its buffer, segment or locks.
        duckspool.track("job.worker.started", {"pid": os.getpid()}, session_id="worker",
                        user_id="system")
        duckspool.get_emitter().flush()
