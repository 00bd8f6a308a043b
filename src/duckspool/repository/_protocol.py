"""The storage interface the loader and analysts' code program against."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from duckspool.contracts import TelemetryEvent

__all__ = ["EventQuery", "SaveResult", "TelemetryRepository"]


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
