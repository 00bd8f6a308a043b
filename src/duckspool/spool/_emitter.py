"""The emitter: ``emit()`` buffers a serialised event; a writer thread appends it to the spool.

``emit()`` and ``track()`` never raise and never wait on I/O. What they cannot
keep they count (:class:`EmitterStats`) and report to ``on_drop``; warnings about
drops come from the writer thread at a limited rate, except the warning about an
event ``track()`` could not build, which names the mistake once per interval.

The caller's path lives here; the writer thread in ``_writer.py``, the options
in ``_options.py``, the fork and exit hooks in ``_hooks.py``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from duckspool.contracts import TelemetryEvent, make_event
from duckspool.exceptions import InvalidEvent
from duckspool.spool import _capture, _hooks
from duckspool.spool._hooks import close_all
from duckspool.spool._layout import SpoolLayout
from duckspool.spool._options import BeforeEmit, DropCallback, EmitterOptions, FsyncPolicy
from duckspool.spool._ratelimit import RateLimit
from duckspool.spool._ring import LineRing
from duckspool.spool._stats import DropReason, EmitterStats
from duckspool.spool._writer import SpoolWriter

__all__ = ["Emitter", "FsyncPolicy", "close_all"]

log = logging.getLogger(__name__)

# Drops of events that had been accepted into the buffer (the rest happen inside emit()).
_AFTER_ACCEPT = frozenset({DropReason.UNWRITTEN_AT_CLOSE, DropReason.SEGMENT_LOST})


class Emitter(SpoolWriter):
    """Fire-and-forget writer of events into a spool directory.

    Options (all keyword-only; an invalid value raises ConfigurationError, the
    only way constructing an emitter can fail):

    - ``max_buffer_events`` / ``max_buffer_bytes``: bound on what waits in memory;
      past it events are dropped (``buffer_full``) unless ``block_timeout`` > 0.
    - ``max_line_bytes``: larger events are dropped (``oversize``).
    - ``max_segment_bytes`` / ``max_segment_age``: when the active segment is sealed.
    - ``fsync``: ``never`` (page cache only), ``interval`` (every ``fsync_interval``
      seconds and on flush/seal; the default), ``always`` (after every write batch).
    - ``flush_interval``: how long an event may wait in memory before the writer
      wakes (it wakes sooner when the buffer fills).
    - ``dir_mode`` / ``file_mode``: permissions of what the spool creates.
    - ``on_drop``: called with (reason, event) for each drop; its exceptions are swallowed.
      For ``invalid_event`` the object is the :class:`~duckspool.exceptions.InvalidEvent`.
    - ``before_emit``: called with each event before it is queued; returns the
      event to write (changed or not) or None to drop it (``filtered``), for
      scrubbing and sampling. If it raises or returns something else, the event
      is dropped as ``filter_error``: an unscrubbed event is never written.
    - ``clock``: a monotonic clock in seconds, for segment ages (tests inject one).
    - ``exit_timeout``: how long interpreter exit may spend flushing this emitter.
    - ``close_timeout``: how long ``close()`` waits by default before giving up
      on a disk that keeps failing.
    - ``warn_interval``: the least time between two warnings of the same kind.
    """

    max_buffer_events: int
    max_buffer_bytes: int
    max_line_bytes: int
    block_timeout: float
    on_drop: DropCallback | None
    before_emit: BeforeEmit | None
    exit_timeout: float
    close_timeout: float

    def __init__(
        self,
        spool_dir: str | os.PathLike[str],
        *,
        max_buffer_events: int = 100_000,
        max_buffer_bytes: int = 32 << 20,
        max_line_bytes: int = 1 << 20,
        max_segment_bytes: int = 16 << 20,
        max_segment_age: float = 30.0,
        fsync: FsyncPolicy = "interval",
        fsync_interval: float = 1.0,
        flush_interval: float = 0.1,
        block_timeout: float = 0.0,
        dir_mode: int = 0o700,
        file_mode: int = 0o600,
        on_drop: DropCallback | None = None,
        before_emit: BeforeEmit | None = None,
        clock: Callable[[], float] = time.monotonic,
        exit_timeout: float = 5.0,
        close_timeout: float = 30.0,
        warn_interval: float = 60.0,
    ) -> None:
        self.options = EmitterOptions(
            max_buffer_events=max_buffer_events,
            max_buffer_bytes=max_buffer_bytes,
            max_line_bytes=max_line_bytes,
            max_segment_bytes=max_segment_bytes,
            max_segment_age=max_segment_age,
            fsync=fsync,
            fsync_interval=fsync_interval,
            flush_interval=flush_interval,
            block_timeout=block_timeout,
            dir_mode=dir_mode,
            file_mode=file_mode,
            on_drop=on_drop,
            before_emit=before_emit,
            exit_timeout=exit_timeout,
            close_timeout=close_timeout,
            warn_interval=warn_interval,
        )
        for name, value in self.options.as_dict().items():
            setattr(self, "fsync_policy" if name == "fsync" else name, value)
        self.layout = SpoolLayout(Path(spool_dir))
        self._clock = clock
        self._wake_bytes = max(max_buffer_bytes // 4, 1)
        self._wake_events = max(max_buffer_events // 4, 1)
        self._init_state()
        _hooks.register(self)
        # Touch the spool now so a misconfigured path is reported early; a failure
        # only degrades the emitter, which retries when it has something to write.
        try:
            self.layout.ensure(self.layout.active, self.layout.sealed, mode=self.dir_mode)
        except OSError as exc:
            self._degraded = True
            log.warning(
                "duckspool spool %s is not usable yet (%s); events are buffered and writes retried",
                self.layout.root,
                exc,
            )

    def _init_state(self) -> None:
        # _lock guards the buffer and counters (held for microseconds, by emit and the
        # writer's swaps). _io_lock is held by the writer across file I/O. Lock order
        # when both are needed (only around fork): _io_lock, then _lock.
        self._lock = threading.Lock()
        self._io_lock = threading.Lock()
        self._progress = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._ring = LineRing(self.max_buffer_bytes)
        self._accepted = 0
        self._finished = 0  # accepted events written or dropped after acceptance
        self._written = 0
        self._bytes_written = 0
        self._sealed = 0
        self._write_errors = 0
        self._dropped: Counter[str] = Counter()
        self._warned_drops = 0
        self._last_warning = float("-inf")
        self._mistakes = RateLimit(self.warn_interval, max_kinds=64)
        self._fsync_requested = False
        self._closing = False
        self._closed = False
        self._degraded = False
        self._segment = None
        self._sequence = 0
        self._last_fsync = self._clock()
        self._synced_size = 0  # bytes of the active segment known to be on disk
        self._thread = None
        self._pid = os.getpid()

    def emit(self, event: TelemetryEvent) -> None:
        """Queue ``event`` for the spool. Never raises; never waits on I/O.

        ``before_emit`` (if set) sees the event first. Whatever is not queued is
        counted in :meth:`stats` under its :class:`DropReason` and passed to ``on_drop``.
        """
        try:
            if self._closing:
                self._drop(DropReason.CLOSED, event)
                return
            if not isinstance(event, TelemetryEvent):
                self._drop(DropReason.NOT_AN_EVENT, event)
                return
            self._offer(event, DropReason.UNSERIALIZABLE)
        except Exception:  # noqa: BLE001 - the one promise emit() makes
            self._count_internal_error()

    def track(
        self,
        event_type: str,
        payload: Mapping[str, Any] | None = None,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        correlation_id: str | None = None,
        product_id: str | None = None,
        at: datetime | None = None,
    ) -> bool:
        """Build an event from the arguments and the current context, and emit it.

        Returns whether the event was accepted. Never raises, whatever it is
        given: an event that cannot be built (bad type name, no session or user
        id anywhere, a payload JSON cannot carry) is counted as ``invalid_event``,
        passed to ``on_drop`` as an :class:`~duckspool.exceptions.InvalidEvent`
        saying why, and logged as a warning at most once per ``warn_interval``
        for each kind of mistake.
        """
        try:
            if self._closing:
                self._drop(DropReason.CLOSED, None)
                return False
            try:
                event = make_event(
                    event_type,
                    payload,
                    session_id=session_id,
                    user_id=user_id,
                    correlation_id=correlation_id,
                    product_id=product_id,
                    timestamp=at,
                )
            except InvalidEvent as exc:
                self._reject(exc)
                return False
            return self._offer(event, DropReason.INVALID_EVENT)
        except Exception:  # noqa: BLE001 - track() makes emit()'s promise too
            self._count_internal_error()
            return False

    def _offer(self, event: TelemetryEvent, unserializable: DropReason) -> bool:
        """Filter, serialise and queue one event; True if it was accepted."""
        if self.before_emit is not None:
            changed = self._filter(event, self.before_emit)
            if changed is None:
                return False
            event = changed
        try:
            line = event.to_json_line(newline=True)
        except Exception as exc:  # noqa: BLE001 - whatever the payload holds, emit() must not raise
            if unserializable is DropReason.INVALID_EVENT:
                self._reject(InvalidEvent(event.event_type, f"payload: {exc}"))
            else:
                self._drop(unserializable, event)
            return False
        if len(line) > self.max_line_bytes:
            self._drop(DropReason.OVERSIZE, event)
            return False
        if _capture.active() and _capture.record_event(event):
            return True
        ring = self._ring
        with self._lock:
            if ring.put(line, self.max_buffer_events) or self._wait_for_room(line):
                full = False
                self._accepted += 1
                wake = ring.bytes >= self._wake_bytes or ring.lines >= self._wake_events
            else:
                full = True
        if full:
            self._drop(DropReason.BUFFER_FULL, event)
            return False
        if self._thread is None:
            self._start_writer()
        elif wake and not self._wake.is_set():
            self._wake.set()
        return True

    def _filter(self, event: TelemetryEvent, hook: BeforeEmit) -> TelemetryEvent | None:
        """``before_emit``'s verdict; a drop (counted) is None."""
        try:
            changed = hook(event)
        except Exception:  # noqa: BLE001 - a faulty hook drops the event, never the caller
            self._drop(DropReason.FILTER_ERROR, event)
            return None
        if changed is None:
            self._drop(DropReason.FILTERED, event)
        elif not isinstance(changed, TelemetryEvent):
            self._drop(DropReason.FILTER_ERROR, event)
            return None
        return changed

    def _reject(self, error: InvalidEvent) -> None:
        """Count an event ``track()`` could not build, and warn about it at a limited rate."""
        self._drop(DropReason.INVALID_EVENT, error)
        kind = f"{error.event_type!r:.80}|{error.detail.partition(':')[0]:.80}"
        with self._lock:
            if not self._mistakes.allow(kind, time.monotonic()):
                return
        log.warning("duckspool dropped an event (invalid_event): %s", error)

    def _count_internal_error(self) -> None:
        try:
            with self._lock:
                self._write_errors += 1
        except Exception:  # noqa: BLE001, S110 - nothing left to report with
            pass

    def _wait_for_room(self, line: bytes) -> bool:
        # Called with _lock held; only waits when the caller opted into blocking.
        if self.block_timeout <= 0 or self._thread is None:
            return False
        deadline = time.monotonic() + self.block_timeout
        self._wake.set()
        ring = self._ring
        while not ring.put(line, self.max_buffer_events):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._closing:
                return False
            self._progress.wait(remaining)
        return True

    def _drop(self, reason: DropReason, event: object) -> None:
        with self._lock:
            self._dropped[reason] += 1
        if _capture.active():
            _capture.record_drop(reason, event)
        if self.on_drop is not None:
            try:
                self.on_drop(reason, event)
            except Exception:  # noqa: BLE001, S110 - a faulty callback must not break emit()
                pass

    def close(self, timeout: float | None = None) -> None:
        """Flush, seal the active segment and stop the writer. Idempotent; never raises.

        Events still unwritten when ``timeout`` (default ``close_timeout``) runs
        out, because the disk keeps failing, are counted as dropped
        (``unwritten_at_close``): closing never hangs the application.
        """
        if timeout is None:
            timeout = self.close_timeout
        try:
            with self._lock:
                if self._closed:
                    return
                self._closing = True
                self._progress.notify_all()
            if os.getpid() != self._pid:
                self._reset_after_fork()
            thread = self._thread
            if thread is None and self._ring.lines:
                self._start_writer()
                thread = self._thread
            self._wake.set()
            if thread is not None:
                thread.join(timeout)
            with self._io_lock:
                if thread is not None and thread.is_alive():
                    # The writer is stuck retrying a failing disk: give up on what it holds.
                    self._abandon_pending()
                self._seal_active()
            with self._lock:
                self._closed = True
                self._progress.notify_all()
            _hooks.unregister(self)
        except Exception:
            log.exception("duckspool emitter close failed")

    def __enter__(self) -> Emitter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stats(self) -> EmitterStats:
        """A snapshot of the counts (see :class:`EmitterStats` for how they add up)."""
        with self._lock:
            return EmitterStats(
                emitted=self._accepted
                + sum(n for r, n in self._dropped.items() if r not in _AFTER_ACCEPT),
                accepted=self._accepted,
                written=self._written,
                pending=self._ring.lines,
                pending_bytes=self._ring.bytes,
                dropped=dict(self._dropped),
                bytes_written=self._bytes_written,
                segments_sealed=self._sealed,
                write_errors=self._write_errors,
                degraded=self._degraded,
            )

    @property
    def closed(self) -> bool:
        return self._closing

    # -- fork --------------------------------------------------------------------------
    def _reset_after_fork(self) -> None:
        # In a forked child: the parent's buffer, segment and thread are the parent's.
        # No logging here (logging's locks may be held by a thread that did not survive).
        segment = self._segment
        on_drop_closing = self._closing
        self._init_state()
        self._closing = on_drop_closing
        if segment is not None:
            segment.forget()
