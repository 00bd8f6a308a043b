"""Incremental Parquet export, partitioned Hive-style by date and namespace (docs/export.md).

For when one DuckDB file is no longer enough: Spark, Trino, ClickHouse, polars
or DuckDB itself read ``date=YYYY-MM-DD/namespace=NS/*.parquet`` directly. The
column types are chosen so every one of them can: ``id`` is a string (Spark
refuses Parquet's UUID logical type), times are UTC instants (Parquet
``TIMESTAMP(isAdjustedToUTC=true, MICROS)``), ``payload`` is JSON text.

Each run exports only rows loaded since the previous run of the same target
(and window), then writes a manifest of what it wrote (``_manifest.py``).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from duckspool.exceptions import ConfigurationError, RepositoryError
from duckspool.repository._duckdb import DuckDBTelemetryRepository
from duckspool.repository._envelope import ENVELOPE
from duckspool.repository._manifest import (
    EXPORT_SCHEMA_VERSION,
    ExportFile,
    ExportManifest,
    iso,
    make_private_dir,
    manifest_path,
    read_manifests,
    write_manifest,
)
from duckspool.spool._segment import fsync_dir

__all__ = ["EXPORT_COLUMNS", "ExportResult", "export_parquet"]

_TEXT_IN_PARQUET = {"UUID": "VARCHAR", "JSON": "VARCHAR"}
# Spark refuses Parquet's UUID logical type, and engines read DuckDB's JSON as
# bytes or refuse it: both travel as text. Every other envelope type is kept.

EXPORT_COLUMNS = {
    **{f.column: _TEXT_IN_PARQUET.get(f.duckdb_type, f.duckdb_type) for f in ENVELOPE},
    "source_segment": "VARCHAR",
    "loaded_at": "TIMESTAMPTZ",
}
"""The columns inside every Parquet file and their DuckDB types (the contract, docs/export.md).

Derived from the envelope map (``_envelope.ENVELOPE``) plus the two load columns.

``date`` (UTC day of ``occurred_at``) and ``namespace`` are partition keys: they
live in the directory names, not in the files.
"""

_SELECT = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in EXPORT_COLUMNS.items())
# The UTC day computed from the instant itself, whatever the session's TimeZone.
_UTC_DATE = "DATE '1970-01-01' + CAST(floor(epoch_us(occurred_at) / 86400000000) AS INTEGER)"


@dataclass(frozen=True, slots=True)
class ExportResult:
    """Rows written by one export, the load time they reach up to, and the run's manifest."""

    target: str
    rows: int
    exported_until: datetime | None
    files: int = 0
    manifest: str | None = None


@dataclass(frozen=True, slots=True)
class _Window:
    since: datetime | None
    until: datetime | None

    def key(self, target: str) -> str:
        if self.since is None and self.until is None:
            return target
        return f"{target}?since={iso(self.since) or ''}&until={iso(self.until) or ''}"

    def overlaps(self, other: _Window) -> bool:
        lo_ok = self.until is None or other.since is None or other.since < self.until
        hi_ok = other.until is None or self.since is None or self.since < other.until
        return lo_ok and hi_ok

    def clause(self) -> tuple[str, list[object]]:
        sql, params = "", list[object]()
        if self.since is not None:
            sql += " AND occurred_at >= ?"
            params.append(self.since)
        if self.until is not None:
            sql += " AND occurred_at < ?"
            params.append(self.until)
        return sql, params


