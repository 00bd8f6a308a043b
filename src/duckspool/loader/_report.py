"""What one loader pass did."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["LoadReport"]


@dataclass(frozen=True, slots=True)
class LoadReport:
    """The outcome of ``Loader.run_once()``; it reports problems instead of raising them.

    ``skipped`` says why a pass did nothing at all (another loader holds the
    spool, the database is busy); ``errors`` lists what went wrong with
    particular segments, which stay in the spool to be retried.
    """

    segments_loaded: int = 0
    segments_already_loaded: int = 0
    segments_set_aside: int = 0
    lines_read: int = 0
    events_inserted: int = 0
    duplicates: int = 0
    quarantined: Mapping[str, int] = field(default_factory=dict)
    bytes_read: int = 0
    seconds: float = 0.0
    skipped: str | None = None
    errors: tuple[str, ...] = ()
    bulk_lines: int = 0
    """Lines the store validated in bulk; the rest of ``lines_read`` went through the contract."""

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    @property
    def ok(self) -> bool:
        """True when nothing went wrong (a pass skipped for contention is not an error)."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["quarantined"] = dict(self.quarantined)
        data["errors"] = list(self.errors)
        return data

    def summary(self) -> str:
        """One human line."""
        if self.skipped:
            return f"skipped: {self.skipped}"
        rate = self.lines_read / self.seconds if self.seconds > 0 else 0.0
        parts = [
            f"{self.segments_loaded} segment(s)",
            f"{self.lines_read} lines",
            f"{self.events_inserted} inserted",
            f"{self.duplicates} duplicates",
            f"{self.quarantined_total} quarantined",
            f"in {self.seconds:.2f}s ({rate:,.0f} lines/s)",
        ]
        if self.quarantined:
            parts.append(
                "(" + ", ".join(f"{k}={v}" for k, v in sorted(self.quarantined.items())) + ")"
            )
        if self.segments_already_loaded:
            parts.append(f"{self.segments_already_loaded} already loaded")
        if self.segments_set_aside:
            parts.append(f"{self.segments_set_aside} set aside in failed/")
        if self.errors:
            parts.append(f"{len(self.errors)} error(s): {self.errors[0]}")
        return ", ".join(parts)
