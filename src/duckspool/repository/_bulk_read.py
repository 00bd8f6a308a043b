"""The bulk path's fast lane: verified segments read by ``read_json`` straight into columns.

A **verified** segment's bytes match the CRC-32 its emitter's writer put in its
name (docs/loader.md, "Provenance"), so every line in it is
``TelemetryEvent.to_json_line`` output: ``orjson.dumps`` of one dict literal
holding the nine envelope keys, once each, in order, with no whitespace, and
(orjson writes each key of a dict once and refuses keys that are not exactly
``str``) no duplicate key at any depth. That is all this lane takes on trust.
What such a line can still get wrong is every field's **value and JSON type**,
because ``model_construct`` skips validation; both are checked here, per line:

``json_types``
    ``sessionId``, ``userId``, ``correlationId``, ``productId``,
    ``schemaVersion`` and ``payload`` are read as DuckDB ``JSON``, whose text
    shows the JSON type: a string starts with ``"`` (its value is the text
    between the quotes, which the ``ids`` rule keeps free of anything a writer
    escapes), ``productId`` may be ``null``, the version must be the number
    itself (``1``, not ``"1"``), the payload an object. ``id``, ``eventType``
    and ``timestamp`` are read as text: only a JSON string can match their
    patterns (a number, ``true`` or an array cannot look like a UUID, an event
    type or a ``T``/``Z`` time).
``values``
    Every rule of ``_bulk_rules.py``.
``size``
    No line longer than ``max_line_bytes``: a segment holding one takes the
    text lane (found exactly and cheaply: a longer line must contain a whole
    aligned block of half that size without a newline).

A verified segment ``read_json`` cannot read (a line that is not JSON) takes the
text lane; one whose row count differs from the loader's line count goes to the
authority entire. Refused lines are returned without their text (the authority
reads them from the segment).
"""

from __future__ import annotations

import logging
import mmap
from collections.abc import Sequence
from pathlib import Path

import duckdb

from duckspool.contracts import ID_MAX_LENGTH
from duckspool.repository._bulk_rules import FieldValues, length_within, value_checks
from duckspool.repository._envelope import ENVELOPE
from duckspool.repository._protocol import StagedFile

__all__ = ["READ_TABLE", "has_line_longer_than", "read_in_order", "read_verified"]

log = logging.getLogger(__name__)

READ_TABLE = "_ds_vread"
"""Temp table of this lane: ``_s`` (segment ordinal), ``ok`` and the wire columns, typed."""

_AS_JSON = ("sessionId", "userId", "productId", "correlationId", "schemaVersion", "payload")
_COLUMNS = ", ".join(
    f"'{f.wire}': '{'JSON' if f.wire in _AS_JSON else 'VARCHAR'}'" for f in ENVELOPE
)


_QUOTED = ("q_session", "q_user", "q_correlation", "q_product")


def _unquoted(text: str) -> str:
    return f"{text}[2:-2]"


def _quoted_length_ok(quoted: str) -> str:
    """1 to ID_MAX_LENGTH characters between the quotes of a JSON string's text."""
    return length_within(quoted, 3, ID_MAX_LENGTH + 2)


# The ids rule on the JSON texts, without a regex (DuckDB's cost a regex per row):
# lengths as above, and a JSON writer escapes
# '"', '\' and control characters, so a text without '\' holds none of them;
# DEL (which JSON does not escape) is looked for itself.
_IDS_RULE = "\n    AND ".join(
    [
        *(_quoted_length_ok(q) for q in _QUOTED[:3]),
        f"(q_product IS NULL OR q_product = 'null' OR {_quoted_length_ok('q_product')})",
        f"NOT contains(concat({', '.join(_QUOTED)}), '\\')",
        f"NOT contains(concat({', '.join(_QUOTED)}), chr(127))",
    ]
)

# The payload rule on the JSON text DuckDB wrote back after parsing orjson's output.
# orjson writes no NaN or Infinity (it writes null), no integer past 64 bits and no
# float past a double (it raises: emit() drops the event), and no key twice, so
# the text lane's conservative number and nesting rules have nothing to find here
# but for two: NaN/Infinity are looked for anyway, and nesting is bounded (fewer
# than 64 brackets in all, far inside the contract parser's depth limit).
_PAYLOAD_RULE = (
    "starts_with(q_payload, '{') AND NOT contains(q_payload, 'NaN') "
    "AND NOT contains(q_payload, 'Infinity') "
    "AND strlen(q_payload) - strlen(replace(replace(q_payload, '{', ''), '[', '')) < 64"
)

