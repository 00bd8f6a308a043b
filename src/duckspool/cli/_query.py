"""``duckspool query``: read-only SQL from the command line, stdin or a file.

The SQL is the analyst's own and runs as written on a read-only connection;
nothing from it is spliced into other SQL. Several statements each print their
result (``table``/``csv``, separated by a blank line); ``json``/``ndjson`` take
one statement, so their output stays one document. A table shows at most
``--max-rows`` rows (100 by default) and says how many it left out.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any

import duckdb

from duckspool.cli._args import UsageError
from duckspool.cli._format import render, render_json_rows, table_note
from duckspool.cli._locate import CliError, require_db, with_wait
from duckspool.repository import DuckDBTelemetryRepository

__all__ = ["cmd_query"]

TABLE_MAX_ROWS = 100
_CHUNK = 10_000


def _sql_text(args: argparse.Namespace) -> str:
    if args.file is not None and args.sql is not None:
        raise UsageError("duckspool query: error: give the SQL as an argument or --file, not both")
    if args.file is not None:
        try:
            return str(args.file.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise CliError(f"{args.file} is not UTF-8 text") from None
    if args.sql is None:
        raise UsageError(
            "duckspool query: error: the SQL is missing: give it as an argument, "
            "- for stdin, or --file FILE"
        )
    if args.sql == "-":
        return sys.stdin.read()
    return str(args.sql)


def _statements(sql: str) -> list[str]:
    """The statements of ``sql``, split by DuckDB's own parser (an in-memory connection)."""
    try:
        with duckdb.connect(":memory:") as con:
            found = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise CliError(f"query failed: {_first_line(exc)}") from None
    if not found:
        raise UsageError(
            "duckspool query: error: no SQL statement in the input (only blanks, ';' or comments)"
        )
    return [str(s.query) for s in found]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _chunks(result: duckdb.DuckDBPyConnection) -> Iterator[list[tuple[Any, ...]]]:
    while True:
        chunk = result.fetchmany(_CHUNK)
        if not chunk:
            return
        yield chunk


def _print_result(result: duckdb.DuckDBPyConnection, fmt: str, max_rows: int | None) -> None:
    description = result.description
    if description is None:  # a statement without a result (SET, PRAGMA ...)
        print("(ok)")
        return
    columns = [d[0] for d in description]
    json_columns = [str(d[1]) == "JSON" for d in description]
    if fmt == "ndjson":
        for chunk in _chunks(result):
            for line in render_json_rows(columns, json_columns, chunk):
                print(line)
        return
    cap = max_rows if max_rows is not None else (TABLE_MAX_ROWS if fmt == "table" else 0)
    rows = result.fetchmany(cap) if cap else result.fetchall()
    left_out = sum(len(c) for c in _chunks(result)) if cap else 0
    print(render(columns, rows, fmt, json_columns=json_columns))
    if left_out:
        print(table_note(len(rows), left_out), file=sys.stdout if fmt == "table" else sys.stderr)


def cmd_query(args: argparse.Namespace) -> int:
    statements = _statements(_sql_text(args))
    if len(statements) > 1 and args.format in ("json", "ndjson"):
        raise UsageError(
            f"duckspool query: error: --format {args.format} takes one statement, "
            f"got {len(statements)}; use table or csv, or run them one by one"
        )
    db = require_db(args)
    repo = with_wait(lambda: DuckDBTelemetryRepository(db, read_only=True), args.wait)
    with repo:
        cur = repo.cursor()
        try:
            for k, statement in enumerate(statements):
                if k:
                    print()
                try:
                    result = cur.execute(statement)
                    _print_result(result, args.format, args.max_rows)
                except duckdb.Error as exc:
                    where = f"statement {k + 1} of {len(statements)}: " if statements[1:] else ""
                    raise CliError(f"query failed: {where}{_first_line(exc)}") from None
        finally:
            cur.close()
    return 0
