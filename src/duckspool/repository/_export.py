"""Incremental Parquet export, partitioned Hive-style by date and namespace.

For when one DuckDB file is no longer enough: Spark, Trino, ClickHouse or
DuckDB itself read ``date=YYYY-MM-DD/namespace=NS/*.parquet`` directly. Each run
exports only rows loaded since the previous run of the same target.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from duckspool.repository._duckdb import DuckDBTelemetryRepository

__all__ = ["ExportResult", "export_parquet"]

_COLUMNS = (
    "id, event_type, session_id, user_id, product_id, correlation_id, occurred_at, "
    "schema_version, payload, source_segment, loaded_at"
)


@dataclass(frozen=True, slots=True)
class ExportResult:
    """Rows written by one export and the load time they reach up to."""

    target: str
    rows: int
    exported_until: datetime | None


def export_parquet(
    repo: DuckDBTelemetryRepository, directory: str | os.PathLike[str]
) -> ExportResult:
    """Write rows loaded since the last export to ``directory`` as partitioned Parquet.

    The range about to be written is recorded first; an export interrupted
    half-way is redone over exactly that range and, its file names depending
    only on the range, overwrites its own partial files instead of doubling them.
    """
    target_dir = Path(directory).resolve()
    target = str(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with repo._write_lock:  # one export or load at a time per database
        cur = repo.cursor()
        try:
            state = cur.execute(
                "SELECT exported_until, pending_until FROM export_state WHERE target = ?",
                [target],
            ).fetchone()
            done_until, pending = state if state else (None, None)
            until = pending
            if until is None:
                row = cur.execute("SELECT max(loaded_at) FROM telemetry_events").fetchone()
                until = row[0] if row else None
            if until is None or (done_until is not None and until <= done_until):
                return ExportResult(target, 0, done_until)
            cur.execute(
                "INSERT INTO export_state (target, exported_until, pending_until) "
                "VALUES (?, ?, ?) ON CONFLICT (target) DO UPDATE SET "
                "pending_until = excluded.pending_until, updated_at = now()",
                [target, done_until, until],
            )
            lower = "loaded_at > ?" if done_until is not None else "? IS NULL"
            params = [done_until, until]
            (rows,) = cur.execute(
                f"SELECT count(*) FROM telemetry_events WHERE {lower} AND loaded_at <= ?",
                params,
            ).fetchone() or (0,)
            if rows:
                stamp = int(until.timestamp() * 1_000_000)
                cur.execute(
                    f"COPY (SELECT {_COLUMNS}, CAST(occurred_at::TIMESTAMP AS DATE) AS date, "
                    f"namespace FROM telemetry_events WHERE {lower} AND loaded_at <= ?) "
                    f"TO '{_quote(target)}' (FORMAT parquet, PARTITION_BY (date, namespace), "
                    f"FILENAME_PATTERN 'part-{stamp}-{{i}}', OVERWRITE_OR_IGNORE true)",
                    params,
                )
            cur.execute(
                "UPDATE export_state SET exported_until = pending_until, pending_until = NULL, "
                "exported_rows = exported_rows + ?, updated_at = now() "
                "WHERE target = ?",
                [rows, target],
            )
            return ExportResult(target, int(rows), until)
        finally:
            cur.close()


def _quote(path: str) -> str:
    # COPY's target cannot be a bound parameter; the path is ours, resolved and quoted.
    return path.replace("'", "''")