_VALUES = FieldValues(
    id="id",
    event_type="eventType",
    session_id=_unquoted("q_session"),
    user_id=_unquoted("q_user"),
    product_id=f"CASE WHEN coalesce(q_product, 'null') = 'null' THEN NULL "
    f"ELSE {_unquoted('q_product')} END",
    correlation_id=_unquoted("q_correlation"),
    timestamp="timestamp",
    ts="ts",
    schema_version="q_version",
    ids_rule=_IDS_RULE,
    payload_rule=_PAYLOAD_RULE,
)

_OK = f"""
    starts_with(q_session, '"') AND starts_with(q_user, '"')
    AND starts_with(q_correlation, '"')
    AND (coalesce(q_product, 'null') = 'null' OR starts_with(q_product, '"'))
    AND {value_checks(_VALUES)}
"""

_SELECT = f"""
SELECT map_extract_value(MAP($files, $ordinals), filename) AS _s, coalesce({_OK}, false) AS ok,
       TRY_CAST(id AS UUID) AS id, eventType, {_VALUES.session_id} AS sessionId,
       {_VALUES.user_id} AS userId, {_VALUES.product_id} AS productId,
       {_VALUES.correlation_id} AS correlationId, ts AS timestamp,
       TRY_CAST(q_version AS INTEGER) AS schemaVersion, payload
FROM (
    SELECT filename, id, eventType, timestamp, TRY_CAST(timestamp AS TIMESTAMPTZ) AS ts,
           sessionId::VARCHAR AS q_session, userId::VARCHAR AS q_user,
           productId::VARCHAR AS q_product, correlationId::VARCHAR AS q_correlation,
           schemaVersion::VARCHAR AS q_version, payload, payload::VARCHAR AS q_payload
    FROM read_json($files, format = 'newline_delimited', filename = true,
                   maximum_object_size = $max_size, columns = {{{_COLUMNS}}})
)
"""

_TABLE_COLUMNS = "_s INTEGER, ok BOOLEAN, " + ", ".join(
    f"{f.wire} {f.duckdb_type}" for f in ENVELOPE
)


def read_verified(
    cur: duckdb.DuckDBPyConnection, files: Sequence[StagedFile], max_line_bytes: int
) -> tuple[list[StagedFile], list[StagedFile]]:
    """Fill :data:`READ_TABLE` from ``files`` in order; return (read, not readable here).

    Runs outside any transaction. Files ``read_json`` refuses are returned second,
    for the text lane.
    """
    return read_in_order(cur, READ_TABLE, _TABLE_COLUMNS, _SELECT, files, max_line_bytes)


def read_in_order(
    cur: duckdb.DuckDBPyConnection,
    table: str,
    columns: str,
    select: str,
    files: Sequence[StagedFile],
    max_line_bytes: int,
) -> tuple[list[StagedFile], list[StagedFile]]:
    """Fill temp ``table`` with ``select`` over ``files``, in order; return (read, refused).

    ``select`` reads ``$files`` (with ``$ordinals`` beside them and lines up to
    ``$max_size`` bytes). All files are read in one statement; if DuckDB refuses
    that, ``table`` (``columns``) is filled file by file and the files it
    refuses are returned second. Runs outside any transaction.
    """
    params = {
        "files": [str(f.path) for f in files],
        "ordinals": [f.ordinal for f in files],
        "max_size": max_line_bytes + 1024,
    }
    if files:
        try:
            cur.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {select}", params)
            return list(files), []
        except duckdb.Error as exc:
            log.info("bulk path: reading %d segment(s) at once failed (%s)", len(files), exc)
    cur.execute(f"CREATE OR REPLACE TEMP TABLE {table} ({columns})")
    read, refused = [], []
    for f in files:
        try:
            one = {**params, "files": [str(f.path)], "ordinals": [f.ordinal]}
            cur.execute(f"INSERT INTO {table} {select}", one)
            read.append(f)
        except duckdb.Error as exc:
            log.info("bulk path: DuckDB cannot read %s into %s: %s", f.path.name, table, exc)
            refused.append(f)
    return read, refused


def has_line_longer_than(path: Path, limit: int) -> bool:
    """Whether a line of ``path`` (newline excluded) is longer than ``limit`` bytes.

    A line longer than ``limit`` holds a whole aligned block of ``limit // 2``
    bytes with no newline; only such blocks are measured, so a segment of short
    lines costs one short ``find`` per block.
    """
    size = path.stat().st_size
    if size <= limit:
        return False
    block = max(limit // 2, 1)
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        for start in range(0, size, block):
            if data.find(b"\n", start, start + block) != -1:
                continue
            begin = data.rfind(b"\n", 0, start) + 1
            end = data.find(b"\n", start)
            if (size if end == -1 else end) - begin > limit:
                return True
    return False
