"""A batch of segments on its way into one transaction, and the pass's running totals."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from duckspool.loader._quarantine import ID_CONFLICT, QuarantineWriter
from duckspool.loader._reader import iter_lines
from duckspool.loader._validate import SegmentResult
from duckspool.repository import Conflict

__all__ = ["Batch", "Tally", "discard_files", "discard_result", "quarantine_conflicts"]


@dataclass
class Batch:
    """Segments validated and waiting for one transaction, with their quarantines."""

    results: list[SegmentResult] = field(default_factory=list)
    quarantines: dict[int, QuarantineWriter] = field(default_factory=dict)
    copies: list[Path] = field(default_factory=list)  # byte-identical to a segment in the batch
    authority_files: list[Path] = field(default_factory=list)  # staged by validate_lines
    events: int = 0
    bytes: int = 0

    def holds(self, key: str) -> bool:
        return any(r.key == key for r in self.results)


class Tally:
    """Running totals of one pass, for its LoadReport."""

    def __init__(self) -> None:
        self.loaded = 0
        self.already = 0
        self.set_aside = 0
        self.lines = 0
        self.inserted = 0
        self.duplicates = 0
        self.bytes = 0
        self.quarantined: Counter[str] = Counter()
        self.bulk = 0
        self.errors: list[str] = []


def quarantine_conflicts(
    result: SegmentResult,
    quarantine: QuarantineWriter,
    found: dict[int, Conflict],
    max_line_bytes: int,
) -> None:
    """Quarantine the lines of ``result`` the store kept another event for (same id)."""
    with result.path.open("rb") as fh:
        for line in iter_lines(fh, max_line_bytes):
            conflict = found.get(line.number)
            if conflict is not None:
                quarantine.add(
                    line.number,
                    ID_CONFLICT,
                    f"id {conflict.event_id} is already stored with different content; "
                    "the first event was kept",
                    line.data,
                    eventId=str(conflict.event_id),
                )


def discard_files(batch: Batch) -> None:
    """Delete the batch's staging files (never a segment)."""
    for result in batch.results:
        discard_result(result)
    for path in batch.authority_files:
        path.unlink(missing_ok=True)


def discard_result(result: SegmentResult) -> None:
    """Delete a result's staging file unless it is the segment itself."""
    if result.staged is not None and not result.passthrough:
        result.staged.unlink(missing_ok=True)
