"""The bulk path: DuckDB validates canonical wire lines itself, one parse per line.

Only for :attr:`LoadBatch.raw` segments, in two lanes. **Verified** segments
(provenance, docs/loader.md) are read by ``read_json`` straight into typed
columns (``_bulk_read.py``). Every other raw segment takes the **text lane**
here: DuckDB reads each line as text, parses it once (``json_transform``) and
keeps a line only if every predicate below holds. In both lanes every other line
goes to the loader's authority, :func:`parse_line`, which also gives the
quarantine its reasons. The predicates accept a strict subset of what the
contract accepts, and only lines whose stored values are exactly the contract's,
which ``tests/test_bulk_differential.py`` checks line by line against
``parse_line``. The text lane's predicates and the contract rule each implements:

``wire_form``
    The line is byte for byte the canonical wire form rebuilt from the parsed
    values (what ``to_json_line`` writes: keys in order, no whitespace, no
    escapes in the envelope's strings). So there are no unknown or duplicate
    top-level keys, every field has its JSON type, and the parse is unambiguous.
``values``
    Every rule of ``_bulk_rules.py`` (id, event type, ids, timestamp, schema
    version, payload).
``payload_keys``
    Distinct top-level payload keys (the contract keeps the last of duplicate
    keys, DuckDB the first), checked exactly (see ``_distinct``). Skipped for a
    verified segment that takes this lane (one ``read_json`` refused, or one
    holding an oversize line): orjson cannot write a duplicate key.
``size``
    At most ``max_line_bytes`` long (longer lines are ``oversize``).

A segment DuckDB cannot read as a whole (invalid UTF-8, a NUL byte, a line past
its size limit), one that starts with a byte-order mark (which DuckDB's reader
drops), or one whose line count differs from ``SegmentLoad.lines`` (a ``\r``
splits a line for DuckDB) is passed to the authority entire.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb

from duckspool.exceptions import RepositoryError
from duckspool.repository._bulk_read import (
    READ_TABLE,
    has_line_longer_than,
    read_in_order,
    read_verified,
)
from duckspool.repository._bulk_rules import (
    FieldValues,
    rebuilt_ids_rule,
    text_payload_rule,
    value_checks,
)
from duckspool.repository._envelope import ENVELOPE
from duckspool.repository._protocol import SegmentLoad, StagedFile

__all__ = ["BULK_TABLE", "BulkOutcome", "bulk_validate"]

log = logging.getLogger(__name__)

_TEXT_TABLE = "_ds_bulk_text"
BULK_TABLE = "_ds_bulk"
"""Temp view of both lanes: ``_s``, ``_n``, ``ok``, ``raw``, ``_t`` and ``_r`` (the table
and row id a row lives in) and the wire columns, typed."""

TEMP_OBJECTS = ("_ds_lines", "_ds_files", _TEXT_TABLE, READ_TABLE)
"""Temp tables the bulk path leaves for the insert; drop them (and the view) after it."""

_STRUCT = "{" + ",".join(f'"{f.wire}":"VARCHAR"' for f in ENVELOPE[:-1]) + ',"payload":"JSON"}'
_WIRE = ", ".join(f.wire for f in ENVELOPE)
_VALUES = FieldValues(
    id="j.id",
    event_type="j.eventType",
    session_id="j.sessionId",
    user_id="j.userId",
    product_id="j.productId",
    correlation_id="j.correlationId",
    timestamp="j.timestamp",
    ts="ts",
    schema_version="j.schemaVersion",
    ids_rule=rebuilt_ids_rule("j.sessionId", "j.userId", "j.productId", "j.correlationId"),
    payload_rule=text_payload_rule("j.payload"),
)


def _wire_form() -> str:
    """SQL rebuilding the canonical line from the parsed values ``j`` (see ``wire_form``).

    One ``concat`` call: a chain of ``||`` allocates every intermediate string
    and costs six times as much.
    """
    parts = ["'{'"]
    for index, f in enumerate(ENVELOPE):
        key = ("," if index else "") + f'"{f.wire}":'
        if f.wire == "productId":
            parts += [
                f"'{key}'",
                "CASE WHEN j.productId IS NULL THEN 'null' "
                "ELSE concat('\"', j.productId, '\"') END",
            ]
        elif f.wire in ("schemaVersion", "payload"):
            parts += [f"'{key}'", f"j.{f.wire}"]
        else:
            parts += [f"'{key}\"'", f"j.{f.wire}", "'\"'"]
    parts.append("'}'")
    return "concat(" + ", ".join(parts) + ")"


def _distinct(keys: str) -> str:
    """SQL: the list ``keys`` holds no value twice (true for an empty list).

    ``list_unique`` builds a hash set per row (about 1 us for six keys, the
    largest single cost of this lane). So first a 64-bit mask gets one bit per
    key's hash: as many bits set as there are keys proves the keys distinct (a
    key seen twice sets one bit for both). Only rows where two keys' bits
    collide pay for ``list_unique``: by chance about a fifth of six-key sets, and
    for payloads of one fixed schema, all of them or none.
    """
    mask = f"bit_count(list_bit_or(list_transform({keys}, lambda k: 1::UBIGINT << (hash(k) % 64))))"
    return f"CASE WHEN {mask} = len({keys}) THEN true ELSE list_unique({keys}) = len({keys}) END"


_OK = f"""
    line = {_wire_form()}
    AND strlen(line) <= $max_line
    AND {value_checks(_VALUES)}
    AND (verified OR {_distinct("payload_keys")})
