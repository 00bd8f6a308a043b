"""The loader: sealed segments -> validated, deduplicated rows in DuckDB, exactly once.

Each batch's rows and the ledger rows naming its segments commit in one DuckDB
transaction; segments leave ``sealed/`` only after that commit. A crash anywhere
therefore loses nothing (the segment is still there) and doubles nothing (the
ledger, keyed by content, says it is loaded; ids are deduplicated in any case).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from duckspool.contracts import LineRejected, parse_line
from duckspool.exceptions import ConfigurationError, DatabaseLocked, DuckspoolError
from duckspool.loader._attempts import AttemptLog
from duckspool.loader._lock import SpoolLock
from duckspool.loader._quarantine import (
    ID_CONFLICT,
    OVERSIZE,
    TRUNCATED,
    UNSTORABLE,
    QuarantineWriter,
)
from duckspool.loader._reader import iter_lines, segment_key
from duckspool.loader._report import LoadReport
from duckspool.repository import Conflict, DuckDBTelemetryRepository, SegmentLoad, StagedBatch
from duckspool.spool import SpoolLayout, recover

__all__ = ["Loader"]

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]


@dataclass
class _Segment:
    path: Path
    key: str
    size: int
    quarantine: QuarantineWriter
    lines: int = 0
    events: int = 0


@dataclass
class _Batch:
    staged: StagedBatch
    segments: list[_Segment] = field(default_factory=list)
    copies: list[Path] = field(default_factory=list)  # byte-identical to a segment in the batch
    events: int = 0
    bytes: int = 0


class _Tally:
    def __init__(self) -> None:
        self.loaded = 0
        self.already = 0
        self.set_aside = 0
        self.lines = 0
        self.inserted = 0
        self.duplicates = 0
        self.bytes = 0
        self.quarantined: Counter[str] = Counter()
        self.errors: list[str] = []


class Loader:
    """Loads a spool directory's sealed segments into a DuckDB telemetry table.

    ``db`` is a path (opened for each pass and closed after, so analysts can
    use the file between loads) or an open :class:`DuckDBTelemetryRepository`
    (used as is, never closed here).
    """

    def __init__(
        self,
        spool_dir: str | os.PathLike[str],
        db: str | os.PathLike[str] | DuckDBTelemetryRepository,
        *,
        batch_events: int = 100_000,
        batch_bytes: int = 64 << 20,
        max_line_bytes: int = 8 << 20,
        max_attempts: int = 3,
        keep_loaded_for: float | None = None,
        memory_limit: str | None = "1GB",
        durable: bool = True,
        progress: ProgressCallback | None = None,
    ) -> None:
        for name, value in (
            ("batch_events", batch_events),
            ("batch_bytes", batch_bytes),
            ("max_line_bytes", max_line_bytes),
            ("max_attempts", max_attempts),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"{name} must be an int >= 1, got {value!r}")
        if keep_loaded_for is not None and keep_loaded_for < 0:
            raise ConfigurationError("keep_loaded_for must be >= 0 seconds or None")
        self.layout = SpoolLayout(Path(spool_dir))
        self._db = db
        self.batch_events = batch_events
        self.batch_bytes = batch_bytes
        self.max_line_bytes = max_line_bytes
        self.max_attempts = max_attempts
        self.keep_loaded_for = keep_loaded_for
        self.memory_limit = memory_limit
        self.durable = durable
        self.progress = progress
        self._stop = threading.Event()

    @property
    def db_path(self) -> str:
        return self._db.path if isinstance(self._db, DuckDBTelemetryRepository) else str(self._db)

    def request_stop(self) -> None:
        """Ask a running pass to stop after the batch in progress (signal handlers call this)."""
        self._stop.set()

    # -- one pass ---------------------------------------------------------------------
    def run_once(self) -> LoadReport:
        """Load everything sealed now. Reports problems in the result; never raises."""
        started = time.monotonic()
        tally = _Tally()
        skipped: str | None = None
        self._stop.clear()
        lock = SpoolLock(self.layout.root)
        try:
            if not lock.acquire():
                skipped = f"another loader (pid {lock.holder()}) is working on this spool"
            else:
                try:
                    skipped = self._run(tally)
                finally:
                    lock.release()
        except DatabaseLocked as exc:
            skipped = f"database busy: {exc}"
        except Exception as exc:  # a pass reports, it never raises into a scheduler
            log.exception("duckspool load pass failed")
            tally.errors.append(f"{type(exc).__name__}: {exc}")
        report = LoadReport(
            segments_loaded=tally.loaded,
            segments_already_loaded=tally.already,
            segments_set_aside=tally.set_aside,
            lines_read=tally.lines,
            events_inserted=tally.inserted,
            duplicates=tally.duplicates,
            quarantined=dict(tally.quarantined),
            bytes_read=tally.bytes,
            seconds=time.monotonic() - started,
            skipped=skipped,
            errors=tuple(tally.errors),
        )
        if skipped:
            log.info("duckspool load skipped: %s", skipped)
        elif report.segments_loaded or report.errors:
            log.info("duckspool load: %s", report.summary())
        return report

    def _run(self, tally: _Tally) -> str | None:
        layout = self.layout
        layout.ensure(layout.active, layout.sealed, layout.quarantine, layout.tmp)
        recover(layout.root)
        self._clean_tmp()
        self._purge_loaded()
        segments = self._sealed_segments()
        if not segments:
            return None
        repo, owned = self._open_repository()
        try:
            self._load(repo, segments, tally, total=len(segments))
        finally:
            if owned:
                repo.close()
        return None

    def _open_repository(self) -> tuple[DuckDBTelemetryRepository, bool]:
        if isinstance(self._db, DuckDBTelemetryRepository):
            return self._db, False
        repo = DuckDBTelemetryRepository(
            os.fspath(self._db),
            memory_limit=self.memory_limit,
            staging_dir=self.layout.tmp,
            max_line_bytes=self.max_line_bytes,
        )
        return repo, True

    def _sealed_segments(self) -> list[Path]:
        found = []
        for path in self.layout.sealed.glob("*.jsonl"):
            try:
                found.append((path.stat().st_mtime, path.name, path))
            except FileNotFoundError:
                continue
        found.sort()
        return [p for _, _, p in found]

    def _load(
        self,
        repo: DuckDBTelemetryRepository,
        paths: list[Path],
        tally: _Tally,
        *,
        total: int,
        single: bool = False,
    ) -> None:
        attempts = AttemptLog(self.layout.root / "loader-attempts.json")
        batch: _Batch | None = None
        for done, path in enumerate(paths, start=1):
            if self._stop.is_set():
                break
            if batch is None:
                batch = _Batch(repo.new_batch())
            self._add_segment(repo, batch, path, tally, attempts)
            if single or batch.events >= self.batch_events or batch.bytes >= self.batch_bytes:
                self._commit(repo, batch, tally, attempts, total=total)
                batch = None
            if self.progress is not None:
                self.progress(done, total)
        if batch is not None:
            self._commit(repo, batch, tally, attempts, total=total)

    def _add_segment(
        self,
        repo: DuckDBTelemetryRepository,
        batch: _Batch,
        path: Path,
        tally: _Tally,
        attempts: AttemptLog,
    ) -> None:
        try:
            key, size = segment_key(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            self._failed(path, f"cannot read: {exc}", tally, attempts)
            return
        if any(s.key == key for s in batch.segments):
            batch.copies.append(path)
            return
        if repo.loaded_segments([key]):
            # Loaded before a crash stopped us removing it: remove it now, unread.
            tally.already += 1
            self._dispose(path)
            return
        segment = _Segment(path, key, size, QuarantineWriter(self.layout.quarantine, path, key))
        index = len(batch.segments)
        mark = batch.staged.mark()
        try:
            self._read_segment(batch.staged, segment, index)
        except Exception as exc:  # noqa: BLE001 - one bad segment must not stop the others
            batch.staged.rollback(mark)
            segment.quarantine.discard()
            self._failed(path, f"{type(exc).__name__}: {exc}", tally, attempts)
            return
        batch.segments.append(segment)
        batch.events += segment.events
        batch.bytes += segment.size

    def _read_segment(self, staged: StagedBatch, segment: _Segment, index: int) -> None:
        quarantine = segment.quarantine
        max_line = self.max_line_bytes
        with segment.path.open("rb") as fh:
            for line in iter_lines(fh, max_line):
                segment.lines += 1
                data = line.data
                if data is None:
                    quarantine.add(
                        line.number,
                        OVERSIZE,
                        f"line is {line.length} bytes; the limit is {max_line}",
                        None,
                        line.offset,
                        line.length,
                    )
                    continue
                if not data or data.isspace():
                    continue
                try:
                    event = parse_line(data)
                except LineRejected as exc:
                    if line.terminated:
                        quarantine.add(line.number, exc.reason, exc.detail, data)
                    else:
                        quarantine.add(
                            line.number,
                            TRUNCATED,
                            f"last line has no newline (torn write): {exc.detail}",
                            data,
                        )
                    continue
                try:
                    staged.add(event, index, line.number)
                except TypeError as exc:
                    quarantine.add(line.number, UNSTORABLE, f"payload: {exc}", data)
                    continue
                segment.events += 1

    def _commit(
        self,
        repo: DuckDBTelemetryRepository,
        batch: _Batch,
        tally: _Tally,
        attempts: AttemptLog,
        *,
        total: int,
    ) -> None:
        loads = [
            SegmentLoad(s.key, s.path.name, s.size, s.lines, s.events, s.quarantine.count)
            for s in batch.segments
        ]

        def before_commit(conflicts: tuple[Conflict, ...]) -> None:
            by_segment: dict[int, dict[int, Conflict]] = defaultdict(dict)
            for conflict in conflicts:
                by_segment[conflict.segment][conflict.line_no] = conflict
            for index, found in by_segment.items():
                self._quarantine_conflicts(batch.segments[index], found)
            for segment in batch.segments:
                segment.quarantine.publish(durable=self.durable)

        try:
            if batch.segments:
                result = repo.commit_batch(batch.staged, loads, before_commit)
        except DatabaseLocked:
            self._discard(batch)
            raise
        except DuckspoolError as exc:
            self._discard(batch)
            if len(batch.segments) > 1:
                # Find the culprit: load the segments of this batch one by one.
                log.warning(
                    "batch of %d segments failed (%s); retrying one at a time",
                    len(batch.segments),
                    exc,
                )
                self._load(
                    repo,
                    [s.path for s in batch.segments] + batch.copies,
                    tally,
                    total=total,
                    single=True,
                )
            elif batch.segments:
                self._failed(batch.segments[0].path, str(exc), tally, attempts)
            return
        finally:
            batch.staged.close()
        if batch.segments:
            tally.inserted += result.inserted
            tally.duplicates += result.duplicates
            if result.conflicts:
                tally.quarantined[ID_CONFLICT] += len(result.conflicts)
        for segment in batch.segments:
            tally.loaded += 1
            tally.lines += segment.lines
            tally.bytes += segment.size
            for reason, count in segment.quarantine.reasons.items():
                if reason != ID_CONFLICT:  # counted from the result above
                    tally.quarantined[reason] += count
            attempts.forget(segment.path.name)
            self._dispose(segment.path)
        for copy in batch.copies:
            tally.already += 1
            self._dispose(copy)

    def _quarantine_conflicts(self, segment: _Segment, found: dict[int, Conflict]) -> None:
        with segment.path.open("rb") as fh:
            for line in iter_lines(fh, self.max_line_bytes):
                conflict = found.get(line.number)
                if conflict is not None:
                    segment.quarantine.add(
                        line.number,
                        ID_CONFLICT,
                        f"id {conflict.event_id} is already stored with different content; "
                        "the first event was kept",
                        line.data,
                        eventId=str(conflict.event_id),
                    )

    @staticmethod
    def _discard(batch: _Batch) -> None:
        for segment in batch.segments:
            segment.quarantine.discard()

    def _failed(self, path: Path, error: str, tally: _Tally, attempts: AttemptLog) -> None:
        count = attempts.failed(path.name, error)
        tally.errors.append(f"{path.name}: {error}")
        log.warning(
            "segment %s failed to load (attempt %d of %d): %s",
            path.name,
            count,
            self.max_attempts,
            error,
        )
        if count >= self.max_attempts:
            self._set_aside(path, error, count)
            attempts.forget(path.name)
            tally.set_aside += 1

    def _set_aside(self, path: Path, error: str, count: int) -> None:
        failed = self.layout.failed
        self.layout.ensure(failed)
        reason = failed / f"{path.name}.reason"
        fd = os.open(reason, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"set aside after {count} failed attempts\nlast error: {error}\n")
        try:
            os.rename(path, failed / path.name)
        except FileNotFoundError:
            pass
        log.error(
            "segment %s set aside in %s after %d failures: %s", path.name, failed, count, error
        )

    def _dispose(self, path: Path) -> None:
        try:
            if self.keep_loaded_for:
                self.layout.ensure(self.layout.loaded)
                os.rename(path, self.layout.loaded / path.name)
            else:
                path.unlink()
        except FileNotFoundError:
            pass

    def _clean_tmp(self) -> None:
        # We hold the spool lock, so any staging file left here is an orphan of a crash.
        for path in self.layout.tmp.glob(".duckspool-stage-*"):
            path.unlink(missing_ok=True)
        for path in self.layout.quarantine.glob(".*.partial"):
            path.unlink(missing_ok=True)

    def _purge_loaded(self) -> None:
        if not self.keep_loaded_for or not self.layout.loaded.is_dir():
            return
        horizon = time.time() - self.keep_loaded_for
        for path in self.layout.loaded.glob("*.jsonl"):
            try:
                if path.stat().st_mtime < horizon:
                    path.unlink()
            except FileNotFoundError:
                continue
