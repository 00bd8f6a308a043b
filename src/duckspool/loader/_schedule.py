"""Running the loader on a schedule with APScheduler 3.x.

The job never overlaps itself (``max_instances=1``), missed runs collapse into
one (``coalesce``), and ``Loader.run_once`` reports instead of raising, so the
scheduler never sees a failure it would have to survive.
"""

from __future__ import annotations

import logging
import math
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from duckspool.exceptions import ConfigurationError
from duckspool.loader._loader import Loader
from duckspool.loader._report import LoadReport

__all__ = [
    "DEFAULT_INTERVAL",
    "LOADER_JOB_ID",
    "add_loader_job",
    "check_interval",
    "run_loader_forever",
    "start_background_loader",
]

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 30.0
"""Seconds between loads: with the emitter's 30 s segment age, an event is
queryable within about a minute, and each load has a few thousand events to make
the per-transaction cost negligible."""
LOADER_JOB_ID = "duckspool-loader"
MIN_INTERVAL = 0.1
MAX_INTERVAL = 86_400.0


def check_interval(interval: float) -> float:
    """``interval`` as a float if it is a finite number of seconds from 0.1 to 86400.

    Raises :class:`~duckspool.exceptions.ConfigurationError` otherwise: a zero or
    negative interval would make APScheduler spin at full CPU.
    """
    if isinstance(interval, bool) or not isinstance(interval, int | float):
        raise ConfigurationError(f"interval must be a number of seconds, got {interval!r}")
    if not math.isfinite(interval) or not MIN_INTERVAL <= interval <= MAX_INTERVAL:
        raise ConfigurationError(
            f"interval must be from {MIN_INTERVAL:g} to {MAX_INTERVAL:g} seconds, got {interval!r}"
        )
    return float(interval)


def add_loader_job(
    scheduler: Any,
    loader: Loader,
    *,
    interval: float = DEFAULT_INTERVAL,
    misfire_grace_time: float | None = None,
    on_report: Callable[[LoadReport], None] | None = None,
    run_now: bool = True,
) -> Any:
    """Add the loader to an existing APScheduler 3.x scheduler and return the job.

    Raises :class:`~duckspool.exceptions.ConfigurationError` for an interval
    outside 0.1 to 86400 seconds (see :func:`check_interval`).
    """
    from datetime import UTC, datetime

    interval = check_interval(interval)

    def job() -> None:
        report = loader.run_once()
        if on_report is not None:
            on_report(report)

    return scheduler.add_job(
        job,
        "interval",
        seconds=interval,
        id=LOADER_JOB_ID,
        name="duckspool loader",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=int(misfire_grace_time or max(interval, 1)),
        replace_existing=True,
        next_run_time=datetime.now(UTC) if run_now else None,
    )


def start_background_loader(
    loader: Loader,
    *,
    interval: float = DEFAULT_INTERVAL,
    on_report: Callable[[LoadReport], None] | None = None,
) -> BackgroundScheduler:
    """Start a background scheduler that runs ``loader`` every ``interval`` seconds.

    Stop it with ``scheduler.shutdown(wait=True)``, which waits for a load in progress.
    Raises :class:`~duckspool.exceptions.ConfigurationError` for a bad interval
    before anything starts.
    """
    interval = check_interval(interval)
    scheduler = BackgroundScheduler(timezone="UTC")
    add_loader_job(scheduler, loader, interval=interval, on_report=on_report)
    scheduler.start()
    return scheduler


def run_loader_forever(
    loader: Loader,
    *,
    interval: float = DEFAULT_INTERVAL,
    on_report: Callable[[LoadReport], None] | None = None,
    stop: threading.Event | None = None,
    on_start: Callable[[], None] | None = None,
) -> int | None:
    """Run the loader on its interval until SIGINT/SIGTERM (or ``stop`` is set).

    Returns the number of the signal that stopped it (None when ``stop`` was set).
    ``on_start`` is called once the signal handlers are in place, so a caller
    announcing "press Ctrl-C to stop" is telling the truth.

    On a signal the batch in progress is finished and committed, then it returns:
    the wait is bounded by one batch (``Loader(batch_events=...)``). Must be called
    from the main thread (it installs signal handlers). Raises ConfigurationError
    for a bad interval before installing anything.
    """
    interval = check_interval(interval)
    stop = stop or threading.Event()
    received: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("duckspool loader: signal %d, stopping after the batch in progress", signum)
        received.append(signum)
        loader.request_stop()
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if on_start is not None:
            on_start()
        scheduler = start_background_loader(loader, interval=interval, on_report=on_report)
        try:
            while not stop.wait(1.0):
                pass
        finally:
            scheduler.shutdown(wait=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return received[0] if received else None
