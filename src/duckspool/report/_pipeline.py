"""Pipeline health: load history from the ledger, and the spool's backlog and quarantine.

The spool is read through its public layout (:class:`~duckspool.spool.SpoolLayout`)
and the loader's quarantine reader (:func:`~duckspool.loader.iter_records`); nothing
is created, moved or locked. Emitter drops are counted inside each emitting process
(``Emitter.stats()``) and are not written to the spool or the database, so a report
made elsewhere cannot know them: the page says so instead of showing a zero.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from duckspool.loader import iter_records
from duckspool.report._period import Period
from duckspool.report._queries import Connection, rows
from duckspool.spool import SpoolLayout, parse_segment_name

__all__ = ["MAX_LOADS", "LoadFigures", "SpoolFigures", "load_figures", "spool_figures"]

MAX_LOADS = 40
"""Most recent loads charted; older ones are summed in a sentence."""


@dataclass(frozen=True, slots=True)
class LoadFigures:
    """Loads (one row per loader transaction, newest last) and totals over the period.

    Each load is (loaded_at, segments, lines, inserted, duplicates, quarantined).
    """

    loads: list[tuple[datetime, int, int, int, int, int]]
    total_loads: int
    totals: tuple[int, int, int, int, int]


def load_figures(con: Connection, period: Period) -> LoadFigures:
    """Load history from ``load_ledger``; a load is the ledger rows sharing one ``loaded_at``."""
    where, params = period.where("loaded_at")
    per_load = (
        "SELECT loaded_at, count(*) AS segments, sum(lines) AS lines, sum(inserted) AS ins, "
        "sum(duplicates) AS dup, sum(quarantined) AS q "
        f"FROM load_ledger WHERE {where} GROUP BY loaded_at"
    )
    recent = rows(
        con, f"SELECT * FROM ({per_load}) ORDER BY loaded_at DESC LIMIT {MAX_LOADS}", params
    )
    totals = rows(
        con,
        "SELECT count(*), coalesce(sum(segments), 0), coalesce(sum(lines), 0), "
        f"coalesce(sum(ins), 0), coalesce(sum(dup), 0), coalesce(sum(q), 0) FROM ({per_load})",
        params,
    )[0]
    return LoadFigures(
        loads=[(at, int(s), int(li), int(i), int(d), int(q)) for at, s, li, i, d, q in recent][
            ::-1
        ],
        total_loads=int(totals[0]),
        totals=(int(totals[1]), int(totals[2]), int(totals[3]), int(totals[4]), int(totals[5])),
    )


@dataclass(frozen=True, slots=True)
class SpoolFigures:
    """What waits in the spool now.

    ``backlog`` maps ``sealed``/``active``/``failed`` to (segments, bytes);
    ``oldest_sealed_age_s`` is how long the oldest sealed segment has waited (by the
    start time in its name, else its modification time); ``quarantine`` counts
    quarantined lines by reason. ``found`` is False when the spool directory is absent.
    """

    root: Path
    found: bool
    backlog: dict[str, tuple[int, int]]
    oldest_sealed_age_s: float | None
    quarantine: dict[str, int]


def _segments(directory: Path) -> list[tuple[Path, Any]]:
    found: list[tuple[Path, Any]] = []
    if not directory.is_dir():
        return found
    for path in directory.glob("*.jsonl"):
        try:
            found.append((path, path.stat()))
        except FileNotFoundError:  # loaded or moved while we looked
            continue
    return found


def spool_figures(spool: Path, now: datetime) -> SpoolFigures:
    """Backlog and quarantine of the spool at ``spool``, ages measured against ``now``."""
    layout = SpoolLayout(Path(spool))
    backlog: dict[str, tuple[int, int]] = {}
    oldest: float | None = None
    for label, directory in (
        ("sealed", layout.sealed),
        ("active", layout.active),
        ("failed", layout.failed),
    ):
        files = _segments(directory)
        backlog[label] = (len(files), sum(st.st_size for _, st in files))
        if label == "sealed" and files:
            ages = []
            for path, st in files:
                name = parse_segment_name(path.name)
                born = name.started_at if name else datetime.fromtimestamp(st.st_mtime, UTC)
                ages.append((now - born).total_seconds())
            oldest = max(0.0, *ages)
    reasons = Counter(r.reason or "unspecified" for r in iter_records(layout.quarantine))
    return SpoolFigures(
        root=layout.root,
        found=layout.root.is_dir(),
        backlog=backlog,
        oldest_sealed_age_s=oldest,
        quarantine=dict(reasons.most_common()),
    )
