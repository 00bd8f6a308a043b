"""The emitter: ``emit()`` buffers a serialised event; a writer thread appends it to the spool.

``emit()`` never raises and never waits on I/O. What it cannot keep it counts
(:class:`EmitterStats`) and reports to ``on_drop``; warnings about drops come
from the writer thread at a limited rate, never from the caller's thread.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from duckspool.contracts import TelemetryEvent
from duckspool.exceptions import ConfigurationError
from duckspool.spool._layout import SpoolLayout, new_segment_name
from duckspool.spool._ring import LineRing
from duckspool.spool._segment import ActiveSegment
from duckspool.spool._stats import DropReason, EmitterStats

__all__ = ["Emitter", "FsyncPolicy"]

log = logging.getLogger(__name__)

FsyncPolicy = Literal["never", "interval", "always"]
DropCallback = Callable[[DropReason, object], None]

_MiB = 1 << 20
_SYNC_BYTES = 4 * _MiB
# Drops of events that had been accepted into the buffer (the rest happen inside emit()).
_AFTER_ACCEPT = frozenset({DropReason.UNWRITTEN_AT_CLOSE, DropReason.SEGMENT_LOST})


class Emitter:
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
    - ``clock``: a monotonic clock in seconds, for segment ages (tests inject one).
    - ``exit_timeout``: how long interpreter exit may spend flushing this emitter.
    - ``close_timeout``: how long ``close()`` waits by default before giving up
      on a disk that keeps failing.
    """

    def __init__(
        self,
        spool_dir: str | os.PathLike[str],
        *,
        max_buffer_events: int = 100_000,
        max_buffer_bytes: int = 32 * _MiB,
        max_line_bytes: int = 1 * _MiB,
        max_segment_bytes: int = 16 * _MiB,
        max_segment_age: float = 30.0,
        fsync: FsyncPolicy = "interval",
        fsync_interval: float = 1.0,
        flush_interval: float = 0.1,
        block_timeout: float = 0.0,
        dir_mode: int = 0o700,
        file_mode: int = 0o600,
        on_drop: DropCallback | None = None,
        clock: Callable[[], float] = time.monotonic,
        exit_timeout: float = 5.0,
        close_timeout: float = 30.0,
        warn_interval: float = 60.0,
    ) -> None:
        _check_positive(
            max_buffer_events=max_buffer_events,
            max_buffer_bytes=max_buffer_bytes,
            max_line_bytes=max_line_bytes,
            max_segment_bytes=max_segment_bytes,
            max_segment_age=max_segment_age,
            fsync_interval=fsync_interval,
            flush_interval=flush_interval,
            exit_timeout=exit_timeout,
            close_timeout=close_timeout,
        )
        if fsync not in ("never", "interval", "always"):
            raise ConfigurationError(
                f"fsync must be 'never', 'interval' or 'always', not {fsync!r}"
            )
        if block_timeout < 0:
            raise ConfigurationError(f"block_timeout must be >= 0, got {block_timeout!r}")
        if max_line_bytes > max_buffer_bytes:
            raise ConfigurationError("max_line_bytes cannot exceed max_buffer_bytes")
        for name, mode in (("dir_mode", dir_mode), ("file_mode", file_mode)):
            if not isinstance(mode, int) or not 0 <= mode <= 0o777:
                raise ConfigurationError(f"{name} must be a permission mode like 0o700")
        if on_drop is not None and not callable(on_drop):
            raise ConfigurationError("on_drop must be callable")

        self.layout = SpoolLayout(Path(spool_dir))
        self.max_buffer_events = max_buffer_events
        self.max_buffer_bytes = max_buffer_bytes
        self.max_line_bytes = max_line_bytes
        self.max_segment_bytes = max_segment_bytes
        self.max_segment_age = max_segment_age
        self.fsync_policy: FsyncPolicy = fsync
        self.fsync_interval = fsync_interval
        self.flush_interval = flush_interval
        self.block_timeout = block_timeout
        self.dir_mode = dir_mode
        self.file_mode = file_mode
        self.on_drop = on_drop
        self.exit_timeout = exit_timeout
        self.close_timeout = close_timeout
        self.warn_interval = warn_interval
        self._clock = clock
        self._wake_bytes = max(max_buffer_bytes // 4, 1)
        self._wake_events = max(max_buffer_events // 4, 1)
        self._init_state()
        _live.add(self)
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
        self._fsync_requested = False
        self._closing = False
        self._closed = False
        self._degraded = False
        self._segment: ActiveSegment | None = None
        self._sequence = 0
        self._last_fsync = self._clock()
        self._synced_size = 0  # bytes of the active segment known to be on disk
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    # -- the caller's side ------------------------------------------------------------
    def emit(self, event: TelemetryEvent) -> None:
        """Queue ``event`` for the spool. Never raises; never waits on I/O."""
        try:
            if self._closing:
                self._drop(DropReason.CLOSED, event)
                return
            if not isinstance(event, TelemetryEvent):
                self._drop(DropReason.NOT_AN_EVENT, event)
                return
            try:
                line = event.to_json_line(newline=True)
            except Exception:  # noqa: BLE001 - whatever the payload holds, emit() must not raise
                self._drop(DropReason.UNSERIALIZABLE, event)
                return
            if len(line) > self.max_line_bytes:
                self._drop(DropReason.OVERSIZE, event)
                return
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
                return
            if self._thread is None:
                self._start_writer()
            elif wake and not self._wake.is_set():
                self._wake.set()
        except Exception:  # noqa: BLE001 - the one promise emit() makes
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
        if self.on_drop is not None:
            try:
                self.on_drop(reason, event)
            except Exception:  # noqa: BLE001, S110 - a faulty callback must not break emit()
                pass

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every event accepted before this call is in the spool file.

        With the ``interval`` or ``always`` policy the file is also fsynced. Returns
        False if ``timeout`` (seconds) passed first, e.g. while the disk is failing.
        """
        with self._lock:
            target = self._accepted
            if self._finished >= target:
                done = True
            else:
                done = False
                if self.fsync_policy != "never":
                    self._fsync_requested = True
        if done:
            return self._sync_now()
        if self._thread is None:
            self._start_writer()
        self._wake.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._finished < target:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._progress.wait(remaining if remaining is not None else 0.5)
                if self._thread is None or not self._thread.is_alive():
                    return self._finished >= target
        return True

    def _sync_now(self) -> bool:
        if self.fsync_policy == "never":
            return True
        with self._io_lock:
            segment = self._segment
            if segment is not None and segment.fd >= 0:
                try:
                    segment.fsync()
                except OSError:
                    return False
        return True

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
            _live.discard(self)
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

    # -- the writer's side ------------------------------------------------------------
    def _start_writer(self) -> None:
        with self._lock:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(
                target=self._run, name=f"duckspool-writer-{self.layout.root}", daemon=True
            )
            self._thread.start()
        _ensure_exit_hooks()

    def _run(self) -> None:
        backoff = 0.0
        while True:
            self._wake.wait(backoff or self.flush_interval)
            self._wake.clear()
            with self._lock:
                closing = self._closing
                regions = self._ring.regions()
            try:
                with self._io_lock:
                    written, lines, error = self._write(regions)
                    self._maintain(closing)
            except Exception as exc:  # noqa: BLE001 - the writer thread must survive anything
                written, lines, error = 0, 0, exc
            self._account(written, lines, error)
            if error is not None:
                backoff = min(max(backoff * 2, 0.05), 2.0)
            else:
                backoff = 0.0
            try:
                self._maybe_warn(error)
            except Exception:  # noqa: BLE001, S110 - a logging failure must not stop the writer
                pass
            if closing and error is None:
                with self._lock:
                    if not self._ring.lines:
                        return

    def _account(self, written: int, lines: int, error: BaseException | None) -> None:
        """Release what was written from the ring; what was not stays there to be retried."""
        with self._lock:
            self._ring.consume(written, lines)
            self._written += lines
            self._finished += lines
            self._bytes_written += written
            if error is not None:
                self._write_errors += 1
                self._degraded = True
            elif written or not self._ring.lines:
                self._degraded = False
            self._progress.notify_all()

    def _write(self, regions: list[tuple[int, int]]) -> tuple[int, int, BaseException | None]:
        """Append the ring's ``regions`` to segments, straight from the ring's memory.

        Returns bytes and lines written, and the error that stopped it; what was
        written always ends at a line boundary.
        """
        buf = self._ring.buf
        view = self._ring.view
        written = lines = 0
        for start, stop in regions:
            pos = start
            while pos < stop:
                try:
                    segment = self._writable_segment()
                    room = self.max_segment_bytes - segment.size
                    cut = buf.rfind(b"\n", pos, min(stop, pos + room)) if room > 0 else -1
                    if cut < pos:  # the next line alone is larger than the room left
                        if segment.size:
                            self._seal_active()
                            continue
                        cut = buf.find(b"\n", pos, stop)
                    segment.append(view[pos : cut + 1])
                    count = buf.count(b"\n", pos, cut + 1)
                    segment.lines += count
                    lines += count
                    written += cut + 1 - pos
                    pos = cut + 1
                    if self.fsync_policy == "always":
                        segment.fsync()
                    if segment.size >= self.max_segment_bytes:
                        self._seal_active()
                except OSError as exc:
                    if self._segment is not None and self._segment.broken:
                        self._abandon_segment()
                    return written, lines, exc
        return written, lines, None

    def _writable_segment(self) -> ActiveSegment:
        segment = self._segment
        if segment is not None and segment.is_unlinked():
            self._rescue(segment)
            segment = self._segment
        if segment is None:
            segment = self._open_segment()
        return segment

    def _open_segment(self) -> ActiveSegment:
        self.layout.ensure(self.layout.active, self.layout.sealed, mode=self.dir_mode)
        self._sequence += 1
        name = new_segment_name(self._sequence, datetime.now(UTC))
        self._segment = ActiveSegment(self.layout.active, name, self.file_mode, self._clock())
        self._synced_size = 0
        return self._segment

    def _rescue(self, lost: ActiveSegment) -> None:
        # The directory was deleted or replaced under an open segment. The open file
        # still holds every line written to it: copy them into a fresh segment
        # instead of writing on into a file nobody can see.
        self._segment = None
        try:
            data = lost.read_complete()
        except OSError:
            data = b""
            with self._lock:
                self._written -= lost.lines
                self._dropped[DropReason.SEGMENT_LOST] += lost.lines
        lost.close()
        log.warning(
            "duckspool segment %s was deleted while open; moving %d bytes to a new segment",
            lost.name,
            len(data),
        )
        fresh = self._open_segment()
        if data:
            fresh.append(data)
            fresh.lines = data.count(b"\n")

    def _abandon_segment(self) -> None:
        # A failed write could not be cut back: never append to this file again.
        # Sealing it is safe: a torn last line is the loader's to quarantine, and the
        # lines of the failed write are retried in a new segment.
        segment, self._segment = self._segment, None
        if segment is None:
            return
        try:
            segment.seal(self.layout.sealed, durable=False)
            with self._lock:
                self._sealed += 1
        except OSError:
            segment.close()

    def _maintain(self, closing: bool) -> None:
        segment = self._segment
        if segment is None:
            return
        now = self._clock()
        segment.created = min(segment.created, now)  # a clock that went back restarts the age
        if segment.size and now - segment.created >= self.max_segment_age:
            self._seal_active()
            return
        with self._lock:
            requested, self._fsync_requested = self._fsync_requested, False
        unsynced = segment.size - self._synced_size
        if unsynced and (
            requested
            or (
                self.fsync_policy == "interval"
                # Also by volume: many small fsyncs stall the writer briefly, where one
                # large one at seal time stalls it long enough for the buffer to fill.
                and (now - self._last_fsync >= self.fsync_interval or unsynced >= _SYNC_BYTES)
            )
        ):
            segment.fsync()
            self._last_fsync = now
            self._synced_size = segment.size

    def _seal_active(self) -> None:
        segment = self._segment
        if segment is None:
            return
        if segment.is_unlinked():
            self._rescue(segment)
            segment = self._segment
            if segment is None:
                return
        try:
            sealed = segment.seal(self.layout.sealed, durable=self.fsync_policy != "never")
        except FileNotFoundError:
            self.layout.ensure(self.layout.active, self.layout.sealed, mode=self.dir_mode)
            sealed = segment.seal(self.layout.sealed, durable=self.fsync_policy != "never")
        self._segment = None
        if sealed:
            with self._lock:
                self._sealed += 1

    def _abandon_pending(self) -> None:
        with self._lock:
            lost = self._ring.lines
            self._dropped[DropReason.UNWRITTEN_AT_CLOSE] += lost
            self._finished += lost
            self._ring.clear()
            self._progress.notify_all()
        if lost:
            log.warning("duckspool emitter closed with %d events it could not write", lost)

    def _maybe_warn(self, error: BaseException | None) -> None:
        now = time.monotonic()
        if now - self._last_warning < self.warn_interval:
            return
        with self._lock:
            drops = sum(self._dropped.values())
            new_drops = drops - self._warned_drops
        if error is None and not new_drops:
            return
        self._last_warning = now
        self._warned_drops = drops
        if error is not None:
            log.warning(
                "duckspool cannot write to spool %s (%s); retrying, %d events buffered",
                self.layout.root,
                error,
                self._ring.lines,
            )
        if new_drops:
            log.warning("duckspool dropped %d events (see Emitter.stats())", new_drops)

    # -- fork and exit ----------------------------------------------------------------
    def _reset_after_fork(self) -> None:
        # In a forked child: the parent's buffer, segment and thread are the parent's.
        # No logging here (logging's locks may be held by a thread that did not survive).
        segment = self._segment
        on_drop_closing = self._closing
        self._init_state()
        self._closing = on_drop_closing
        if segment is not None:
            segment.forget()


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigurationError(f"{name} must be a positive number, got {value!r}")


_live: weakref.WeakSet[Emitter] = weakref.WeakSet()
_hooks_pid = 0


def _before_fork() -> None:
    for emitter in list(_live):
        emitter._io_lock.acquire()
        emitter._lock.acquire()


def _after_fork_parent() -> None:
    for emitter in list(_live):
        emitter._lock.release()
        emitter._io_lock.release()


def _after_fork_child() -> None:
    for emitter in list(_live):
        emitter._reset_after_fork()


os.register_at_fork(
    before=_before_fork, after_in_parent=_after_fork_parent, after_in_child=_after_fork_child
)


def close_all(timeout: float | None = None) -> None:
    """Close every live emitter of this process (interpreter exit calls this)."""
    for emitter in list(_live):
        emitter.close(emitter.exit_timeout if timeout is None else timeout)


def _ensure_exit_hooks() -> None:
    # atexit covers normal exit and sys.exit. A multiprocessing child ends with
    # os._exit, which skips atexit, but runs multiprocessing's own finalizers.
    global _hooks_pid
    pid = os.getpid()
    if _hooks_pid == pid:
        return
    if _hooks_pid == 0:
        atexit.register(close_all)
    _hooks_pid = pid
    mp: Any = sys.modules.get("multiprocessing")
    if mp is not None:
        try:
            mp.util.Finalize(None, close_all, exitpriority=100)
        except Exception:  # noqa: BLE001, S110 - best effort; atexit still covers normal exit
            pass
