"""The bulk path: DuckDB validates canonical wire lines itself, one parse per line.

Only for :attr:`LoadBatch.raw` segments. DuckDB reads each line as text, parses
it once (``json_transform``) and keeps a line only if every predicate below
holds; every other line goes to the loader's authority, :func:`parse_line`,
which also gives the quarantine its reasons. The predicates accept a strict
subset of what the contract accepts, and only lines whose stored values are
exactly the contract's, which ``tests/test_bulk_differential.py`` checks line by
line against ``parse_line``. Each predicate and the contract rule it implements:

``wire_form``
    The line is byte for byte the canonical wire form rebuilt from the parsed
    values (what ``to_json_line`` writes: keys in order, no whitespace, no
    escapes in the envelope's strings). So there are no unknown or duplicate
    top-level keys, every field has its JSON type, and the parse is unambiguous.
``id``
    ``id`` is a UUID: lowercase, hyphenated (the form ``uuid.UUID`` prints).
``event_type``
    The naming standard: ``EVENT_TYPE_PATTERN``, at most ``EVENT_TYPE_MAX_LENGTH``.
``ids``
    ``sessionId``, ``userId``, ``correlationId`` (and ``productId`` unless null):
    1 to ``ID_MAX_LENGTH`` characters, no control characters; also no ``"`` or
    ``\\`` (those need escapes, which the wire-form check does not rebuild).
``timestamp``
    A timezone-aware ISO-8601 time already in UTC (``Z``), whole seconds or
    exactly six fractional digits (DuckDB keeps microseconds, so nothing is
    rounded), every field in range and a real calendar date.
``schema_version``
    The current version; other versions need their converter (the authority).
``payload``
    A JSON object, with no NaN/Infinity (``invalid_json``), no number DuckDB
    would keep as text beyond a double or 64-bit integer (``number_out_of_range``,
    ``unstorable``: conservatively, no run of 19 digits and no 3-digit
    exponent), no nested objects and distinct top-level keys (the contract keeps
    the last of duplicate keys, DuckDB the first), fewer than 64 ``[`` (the
    contract's parser limits nesting depth).
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

from duckspool.contracts import CURRENT_SCHEMA_VERSION, EVENT_TYPE_MAX_LENGTH, ID_MAX_LENGTH
from duckspool.contracts._naming import EVENT_TYPE_PATTERN
from duckspool.exceptions import RepositoryError
from duckspool.repository._envelope import ENVELOPE
from duckspool.repository._protocol import SegmentLoad, StagedFile

__all__ = ["BULK_TABLE", "BulkOutcome", "bulk_validate"]

log = logging.getLogger(__name__)

BULK_TABLE = "_ds_bulk"
"""Temp table of the bulk path: ``_s``, ``_n``, ``ok`` and the wire columns, typed."""

_STRUCT = "{" + ",".join(f'"{f.wire}":"VARCHAR"' for f in ENVELOPE[:-1]) + ',"payload":"JSON"}'
# Characters an id may not hold (the contract's control characters), and those the
# rebuilt wire form does not escape (so the wire-form check refuses them anyway).
_ID_REFUSED = "'[\"\\\\\\x00-\\x1f\\x7f]'"
_UUID = "'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'"
_TIME = (
    "'(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    "T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{6})?Z'"
)
# One pass over the payload, conservatively: NaN/Infinity, runs of 19+ digits,
# 3-digit exponents, escaped surrogates, a nested object (a "{" after the first
# character), a nested array (a second "[" before a "]").
_PAYLOAD_REFUSED = (
    "'NaN|Infinity|[0-9]{19}|[eE][+]?[0-9]{3}|\\\\u[dD][89a-fA-F]|.\\{|\\[[^\\]]*\\['"
)
_EVENT_TYPE = "'" + EVENT_TYPE_PATTERN.removeprefix("^").removesuffix("$") + "'"


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


_OK = f"""
    line = {_wire_form()}
    AND strlen(line) <= $max_line
    AND regexp_full_match(j.id, {_UUID})
    AND strlen(j.eventType) <= {EVENT_TYPE_MAX_LENGTH}
    AND regexp_full_match(j.eventType, {_EVENT_TYPE})
    AND length(j.sessionId) BETWEEN 1 AND {ID_MAX_LENGTH}
    AND length(j.userId) BETWEEN 1 AND {ID_MAX_LENGTH}
    AND length(j.correlationId) BETWEEN 1 AND {ID_MAX_LENGTH}
    AND (j.productId IS NULL OR length(j.productId) BETWEEN 1 AND {ID_MAX_LENGTH})
    AND NOT regexp_matches(
        concat(j.sessionId, j.userId, j.correlationId, j.productId), {_ID_REFUSED})
    AND regexp_full_match(j.timestamp, {_TIME})
    AND ts IS NOT NULL
    AND j.schemaVersion = '{CURRENT_SCHEMA_VERSION}'
    AND starts_with(j.payload, '{{')
    AND NOT regexp_matches(j.payload, {_PAYLOAD_REFUSED})
    AND CASE WHEN verified THEN true
             ELSE list_unique(json_keys(j.payload)) = len(json_keys(j.payload)) END
"""

_READ_LINES = (
    "SELECT filename, line FROM read_csv($files, columns = {'line': 'VARCHAR'}, "
    "header = false, auto_detect = false, delim = '\\0', quote = '', escape = '', "
    "new_line = '\\n', max_line_size = $max_size, filename = true)"
)

_TEXT_MAX = 1 << 16
"""Longer refused lines are not fetched with the result; the authority reads them."""

_CLASSIFY = f"""
CREATE OR REPLACE TEMP TABLE {BULK_TABLE} AS
SELECT _s, _n, ok, CASE WHEN NOT ok AND strlen(line) <= {_TEXT_MAX} THEN line END AS raw,
       * EXCLUDE (_s, _n, ok, line, j, ts)
