"""Counts an emitter keeps, so that what it could not keep is never silent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["DropReason", "EmitterStats"]


class DropReason(StrEnum):
    """Why an event did not reach the spool."""

    BUFFER_FULL = "buffer_full"
    """The in-memory buffer was at its event or byte bound (the writer is behind or failing)."""
    OVERSIZE = "oversize"
    """The serialised event is longer than ``max_line_bytes``."""
    NOT_AN_EVENT = "not_an_event"
    """``emit()`` was given something that is not a ``TelemetryEvent``."""
    UNSERIALIZABLE = "unserializable"
    """The payload holds something JSON cannot carry."""
    CLOSED = "closed"
    """``emit()`` was called after ``close()``."""
    UNWRITTEN_AT_CLOSE = "unwritten_at_close"
    """``close()`` ran out of time while the disk kept failing; these were buffered."""
    SEGMENT_LOST = "segment_lost"
    """Written, but the segment file was deleted and could not be read back."""
    INVALID_EVENT = "invalid_event"
    """``track()`` (or an integration) could not build an event from what it was given:
    bad type name, no session or user id anywhere, a payload JSON cannot carry."""
    FILTERED = "filtered"
    """``before_emit`` returned None (scrubbing or sampling chose to drop it)."""
    FILTER_ERROR = "filter_error"
    """``before_emit`` raised or returned something that is not an event."""


@dataclass(frozen=True, slots=True)
class EmitterStats:
    """A snapshot of one emitter's counts, for this process since the emitter started.

    ``emitted == written + pending + sum(dropped.values())`` always holds.
    ``accepted`` counts events that entered the buffer (``emitted`` minus the drops
    that happen inside ``emit()``).
    """

    emitted: int
    accepted: int
    written: int
    pending: int
    pending_bytes: int
    dropped: Mapping[str, int] = field(default_factory=dict)
    bytes_written: int = 0
    segments_sealed: int = 0
    write_errors: int = 0
    degraded: bool = False
    """True while the spool cannot be written (the writer is retrying)."""

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())