"""

_READ_LINES = (
    "SELECT map_extract_value(MAP($files, $ordinals), filename) AS _s, line "
    "FROM read_csv($files, columns = {'line': 'VARCHAR'}, "
    "header = false, auto_detect = false, delim = '\\0', quote = '', escape = '', "
    "new_line = '\\n', max_line_size = $max_size, filename = true)"
)

_TEXT_MAX = 1 << 16
"""Longer refused lines are not fetched with the result; the authority reads them."""

_CLASSIFY = f"""
CREATE OR REPLACE TEMP TABLE {_TEXT_TABLE} AS
SELECT _s, _n, ok, CASE WHEN NOT ok AND strlen(line) <= {_TEXT_MAX} THEN line END AS raw,
       * EXCLUDE (_s, _n, ok, line, j, ts)
FROM (
SELECT _s, _n, line, j, ts, coalesce({_OK}, false) AS ok,
       TRY_CAST(j.id AS UUID) AS id, j.eventType AS eventType, j.sessionId AS sessionId,
       j.userId AS userId, j.productId AS productId, j.correlationId AS correlationId,
       ts AS timestamp, TRY_CAST(j.schemaVersion AS INTEGER) AS schemaVersion,
       j.payload AS payload
FROM (SELECT *, TRY_CAST(j.timestamp AS TIMESTAMPTZ) AS ts,
             CASE WHEN NOT verified THEN json_keys(j.payload) END AS payload_keys FROM (
    SELECT f.ordinal AS _s, l.rowid + 1 - f.first AS _n, f.verified, l.line,
           CASE WHEN starts_with(l.line, '{{') AND ends_with(l.line, '}}')
                THEN try(json_transform(l.line, '{_STRUCT}')) END AS j
    FROM _ds_lines l JOIN _ds_files f ON l._s = f.ordinal
)))
"""


@dataclass
class BulkOutcome:
    """Per segment ordinal: lines accepted in bulk, lines left to the authority."""

    accepted: dict[int, int] = field(default_factory=dict)
    rejected: dict[int, dict[int, bytes | None]] = field(default_factory=lambda: defaultdict(dict))
    """Line numbers with their text (None for a line too long to fetch here)."""
    unreadable: set[int] = field(default_factory=set)

    sources: list[tuple[str, str]] = field(default_factory=list)
    """(temp table, SQL condition) pairs: the accepted rows, each table scanned plainly."""

    @property
    def lines(self) -> int:
        return sum(self.accepted.values())


def bulk_validate(
    cur: duckdb.DuckDBPyConnection,
    files: Sequence[StagedFile],
    segments: Sequence[SegmentLoad],
    max_line_bytes: int,
) -> BulkOutcome:
    """Fill :data:`BULK_TABLE` from ``files``; say which lines the authority must see.

    Runs outside any transaction (a failed read would abort one). Segments
    DuckDB cannot read at all are listed in ``unreadable``.
    """
    outcome = BulkOutcome()
    expected = {s.ordinal: s.lines for s in segments}
    text, verified = [], []
    for f in files:
        with f.path.open("rb") as fh:
            if fh.read(3) == b"\xef\xbb\xbf":
                # DuckDB's readers drop a leading byte-order mark; the contract does not.
                outcome.unreadable.add(f.ordinal)
                continue
        if f.verified and not has_line_longer_than(f.path, max_line_bytes):
            verified.append(f)
        else:
            text.append(f)
    read, refused = read_verified(cur, verified, max_line_bytes)
    text += refused
    read_offsets = _number_rows(cur, READ_TABLE, read, expected, outcome)
    numbered = [f for f in read if f.ordinal not in outcome.unreadable]
    parts = []
    if text or not numbered:
        _classify_text(cur, text, expected, max_line_bytes, outcome)
        outcome.sources.append((_TEXT_TABLE, "ok"))
        parts.append(
            f"SELECT _s, _n, ok, raw, '{_TEXT_TABLE}' AS _t, rowid AS _r, {_WIRE} "
            f"FROM {_TEXT_TABLE}"
        )
    if numbered:
        # Integer literals (no join, no parameters in a view): the read files' ordinals,
        # and each ordinal's first row id at its index (counted from the batch's first).
        base = min(f.ordinal for f in numbered)
        firsts = [0] * (max(f.ordinal for f in numbered) - base + 1)
        for f in numbered:
            firsts[f.ordinal - base] = read_offsets[f.ordinal]
        kept = f"list_contains({[int(f.ordinal) for f in numbered]}, _s)"
        outcome.sources.append((READ_TABLE, f"ok AND {kept}"))
        parts.append(
            f"SELECT _s, rowid + 1 - {[int(n) for n in firsts]}[_s - {int(base)} + 1] AS _n, ok, "
            f"NULL::VARCHAR AS raw, '{READ_TABLE}' AS _t, rowid AS _r, {_WIRE} "
            f"FROM {READ_TABLE} WHERE {kept}"
        )
    cur.execute(f"CREATE OR REPLACE TEMP VIEW {BULK_TABLE} AS " + " UNION ALL ".join(parts))
    for ordinal, ok, count in cur.execute(
        f"SELECT _s, ok, count(*) FROM {BULK_TABLE} GROUP BY ALL"
    ).fetchall():
        if ok:
            outcome.accepted[ordinal] = count
    # The text lane's refused lines come back with their text (exact bytes: the segment
    # is valid UTF-8 without \r, NUL or BOM), so the authority need not read them again.
    for ordinal, number, raw in cur.execute(
        f"SELECT _s, _n, raw FROM {BULK_TABLE} WHERE NOT ok"
    ).fetchall():
        outcome.rejected[ordinal][number] = None if raw is None else raw.encode()
    return outcome


def _classify_text(
    cur: duckdb.DuckDBPyConnection,
    files: list[StagedFile],
    expected: dict[int, int],
    max_line_bytes: int,
    outcome: BulkOutcome,
) -> None:
    """The text lane: fill ``_ds_bulk_text`` from ``files``."""
    readable = _read_lines(cur, files, max_line_bytes, outcome)
    offsets = _number_rows(cur, "_ds_lines", readable, expected, outcome)
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE _ds_files AS SELECT "
        "unnest(?::INTEGER[]) AS ordinal, unnest(?::BIGINT[]) AS first, "
        "unnest(?::BOOLEAN[]) AS verified",
        [
            [f.ordinal for f in readable],
            [offsets[f.ordinal] for f in readable],
            [f.verified for f in readable],
        ],
    )
    cur.execute(_CLASSIFY, {"max_line": max_line_bytes})
    cur.execute("DROP TABLE _ds_lines")
    dropped = sorted(outcome.unreadable & {f.ordinal for f in readable})
    if dropped:
        cur.execute(f"DELETE FROM {_TEXT_TABLE} WHERE list_contains(?::INTEGER[], _s)", [dropped])


def _number_rows(
    cur: duckdb.DuckDBPyConnection,
    table: str,
    files: Sequence[StagedFile],
    expected: dict[int, int],
    outcome: BulkOutcome,
) -> dict[int, int]:
    """Each file's first row id in ``table``, which holds ``files`` one after the other.

    A file's first row id is the sum of the counts before it (cheaper than a
    window); checked. A file whose row count is not the loader's line count goes
    to ``outcome.unreadable`` (DuckDB split it otherwise: trust neither numbering).
    """
    spans = {
        ordinal: (count, lo, hi)
        for ordinal, count, lo, hi in cur.execute(
            f"SELECT _s, count(*), min(rowid), max(rowid) FROM {table} GROUP BY _s"
        ).fetchall()
    }
    offsets, first = {}, 0
    for f in files:
        offsets[f.ordinal] = first
        count, lo, hi = spans.get(f.ordinal, (0, first, first - 1))
        if (lo, hi) != (first, first + count - 1):
            raise RepositoryError(f"bulk path: rows of {f.path} are not contiguous; not loading")
        first += count
        if count != expected.get(f.ordinal):
            log.info(
                "bulk path: %s read as %s lines, not %s", f.path, count, expected.get(f.ordinal)
            )
            outcome.unreadable.add(f.ordinal)
    return offsets


def _read_lines(
    cur: duckdb.DuckDBPyConnection,
    files: list[StagedFile],
    max_line_bytes: int,
    outcome: BulkOutcome,
) -> list[StagedFile]:
    """Read ``files`` into ``_ds_lines`` in order; the ones DuckDB refuses go to ``unreadable``."""
    read, refused = read_in_order(
        cur, "_ds_lines", "_s INTEGER, line VARCHAR", _READ_LINES, files, max_line_bytes
    )
    outcome.unreadable.update(f.ordinal for f in refused)
    return read
