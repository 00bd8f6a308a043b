"""The writer thread: moves buffered lines from the ring into segment files.

A mixin of :class:`~duckspool.spool._emitter.Emitter`: the caller's side
(``emit``) only touches the ring under ``_lock``; everything here runs on the
writer thread under ``_io_lock`` (plus ``close()`` once the thread is gone). A
failing disk never loses what is in the ring: the writer backs off and
retries, counting errors, until ``close()`` gives up on it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from duckspool.spool._hooks import ensure_exit_hooks
from duckspool.spool._layout import SpoolLayout, new_segment_name
from duckspool.spool._options import FsyncPolicy
from duckspool.spool._ring import LineRing
from duckspool.spool._segment import ActiveSegment
from duckspool.spool._stats import DropReason

__all__ = ["SpoolWriter"]

log = logging.getLogger(__name__)

_SYNC_BYTES = 4 << 20


class SpoolWriter:
    """The writer-thread half of an emitter (state is set up by ``Emitter._init_state``)."""

    layout: SpoolLayout
    max_segment_bytes: int
    max_segment_age: float
    fsync_policy: FsyncPolicy
    fsync_interval: float
    flush_interval: float
    dir_mode: int
    file_mode: int
    warn_interval: float
    _clock: Callable[[], float]
    _lock: threading.Lock
    _io_lock: threading.Lock
    _progress: threading.Condition
    _wake: threading.Event
    _ring: LineRing
    _accepted: int
    _finished: int
    _written: int
    _bytes_written: int
    _sealed: int
    _write_errors: int
    _dropped: Counter[str]
    _warned_drops: int
    _last_warning: float
    _fsync_requested: bool
    _closing: bool
    _closed: bool
    _degraded: bool
    _segment: ActiveSegment | None
    _sequence: int
    _last_fsync: float
    _synced_size: int
    _thread: threading.Thread | None

    def _start_writer(self) -> None:
        with self._lock:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(
                target=self._run, name=f"duckspool-writer-{self.layout.root}", daemon=True
            )
            self._thread.start()
        ensure_exit_hooks()

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
        # Bytes read back from a file nobody could see: sealed without provenance,
        # so the loader checks every line (rare; costs only speed).
        fresh.provenance = False
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
        segment.provenance = False  # its tail may hold a fragment: no checksum in its name
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

    # -- waiting on the writer ---------------------------------------------------------
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
