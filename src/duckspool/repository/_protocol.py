"""The storage interfaces: what analysts' code reads through, what the loader writes to.

:class:`TelemetryRepository` is the reading and saving interface;
:class:`LoadTarget` is what :class:`~duckspool.Loader` needs of a store (commit
a batch of segments with their ledger rows atomically, say which segments are
already loaded). :class:`~duckspool.DuckDBTelemetryRepository` and
:class:`~duckspool.MemoryTelemetryRepository` implement both, and one contract
test suite runs over each.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from duckspool.contracts import TelemetryEvent
from duckspool.exceptions import ConfigurationError

__all__ = [
    "Authority",
    "BatchResult",
    "Conflict",
    "EventQuery",
    "LoadBatch",
    "LoadTarget",
    "SaveResult",
    "SegmentLines",
    "SegmentLoad",
    "StagedFile",
    "TelemetryRepository",
]


@dataclass(frozen=True, slots=True)
class SaveResult:
    """What one ``save_many`` did.

    ``conflicts`` are ids that arrived with content different from the row
    already kept (an id collision, not a redelivery); the first row stays.
    """

    inserted: int
    duplicates: int
    conflicts: tuple[uuid.UUID, ...] = ()


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Filters shared by ``find`` and ``count``; every one is optional and they AND together."""

    namespace: str | None = None
    event_type: str | None = None
    event_type_prefix: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    product_id: str | None = None
    correlation_id: str | None = None
    since: datetime | None = None
    """Inclusive lower bound on the event's timestamp."""
    until: datetime | None = None
    """Exclusive upper bound on the event's timestamp."""


def check_find_options(limit: int, order: str) -> None:
    """Raise :class:`ConfigurationError` unless ``find``'s ``limit`` and ``order`` are valid."""
    if order not in ("asc", "desc"):
        raise ConfigurationError(f"order must be 'asc' or 'desc', got {order!r}")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ConfigurationError(f"limit must be an int >= 0, got {limit!r}")


@runtime_checkable
class TelemetryRepository(Protocol):
    """Where events are kept. Implementations must make ``save_many`` idempotent by id."""

    def save_many(self, events: Iterable[TelemetryEvent]) -> SaveResult:
        """Store events in one transaction; ids already stored are counted as duplicates."""
        ...

    def get(self, event_id: uuid.UUID) -> TelemetryEvent | None:
        """The event with this id, or None."""
        ...

    def find(
        self,
        query: EventQuery | None = None,
        *,
        limit: int = 100,
        order: Literal["asc", "desc"] = "asc",
    ) -> list[TelemetryEvent]:
        """Events matching ``query``, ordered by timestamp then id."""
        ...

    def count(self, query: EventQuery | None = None) -> int:
        """How many events match ``query``."""
        ...

    def close(self) -> None:
        """Release the store; further calls raise."""
        ...


@dataclass(frozen=True, slots=True)
class SegmentLoad:
    """A spool segment to record in the load ledger with the batch that holds its rows.

    ``ordinal`` orders segments within a batch (an earlier one wins a duplicate
    id) and ties staged rows to their segment. For a segment passed in
    :attr:`LoadBatch.raw`, ``events`` and ``quarantined`` are counted by the
    target and the values here are ignored.
    """

    ordinal: int
    key: str
    name: str
    size_bytes: int
    lines: int
    events: int = 0
    quarantined: int = 0


@dataclass(frozen=True, slots=True)
class StagedFile:
    """A JSON-lines file for :meth:`LoadTarget.commit_batch`.

    In :attr:`LoadBatch.staged`: lines already validated by the contract and in
    the exact wire form, each carrying ``"_n"`` (its line number in the segment)
    unless the file is the segment itself. In :attr:`LoadBatch.raw`: a segment
    as the spool holds it, not validated yet. ``ordinal`` names its segment.
    ``verified`` (raw only): the segment's bytes match the CRC-32 its emitter
    recorded in its name, so every line is ``TelemetryEvent.to_json_line``
    output; a target may skip the checks that output passes by construction
    (docs/loader.md, "Provenance") and must still run every other.
    """

    path: Path
    ordinal: int
    verified: bool = False


@dataclass(frozen=True, slots=True)
class SegmentLines:
    """What the contract made of some lines of a raw segment (see :data:`Authority`)."""

    staged: StagedFile | None
    events: int
    quarantined: int


Authority = Callable[[int, "Mapping[int, bytes | None] | None"], SegmentLines]
"""``authority(ordinal, lines)``: validate these lines (None: every line) of the raw
segment ``ordinal`` with :func:`~duckspool.parse_line`, stage the valid ones and
quarantine (unpublished) the rest. ``lines`` maps line numbers to the line's exact
bytes where the target has them (the authority then need not read the segment), or
to None. The loader supplies it; a target calls it for every line it does not accept
itself, and for nothing it does."""


@dataclass(frozen=True, slots=True)
class LoadBatch:
    """Segments to load in one transaction.

    ``staged`` rows are validated already; ``raw`` segments are validated by the
    target: a target may accept lines in bulk only if :func:`~duckspool.parse_line`
    would accept them and would produce exactly the values it stores, and must
    pass every other line to ``authority``.
    """

    segments: Sequence[SegmentLoad]
    staged: Sequence[StagedFile] = ()
    raw: Sequence[StagedFile] = ()
    authority: Authority | None = None


@dataclass(frozen=True, slots=True)
class Conflict:
    """A staged row whose id is kept with different content (line ``line_no`` of segment)."""

    segment: int
    line_no: int
    event_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one batch did: rows inserted, redeliveries skipped, id conflicts.

    ``bulk_lines`` counts the lines the target accepted without the authority.
    """

    inserted: int
    duplicates: int
    conflicts: tuple[Conflict, ...]
    bulk_lines: int = 0


@runtime_checkable
class LoadTarget(Protocol):
    """What the loader writes to. ``commit_batch`` is atomic: all of it or nothing."""

    def loaded_segments(self, keys: Iterable[str]) -> set[str]:
        """Which of these segment keys the ledger already holds."""
        ...

    def commit_batch(
        self,
        batch: LoadBatch,
        before_commit: Callable[[tuple[Conflict, ...]], None] | None = None,
    ) -> BatchResult:
        """Store the batch's rows and its segments' ledger rows in one transaction.

        Rows whose id is already stored, or staged earlier in the batch (by
        segment ordinal, then line number), are skipped; those with other
        content are returned as conflicts, which ``before_commit`` sees and may
        raise on to roll everything back. A segment key already in the ledger
        raises :class:`~duckspool.exceptions.RepositoryError` and nothing commits.
        """
        ...

    def close(self) -> None:
        """Release the store."""
        ...
