"""Rendering query results for a terminal, a spreadsheet or a program.

Conventions are the duckdb CLI's and sqlite-utils': NULL shows as ``NULL`` in a
table (an empty CSV field); a cell cut to the column width ends with ``…``;
``json`` is one array of objects with JSON columns nested as objects;
``ndjson`` is one object per line; CSV writes booleans, lists and structs as JSON.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import orjson

__all__ = ["FORMATS", "render", "render_json_rows", "table_note"]

FORMATS = ("table", "csv", "json", "ndjson")
MAX_WIDTH = 60
_INT64 = (-(1 << 63), (1 << 63) - 1)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


def _jsonable(value: Any) -> Any:
    """Values orjson would refuse (ints past 64 bits) as strings; the rest unchanged."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if _INT64[0] <= value <= _INT64[1] else str(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _dumps(value: Any, *, indent: bool = False) -> str:
    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_INDENT_2 if indent else 0)
    return orjson.dumps(_jsonable(value), option=option, default=_default).decode()


def _nested(value: Any, is_json: bool) -> Any:
    if is_json and isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def render_json_rows(
    columns: Sequence[str], json_columns: Sequence[bool], rows: Iterable[Sequence[Any]]
) -> Iterable[str]:
    """One JSON object per row (the ``ndjson`` lines)."""
    for row in rows:
        record = {c: _nested(v, j) for c, j, v in zip(columns, json_columns, row, strict=True)}
        yield _dumps(record)


def _text(value: Any) -> str:
    """A value as one line of text for a table cell."""
    if value is None:
        text = "NULL"
    elif isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, bool | list | tuple | dict):
        text = _dumps(value)
    elif isinstance(value, dt.datetime):
        text = value.isoformat(sep=" ")
    else:
        text = str(value)
    return text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")


def _csv_field(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool | list | tuple | dict):
        return _dumps(value)  # true/false, [1,2], {"a":1}: what a JSON-aware reader expects
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def render(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fmt: str,
    *,
    json_columns: Sequence[bool] | None = None,
) -> str:
    """``rows`` as ``table``, ``csv``, ``json`` or ``ndjson`` text (no trailing newline)."""
    flags = list(json_columns) if json_columns is not None else [False] * len(columns)
    if fmt == "ndjson":
        return "\n".join(render_json_rows(columns, flags, rows))
    if fmt == "json":
        records = [
            {c: _nested(v, j) for c, j, v in zip(columns, flags, row, strict=True)} for row in rows
        ]
        return _dumps(records, indent=True)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_csv_field(v) for v in row] for row in rows])
        return buffer.getvalue().rstrip("\n")
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    cells = [[_text(v) for v in row] for row in rows]
    widths = [min(len(c), MAX_WIDTH) for c in columns]
    for row in cells:
        for i, value in enumerate(row):
            widths[i] = min(max(widths[i], len(value)), MAX_WIDTH)

    def line(values: Sequence[str]) -> str:
        return "  ".join(_cut(v, widths[i]).ljust(widths[i]) for i, v in enumerate(values)).rstrip()

    out = [line(columns), line(["-" * w for w in widths])]
    out.extend(line(row) for row in cells)
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


def table_note(shown: int, left_out: int) -> str:
    """The note under a capped table."""
    return (
        f"({left_out:,} more row(s) not shown, {shown + left_out:,} in all; --max-rows 0 for all)"
    )
