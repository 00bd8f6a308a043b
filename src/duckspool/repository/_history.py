"""The load history as loads, not ledger rows.

The ledger has one row per segment, and a load's inserted/duplicate totals sit
on the first segment's row. A load here is one committed transaction: all its
ledger rows share ``loaded_at`` (DuckDB's ``current_timestamp`` is the
transaction's start), so grouping by it gives one line per load with totals
that add up.
"""

from __future__ import annotations

from typing import Any

import duckdb

__all__ = ["recent_load_totals"]

_RECENT_LOADS = """
SELECT loaded_at,
       count(*)          AS segments,
       sum(size_bytes)   AS bytes,
       sum(lines)        AS lines,
       sum(events)       AS events,
       sum(inserted)     AS inserted,
       sum(duplicates)   AS duplicates,
       sum(quarantined)  AS quarantined,
       min(segment_name) AS first_segment
FROM load_ledger
GROUP BY loaded_at
ORDER BY loaded_at DESC
LIMIT ?
"""


def recent_load_totals(con: duckdb.DuckDBPyConnection, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` loads, newest first, one dict per load with its totals."""
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    result = con.execute(_RECENT_LOADS, [limit])
    columns = [d[0] for d in (result.description or [])]
    return [
        {k: (int(v) if isinstance(v, int | float) and k != "loaded_at" else v) for k, v in row}
        for row in (zip(columns, values, strict=True) for values in result.fetchall())
    ]
