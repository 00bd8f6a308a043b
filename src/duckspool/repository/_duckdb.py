"""The DuckDB implementation of :class:`TelemetryRepository`, with the loader's bulk path."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import orjson

from duckspool.contracts import TelemetryEvent
from duckspool.exceptions import ConfigurationError, MigrationError, RepositoryError
from duckspool.migrations import migrate, pending
from duckspool.repository._connection import DEFAULT_STORAGE_VERSION, open_database
from duckspool.repository._protocol import EventQuery, SaveResult
from duckspool.repository._staging import STAGED_COLUMNS, StagedBatch

__all__ = ["BatchResult", "Conflict", "DuckDBTelemetryRepository", "SegmentLoad", "StagedFile"]

_EVENT_COLUMNS = (
    "id, event_type, session_id, user_id, product_id, correlation_id, occurred_at, "
    "schema_version, payload"
)
_READ_JSON = (
    "read_json(?, format = 'newline_delimited', maximum_object_size = {max_size}, "
    "filename = true, columns = {{{columns}}})"
)

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


@dataclass(frozen=True, slots=True)
class SegmentLoad:
    """A spool segment to record in the load ledger with the batch that holds its rows.

    ``ordinal`` is the ``_s`` value its staged rows carry.
    """

    ordinal: int
    key: str
    name: str
    size_bytes: int
    lines: int
    events: int
    quarantined: int


@dataclass(frozen=True, slots=True)
class StagedFile:
    """A file for :meth:`DuckDBTelemetryRepository.commit_batch`: wire lines, maybe with ``_n``.

    ``ordinal`` orders files within a batch (earlier wins a duplicate id) and
    names the segment the rows came from (``SegmentLoad.ordinal``).
    """

    path: Path
    ordinal: int


@dataclass(frozen=True, slots=True)
class Conflict:
    """A staged row whose id is kept with different content (line ``line_no`` of segment)."""

    segment: int
    line_no: int
    event_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one staged batch did: rows inserted, redeliveries skipped, id conflicts."""

    inserted: int
    duplicates: int
    conflicts: tuple[Conflict, ...]


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
        self._max_object = max(max_line_bytes * 2, 1 << 20)
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
        if not self.read_only:
            with self._write_lock:
                migrate(self._con)
            return
        todo = pending(self._con)
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
        return self._con.cursor()

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
            result = self.commit_batch([StagedFile(batch.path, 0)] if batch.rows else [])
        return SaveResult(
            inserted=result.inserted,
            duplicates=result.duplicates,
            conflicts=tuple(c.event_id for c in result.conflicts),
        )

    def commit_batch(
        self,
        files: Sequence[StagedFile],
        segments: Sequence[SegmentLoad] = (),
        before_commit: Callable[[tuple[Conflict, ...]], None] | None = None,
    ) -> BatchResult:
        """Insert staged files and record ``segments`` in the ledger, in one transaction.

        Rows whose id is already stored, or staged earlier in the batch (by
        ``_s`` then ``_n``), are skipped; ``before_commit`` sees the id conflicts
        and may raise to roll everything back. A segment already in the ledger
        raises :class:`RepositoryError` (its primary key refuses it) and nothing
        commits.
        """
        if self.read_only:
            raise RepositoryError(f"repository for {self.path} is read-only")
        with self._write_lock:
            cur = self.cursor()
            try:
                cur.execute("BEGIN TRANSACTION")
                try:
                    result = self._insert_staged(cur, files, segments)
                    self._record_segments(cur, segments, result)
                    if before_commit is not None:
                        before_commit(result.conflicts)
                    cur.execute("COMMIT")
                except BaseException:
                    # A failed COMMIT has already ended the transaction; the original
                    # error is the one worth reporting, not "no transaction is active".
                    with contextlib.suppress(duckdb.Error):
                        cur.execute("ROLLBACK")
                    raise
            except duckdb.Error as exc:
                raise RepositoryError(f"bulk insert into {self.path} failed: {exc}") from exc
            finally:
                cur.close()
        return result

    def _insert_staged(
        self,
        cur: duckdb.DuckDBPyConnection,
        files: Sequence[StagedFile],
        segments: Sequence[SegmentLoad],
    ) -> BatchResult:
        if not files:
            return BatchResult(0, 0, ())
        columns = ", ".join(f"'{k}': '{v}'" for k, v in STAGED_COLUMNS.items())
        source = _READ_JSON.format(max_size=self._max_object, columns=columns)
        # One copy of the batch in memory: the rows as read. DuckDB preserves insertion
        # order, so rowid follows the file list (in ordinal order) and each file's lines.
        ordered = sorted(files, key=lambda f: f.ordinal)
        cur.execute(
            f"CREATE OR REPLACE TEMP TABLE _ds_stage AS SELECT * FROM {source}",
            [[str(f.path) for f in ordered]],
        )
        staged, lo, hi = cur.execute(
            "SELECT count(*), min(id)::VARCHAR, max(id)::VARCHAR FROM _ds_stage"
        ).fetchone() or (0, None, None)
        if not staged:
            cur.execute("DROP TABLE _ds_stage")
            return BatchResult(0, 0, ())
        cur.execute(
            "CREATE OR REPLACE TEMP TABLE _ds_first AS SELECT * FROM _ds_stage "
            "QUALIFY row_number() OVER (PARTITION BY id ORDER BY rowid) = 1"
        )
        # The id range bounds the probe: ids are time-ordered, so DuckDB's zone maps
        # skip every row group of history outside this batch's range.
        cur.execute(
            "CREATE OR REPLACE TEMP TABLE _ds_existing AS SELECT t.id, t.event_type, "
            "t.session_id, t.user_id, t.product_id, t.correlation_id, t.occurred_at, "
            "t.schema_version, t.payload FROM telemetry_events t "
            "WHERE t.id BETWEEN ?::UUID AND ?::UUID AND t.id IN (SELECT id FROM _ds_stage)",
            [lo, hi],
        )
        paths = [str(f.path) for f in ordered]
        conflicts = self._conflicts(cur, paths, [f.ordinal for f in ordered])
        names = {s.ordinal: s.name for s in segments}
        inserted = cur.execute(
            "INSERT INTO telemetry_events SELECT f.id, f.eventType, "
            "split_part(f.eventType, '.', 1), f.sessionId, f.userId, f.productId, "
            "f.correlationId, f.timestamp, f.schemaVersion, f.payload, "
            "map_extract_value(MAP(?::VARCHAR[], ?::VARCHAR[]), f.filename), ? "
            "FROM _ds_first f ANTI JOIN _ds_existing e ON f.id = e.id",
            [paths, [names.get(f.ordinal) for f in ordered], datetime.now(UTC)],
        ).fetchone()
        count = int(inserted[0]) if inserted else 0
        duplicates = int(staged) - count - len(conflicts)
        for table in ("_ds_stage", "_ds_first", "_ds_existing"):
            cur.execute(f"DROP TABLE {table}")
        return BatchResult(count, duplicates, conflicts)

    @staticmethod
    def _conflicts(
        cur: duckdb.DuckDBPyConnection, paths: list[str], ordinals: list[int]
    ) -> tuple[Conflict, ...]:
        """Staged rows whose id is kept (stored, or staged earlier) with other content.

        SQL finds candidates (any column differs as stored); Python then compares
        payloads as JSON values, so the same payload with its keys in another
        order is a duplicate, not a conflict. Candidates are rare: only ids seen
        twice are compared at all.
        """
        rows = cur.execute(
            "WITH kept AS ("
            "  SELECT id, event_type, session_id, user_id, product_id, correlation_id, "
            "         occurred_at, schema_version, payload FROM _ds_existing "
            "  UNION ALL "
            "  SELECT id, eventType, sessionId, userId, productId, correlationId, timestamp, "
            "         schemaVersion, payload FROM _ds_first "
            "  WHERE id NOT IN (SELECT id FROM _ds_existing)), "
            "starts AS (SELECT filename, min(rowid) AS first FROM _ds_stage GROUP BY filename) "
            "SELECT map_extract_value(MAP(?::VARCHAR[], ?::INTEGER[]), s.filename), "
            "       coalesce(s._n, s.rowid - st.first + 1), "
            "       s.id, s.payload::VARCHAR, k.payload::VARCHAR, "
            "       s.eventType IS DISTINCT FROM k.event_type "
            "       OR s.sessionId IS DISTINCT FROM k.session_id "
            "       OR s.userId IS DISTINCT FROM k.user_id "
            "       OR s.productId IS DISTINCT FROM k.product_id "
            "       OR s.correlationId IS DISTINCT FROM k.correlation_id "
            "       OR s.timestamp IS DISTINCT FROM k.occurred_at "
            "       OR s.schemaVersion IS DISTINCT FROM k.schema_version AS envelope_differs "
            "FROM _ds_stage s JOIN kept k ON s.id = k.id "
            "JOIN starts st ON s.filename = st.filename "
            "WHERE s.payload::VARCHAR IS DISTINCT FROM k.payload::VARCHAR "
            "   OR s.eventType IS DISTINCT FROM k.event_type "
            "   OR s.sessionId IS DISTINCT FROM k.session_id "
            "   OR s.userId IS DISTINCT FROM k.user_id "
            "   OR s.productId IS DISTINCT FROM k.product_id "
            "   OR s.correlationId IS DISTINCT FROM k.correlation_id "
            "   OR s.timestamp IS DISTINCT FROM k.occurred_at "
            "   OR s.schemaVersion IS DISTINCT FROM k.schema_version "
            "ORDER BY s.rowid",
            [paths, ordinals],
        ).fetchall()
        return tuple(
            Conflict(int(s if s is not None else 0), int(n), i)
            for s, n, i, mine, theirs, envelope_differs in rows
            if envelope_differs or orjson.loads(mine) != orjson.loads(theirs)
        )

    @staticmethod
    def _record_segments(
        cur: duckdb.DuckDBPyConnection, segments: Sequence[SegmentLoad], result: BatchResult
    ) -> None:
        if not segments:
            return
        # Per-segment splits of inserted/duplicates are not needed by anyone; the batch
        # totals go on the first segment's row so the ledger sums to the truth.
        rows = []
        for index, seg in enumerate(segments):
            inserted = result.inserted if index == 0 else 0
            duplicates = result.duplicates if index == 0 else 0
            rows.append(
                [
                    seg.key,
                    seg.name,
                    seg.size_bytes,
                    seg.lines,
                    seg.events,
                    inserted,
                    duplicates,
                    seg.quarantined,
                ]
            )
        cur.executemany(
            "INSERT INTO load_ledger (segment_key, segment_name, size_bytes, lines, events, "
            "inserted, duplicates, quarantined) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

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
        """Run one SQL statement and return its column names and rows."""
        cur = self.cursor()
        try:
            result = cur.execute(sql, params or [])
            columns = [d[0] for d in (result.description or [])]
            return columns, result.fetchall()
        finally:
            cur.close()

    def get(self, event_id: uuid.UUID) -> TelemetryEvent | None:
        """The event with this id, or None."""
        _, rows = self.fetch(
            f"SELECT {_EVENT_COLUMNS} FROM telemetry_events WHERE id = ? LIMIT 1", [event_id]
        )
        return _row_to_event(rows[0]) if rows else None

    def find(
        self,
        query: EventQuery | None = None,
        *,
        limit: int = 100,
        order: Literal["asc", "desc"] = "asc",
    ) -> list[TelemetryEvent]:
        """Events matching ``query``, by timestamp then id, at most ``limit``."""
        if order not in ("asc", "desc"):
            raise ConfigurationError(f"order must be 'asc' or 'desc', got {order!r}")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ConfigurationError(f"limit must be an int >= 0, got {limit!r}")
        where, params = _where(query or EventQuery())
        direction = "ASC" if order == "asc" else "DESC"
        _, rows = self.fetch(
            f"SELECT {_EVENT_COLUMNS} FROM telemetry_events {where} "
            f"ORDER BY occurred_at {direction}, id {direction} LIMIT ?",
            [*params, limit],
        )
        return [_row_to_event(row) for row in rows]

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


def _row_to_event(row: tuple[Any, ...]) -> TelemetryEvent:
    # Rows were validated on the way in; model_construct skips re-validating them.
    return TelemetryEvent.model_construct(
        id=row[0],
        event_type=row[1],
        session_id=row[2],
        user_id=row[3],
        product_id=row[4],
        correlation_id=row[5],
        timestamp=row[6].astimezone(UTC),
        schema_version=row[7],
        payload=orjson.loads(row[8]),
    )
