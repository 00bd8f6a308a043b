"""Opening a DuckDB file with the settings duckspool relies on, and naming its failures."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from duckspool.repository._errors import translate

__all__ = [
    "DEFAULT_STORAGE_VERSION",
    "ROW_GROUP_ROWS",
    "catalog_name",
    "cursor_on",
    "open_database",
    "owner_only",
]

DEFAULT_STORAGE_VERSION = "v1.1.0"
"""Storage format of the files duckspool creates: readable by every DuckDB from 1.0 on.

DuckDB 2.x writes a format DuckDB 1.x cannot open by default; analysts' tools
lag behind libraries, so we write the older format (docs/analytics.md).
"""


ROW_GROUP_ROWS = 16_384
"""Rows per row group in the files duckspool opens for writing (DuckDB's default: 122,880).

DuckDB writes an insert's row groups in parallel only when each of the
source's batches fills one; a loader batch (~200k rows less its duplicates)
fills none of the default size, so the whole insert was written on one core.
At this size it is written on both (docs/performance.md).
Files written before keep their row groups; DuckDB reads any mix, and so does
every other reader (a row group's size is not part of the format's contract).
"""

_RESERVED_CATALOGS = frozenset({"memory", "system", "temp", "main"})


def open_database(
    path: str | Path,
    *,
    read_only: bool = False,
    storage_version: str = DEFAULT_STORAGE_VERSION,
    memory_limit: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """Connect to ``path`` (``:memory:`` works too).

    A file is attached to an in-memory instance (so its row groups can be
    :data:`ROW_GROUP_ROWS` long) under the catalog name ``duckdb.connect`` would
    give it (the file's stem), and made the connection's default; a cursor of
    the returned connection must be made with :func:`cursor_on`. As with
    ``duckdb.connect``, connections to one file in one process share an
    instance (so they may be open at once, with the same ``read_only`` and
    settings), and spilled data goes to ``<path>.tmp``. ``storage_version`` is
    the format of a file this creates; an existing file keeps its own.

    Raises :class:`DatabaseLocked` when another process holds the file and
    :class:`RepositoryError` for every other failure to open it.
    """
    target = str(path)
    config: dict[str, str | bool | int | float | list[str]] = {}
    if memory_limit is not None:
        config["memory_limit"] = memory_limit
    if target == ":memory:":
        try:
            con = duckdb.connect(target, config=config)
        except duckdb.Error as exc:
            raise translate(exc, "cannot open database", target) from None
        _utc_session(con)
        return con
    # One spelling of the file for everything below: relative paths, ./ and symlinks to
    # one file share one instance, one catalog name and one spill directory.
    file = Path(target).resolve()
    options = ["READ_ONLY"] if read_only else [f"ROW_GROUP_SIZE {ROW_GROUP_ROWS}"]
    if not read_only:
        file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not _holds_data(file):
            # Only a new file: an existing one keeps its format (DuckDB would upgrade
            # an older one, and refuses to lower a newer one).
            options.append(f"STORAGE_VERSION {_literal(storage_version)}")
    config["temp_directory"] = f"{file}.tmp"
    alias = _identifier(catalog_name(file))
    # A named in-memory instance is shared by every connection to the same name in this
    # process and ends with the last one, as duckdb.connect(path) shares a file's.
    key = hashlib.sha256(f"{file}|{read_only}".encode()).hexdigest()[:24]
    try:
        con = duckdb.connect(f":memory:duckspool-{key}", config=config)
    except duckdb.Error as exc:
        raise translate(exc, "cannot open database", target) from None
    try:
        con.execute(f"ATTACH IF NOT EXISTS {_literal(str(file))} AS {alias} ({', '.join(options)})")
        con.execute(f"USE {alias}")
    except duckdb.Error as exc:
        con.close()
        raise translate(exc, "cannot open database", target) from None
    _utc_session(con)
    if not read_only:
        owner_only(file)
    return con


def catalog_name(path: str | Path) -> str:
    """The catalog :func:`open_database` attaches ``path`` as (``path`` resolved).

    The file's name up to its first dot (leading dots dropped), as
    ``duckdb.connect`` names it; ``<name>_db`` for a name DuckDB reserves (also
    ``memory``, the instance's own catalog, which ``duckdb.connect`` need not
    avoid), ``duckspool`` for an empty one.
    """
    stem = Path(path).name.lstrip(".").split(".", maxsplit=1)[0]
    if not stem:
        return "duckspool"
    return f"{stem}_db" if stem.lower() in _RESERVED_CATALOGS else stem


def cursor_on(con: duckdb.DuckDBPyConnection, path: str | Path) -> duckdb.DuckDBPyConnection:
    """A new cursor of ``con`` (:func:`open_database` of ``path``) on that database.

    A DuckDB cursor is a new connection to the instance, whose default catalog
    is the instance's own (``memory``), not the attached file. Runs nothing on
    ``con`` itself, so threads may call it at once.
    """
    cur = con.cursor()
    if str(path) != ":memory:":
        cur.execute(f"USE {_identifier(catalog_name(Path(path).resolve()))}")
    return cur


def _holds_data(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False


def _literal(text: str) -> str:
    """``text`` as a SQL string literal (ATTACH and its options take no parameters)."""
    return "'" + text.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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
