"""Applies the numbered ``.sql`` files shipped in this package, each in its own transaction.

A migration and the row recording it commit together, so a crash leaves either
both or neither. ``pending()`` and ``applied()`` only read.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from importlib import resources

import duckdb

from duckspool.exceptions import DatabaseTooNew, MigrationChecksumMismatch, MigrationError

__all__ = ["AppliedMigration", "Migration", "applied", "available", "migrate", "pending"]

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       VARCHAR NOT NULL,
    checksum   VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered migration file shipped with this release."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AppliedMigration:
    """A migration as recorded in the database's ``schema_migrations`` table."""

    version: int
    name: str
    checksum: str
    applied_at: datetime


def available() -> list[Migration]:
    """This release's migrations, in order."""
    found = []
    for entry in resources.files("duckspool.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    return found


def applied(con: duckdb.DuckDBPyConnection) -> list[AppliedMigration]:
    """What the database says has been applied (empty for a new database)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
    ).fetchone()
    if not exists or not exists[0]:
        return []
    rows = con.execute(
        "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version"
    ).fetchall()
    return [AppliedMigration(*row) for row in rows]


def _check(done: list[AppliedMigration], known: list[Migration]) -> None:
    by_version = {m.version: m for m in known}
    for record in done:
        migration = by_version.get(record.version)
        if migration is None:
            raise DatabaseTooNew(
                f"the database has migration {record.version:04d}_{record.name}, which this "
                "release of duckspool does not know: it was migrated by a newer release. "
                "Upgrade duckspool to use it; nothing was changed."
            )
        if migration.checksum != record.checksum:
            raise MigrationChecksumMismatch(
                f"migration {record.version:04d}_{record.name} was applied from a file whose "
                "contents differ from this release's: the schema may not be what this release "
                "expects. Restore the original migration file; nothing was changed."
            )


def pending(con: duckdb.DuckDBPyConnection) -> list[Migration]:
    """Migrations not yet applied; raises if the database is newer or was migrated differently."""
    known = available()
    done = applied(con)
    _check(done, known)
    versions = {r.version for r in done}
    return [m for m in known if m.version not in versions]


def migrate(con: duckdb.DuckDBPyConnection) -> list[Migration]:
    """Apply every pending migration in order and return the ones applied now."""
    todo = pending(con)
    if not todo:
        return []
    con.execute(_LEDGER_DDL)
    for migration in todo:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(migration.sql)
            con.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
                [migration.version, migration.name, migration.checksum],
            )
            con.execute("COMMIT")
        except duckdb.Error as exc:
            con.execute("ROLLBACK")
            raise MigrationError(
                f"migration {migration.version:04d}_{migration.name} failed: {exc}"
            ) from exc
        log.info("applied migration %04d_%s", migration.version, migration.name)
    return todo
