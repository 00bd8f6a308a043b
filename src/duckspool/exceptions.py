"""Exceptions raised by duckspool.

Everything duckspool raises on purpose derives from :class:`DuckspoolError`, so
callers can catch one class. ``emit()`` raises nothing at all: its failures are
counted, never raised.

::

    DuckspoolError
    ├── ConfigurationError (also ValueError)   invalid options passed by the caller
    ├── InvalidEvent (also ValueError)         make_event() was given what the contract refuses
    ├── LineRejected                           a spool line breaks the envelope contract
    ├── SpoolNotFound (also FileNotFoundError) a reader was pointed at a spool that is not there
    ├── MigrationError                         the database schema cannot be brought up to date
    │   ├── MigrationChecksumMismatch          an applied migration file was edited afterwards
    │   └── DatabaseTooNew                     a newer duckspool migrated this database
    └── RepositoryError                        the DuckDB store failed
        ├── DatabaseLocked                     another process holds the database file
        └── StorageUnavailable                 our disk, memory or permissions failed (retry)

DuckDB's own exceptions are translated in one place,
``duckspool.repository._errors.translate``; no public function lets a foreign
exception type escape (``OSError`` aside, which keeps its ``errno``).
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "DatabaseLocked",
    "DatabaseTooNew",
    "DuckspoolError",
    "InvalidEvent",
    "LineRejected",
    "MigrationChecksumMismatch",
    "MigrationError",
    "RepositoryError",
    "SpoolNotFound",
    "StorageUnavailable",
]


class DuckspoolError(Exception):
    """Base class of every error duckspool raises on purpose."""


class ConfigurationError(DuckspoolError, ValueError):
    """An option has a value duckspool cannot work with."""


class InvalidEvent(DuckspoolError, ValueError):
    """``make_event()`` cannot build an event from what it was given.

    ``event_type`` is the type asked for (``repr``-safe, possibly not a string);
    ``detail`` names the offending field and why, e.g.
    ``sessionId: Field required (no session id given or in telemetry_context)``.
    """

    def __init__(self, event_type: object, detail: str) -> None:
        super().__init__(f"cannot build event {event_type!r}: {detail}")
        self.event_type = event_type
        self.detail = detail


class LineRejected(DuckspoolError):
    """A spool line is not a valid event.

    ``reason`` is a stable code (``invalid_json``, ``not_an_object``,
    ``invalid_event``, ``unsupported_schema_version``, ``number_out_of_range``);
    ``detail`` is for humans and names the offending field path where there is one.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class SpoolNotFound(DuckspoolError, FileNotFoundError):
    """A spool directory a reader needs does not exist; only the emitter and migrate create.

    ``path`` is where it looked (absolute, so the working directory is part of it).
    """

    def __init__(self, path: str, what: str = "spool directory") -> None:
        super().__init__(f"{what} {path} does not exist (nothing was created)")
        self.path = path


class MigrationError(DuckspoolError):
    """The database schema cannot be brought to this release's version."""


class MigrationChecksumMismatch(MigrationError):
    """A migration recorded as applied no longer matches its file."""


class DatabaseTooNew(MigrationError):
    """The database carries migrations this release does not know."""


class RepositoryError(DuckspoolError):
    """The telemetry store failed."""


class DatabaseLocked(RepositoryError):
    """Another process holds the DuckDB file; ``path`` names it."""

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(
            f"database {path} is locked by another process ({detail}); "
            "close that process (or its write connection) and retry; "
            "loads retry on their own at the next run"
        )
        self.path = path
        self.detail = detail


class StorageUnavailable(RepositoryError):
    """The store's disk, memory or permissions failed: no segment is to blame.

    The loader retries at its next pass and never counts this against a segment.
    ``errno`` is the operating system's code when one is known.
    """

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno
