"""The DuckDB implementation of :class:`TelemetryRepository` and :class:`LoadTarget`.

This module holds the life cycle and the reads; a load's transaction is in
``_ingest.py`` and the bulk validation path in ``_bulk.py``.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import duckdb

from duckspool.contracts import TelemetryEvent
from duckspool.exceptions import ConfigurationError, MigrationError, RepositoryError
from duckspool.migrations import migrate, pending
from duckspool.repository._connection import (
    DEFAULT_STORAGE_VERSION,
    cursor_on,
    open_database,
    owner_only,
)
from duckspool.repository._envelope import column_list, row_to_event
from duckspool.repository._errors import translate
from duckspool.repository._ingest import ingest
from duckspool.repository._protocol import (
    BatchResult,
    Conflict,
    EventQuery,
    LoadBatch,
    SaveResult,
    StagedFile,
    check_find_options,
)
from duckspool.repository._staging import StagedBatch

__all__ = ["DuckDBTelemetryRepository"]

_EVENT_COLUMNS = column_list()

# DuckDB allows concurrent appends, and telemetry_events has no key to stop two of
# them inserting the same id. Every write therefore takes this lock, one per database
# file per process (several repositories may share a file), and other processes are
# kept out by DuckDB's own file lock.
_write_locks: dict[str, threading.RLock] = {}
_write_locks_guard = threading.Lock()


def _write_lock(path: str) -> threading.RLock:
    key = path if path == ":memory:" else str(Path(path).resolve())
    with _write_locks_guard:
        return _write_locks.setdefault(key, threading.RLock())


class DuckDBTelemetryRepository:
    """Telemetry events in a DuckDB file, migrated on open.

    Safe to share between threads: reads use their own cursor and writes are
    serialised. Raises :class:`~duckspool.exceptions.DatabaseLocked` when another
    process holds the file.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        read_only: bool = False,
        storage_version: str = DEFAULT_STORAGE_VERSION,
        memory_limit: str | None = None,
        staging_dir: str | Path | None = None,
        max_line_bytes: int = 64 << 20,
    ) -> None:
        self.path = str(path)
        self.read_only = read_only
        self._max_line_bytes = max_line_bytes
        self._write_lock = _write_lock(self.path)
        if staging_dir is not None:
            self._staging_dir: Path | None = Path(staging_dir)
        elif self.path != ":memory:":
            self._staging_dir = Path(self.path).resolve().parent
        else:
            self._staging_dir = None
        self._con: duckdb.DuckDBPyConnection | None = open_database(
            self.path,
            read_only=read_only,
            storage_version=storage_version,
            memory_limit=memory_limit,
        )
        try:
            self._prepare_schema()
        except BaseException:
            self.close()
            raise

    def _prepare_schema(self) -> None:
        assert self._con is not None
        try:
            if not self.read_only:
                with self._write_lock:
                    migrate(self._con)
                return
            todo = pending(self._con)
        except duckdb.Error as exc:
            raise translate(exc, "reading the schema of", self.path) from exc
        if todo:
            raise MigrationError(
                f"database {self.path} is not migrated to this release "
                f"({len(todo)} migration(s) pending); run `duckspool migrate`"
            )

    # -- life cycle -------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection (idempotent); the file is free for other processes after."""
        con, self._con = self._con, None
        if con is not None:
            con.close()

    def __enter__(self) -> DuckDBTelemetryRepository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new cursor on this database, for one thread's use; close it when done."""
        if self._con is None:
            raise RepositoryError(f"repository for {self.path} is closed")
        return cursor_on(self._con, self.path)

    # -- writes ------------------------------------------------------------------------
    def new_batch(self) -> StagedBatch:
        """An empty staging file beside the database, for :meth:`commit_batch`."""
        return StagedBatch(self._staging_dir)

    def save_many(self, events: Iterable[TelemetryEvent]) -> SaveResult:
        """Insert events not stored yet, in one transaction; idempotent by id."""
        with self.new_batch() as batch:
            for event in events:
                batch.add(event)
            batch.finish()
            staged = [StagedFile(batch.path, 0)] if batch.rows else []
            result = self.commit_batch(LoadBatch(segments=(), staged=staged))
        return SaveResult(
            inserted=result.inserted,
            duplicates=result.duplicates,
            conflicts=tuple(c.event_id for c in result.conflicts),
        )

    def commit_batch(
        self,
        batch: LoadBatch,
        before_commit: Callable[[tuple[Conflict, ...]], None] | None = None,
    ) -> BatchResult:
        """See :meth:`LoadTarget.commit_batch`; raw segments take the bulk path (``_bulk.py``).

        Raises :class:`RepositoryError` (:class:`StorageUnavailable` for a full
        disk or memory) and whatever ``before_commit`` or the authority raise;
        nothing commits in either case.
        """
        if self.read_only:
            raise RepositoryError(f"repository for {self.path} is read-only")
        if not batch.staged and not batch.raw and not batch.segments:
            return BatchResult(0, 0, ())
        with self._write_lock:
            cur = self.cursor()
            try:
                return ingest(cur, batch, before_commit, self._max_line_bytes)
            except duckdb.Error as exc:
                raise translate(exc, "bulk insert into", self.path) from exc
            finally:
                cur.close()
                if self.path != ":memory:":
                    owner_only(Path(self.path))

    # -- ledger ------------------------------------------------------------------------
    def loaded_segments(self, keys: Iterable[str]) -> set[str]:
        """Which of these segment keys the ledger already holds."""
        wanted = list(keys)
        if not wanted:
            return set()
        cur = self.cursor()
        try:
            rows = cur.execute(
                "SELECT segment_key FROM load_ledger "
                "WHERE list_contains(?::VARCHAR[], segment_key)",
                [wanted],
            ).fetchall()
        finally:
            cur.close()
        return {r[0] for r in rows}

    def recent_loads(self, limit: int = 10) -> list[dict[str, Any]]:
        """The newest ledger rows, newest first."""
        columns, rows = self.fetch(
            "SELECT segment_name, size_bytes, lines, events, inserted, duplicates, quarantined, "
            "loaded_at FROM load_ledger ORDER BY loaded_at DESC, segment_name LIMIT ?",
            [limit],
        )
        return [dict(zip(columns, row, strict=True)) for row in rows]

    # -- reads -------------------------------------------------------------------------
    def fetch(
        self, sql: str, params: Sequence[object] | None = None
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run one SQL statement and return its column names and rows.

        Raises :class:`RepositoryError` (``query failed: ...``) for any DuckDB error.
        """
        cur = self.cursor()
        try:
            result = cur.execute(sql, params or [])
            columns = [d[0] for d in (result.description or [])]
            return columns, result.fetchall()
        except duckdb.Error as exc:
            raise translate(exc, "query on", self.path) from exc
        finally:
            cur.close()

    def get(self, event_id: uuid.UUID) -> TelemetryEvent | None:
        """The event with this id, or None."""
        _, rows = self.fetch(
            f"SELECT {_EVENT_COLUMNS} FROM telemetry_events WHERE id = ? LIMIT 1", [event_id]
        )
        return row_to_event(rows[0]) if rows else None

    def find(
        self,
        query: EventQuery | None = None,
        *,
        limit: int = 100,
        order: Literal["asc", "desc"] = "asc",
    ) -> list[TelemetryEvent]:
        """Events matching ``query``, by timestamp then id, at most ``limit``."""
        check_find_options(limit, order)
        where, params = _where(query or EventQuery())
        direction = "ASC" if order == "asc" else "DESC"
        _, rows = self.fetch(
            f"SELECT {_EVENT_COLUMNS} FROM telemetry_events {where} "
            f"ORDER BY occurred_at {direction}, id {direction} LIMIT ?",
            [*params, limit],
        )
        return [row_to_event(row) for row in rows]

    def count(self, query: EventQuery | None = None) -> int:
        """How many stored events match ``query``."""
        where, params = _where(query or EventQuery())
        _, rows = self.fetch(f"SELECT count(*) FROM telemetry_events {where}", params)
        return int(rows[0][0])


def _where(query: EventQuery) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    for column, value in (
        ("namespace", query.namespace),
        ("event_type", query.event_type),
        ("session_id", query.session_id),
        ("user_id", query.user_id),
        ("product_id", query.product_id),
        ("correlation_id", query.correlation_id),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if query.event_type_prefix is not None:
        clauses.append("starts_with(event_type, ?)")
        params.append(query.event_type_prefix)
    for op, bound in ((">=", query.since), ("<", query.until)):
        if bound is not None:
            if bound.tzinfo is None:
                raise ConfigurationError("since/until must be timezone-aware datetimes")
            clauses.append(f"occurred_at {op} ?")
            params.append(bound)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params
