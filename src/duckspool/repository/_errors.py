"""DuckDB's exceptions, translated into duckspool's in this one place.

DuckDB reports operating-system failures as ``IOException`` with the C
library's message and no ``errno`` attribute, so the errno is recovered here by
comparing against ``os.strerror`` of the codes that mean "our environment, not
the data"; nowhere else looks at a message.
"""

from __future__ import annotations

import errno
import os
import re

import duckdb

from duckspool.exceptions import DatabaseLocked, RepositoryError, StorageUnavailable

__all__ = ["ENVIRONMENTAL_ERRNOS", "is_environmental", "is_interrupt", "translate"]

ENVIRONMENTAL_ERRNOS = frozenset(
    {
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EROFS,
        errno.EACCES,
        errno.EPERM,
        errno.EFBIG,
        errno.ENOMEM,
        errno.EMFILE,
        errno.ENFILE,
    }
)
_STRERROR = {os.strerror(code): code for code in ENVIRONMENTAL_ERRNOS}
_LOCK = re.compile(r"could not set lock|conflicting lock", re.IGNORECASE)
_PID = re.compile(r"\(PID (\d+)\)")


def is_environmental(exc: BaseException) -> bool:
    """True for failures of our own disk, memory or permissions, which no segment caused."""
    if isinstance(exc, StorageUnavailable):
        return True
    if isinstance(exc, MemoryError):
        return True
    return isinstance(exc, OSError) and exc.errno in ENVIRONMENTAL_ERRNOS


def is_interrupt(exc: BaseException) -> bool:
    """True for DuckDB's answer to SIGINT during a query.

    DuckDB turns Ctrl-C into its own ``InterruptException`` or, from some calls, a
    plain ``RuntimeError("Query interrupted")``, never ``KeyboardInterrupt``.
    """
    if isinstance(exc, duckdb.InterruptException):
        return True
    return type(exc) is RuntimeError and str(exc) == "Query interrupted"


def translate(exc: duckdb.Error, doing: str, path: str) -> RepositoryError:
    """The duckspool exception for DuckDB's ``exc`` raised while ``doing`` on ``path``.

    Raises ``KeyboardInterrupt`` instead when ``exc`` is DuckDB's answer to Ctrl-C,
    so the caller gets the interrupt it asked for, not a failed query.
    """
    if is_interrupt(exc):
        raise KeyboardInterrupt from None
    text = str(exc)
    first = text.splitlines()[0] if text else type(exc).__name__
    if isinstance(exc, duckdb.IOException) and _LOCK.search(text):
        pid = _PID.search(text)
        return DatabaseLocked(path, f"held by PID {pid[1]}" if pid else first)
    if isinstance(exc, duckdb.OutOfMemoryException):
        return StorageUnavailable(f"{doing} {path}: DuckDB is out of memory: {first}", errno.ENOMEM)
    # I/O, permission and commit failures (a commit that cannot write its WAL is a
    # TransactionException) carry the operating system's message, never an errno.
    if isinstance(
        exc, (duckdb.IOException, duckdb.PermissionException, duckdb.TransactionException)
    ):
        for message, code in _STRERROR.items():
            if message in text:
                return StorageUnavailable(f"{doing} {path}: {first}", code)
    if doing == "query on":
        return RepositoryError(f"query failed: {first}")
    return RepositoryError(f"{doing} {path} failed: {first}")
