"""The DuckDB side of a load: one transaction inserting a batch and its ledger rows.

Rows come from two places: staged files (lines the contract validated, read
with ``read_json``) and the bulk path's table (lines DuckDB validated, see
``_bulk.py``). Both carry ``_s`` (segment ordinal) and ``_n`` (line number), so
"the earliest wins a duplicate id" means the same thing for either.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import duckdb
import orjson

from duckspool.exceptions import RepositoryError
from duckspool.repository._bulk import BULK_TABLE, TEMP_OBJECTS, BulkOutcome, bulk_validate
from duckspool.repository._envelope import ENVELOPE, column_list, wire_columns
from duckspool.repository._protocol import (
    BatchResult,
    Conflict,
    LoadBatch,
    SegmentLines,
    SegmentLoad,
    StagedFile,
)

__all__ = ["ingest"]

_WIRE = ", ".join(f.wire for f in ENVELOPE)
_READ_STAGED = (
    "CREATE OR REPLACE TEMP TABLE _ds_json AS "
    "SELECT map_extract_value(MAP(?::VARCHAR[], ?::INTEGER[]), filename) AS _s, _n, {wire} "
    "FROM read_json(?, format = 'newline_delimited', maximum_object_size = {max_size}, "
    "filename = true, columns = {{{columns}}})"
)
# A staged line carries its line number; a passthrough file (the segment itself)
# does not, and its row order gives it (DuckDB keeps insertion order).
_FROM_STAGED = (
    "SELECT _s, coalesce(_n, rowid - min(rowid) OVER (PARTITION BY _s) + 1) AS _n, "
    "'_ds_json' AS _t, rowid AS _r, {wire} FROM _ds_json"
)


_TEMP_TABLES = (
    *TEMP_OBJECTS,
    "_ds_json",
    "_ds_existing",
    "_ds_repeated",
    "_ds_first",
    "_ds_kept",
)


def ingest(
    cur: duckdb.DuckDBPyConnection,
    batch: LoadBatch,
    before_commit: Callable[[tuple[Conflict, ...]], None] | None,
    max_line_bytes: int,
) -> BatchResult:
    """Validate ``batch.raw`` in bulk, stage the rest through the authority, commit it all."""
    try:
        bulk = BulkOutcome()
        staged = list(batch.staged)
        segments = list(batch.segments)
        if batch.raw:
            bulk = bulk_validate(cur, batch.raw, segments, max_line_bytes)
            staged, segments = _consult_authority(batch, bulk, staged, segments)
        cur.execute("BEGIN TRANSACTION")
        try:
            result = _insert(cur, staged, segments, bulk, max_line_bytes)
            result = dataclasses.replace(result, bulk_lines=bulk.lines)
            _record_segments(cur, segments, result)
            if before_commit is not None:
                before_commit(result.conflicts)
            cur.execute("COMMIT")
        except BaseException:
            # A failed COMMIT has already ended the transaction; the original
            # error is the one worth reporting, not "no transaction is active".
            with contextlib.suppress(duckdb.Error):
                cur.execute("ROLLBACK")
            raise
    finally:
        for view in ("_ds_stage", BULK_TABLE):
            with contextlib.suppress(duckdb.Error):
                cur.execute(f"DROP VIEW IF EXISTS {view}")
        for table in _TEMP_TABLES:
            with contextlib.suppress(duckdb.Error):
                cur.execute(f"DROP TABLE IF EXISTS {table}")
    return result


def _consult_authority(
    batch: LoadBatch,
    bulk: BulkOutcome,
    staged: list[StagedFile],
    segments: list[SegmentLoad],
) -> tuple[list[StagedFile], list[SegmentLoad]]:
    if batch.authority is None:
        raise RepositoryError("a batch with raw segments needs an authority")
    counted: dict[int, tuple[int, int]] = {}
    for f in batch.raw:
        if f.ordinal in bulk.unreadable:
            lines = batch.authority(f.ordinal, None)
        elif bulk.rejected.get(f.ordinal):
            lines = batch.authority(f.ordinal, bulk.rejected[f.ordinal])
        else:
            lines = SegmentLines(None, 0, 0)
        if lines.staged is not None:
            staged.append(lines.staged)
        counted[f.ordinal] = (bulk.accepted.get(f.ordinal, 0) + lines.events, lines.quarantined)
    segments = [
        dataclasses.replace(s, events=counted[s.ordinal][0], quarantined=counted[s.ordinal][1])
        if s.ordinal in counted
        else s
        for s in segments
    ]
    return staged, segments


def _insert(
    cur: duckdb.DuckDBPyConnection,
    files: Sequence[StagedFile],
    segments: Sequence[SegmentLoad],
    bulk: BulkOutcome,
    max_line_bytes: int,
) -> BatchResult:
    sources, tables = [], list(bulk.sources)
    if files:
        ordered = sorted(files, key=lambda f: f.ordinal)
        paths = [str(f.path) for f in ordered]
        cur.execute(
            _READ_STAGED.format(
                wire=_WIRE,
                max_size=max(max_line_bytes * 2, 1 << 20),
                columns=wire_columns({"_n": "BIGINT"}),
            ),
            [paths, [f.ordinal for f in ordered], paths],
        )
        sources.append(_FROM_STAGED.format(wire=_WIRE))
        tables.append(("_ds_json", "true"))
    if bulk.sources:
        sources.append(f"SELECT _s, _n, _t, _r, {_WIRE} FROM {BULK_TABLE} WHERE ok")
    if not sources:
        return BatchResult(0, 0, ())
    # A view: the rows are scanned a few times but copied only into the table.
    cur.execute("CREATE OR REPLACE TEMP VIEW _ds_stage AS " + " UNION ALL ".join(sources))
    staged, lo, hi = cur.execute(
        "SELECT count(*), min(id)::VARCHAR, max(id)::VARCHAR FROM _ds_stage"
    ).fetchone() or (0, None, None)
    if not staged:
        return BatchResult(0, 0, ())
    # The id range bounds the probe: ids are time-ordered, so DuckDB's zone maps
    # skip every row group of history outside this batch's range.
    cur.execute(
        f"CREATE OR REPLACE TEMP TABLE _ds_existing AS SELECT {column_list('t.')} "
        "FROM telemetry_events t "
        "WHERE t.id BETWEEN ?::UUID AND ?::UUID AND t.id IN (SELECT id FROM _ds_stage)",
        [lo, hi],
    )
    # Only rows whose id is seen twice (in the batch, or stored already) need ordering
    # and comparing; every other row is inserted as it is.
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE _ds_repeated AS SELECT * FROM _ds_stage "
        "WHERE id IN (SELECT id FROM _ds_stage GROUP BY id HAVING count(*) > 1 "
        "             UNION ALL SELECT id FROM _ds_existing)"
    )
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE _ds_first AS SELECT * FROM _ds_repeated "
        "QUALIFY row_number() OVER (PARTITION BY id ORDER BY _s, _n) = 1"
    )
    conflicts = _conflicts(cur)
    # Segment names by ordinal, as a list indexed by it (one constant, no per-row map).
    names: list[str | None] = [None] * (max((s.ordinal for s in segments), default=0) + 1)
    for seg in segments:
        names[seg.ordinal] = seg.name
    # Every table is inserted from by a plain filtered scan: a join or UNION in the
    # INSERT's source makes DuckDB keep the rows in its WAL and write them at the next
    # checkpoint (about 1.4 s per million rows). So a repeated id's copies leave their
    # tables first, all but the one kept (earliest, and not stored already).
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE _ds_kept AS SELECT _t, _r FROM _ds_first "
        "WHERE id NOT IN (SELECT id FROM _ds_existing)"
    )
    into = f"INSERT INTO telemetry_events ({column_list()}, namespace, source_segment, loaded_at) "
    row = f"{_WIRE}, split_part(eventType, '.', 1), (?::VARCHAR[])[_s + 1], ?"
    params = [names, datetime.now(UTC)]
    count = 0
    for table, condition in tables:
        cur.execute(
            f"DELETE FROM {table} WHERE id IN (SELECT id FROM _ds_repeated) "
            f"AND rowid NOT IN (SELECT _r FROM _ds_kept WHERE _t = '{table}')"
        )
        done = cur.execute(f"{into} SELECT {row} FROM {table} WHERE {condition}", params)
        count += _count(done.fetchone())
    return BatchResult(count, int(staged) - count - len(conflicts), conflicts)


def _count(row: tuple[Any, ...] | None) -> int:
    return int(row[0]) if row else 0


def _differs(a: str, b: str) -> str:
    """SQL: any envelope field but the payload differs between row aliases ``a`` and ``b``."""
    return " OR ".join(
        f"{a}.{f.wire} IS DISTINCT FROM {b}.{f.wire}" for f in ENVELOPE if f.wire != "payload"
    )


def _conflicts(cur: duckdb.DuckDBPyConnection) -> tuple[Conflict, ...]:
    """Staged rows whose id is kept (stored, or staged earlier) with other content.

    SQL finds candidates (any column differs as stored); Python then compares
    payloads as JSON values, so the same payload with its keys in another
    order is a duplicate, not a conflict. Candidates are rare: only ids seen
    twice are compared at all.
    """
    as_wire = ", ".join(f"{f.column} AS {f.wire}" for f in ENVELOPE)
    rows = cur.execute(
        f"WITH kept AS (SELECT {as_wire} FROM _ds_existing "
        f"  UNION ALL SELECT {_WIRE} FROM _ds_first "
        "  WHERE id NOT IN (SELECT id FROM _ds_existing)) "
        "SELECT s._s, s._n, s.id, s.payload::VARCHAR, k.payload::VARCHAR, "
        f"       {_differs('s', 'k')} AS envelope_differs "
        "FROM _ds_repeated s JOIN kept k ON s.id = k.id "
        f"WHERE s.payload::VARCHAR IS DISTINCT FROM k.payload::VARCHAR OR {_differs('s', 'k')} "
        "ORDER BY s._s, s._n"
    ).fetchall()
    return tuple(
        Conflict(int(s if s is not None else 0), int(n), i)
        for s, n, i, mine, theirs, envelope_differs in rows
        if envelope_differs or orjson.loads(mine) != orjson.loads(theirs)
    )


def _record_segments(
    cur: duckdb.DuckDBPyConnection, segments: Sequence[SegmentLoad], result: BatchResult
) -> None:
    if not segments:
        return
    # Per-segment splits of inserted/duplicates are not needed by anyone; the batch
    # totals go on the first segment's row so the ledger sums to the truth.
    rows = [
        [
            seg.key,
            seg.name,
            seg.size_bytes,
            seg.lines,
            seg.events,
            result.inserted if index == 0 else 0,
            result.duplicates if index == 0 else 0,
            seg.quarantined,
        ]
        for index, seg in enumerate(segments)
    ]
    cur.executemany(
        "INSERT INTO load_ledger (segment_key, segment_name, size_bytes, lines, events, "
        "inserted, duplicates, quarantined) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
