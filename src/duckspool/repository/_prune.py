"""Deleting rows from DuckDB that are proven to be in the Parquet export.

Proof is the files themselves: only files a manifest lists (a manifest is
written after its run's files are complete), still of the size and row count
the manifest recorded, count; a row is deleted only if a row with its id and
timestamp is read back from one of them. A row loaded after the last export,
a file deleted or rewritten since, an export that failed half-way: each
leaves its rows in DuckDB.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from duckspool.exceptions import ConfigurationError, RepositoryError
from duckspool.repository._duckdb import DuckDBTelemetryRepository
from duckspool.repository._manifest import read_manifests

__all__ = ["PruneResult", "prune_exported"]


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What a prune did (or, with ``dry_run``, would do).

    ``candidates`` rows occurred before the cut-off; ``deleted`` of them were
    proven exported and removed; ``kept`` were not. ``problems`` names listed
    files that are missing or changed (their rows are kept).
    """

    cutoff: datetime
    candidates: int
    deleted: int
    kept: int
    files_verified: int
    problems: tuple[str, ...]
    dry_run: bool


def prune_exported(
    repo: DuckDBTelemetryRepository,
    directory: str | os.PathLike[str],
    exported_before: datetime,
    *,
    dry_run: bool = False,
) -> PruneResult:
    """Delete rows that occurred before ``exported_before`` and are in the export at ``directory``.

    Never deletes a row it cannot read back from a verified export file. Raises
    :class:`ConfigurationError` for a naive datetime or a directory that is
    not there, :class:`RepositoryError` if the database fails (nothing is
    deleted then: one transaction).
    """
    if exported_before.tzinfo is None:
        raise ConfigurationError("exported_before must be a timezone-aware datetime")
    root = Path(directory).resolve()
    if not root.is_dir():
        raise ConfigurationError(f"export directory {root} does not exist")
    with repo._write_lock:
        cur = repo.cursor()
        try:
            files, problems = _verified_files(cur, root, exported_before)
            return _prune(cur, files, problems, exported_before, dry_run)
        except duckdb.Error as exc:
            raise RepositoryError(f"prune of {repo.path} failed: {exc}") from exc
        finally:
            cur.close()


def _verified_files(
    cur: duckdb.DuckDBPyConnection, root: Path, cutoff: datetime
) -> tuple[list[str], list[str]]:
    listed: dict[str, int] = {}
    problems: list[str] = []
    for manifest_path, manifest in read_manifests(root):
        for entry in manifest.files:
            if datetime.fromisoformat(entry.min_occurred_at) >= cutoff:
                continue  # nothing in it is old enough to prune
            path = root / entry.path
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                problems.append(f"{entry.path} (listed in {manifest_path.name}) is missing")
                continue
            if size != entry.bytes:
                problems.append(f"{entry.path} is {size} bytes, its manifest says {entry.bytes}")
                continue
            listed[str(path)] = entry.rows
    if not listed:
        return [], problems
    counts = dict(
        cur.execute(
            "SELECT file_name, sum(num_rows) FROM parquet_file_metadata(?) GROUP BY file_name",
            [list(listed)],
        ).fetchall()
    )
    verified: list[str] = []
    for name, rows in listed.items():
        if int(counts.get(name, -1)) != rows:
            problems.append(f"{name} holds {counts.get(name)} row(s), its manifest says {rows}")
        else:
            verified.append(name)
    return verified, problems


def _prune(
    cur: duckdb.DuckDBPyConnection,
    files: list[str],
    problems: list[str],
    cutoff: datetime,
    dry_run: bool,
) -> PruneResult:
    (candidates,) = cur.execute(
        "SELECT count(*) FROM telemetry_events WHERE occurred_at < ?", [cutoff]
    ).fetchone() or (0,)
    deleted = 0
    if files and candidates:
        proven = (
            "FROM (SELECT CAST(id AS UUID) AS id, occurred_at "
            "FROM read_parquet(?, hive_partitioning = false)) e "
            "WHERE t.id = e.id AND t.occurred_at = e.occurred_at AND t.occurred_at < ?"
        )
        if dry_run:
            row = cur.execute(
                f"SELECT count(*) FROM telemetry_events t WHERE EXISTS (SELECT 1 {proven})",
                [files, cutoff],
            ).fetchone()
            deleted = int(row[0]) if row else 0
        else:
            cur.execute("BEGIN TRANSACTION")
            try:
                row = cur.execute(
                    f"DELETE FROM telemetry_events AS t WHERE EXISTS (SELECT 1 {proven})",
                    [files, cutoff],
                ).fetchone()
                deleted = int(row[0]) if row else 0
                cur.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    cur.execute("ROLLBACK")
                raise
            cur.execute("CHECKPOINT")  # hand the deleted rows' space back to the file
    return PruneResult(
        cutoff=cutoff,
        candidates=int(candidates),
        deleted=deleted,
        kept=int(candidates) - deleted,
        files_verified=len(files),
        problems=tuple(problems),
        dry_run=dry_run,
    )
