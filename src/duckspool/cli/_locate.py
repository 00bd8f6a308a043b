"""Where the CLI looks for the spool and the database, and who holds a busy database.

Commands that only read (``load``, ``stats``, ``query``, ``quarantine``) never
create a missing spool or database: they say what is missing, where they
looked (the working directory included) and where the path came from.
Only the emitter and ``duckspool migrate`` create.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from duckspool._defaults import DB_ENV, SPOOL_ENV, default_db_path, default_spool_dir
from duckspool.exceptions import DatabaseLocked

__all__ = [
    "BUSY_EXIT",
    "CliError",
    "busy_message",
    "holder_of",
    "require_db",
    "require_spool",
    "resolve_locations",
    "with_wait",
]

BUSY_EXIT = 75
"""EX_TEMPFAIL from sysexits.h: try again later (cron and CI can tell it from a failure)."""

_PID = re.compile(r"PID (\d+)")
T = TypeVar("T")


class CliError(Exception):
    """A failure to report as one line; ``code`` is the exit status (1, or 75 when busy)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def resolve_locations(args: argparse.Namespace) -> None:
    """Fill ``args.spool`` / ``args.db`` from the environment or the defaults, noting the source."""
    if getattr(args, "spool", "absent") is None:
        args.spool = default_spool_dir()
        args.spool_source = f"${SPOOL_ENV}" if os.environ.get(SPOOL_ENV) else "the default"
    elif hasattr(args, "spool"):
        args.spool_source = "--spool"
    if getattr(args, "db", "absent") is None:
        args.db = default_db_path()
        args.db_source = f"${DB_ENV}" if os.environ.get(DB_ENV) else "the default"
    elif hasattr(args, "db"):
        args.db_source = "--db"


def _where(path: Path, source: str) -> str:
    if path.is_absolute():
        return f"(from {source})"
    return f"(from {source}, relative to the working directory {Path.cwd()})"


def require_spool(args: argparse.Namespace) -> Path:
    """The spool directory, which must exist; raises CliError naming what is missing."""
    spool = Path(args.spool)
    source = getattr(args, "spool_source", "--spool")
    if not spool.exists():
        raise CliError(
            f"spool directory {spool} does not exist {_where(spool, source)}; "
            f"pass --spool or set ${SPOOL_ENV} (an emitter creates it on its first event)"
        )
    if not spool.is_dir():
        raise CliError(f"spool {spool} is not a directory {_where(spool, source)}")
    return spool


def require_db(args: argparse.Namespace) -> Path:
    """The database file, which must exist; raises CliError naming what is missing."""
    db = Path(args.db)
    source = getattr(args, "db_source", "--db")
    if not db.exists():
        raise CliError(
            f"database {db} does not exist {_where(db, source)}; pass --db or set ${DB_ENV}, "
            f"or create it with `duckspool migrate --db {db}`"
        )
    if db.is_dir():
        raise CliError(f"database {db} is a directory, not a DuckDB file {_where(db, source)}")
    return db


def holder_of(detail: str) -> str:
    """Who holds the database, from DuckDB's lock message and ``/proc/PID/cmdline``."""
    match = _PID.search(detail)
    if not match:
        return "another process"
    pid = int(match[1])
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return f"pid {pid}"
    argv = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
    words = [Path(a).name for a in argv]
    if any(w == "duckspool" or w.startswith("duckspool") for w in words):
        command = next((a for a in argv if a in ("run", "load", "demo", "migrate", "query")), None)
        if command == "run":
            return f"duckspool's own scheduled loader (`duckspool run`, pid {pid})"
        if command is not None:
            return f"`duckspool {command}` (pid {pid})"
        return f"a duckspool process (pid {pid})"
    shown = " ".join(" ".join(argv).split())  # one line, whatever the arguments hold
    shown = (shown[:77] + "...") if len(shown) > 80 else shown or "?"
    return f"pid {pid} ({shown})"


def busy_message(exc: DatabaseLocked, *, reader: bool) -> str:
    """The one line for a busy database: who holds it and what to do."""
    who = holder_of(exc.detail)
    if "duckspool" in who and "loader" in who:
        advice = "it holds the file only while a load runs"
    else:
        advice = "close that process (or its write connection)"
    if reader:
        advice += "; retry, or pass --wait SECONDS to wait for it"
    else:
        advice += "; the next load retries on its own"
    return f"database {exc.path} is busy: held by {who}; {advice}"


def with_wait(opener: Callable[[], T], wait: float) -> T:
    """``opener()``, retried while the database is locked, for up to ``wait`` seconds."""
    deadline = time.monotonic() + wait
    delay = 0.05
    while True:
        try:
            return opener()
        except DatabaseLocked:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 1.0)
