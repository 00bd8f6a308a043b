"""Where duckspool keeps things when nobody says: ./var/spool and ./var/telemetry.duckdb."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DB_ENV", "SPOOL_ENV", "default_db_path", "default_spool_dir"]

SPOOL_ENV = "DUCKSPOOL_SPOOL_DIR"
DB_ENV = "DUCKSPOOL_DB"


def default_spool_dir() -> Path:
    """``$DUCKSPOOL_SPOOL_DIR``, else ``./var/spool``; ``~`` is expanded."""
    return Path(os.environ.get(SPOOL_ENV) or "var/spool").expanduser()


def default_db_path() -> Path:
    """``$DUCKSPOOL_DB``, else ``./var/telemetry.duckdb``; ``~`` is expanded."""
    return Path(os.environ.get(DB_ENV) or "var/telemetry.duckdb").expanduser()