FROM (
SELECT _s, _n, line, j, ts, coalesce({_OK}, false) AS ok,
       TRY_CAST(j.id AS UUID) AS id, j.eventType AS eventType, j.sessionId AS sessionId,
       j.userId AS userId, j.productId AS productId, j.correlationId AS correlationId,
       ts AS timestamp, TRY_CAST(j.schemaVersion AS INTEGER) AS schemaVersion,
       j.payload AS payload
FROM (SELECT *, TRY_CAST(j.timestamp AS TIMESTAMPTZ) AS ts FROM (
    SELECT f.ordinal AS _s, l.rowid + 1 - f.first AS _n, f.verified, l.line,
           CASE WHEN starts_with(l.line, '{{') AND ends_with(l.line, '}}')
                THEN try(json_transform(l.line, '{_STRUCT}')) END AS j
    FROM _ds_lines l JOIN _ds_files f ON l.filename = f.filename
)))
"""


@dataclass
class BulkOutcome:
    """Per segment ordinal: lines accepted in bulk, lines left to the authority."""

    accepted: dict[int, int] = field(default_factory=dict)
    rejected: dict[int, dict[int, bytes | None]] = field(default_factory=lambda: defaultdict(dict))
    """Line numbers with their text (None for a line too long to fetch here)."""
    unreadable: set[int] = field(default_factory=set)

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
    candidates = []
    for f in files:
        with f.path.open("rb") as fh:
            if fh.read(3) == b"\xef\xbb\xbf":
                # DuckDB's CSV reader drops a leading byte-order mark; the contract does not.
                outcome.unreadable.add(f.ordinal)
                continue
        candidates.append(f)
    readable = _read_lines(cur, candidates, max_line_bytes, outcome)
    names = [str(f.path) for f in readable]
    spans = {
        name: (count, lo, hi)
        for name, count, lo, hi in cur.execute(
            "SELECT filename, count(*), min(rowid), max(rowid) FROM _ds_lines GROUP BY filename"
        ).fetchall()
    }
    counts = {name: span[0] for name, span in spans.items()}
    # _ds_lines holds the files one after the other, in order: a file's first
    # row id is the sum of the counts before it (cheaper than a window). Checked.
    offsets, first = [], 0
    for name in names:
        offsets.append(first)
        count, lo, hi = spans.get(name, (0, first, first - 1))
        if (lo, hi) != (first, first + count - 1):
            raise RepositoryError(f"bulk path: rows of {name} are not contiguous; not loading")
        first += count
    for f in readable:
        if counts.get(str(f.path), 0) != expected.get(f.ordinal):
            # DuckDB split the file differently from the loader: trust neither's numbering.
            log.info(
                "bulk path: %s read as %s lines, not %s",
                f.path,
                counts.get(str(f.path)),
                expected.get(f.ordinal),
            )
            outcome.unreadable.add(f.ordinal)
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE _ds_files AS SELECT unnest(?::VARCHAR[]) AS filename, "
        "unnest(?::INTEGER[]) AS ordinal, unnest(?::BIGINT[]) AS first, "
        "unnest(?::BOOLEAN[]) AS verified",
        [names, [f.ordinal for f in readable], offsets, [f.verified for f in readable]],
    )
    cur.execute(_CLASSIFY, {"max_line": max_line_bytes})
    cur.execute("DROP TABLE _ds_lines")
    cur.execute("DROP TABLE _ds_files")
    if outcome.unreadable:
        cur.execute(
            f"DELETE FROM {BULK_TABLE} WHERE list_contains(?::INTEGER[], _s)",
            [sorted(outcome.unreadable)],
        )
    for ordinal, ok, count in cur.execute(
        f"SELECT _s, ok, count(*) FROM {BULK_TABLE} GROUP BY ALL"
    ).fetchall():
        if ok:
            outcome.accepted[ordinal] = count
    # The refused lines' text comes back with them (exact bytes: the segment is valid
    # UTF-8 without \r, NUL or BOM), so the authority need not read the segment again.
    for ordinal, number, text in cur.execute(
        f"SELECT _s, _n, raw FROM {BULK_TABLE} WHERE NOT ok"
    ).fetchall():
        outcome.rejected[ordinal][number] = None if text is None else text.encode()
    return outcome


def _read_lines(
    cur: duckdb.DuckDBPyConnection,
    files: list[StagedFile],
    max_line_bytes: int,
    outcome: BulkOutcome,
) -> list[StagedFile]:
    """Read ``files`` into ``_ds_lines`` in order; the ones DuckDB refuses go to ``unreadable``."""
    max_size = max_line_bytes + 1024
    create = f"CREATE OR REPLACE TEMP TABLE _ds_lines AS {_READ_LINES}"
    if not files:
        cur.execute("CREATE OR REPLACE TEMP TABLE _ds_lines (filename VARCHAR, line VARCHAR)")
        return files
    try:
        cur.execute(create, {"files": [str(f.path) for f in files], "max_size": max_size})
        return files
    except duckdb.Error as exc:
        log.info("bulk path: reading %d segment(s) failed (%s); trying one by one", len(files), exc)
    cur.execute("CREATE OR REPLACE TEMP TABLE _ds_lines (filename VARCHAR, line VARCHAR)")
    readable = []
    for f in files:
        try:
            cur.execute(
                f"INSERT INTO _ds_lines {_READ_LINES}",
                {"files": [str(f.path)], "max_size": max_size},
            )
            readable.append(f)
        except duckdb.Error as exc:
            log.info("bulk path: %s is left to the contract: %s", f.path.name, exc)
            outcome.unreadable.add(f.ordinal)
    return readable
