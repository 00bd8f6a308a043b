"""An in-memory store: the second implementation that keeps the protocols honest.

:class:`MemoryTelemetryRepository` satisfies :class:`TelemetryRepository` and
:class:`LoadTarget` with plain dicts, so a :class:`~duckspool.Loader` can load
into it and tests can use it as a double. It has no bulk path: every line of a
raw segment goes through the authority (the contract), which is the reference
the DuckDB bulk path is tested against.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from duckspool.contracts import TelemetryEvent
from duckspool.exceptions import ConfigurationError, RepositoryError
from duckspool.repository._protocol import (
    BatchResult,
    Conflict,
    EventQuery,
    LoadBatch,
    SaveResult,
    SegmentLoad,
    StagedFile,
    check_find_options,
)

__all__ = ["MemoryTelemetryRepository"]


@dataclass(frozen=True, slots=True)
class _Row:
    event: TelemetryEvent
    segment: str | None


class MemoryTelemetryRepository:
    """Events in a dict, idempotent by id, with a load ledger. Thread-safe; nothing persists."""

    def __init__(self) -> None:
        self._rows: dict[uuid.UUID, _Row] = {}
        self._ledger: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._closed = False

    # -- life cycle -------------------------------------------------------------------
    def close(self) -> None:
        """Forget nothing, accept nothing more: later calls raise :class:`RepositoryError`."""
        self._closed = True

    def __enter__(self) -> MemoryTelemetryRepository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise RepositoryError("memory repository is closed")

    # -- writes ------------------------------------------------------------------------
    def save_many(self, events: Iterable[TelemetryEvent]) -> SaveResult:
        """Store events not stored yet, all at once; idempotent by id."""
        staged = [(0, n, event) for n, event in enumerate(events, start=1)]
        with self._lock:
            self._check_open()
            result, rows = self._dedup(staged, {})
            self._rows.update(rows)
        return SaveResult(
            result.inserted, result.duplicates, tuple(c.event_id for c in result.conflicts)
        )

    def commit_batch(
        self,
        batch: LoadBatch,
        before_commit: Callable[[tuple[Conflict, ...]], None] | None = None,
    ) -> BatchResult:
        """See :meth:`LoadTarget.commit_batch`. Every raw line goes to the authority."""
        counts: dict[int, tuple[int, int]] = {}
        files = list(batch.staged)
        for raw in batch.raw:
            if batch.authority is None:
                raise RepositoryError("a batch with raw segments needs an authority")
            lines = batch.authority(raw.ordinal, None)
            counts[raw.ordinal] = (lines.events, lines.quarantined)
            if lines.staged is not None:
                files.append(lines.staged)
        staged = [row for f in files for row in _read_staged(f)]
        names = {s.ordinal: s.name for s in batch.segments}
        with self._lock:
            self._check_open()
            for seg in batch.segments:
                if seg.key in self._ledger:
                    raise RepositoryError(f"segment {seg.name} ({seg.key}) is already loaded")
            result, rows = self._dedup(staged, names)
            if before_commit is not None:
                before_commit(result.conflicts)
            self._rows.update(rows)
            for index, seg in enumerate(batch.segments):
                events, quarantined = counts.get(seg.ordinal, (seg.events, seg.quarantined))
                self._ledger[seg.key] = _ledger_row(seg, events, quarantined, result, index)
        return result

    def _dedup(
        self, staged: list[tuple[int, int, TelemetryEvent]], names: dict[int, str]
    ) -> tuple[BatchResult, dict[uuid.UUID, _Row]]:
        """New rows (the earliest of each id) and what happened to the rest; changes nothing."""
        new: dict[uuid.UUID, _Row] = {}
        conflicts: list[Conflict] = []
        duplicates = 0
        for ordinal, number, event in sorted(staged, key=lambda r: (r[0], r[1])):
            kept = new.get(event.id) or self._rows.get(event.id)
            if kept is None:
                new[event.id] = _Row(event, names.get(ordinal))
            elif kept.event == event:
                duplicates += 1
            else:
                conflicts.append(Conflict(ordinal, number, event.id))
        return BatchResult(len(new), duplicates, tuple(conflicts)), new

    # -- ledger ------------------------------------------------------------------------
    def loaded_segments(self, keys: Iterable[str]) -> set[str]:
        """Which of these segment keys the ledger already holds."""
        with self._lock:
            self._check_open()
            return {k for k in keys if k in self._ledger}

    def recent_loads(self, limit: int = 10) -> list[dict[str, Any]]:
        """The newest ledger rows, newest first."""
        with self._lock:
            return list(reversed(list(self._ledger.values())))[:limit]

    # -- reads -------------------------------------------------------------------------
    def get(self, event_id: uuid.UUID) -> TelemetryEvent | None:
        """The event with this id, or None."""
        with self._lock:
            self._check_open()
            row = self._rows.get(event_id)
        return row.event if row else None

    def find(
        self,
        query: EventQuery | None = None,
        *,
        limit: int = 100,
        order: Literal["asc", "desc"] = "asc",
    ) -> list[TelemetryEvent]:
        """Events matching ``query``, by timestamp then id, at most ``limit``."""
        check_find_options(limit, order)
        found = sorted(self._matching(query), key=lambda e: (e.timestamp, e.id))
        if order == "desc":
            found.reverse()
        return found[:limit]

    def count(self, query: EventQuery | None = None) -> int:
        """How many stored events match ``query``."""
        return len(self._matching(query))

    def _matching(self, query: EventQuery | None) -> list[TelemetryEvent]:
        q = query or EventQuery()
        for bound in (q.since, q.until):
            if bound is not None and bound.tzinfo is None:
                raise ConfigurationError("since/until must be timezone-aware datetimes")
        with self._lock:
            self._check_open()
            events = [row.event for row in self._rows.values()]
        return [e for e in events if _matches(e, q)]


def _matches(e: TelemetryEvent, q: EventQuery) -> bool:
    equal = (
        (q.namespace, e.namespace),
        (q.event_type, e.event_type),
        (q.session_id, e.session_id),
        (q.user_id, e.user_id),
        (q.product_id, e.product_id),
        (q.correlation_id, e.correlation_id),
    )
    if any(wanted is not None and wanted != actual for wanted, actual in equal):
        return False
    if q.event_type_prefix is not None and not e.event_type.startswith(q.event_type_prefix):
        return False
    if q.since is not None and e.timestamp < q.since:
        return False
    return q.until is None or e.timestamp < q.until


def _read_staged(staged: StagedFile) -> list[tuple[int, int, TelemetryEvent]]:
    """The events of a staged file (wire lines, contract-validated, most with ``_n``)."""
    rows = []
    with staged.path.open("rb") as fh:
        for index, line in enumerate(fh, start=1):
            obj = orjson.loads(line)
            number = int(obj.pop("_n", index))
            event = TelemetryEvent.model_validate_json(orjson.dumps(obj))
            rows.append((staged.ordinal, number, event))
    return rows


def _ledger_row(
    seg: SegmentLoad, events: int, quarantined: int, result: BatchResult, index: int
) -> dict[str, Any]:
    return {
        "segment_name": seg.name,
        "size_bytes": seg.size_bytes,
        "lines": seg.lines,
        "events": events,
        "inserted": result.inserted if index == 0 else 0,
        "duplicates": result.duplicates if index == 0 else 0,
        "quarantined": quarantined,
    }
