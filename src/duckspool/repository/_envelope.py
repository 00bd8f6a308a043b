"""The one map of the envelope: wire name, column name, DuckDB type, Python attribute.

Everything that moves events between their wire form and the table (staging,
the bulk path, inserts, row-to-event, export) derives its column lists from
:data:`ENVELOPE`; ``tests/test_envelope_map.py`` checks it against
``TelemetryEvent.model_fields`` and ``to_json_line()``, so a field added to the
model without a column here fails the suite instead of being dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import Any

import orjson

from duckspool.contracts import TelemetryEvent

__all__ = [
    "ENVELOPE",
    "EnvelopeField",
    "column_list",
    "row_to_event",
    "wire_columns",
]


@dataclass(frozen=True, slots=True)
class EnvelopeField:
    """One envelope field: its JSON key, its table column, the column's type, its attribute."""

    wire: str
    column: str
    duckdb_type: str
    attribute: str


ENVELOPE: tuple[EnvelopeField, ...] = (
    EnvelopeField("id", "id", "UUID", "id"),
    EnvelopeField("eventType", "event_type", "VARCHAR", "event_type"),
    EnvelopeField("sessionId", "session_id", "VARCHAR", "session_id"),
    EnvelopeField("userId", "user_id", "VARCHAR", "user_id"),
    EnvelopeField("productId", "product_id", "VARCHAR", "product_id"),
    EnvelopeField("correlationId", "correlation_id", "VARCHAR", "correlation_id"),
    EnvelopeField("timestamp", "occurred_at", "TIMESTAMPTZ", "timestamp"),
    EnvelopeField("schemaVersion", "schema_version", "INTEGER", "schema_version"),
    EnvelopeField("payload", "payload", "JSON", "payload"),
)
"""In wire order (the order ``to_json_line`` writes), which is also the table's order."""

BY_WIRE = {f.wire: f for f in ENVELOPE}


def column_list(prefix: str = "") -> str:
    """``id, event_type, ...`` (each led by ``prefix``, e.g. ``"t."``), in envelope order."""
    return ", ".join(prefix + f.column for f in ENVELOPE)


def wire_columns(extra: dict[str, str] | None = None) -> str:
    """A ``read_json`` ``columns`` struct literal body: ``'id': 'UUID', ...`` plus ``extra``."""
    pairs = [(f.wire, f.duckdb_type) for f in ENVELOPE] + list((extra or {}).items())
    return ", ".join(f"'{k}': '{v}'" for k, v in pairs)


def row_to_event(row: tuple[Any, ...]) -> TelemetryEvent:
    """An event from a row selected with :func:`column_list` (no re-validation)."""
    values = dict(zip((f.attribute for f in ENVELOPE), row, strict=True))
    values["timestamp"] = values["timestamp"].astimezone(UTC)
    values["payload"] = orjson.loads(values["payload"])
    # Rows were validated on the way in; model_construct skips re-validating them.
    return TelemetryEvent.model_construct(**values)
