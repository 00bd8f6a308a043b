"""What a report page holds, before it is HTML: sections of blocks (a chart and its table).

Every string here is plain text, exactly as the data had it: escaping happens once,
when the page is rendered (``_html.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Block", "Section", "Table"]


@dataclass(frozen=True, slots=True)
class Table:
    """Formatted cells; ``numeric`` marks right-aligned columns."""

    columns: list[str]
    rows: list[list[str]]
    numeric: tuple[bool, ...] = ()
    collapsed: bool = False
    """Long tables start folded (a ``<details>`` the reader opens)."""


@dataclass(frozen=True, slots=True)
class Block:
    """One question answered: a title saying what and over which period, a chart, its numbers."""

    title: str
    chart: dict[str, Any] | None = None
    table: Table | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Section:
    """A part of the page; ``absent`` (a sentence) replaces the blocks when there is no data."""

    key: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tiles: list[tuple[str, str]] = field(default_factory=list)
    absent: str | None = None
