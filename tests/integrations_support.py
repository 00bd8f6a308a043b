"""Helpers shared by the framework integration tests (tests/test_integrations_*.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import duckspool
from duckspool import DuckDBTelemetryRepository, Loader

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"

COLUMNS = "event_type, user_id, session_id, correlation_id, product_id, payload"


@pytest.fixture
def default_spool(tmp_path: Path) -> Iterator[Path]:
    """The process-wide emitter pointed at a fresh spool for one test, then shut down."""
    spool = tmp_path / "spool"
    duckspool.configure(str(spool), flush_interval=0.01)
    try:
        yield spool
    finally:
        duckspool.shutdown()


def load_rows(spool: Path, db: Path) -> list[dict[str, Any]]:
    """Run the real Loader over ``spool`` into ``db`` and return every row, oldest first."""
    report = Loader(spool, db).run_once()
    assert report.ok, report.errors
    with DuckDBTelemetryRepository(db, read_only=True) as repo:
        names, rows = repo.fetch(
            f"SELECT {COLUMNS} FROM telemetry_events ORDER BY occurred_at, id"
        )
    out = [dict(zip(names, row, strict=True)) for row in rows]
    for row in out:
        if isinstance(row["payload"], str):
            import json

            row["payload"] = json.loads(row["payload"])
    return out