def _window(since: datetime | None, until: datetime | None) -> _Window:
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise ConfigurationError(f"{name} must be a timezone-aware datetime, got {value}")
    since = since.astimezone(UTC) if since is not None else None
    until = until.astimezone(UTC) if until is not None else None
    if since is not None and until is not None and since >= until:
        raise ConfigurationError(f"since ({iso(since)}) must be before until ({iso(until)})")
    return _Window(since, until)


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def export_parquet(
    repo: DuckDBTelemetryRepository,
    directory: str | os.PathLike[str],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> ExportResult:
    """Write rows loaded since the last export to ``directory`` as partitioned Parquet.

    ``since``/``until`` (aware datetimes) restrict the target to events that
    occurred in ``[since, until)``; each window of a directory keeps its own
    progress, and windows that overlap another one already exported there are
    refused (:class:`ConfigurationError`), so no row is exported twice.

    Crash-safe: the range about to be written is recorded first; an export
    interrupted half-way is redone over exactly that range, first deleting
    the files of the failed attempt. The manifest is written only once every
    file is complete and synced. Files are 0600, directories 0700.
    """
    window = _window(since, until)
    target_dir = Path(directory).resolve()
    target = str(target_dir)
    key = window.key(target)
    tag = hashlib.sha256(key.encode()).hexdigest()[:8]
    if target_dir.exists() and not target_dir.is_dir():
        raise ConfigurationError(f"export target {target} exists and is not a directory")
    make_private_dir(target_dir)
    _refuse_overlap(target_dir, window)
    with repo._write_lock:  # one export or load at a time per database
        cur = repo.cursor()
        try:
            return _export(cur, target_dir, key, tag, window)
        except duckdb.Error as exc:
            raise RepositoryError(f"export to {target} failed: {exc}") from exc
        finally:
            cur.close()


def _refuse_overlap(root: Path, window: _Window) -> None:
    for path, manifest in read_manifests(root):
        other = _Window(_parse(manifest.since), _parse(manifest.until))
        if other != window and window.overlaps(other):
            raise ConfigurationError(
                f"window since={iso(window.since)} until={iso(window.until)} overlaps the "
                f"window since={manifest.since} until={manifest.until} already exported to "
                f"{root} ({path.name}); export it to another directory"
            )


def _export(
    cur: duckdb.DuckDBPyConnection, root: Path, key: str, tag: str, window: _Window
) -> ExportResult:
    target = str(root)
    state = cur.execute(
        "SELECT exported_until, pending_until FROM export_state WHERE target = ?", [key]
    ).fetchone()
    done_until, pending = state if state else (None, None)
    upto = pending
    if upto is None:
        row = cur.execute("SELECT max(loaded_at) FROM telemetry_events").fetchone()
        upto = row[0] if row else None
    if upto is None or (done_until is not None and upto <= done_until):
        return ExportResult(target, 0, done_until)
    cur.execute(
        "INSERT INTO export_state (target, exported_until, pending_until) VALUES (?, ?, ?) "
        "ON CONFLICT (target) DO UPDATE SET pending_until = excluded.pending_until, "
        "updated_at = now()",
        [key, done_until, upto],
    )
    stamp = int(upto.timestamp() * 1_000_000)
    run = f"run-{stamp}-{tag}"
    # A redo of an interrupted run: its files may be partial, or more than this run
    # writes (a different split). Its manifest goes first, so none names a missing file.
    manifest_path(root, run).unlink(missing_ok=True)
    for stale in root.glob(f"date=*/namespace=*/part-{stamp}-{tag}-*.parquet"):
        stale.unlink()
    extra, extra_params = window.clause()
    lower = "loaded_at > ?" if done_until is not None else "? IS NULL"
    where = f"{lower} AND loaded_at <= ?{extra}"
    params: list[object] = [done_until, upto, *extra_params]
    (rows,) = cur.execute(
        f"SELECT count(*) FROM telemetry_events WHERE {where}", params
    ).fetchone() or (0,)
    manifest_file = None
    files: list[ExportFile] = []
    if rows:
        written = cur.execute(
            f"COPY (SELECT {_SELECT}, {_UTC_DATE} AS date, namespace FROM telemetry_events "
            f"WHERE {where}) TO '{_quote(target)}' (FORMAT parquet, "
            f"PARTITION_BY (date, namespace), FILENAME_PATTERN 'part-{stamp}-{tag}-{{i}}', "
            "OVERWRITE_OR_IGNORE true, RETURN_FILES true)",
            params,
        ).fetchone()
        paths = sorted(Path(p).resolve() for p in (written[1] if written else []))
        _secure_and_sync(root, paths)
        files, versions = _describe(cur, root, paths)
        if sum(f.rows for f in files) != rows:
            raise RepositoryError(
                f"export to {target} wrote {sum(f.rows for f in files)} row(s), expected {rows}"
            )
        manifest = ExportManifest(
            run=run,
            export_schema_version=EXPORT_SCHEMA_VERSION,
            event_schema_versions=versions,
            since=iso(window.since),
            until=iso(window.until),
            loaded_after=iso(done_until),
            loaded_until=iso(upto) or "",
            rows=int(rows),
            min_id=min(f.min_id for f in files),
            max_id=max(f.max_id for f in files),
            min_occurred_at=min(f.min_occurred_at for f in files),
            max_occurred_at=max(f.max_occurred_at for f in files),
            files=tuple(files),
            written_at=datetime.now(UTC).isoformat(),
        )
        manifest_file = str(write_manifest(root, manifest))
    cur.execute(
        "UPDATE export_state SET exported_until = pending_until, pending_until = NULL, "
        "exported_rows = exported_rows + ?, updated_at = now() WHERE target = ?",
        [rows, key],
    )
    return ExportResult(target, int(rows), upto, len(files), manifest_file)


def _secure_and_sync(root: Path, paths: list[Path]) -> None:
    """Owner-only modes on the run's files and partition directories, then fsync them."""
    dirs: set[Path] = set()
    for path in paths:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fchmod(fd, 0o600)
            os.fsync(fd)
        finally:
            os.close(fd)
        parent = path.parent
        while parent != root and root in parent.parents:
            dirs.add(parent)
            parent = parent.parent
    for directory in sorted(dirs, key=lambda d: len(d.parts), reverse=True):
        os.chmod(directory, 0o700)
        fsync_dir(directory)
    fsync_dir(root)


def _describe(
    cur: duckdb.DuckDBPyConnection, root: Path, paths: list[Path]
) -> tuple[list[ExportFile], tuple[int, ...]]:
    """Read the files back (which also proves them readable) into manifest entries."""
    source = "read_parquet(?, filename = true, hive_partitioning = false)"
    stats = cur.execute(
        f"SELECT filename, count(*), min(id), max(id), min(occurred_at), max(occurred_at) "
        f"FROM {source} GROUP BY filename ORDER BY filename",
        [[str(p) for p in paths]],
    ).fetchall()
    versions = cur.execute(
        f"SELECT DISTINCT schema_version FROM {source} ORDER BY 1", [[str(p) for p in paths]]
    ).fetchall()
    files = [_entry(root, row) for row in stats]
    return files, tuple(int(v[0]) for v in versions)


def _entry(root: Path, row: tuple[Any, ...]) -> ExportFile:
    path = Path(row[0])
    return ExportFile(
        path=path.relative_to(root).as_posix(),
        rows=int(row[1]),
        bytes=path.stat().st_size,
        min_id=str(row[2]),
        max_id=str(row[3]),
        min_occurred_at=row[4].astimezone(UTC).isoformat(),
        max_occurred_at=row[5].astimezone(UTC).isoformat(),
    )


def _quote(path: str) -> str:
    # COPY's target cannot be a bound parameter; the path is ours, resolved and quoted.
    return path.replace("'", "''")
