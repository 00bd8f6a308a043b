"""Opening a DuckDB file with the settings duckspool relies on, and naming its failures."""

from __future__ import annotations

from pathlib import Path

import duckdb

from duckspool.repository._errors import translate

__all__ = ["DEFAULT_STORAGE_VERSION", "open_database", "owner_only"]

DEFAULT_STORAGE_VERSION = "v1.1.0"
"""Storage format duckspool writes: readable by DuckDB 0.10, every 1.x and 2.x CLI.

DuckDB 2.x writes a format DuckDB 1.x cannot open by default; analysts' tools
lag behind libraries, so we write the older format (docs/analytics.md).
"""


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
    config: dict[str, str | bool | int | float | list[str]] = {}
    if not read_only:
        config["storage_compatibility_version"] = storage_version
    if memory_limit is not None:
        config["memory_limit"] = memory_limit
    if target != ":memory:" and not read_only:
        Path(target).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        con = duckdb.connect(target, read_only=read_only, config=config)
    except duckdb.Error as exc:
        raise translate(exc, "cannot open database", target) from None
    _utc_session(con)
    if target != ":memory:" and not read_only:
        owner_only(Path(target))
    return con


def _utc_session(con: duckdb.DuckDBPyConnection) -> None:
    """Make the session's time zone UTC, so ``occurred_at::TIMESTAMP`` (the views) is UTC.

    With DuckDB's ICU extension loaded (bundled with recent wheels) the session
    follows the process's ``TZ``: a service in Chicago would group its days in
    Chicago time. Without ICU there is no TimeZone setting and casts are UTC already.
    """
    try:
        con.execute("SET TimeZone = 'UTC'")
    except duckdb.Error:
        pass  # no ICU: TIMESTAMPTZ is read and written in UTC anyway


def owner_only(path: Path) -> None:
    """Make the database file and its WAL owner-only (0600), as the spool is.

    DuckDB creates both with the process umask (usually 0644) and recreates the
    WAL after each checkpoint, so this runs after opening and after every write
    (changing the umask instead would touch every thread of a service). Events
    carry user ids; the file is made 0600 before any event is written to it.
    """
    for file in (path, path.with_name(path.name + ".wal")):
        try:
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)
        except FileNotFoundError:
            continue
        except PermissionError:
            pass  # not ours to change (a shared file); DuckDB opened it, that is enough
