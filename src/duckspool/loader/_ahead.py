"""Validation results in segment order, computed a bounded way ahead of the load using them.

A segment the bulk path can read needs only hashing and counting in the loader
(SHA-256 and CRC-32 release the GIL), so two threads scan the next segments
while the current batch is inserted, instead of the load waiting for each
scan. Worker processes (``Loader(workers=N)``) are for spools of segments DuckDB
cannot read, whose line-by-line validation holds the GIL.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from duckspool.loader._batch import discard_result
from duckspool.loader._validate import SegmentResult, validate_segment
from duckspool.loader._workers import WorkerPool

__all__ = ["validated_in_order"]

SCAN_THREADS = 2
AHEAD = 4
"""Segments validated ahead of the one being used: bounds staged files and wasted work."""

ValidateArgs = tuple[Path, int, Path, Path, int, bool]


def validated_in_order(
    args: Sequence[ValidateArgs], workers: int, stop: threading.Event
) -> Iterator[SegmentResult]:
    """``validate_segment(*a)`` for each of ``args``, in order; stops early once ``stop`` is set.

    With ``workers`` > 0, in that many worker processes; otherwise in threads.
    Results computed ahead but never yielded are discarded (their staging files
    deleted).
    """
    if workers:
        yield from _in_processes(args, workers, stop)
    else:
        yield from _in_threads(args, stop)


def _in_threads(args: Sequence[ValidateArgs], stop: threading.Event) -> Iterator[SegmentResult]:
    pending: deque[Future[SegmentResult]] = deque()
    todo = iter(args)
    with ThreadPoolExecutor(SCAN_THREADS, thread_name_prefix="duckspool-scan") as pool:
        try:
            for a in todo:
                pending.append(pool.submit(validate_segment, *a))
                if len(pending) > AHEAD:
                    break
            while pending and not stop.is_set():
                # Popped only once the next is queued: whatever interrupts this (Ctrl-C
                # in result(), a refused submit) leaves the result to the cleanup below.
                result = pending[0].result()
                following = next(todo, None)
                if following is not None:
                    pending.append(pool.submit(validate_segment, *following))
                pending.popleft()
                yield result
        finally:
            for future in pending:
                if not future.cancel():
                    with contextlib.suppress(Exception):
                        discard_result(future.result())


def _in_processes(
    args: Sequence[ValidateArgs], workers: int, stop: threading.Event
) -> Iterator[SegmentResult]:
    with WorkerPool(workers) as pool:
        results: Generator[SegmentResult, None, None] = pool.run(list(args))
        try:
            for result in results:
                yield result
                if stop.is_set():
                    break
        finally:
            results.close()  # discards what was validated ahead but not used
