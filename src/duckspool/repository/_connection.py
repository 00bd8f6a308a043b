"""Opening a DuckDB file with the settings duckspool relies on, and naming its failures."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from duckspool.exceptions import DatabaseLocked, RepositoryError

__all__ = ["DEFAULT_STORAGE_VERSION", "open_database"]

DEFAULT_STORAGE_VERSION = "v1.1.0"
"""Storage format duckspool writes: readable by DuckDB 0.10, every 1.x and 2.x CLI.

DuckDB 2.x writes a format DuckDB 1.x cannot open by default; analysts' tools
lag behind libraries, so we write the older format (docs/analytics.md).
"""

_LOCK_HINTS = ("could not set lock", "conflicting lock")
_PID = re.compile(r"\(PID (\d+)\)")


def open_database(
    path: str | Path,
    *,
    read_only: bool = False,
    storage_version: str = DEFAULT_STORAGE_VERSION,
    memory_limit: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """Connect to ``path`` (``:memory:`` works too).

    Raises :class:`DatabaseLocked` when another process holds the file and
    :class:`RepositoryError` for every other failure to open it.
    """
    target = str(path)
    # No TimeZone setting: it needs the ICU extension, which DuckDB may have to
    # download. Without ICU, TIMESTAMPTZ values are read and written in UTC.
    config: dict[str, str | bool | int | float | list[str]] = {}
    if not read_only:
        config["storage_compatibility_version"] = storage_version
    if memory_limit is not None:
        config["memory_limit"] = memory_limit
    if target != ":memory:" and not read_only:
        Path(target).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        return duckdb.connect(target, read_only=read_only, config=config)
    except duckdb.Error as exc:
        text = str(exc)
        if any(hint in text.lower() for hint in _LOCK_HINTS):
            pid = _PID.search(text)
            detail = f"held by PID {pid[1]}" if pid else text.splitlines()[0]
            raise DatabaseLocked(target, detail) from None
        raise RepositoryError(f"cannot open database {target}: {text.splitlines()[0]}") from None
