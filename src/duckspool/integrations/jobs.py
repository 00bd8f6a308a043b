"""Job telemetry: ``job.run.started`` / ``completed`` / ``failed`` / ``retried``.

``track_job`` wraps a unit of work as a decorator or a context manager, sync or
async; ``attach_job_listener`` does the same for every job of an APScheduler
3.x scheduler. Jobs run outside any user session: unless a ``telemetry_context``
says otherwise, their events carry ``userId`` "system" and ``sessionId``
"job:<name>" (docs/event-namespaces.md). The job's own exception propagates
unchanged; a telemetry failure never does.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar, overload

from duckspool.contracts import current_context, uuid7
from duckspool.integrations._emit import emit_safely
from duckspool.spool import Emitter

__all__ = [
    "COMPLETED",
    "FAILED",
    "RETRIED",
    "STARTED",
    "JobRun",
    "attach_job_listener",
    "track_job",
    "track_job_async",
]

STARTED = "job.run.started"
COMPLETED = "job.run.completed"
FAILED = "job.run.failed"
RETRIED = "job.run.retried"
SYSTEM_USER = "system"

P = ParamSpec("P")
R = TypeVar("R")


class JobRun:
    """One run of a job: emits started on ``begin()`` and completed/failed on ``end()``."""

    def __init__(
        self, job: str, *, run_id: str | None = None, emitter: Emitter | None = None, **extra: Any
    ) -> None:
        self.job = job
        self.run_id = run_id or str(uuid7())
        self.emitter = emitter
        self.extra = extra
        self._started = 0.0

    def _emit(self, event_type: str, payload: dict[str, Any]) -> None:
        ctx = current_context()
        emit_safely(
            event_type,
            payload,
            emitter=self.emitter,
            session_id=ctx.session_id or f"job:{self.job}",
            user_id=ctx.user_id or SYSTEM_USER,
            correlation_id=ctx.correlation_id or self.run_id,
        )

    def begin(self) -> None:
        self._started = time.monotonic()
        self._emit(STARTED, {**self.extra, "job": self.job, "runId": self.run_id})

    def __enter__(self) -> JobRun:
        self.begin()
        return self

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        self.end(error)  # the job's own exception propagates: nothing is returned

    async def __aenter__(self) -> JobRun:
        return self.__enter__()

    async def __aexit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        self.__exit__(kind, error, tb)

    def end(self, error: BaseException | None = None, *, retrying: bool = False) -> None:
        """Emit completed (no ``error``), failed, or retried (``retrying``: this attempt
        failed with ``error`` and the job will run again)."""
        duration = round((time.monotonic() - self._started) * 1000, 3)
        payload: dict[str, Any] = {
            **self.extra,
            "job": self.job,
            "runId": self.run_id,
            "durationMs": duration,
        }
        if retrying:
            payload["outcome"] = "retry"
            if error is not None:
                payload["errorType"] = type(error).__qualname__
            self._emit(RETRIED, payload)
        elif error is None:
            payload["outcome"] = "success"
            self._emit(COMPLETED, payload)
        else:
            payload["outcome"] = "failure"
            payload["errorType"] = type(error).__qualname__
            self._emit(FAILED, payload)


def track_job_async(job: str, *, emitter: Emitter | None = None, **extra: Any) -> JobRun:
    """``async with track_job_async("name"):`` — the async context-manager form."""
    return JobRun(job, emitter=emitter, **extra)


class track_job:  # used like a function: @track_job("x") / with track_job("x")
    """Track a job as a decorator (sync or async functions) or a ``with`` block."""

    def __init__(self, job: str, *, emitter: Emitter | None = None, **extra: Any) -> None:
        self.job = job
        self.emitter = emitter
        self.extra = extra
        self._local = threading.local()

    @overload
    def __call__(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]: ...
    @overload
    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]: ...

    def __call__(self, fn: Callable[P, Any]) -> Callable[P, Any]:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                async with track_job_async(self.job, emitter=self.emitter, **self.extra):
                    return await fn(*args, **kwargs)

            return async_wrapper

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            with JobRun(self.job, emitter=self.emitter, **self.extra):
                return fn(*args, **kwargs)

        return wrapper

    def __enter__(self) -> JobRun:
        run = JobRun(self.job, emitter=self.emitter, **self.extra)
        stack = getattr(self._local, "stack", [])
        stack.append(run)
        self._local.stack = stack
        return run.__enter__()

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        self._local.stack.pop().__exit__(kind, error, tb)


def attach_job_listener(scheduler: Any, *, emitter: Emitter | None = None) -> Callable[..., None]:
    """Emit job.run.* events for every job an APScheduler 3.x scheduler runs.

    Returns the listener (pass it to ``scheduler.remove_listener`` to detach).
    """
    from apscheduler.events import (
        EVENT_JOB_ERROR,
        EVENT_JOB_EXECUTED,
        EVENT_JOB_MISSED,
        EVENT_JOB_SUBMITTED,
    )

    runs: dict[tuple[str, Any], JobRun] = {}
    lock = threading.Lock()

    def listener(event: Any) -> None:
        try:
            job = scheduler.get_job(event.job_id)
            name = job.name if job is not None else event.job_id
            if event.code == EVENT_JOB_SUBMITTED:
                for when in event.scheduled_run_times:
                    started = JobRun(name, emitter=emitter, jobId=event.job_id)
                    with lock:
                        runs[(event.job_id, when)] = started
                    started.begin()
                return
            with lock:
                found = runs.pop((event.job_id, event.scheduled_run_time), None)
            if found is None:  # submitted before the listener was attached
                found = JobRun(name, emitter=emitter, jobId=event.job_id)
                found._started = time.monotonic()
            run: JobRun = found
            if event.code == EVENT_JOB_EXECUTED:
                run.end()
            elif event.code == EVENT_JOB_ERROR:
                run.end(event.exception or RuntimeError("job failed"))
            elif event.code == EVENT_JOB_MISSED:
                run.extra["missed"] = True
                run.end(TimeoutError("missed its run time"))
        except Exception:  # noqa: BLE001, S110 - a listener must never disturb the scheduler
            pass

    scheduler.add_listener(
        listener, EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED
    )
    return listener
