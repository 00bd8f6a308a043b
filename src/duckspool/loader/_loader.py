"""The loader: sealed segments -> validated, deduplicated rows in DuckDB, exactly once.

Each batch's rows and the ledger rows naming its segments commit in one DuckDB
transaction; segments leave ``sealed/`` only after that commit. A crash anywhere
therefore loses nothing (the segment is still there) and doubles nothing (the
ledger, keyed by content, says it is loaded; ids are deduplicated in any case).

The loader is typed against :class:`~duckspool.repository.LoadTarget`: a
DuckDB path (the usual case) or any target, such as
:class:`~duckspool.MemoryTelemetryRepository`. Segments the target's bulk path
can read go to it ``raw`` and the target validates them, calling back
:func:`validate_lines` (the contract) for every line it does not accept itself;
other segments are validated line by line into staging files first, in worker
processes when the backlog is large enough to repay starting them.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from duckspool.exceptions import (
    ConfigurationError,
    DatabaseLocked,
    DuckspoolError,
    SpoolNotFound,
)
from duckspool.loader import _validate
from duckspool.loader._ahead import validated_in_order
from duckspool.loader._attempts import AttemptLog
from duckspool.loader._batch import (
    Batch,
    Tally,
    discard_files,
    discard_result,
    quarantine_conflicts,
)
from duckspool.loader._lock import SpoolLock
from duckspool.loader._quarantine import ID_CONFLICT, QuarantineWriter
from duckspool.loader._report import LoadReport
from duckspool.loader._segments import SegmentShelf
from duckspool.loader._validate import SegmentResult
from duckspool.repository import (
    Conflict,
    DuckDBTelemetryRepository,
    LoadBatch,
    LoadTarget,
    SegmentLines,
    SegmentLoad,
    StagedFile,
)
from duckspool.repository._errors import is_environmental, is_interrupt
from duckspool.spool import SpoolLayout, recover

__all__ = ["Loader", "environmental"]

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]


class Loader:
    """Loads a spool directory's sealed segments into a telemetry store.

    ``db`` is a DuckDB path (opened for each pass and closed after, so analysts
    can use the file between loads) or an open :class:`LoadTarget` such as a
    :class:`DuckDBTelemetryRepository` or :class:`MemoryTelemetryRepository`
    (used as is, never closed here). The spool directory must exist: a pass
    over a missing one reports :class:`SpoolNotFound` and creates nothing.

    Options: ``batch_events`` / ``batch_bytes`` bound one transaction (segments
    are never split across transactions); ``max_line_bytes`` longer lines are
    quarantined as ``oversize``; ``max_attempts`` failures set a segment aside in
    ``failed/``; ``keep_loaded_for`` seconds keeps loaded segments in ``loaded/``
    (None deletes them); ``memory_limit`` caps DuckDB; ``workers`` processes validate
    segments the bulk path cannot read (None or 0: none, in this process).
    """

    def __init__(
        self,
        spool_dir: str | os.PathLike[str],
        db: str | os.PathLike[str] | LoadTarget,
        *,
        batch_events: int = 200_000,
        batch_bytes: int = 96 << 20,
        max_line_bytes: int = 8 << 20,
        max_attempts: int = 3,
        keep_loaded_for: float | None = None,
        memory_limit: str | None = "384MB",
        workers: int | None = None,
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
        if workers is not None and (not isinstance(workers, int) or workers < 0):
            raise ConfigurationError("workers must be None or an int >= 0")
        self.layout = SpoolLayout(Path(spool_dir).expanduser())
        self.shelf = SegmentShelf(self.layout, keep_loaded_for)
        self._db = db
        self.batch_events = batch_events
        self.batch_bytes = batch_bytes
        self.max_line_bytes = max_line_bytes
        self.max_attempts = max_attempts
        self.keep_loaded_for = keep_loaded_for
        self.memory_limit = memory_limit
        self.workers = workers
        self.durable = durable
        self.progress = progress
        self._stop = threading.Event()

    @property
    def db_path(self) -> str:
        """The database path, or the target's ``path`` attribute, or its repr."""
        if isinstance(self._db, (str, os.PathLike)):
            return os.fspath(self._db)
        return str(getattr(self._db, "path", repr(self._db)))

    def request_stop(self) -> None:
        """Ask a running pass to stop after the batch in progress (signal handlers call this)."""
        self._stop.set()

    # -- one pass ---------------------------------------------------------------------
    def run_once(self) -> LoadReport:
        """Load everything sealed now. Reports problems in the result; never raises."""
        started = time.monotonic()
        tally = Tally()
        skipped: str | None = None
        self._stop.clear()
        lock = SpoolLock(self.layout.root)
        try:
            self._check_spool()
            if not lock.acquire():
                skipped = f"another loader (pid {lock.holder()}) is working on this spool"
            else:
                try:
                    self._run(tally)
                finally:
                    lock.release()
        except DatabaseLocked as exc:
            skipped = f"database busy: {exc}"
        except SpoolNotFound as exc:
            log.warning("duckspool load: %s", exc)
            tally.errors.append(str(exc))
        except Exception as exc:  # a pass reports, it never raises into a scheduler
            if is_interrupt(exc):
                # Ctrl-C inside a DuckDB call surfaces as DuckDB's own error, not as
                # KeyboardInterrupt: give the caller the interrupt it asked for.
                raise KeyboardInterrupt from None
            if environmental(exc):
                log.warning("duckspool load failed, will retry: %s", exc)
                tally.errors.append(f"load failed, will retry: {exc}")
            else:
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
            bulk_lines=tally.bulk,
        )
        if skipped:
            log.info("duckspool load skipped: %s", skipped)
        elif report.segments_loaded or report.errors:
            log.info("duckspool load: %s", report.summary())
        return report

    def _check_spool(self) -> None:
        if not self.layout.root.is_dir():
            raise SpoolNotFound(str(self.layout.root.absolute()))

    def _run(self, tally: Tally) -> None:
        layout = self.layout
        layout.ensure(layout.active, layout.sealed, layout.quarantine, layout.tmp)
        recover(layout.root)
        self.shelf.clean_tmp()
        self.shelf.purge_loaded()
        segments = self.shelf.sealed()
        if not segments:
            return
        repo, owned = self._open_repository()
        try:
            self._load(repo, segments, tally)
        finally:
            if owned:
                repo.close()

    def _open_repository(self) -> tuple[LoadTarget, bool]:
        if not isinstance(self._db, (str, os.PathLike)):
            return self._db, False
        repo = DuckDBTelemetryRepository(
            Path(os.fspath(self._db)).expanduser(),
            memory_limit=self.memory_limit,
            staging_dir=self.layout.tmp,
            max_line_bytes=self.max_line_bytes,
        )
        return repo, True

    def _validated(self, segments: list[tuple[Path, int]]) -> Iterator[SegmentResult]:
        """Validation results in segment order, computed a bounded way ahead (``_ahead.py``)."""
        args = [
            (path, ordinal, self.layout.tmp, self.layout.quarantine, self.max_line_bytes, True)
            for ordinal, (path, _) in enumerate(segments)
        ]
        return validated_in_order(args, min(self.workers or 0, len(segments)), self._stop)

    def _load(
        self,
        repo: LoadTarget,
        segments: list[tuple[Path, int]],
        tally: Tally,
        *,
        single: bool = False,
    ) -> None:
        attempts = AttemptLog(self.layout.root / "loader-attempts.json")
        total = len(segments)
        batch = Batch()
        for done, result in enumerate(self._validated(segments), start=1):
            self._add(repo, batch, result, tally, attempts)
            if single or batch.events >= self.batch_events or batch.bytes >= self.batch_bytes:
                self._commit(repo, batch, tally, attempts)
                batch = Batch()
            if self.progress is not None:
                self.progress(done, total)
        self._commit(repo, batch, tally, attempts)

    def _add(
        self,
        repo: LoadTarget,
        batch: Batch,
        result: SegmentResult,
        tally: Tally,
        attempts: AttemptLog,
    ) -> None:
        if result.error is not None:
            if result.environmental:
                tally.errors.append(f"{result.path.name}: will retry: {result.error}")
            elif result.path.exists():
                self._failed(result.path, result.error, tally, attempts)
            return
        in_batch = batch.holds(result.key)
        if in_batch or repo.loaded_segments([result.key]):
            # A byte-identical copy, or loaded before a crash stopped us removing it.
            discard_result(result)
            if in_batch:
                batch.copies.append(result.path)
            else:
                tally.already += 1
                self.shelf.dispose(result.path)
            return
        batch.results.append(result)
        batch.quarantines[result.ordinal] = QuarantineWriter(
            self.layout.quarantine, result.path, result.key, adopt=Counter(result.reasons)
        )
        batch.events += result.lines if result.raw else result.events
        batch.bytes += result.size

    def _commit(
        self,
        repo: LoadTarget,
        batch: Batch,
        tally: Tally,
        attempts: AttemptLog,
    ) -> None:
        results = batch.results
        loads = [
            SegmentLoad(
                r.ordinal, r.key, r.path.name, r.size, r.lines, r.events, sum(r.reasons.values())
            )
            for r in results
        ]
        by_ordinal = {r.ordinal: r for r in results}

        def authority(ordinal: int, wanted: Mapping[int, bytes | None] | None) -> SegmentLines:
            result = by_ordinal[ordinal]
            lines = _validate.validate_lines(
                result.path,
                ordinal,
                self.layout.tmp,
                batch.quarantines[ordinal],
                wanted,
                self.max_line_bytes,
            )
            if lines.staged is not None:
                batch.authority_files.append(lines.staged.path)
            return lines

        def before_commit(conflicts: tuple[Conflict, ...]) -> None:
            found: dict[int, dict[int, Conflict]] = defaultdict(dict)
            for conflict in conflicts:
                found[conflict.segment][conflict.line_no] = conflict
            for ordinal, lines in found.items():
                quarantine_conflicts(
                    by_ordinal[ordinal], batch.quarantines[ordinal], lines, self.max_line_bytes
                )
            for quarantine in batch.quarantines.values():
                quarantine.publish(durable=self.durable)

        try:
            if results:
                load = LoadBatch(
                    segments=loads,
                    staged=[
                        StagedFile(r.staged, r.ordinal) for r in results if r.staged is not None
                    ],
                    raw=[StagedFile(r.path, r.ordinal, r.verified) for r in results if r.raw],
                    authority=authority,
                )
                outcome = repo.commit_batch(load, before_commit)
        except DatabaseLocked:
            self._discard(batch)
            raise
        except (DuckspoolError, OSError) as exc:
            self._discard(batch)
            if environmental(exc):
                # Our disk or permissions, not the segments: retry them all next pass.
                tally.errors.append(f"load failed, will retry: {exc}")
                log.warning("duckspool load failed, will retry: %s", exc)
            elif len(results) > 1:
                # Find the culprit: load the segments of this batch one by one.
                log.warning(
                    "batch of %d segments failed (%s); retrying one at a time", len(results), exc
                )
                retry = [(r.path, r.size) for r in results] + [(p, 0) for p in batch.copies]
                self._load(repo, retry, tally, single=True)
            elif results:
                self._failed(results[0].path, str(exc), tally, attempts)
            return
        discard_files(batch)
        if results:
            tally.inserted += outcome.inserted
            tally.bulk += outcome.bulk_lines
            tally.duplicates += outcome.duplicates
            if outcome.conflicts:
                tally.quarantined[ID_CONFLICT] += len(outcome.conflicts)
        for r in results:
            tally.loaded += 1
            tally.lines += r.lines
            tally.bytes += r.size
            attempts.forget(r.path.name)
            self.shelf.dispose(r.path)
        for quarantine in batch.quarantines.values():
            for reason, count in quarantine.reasons.items():
                if reason != ID_CONFLICT:  # counted above, from the outcome
                    tally.quarantined[reason] += count
        for copy in batch.copies:
            tally.already += 1
            self.shelf.dispose(copy)

    def _discard(self, batch: Batch) -> None:
        discard_files(batch)
        for quarantine in batch.quarantines.values():
            quarantine.discard()

    def _failed(self, path: Path, error: str, tally: Tally, attempts: AttemptLog) -> None:
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
            self.shelf.set_aside(path, error, count)
            attempts.forget(path.name)
            tally.set_aside += 1


def environmental(exc: BaseException) -> bool:
    """True for failures of our own disk, memory or permissions, which no segment is to blame for.

    Decided by exception type and ``errno``, never by message. Those never
    count towards setting a segment aside: a full disk must not push good
    segments into ``failed/``.
    """
    return is_environmental(exc)
