"""Celery: ``connect(app)`` turns task signals into ``job.run.*`` events.

::

    from duckspool.integrations.celery import connect
    app = Celery("proj")
    connect(app)

Per task run: ``job.run.started``, then ``job.run.completed``, ``job.run.failed``
(``errorType``) or ``job.run.retried`` (``errorType`` of the cause), each with
``job`` = the task name, ``runId`` = the task id, ``retries`` and, on the last
three, ``durationMs``. The publisher's correlation id travels in the message
header ``duckspool_correlation_id`` and is bound in the worker while the task
runs, so ``duckspool.track()`` inside a task joins the request that queued it;
in eager mode the task simply runs inside the caller's context. Jobs (their events and
``track()`` calls inside the task) run as ``userId`` "system" and ``sessionId``
"job:<task name>" unless the context says otherwise. Prefork children emit
through their own (fork-reset) emitter and flush it when the child exits
(``worker_process_shutdown``); the main process flushes at ``worker_shutdown``.
"""

from __future__ import annotations

import threading
from typing import Any

from celery import Celery, signals

from duckspool.contracts import current_context, otel_trace_id
from duckspool.contracts._context import TelemetryContext, _current
from duckspool.integrations.jobs import SYSTEM_USER, JobRun
from duckspool.spool import Emitter, shutdown

__all__ = ["CORRELATION_HEADER", "connect"]

CORRELATION_HEADER = "duckspool_correlation_id"

_lock = threading.Lock()
_connected: dict[int, Any] = {}


def connect(app: Celery, *, emitter: Emitter | None = None) -> None:
    """Emit job events for every task ``app`` runs, on ``emitter`` (default: the
    process-wide one). Idempotent per app; never raises into a task."""
    with _lock:
        if id(app) in _connected:
            return
        _connected[id(app)] = _Wiring(app, emitter)


class _Wiring:
    def __init__(self, app: Celery, emitter: Emitter | None) -> None:
        self.app = app
        self.emitter = emitter
        # One stack per task id: an eager retry runs the task again inside the first run.
        self.runs: dict[str, list[tuple[JobRun, Any]]] = {}
        self.lock = threading.Lock()
        signals.before_task_publish.connect(self.on_publish, weak=False)
        signals.task_prerun.connect(self.on_prerun, weak=False)
        signals.task_postrun.connect(self.on_postrun, weak=False)
        signals.worker_process_shutdown.connect(self.on_shutdown, weak=False)
        signals.worker_shutdown.connect(self.on_shutdown, weak=False)

    def on_publish(self, sender: Any = None, headers: Any = None, **_: Any) -> None:
        try:
            correlation_id = current_context().correlation_id
            if correlation_id and isinstance(headers, dict):
                headers.setdefault(CORRELATION_HEADER, correlation_id)
        except Exception:  # noqa: BLE001, S110 - publishing must never fail for telemetry
            pass

    def on_prerun(self, task_id: str = "", task: Any = None, **_: Any) -> None:
        try:
            if task is None or getattr(task, "app", None) is not self.app:
                return
            request = task.request
            carried = request.get(CORRELATION_HEADER) if hasattr(request, "get") else None
            if not (isinstance(carried, str) and 0 < len(carried) <= 256 and carried.isprintable()):
                carried = None  # not one our publisher wrote: the task id correlates instead
            ctx = current_context()
            # The task's own track() calls run as the job: same ids as its job.run.* events.
            token = _current.set(
                TelemetryContext(
                    session_id=ctx.session_id or f"job:{task.name}",
                    user_id=ctx.user_id or SYSTEM_USER,
                    correlation_id=ctx.correlation_id or otel_trace_id() or carried or task_id,
                    product_id=ctx.product_id,
                )
            )
            run = JobRun(
                task.name,
                run_id=task_id,
                emitter=self.emitter,
                retries=int(getattr(request, "retries", 0) or 0),
            )
            with self.lock:
                self.runs.setdefault(task_id, []).append((run, token))
            run.begin()
        except Exception:  # noqa: BLE001, S110 - a task must never fail for telemetry
            pass

    def on_postrun(
        self, task_id: str = "", task: Any = None, retval: Any = None, state: Any = None, **_: Any
    ) -> None:
        try:
            with self.lock:
                stack = self.runs.get(task_id)
                if not stack:
                    return
                run, token = stack.pop()
                if not stack:
                    del self.runs[task_id]
            try:
                if state == "RETRY":
                    cause = getattr(retval, "exc", None)
                    run.end(cause if isinstance(cause, BaseException) else None, retrying=True)
                elif state == "FAILURE" or isinstance(retval, BaseException):
                    failure = retval if isinstance(retval, BaseException) else RuntimeError(state)
                    run.end(failure)
                else:
                    run.end()
            finally:
                if token is not None:
                    try:
                        _current.reset(token)
                    except ValueError:  # set in another context: it ends with that context
                        pass
        except Exception:  # noqa: BLE001, S110 - a task must never fail for telemetry
            pass

    def on_shutdown(self, **_: Any) -> None:
        try:
            if self.emitter is not None:
                self.emitter.close()
            else:
                shutdown()
        except Exception:  # noqa: BLE001, S110 - shutdown must complete
            pass
