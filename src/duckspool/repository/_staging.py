"""Staging validated events as JSON lines in a temporary file for DuckDB to bulk-read.

The loader streams events through here one at a time, so a load of a million
events never holds a million model objects: each becomes one line on disk and
is garbage at once. DuckDB's ``read_json`` then parses the file in C++.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO

from duckspool.contracts import TelemetryEvent

__all__ = ["STAGED_COLUMNS", "StagedBatch"]

STAGED_COLUMNS = {
    "id": "UUID",
    "eventType": "VARCHAR",
    "sessionId": "VARCHAR",
    "userId": "VARCHAR",
    "productId": "VARCHAR",
    "correlationId": "VARCHAR",
    "timestamp": "TIMESTAMPTZ",
    "schemaVersion": "INTEGER",
    "payload": "JSON",
    "_n": "BIGINT",
}
"""Column types of a staged line: the wire form, plus ``_n``, the line number in its
segment (absent when the segment itself is read: its row order gives the number)."""


class StagedBatch:
    """A temporary JSON-lines file of validated events, deleted on ``close()``.

    Owner-only (0600): events carry user and session ids.
    """

    def __init__(self, directory: Path | None = None) -> None:
        fd, name = tempfile.mkstemp(prefix=".duckspool-stage-", suffix=".jsonl", dir=directory)
        self.path = Path(name)
        self._file: IO[bytes] = os.fdopen(fd, "wb", buffering=1 << 20)
        self.rows = 0

    def add(self, event: TelemetryEvent) -> None:
        """Stage one event; raises ``TypeError`` if its payload cannot be stored as JSON."""
        self.rows += 1
        staged = b'%s,"_n":%d}\n' % (event.to_json_line()[:-1], self.rows)
        self._file.write(staged)

    def finish(self) -> None:
        """Flush the file so DuckDB sees every staged line."""
        self._file.flush()

    def close(self) -> None:
        """Close and delete the file (idempotent)."""
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> StagedBatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
