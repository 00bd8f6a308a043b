"""The event contract: the envelope, its naming rules, schema versions and line parsing.

Knows nothing of files or DuckDB.
"""

from duckspool.contracts._context import (
    TelemetryContext,
    current_context,
    make_event,
    otel_trace_id,
    telemetry_context,
)
from duckspool.contracts._event import ID_MAX_LENGTH, TelemetryEvent
from duckspool.contracts._naming import (
    EVENT_TYPE_MAX_LENGTH,
    NAMESPACES,
    check_event_type,
    namespace_of,
)
from duckspool.contracts._parse import (
    INVALID_EVENT,
    INVALID_JSON,
    NOT_AN_OBJECT,
    NUMBER_OUT_OF_RANGE,
    UNSUPPORTED_SCHEMA_VERSION,
    describe_validation_error,
    parse_line,
)
from duckspool.contracts._uuid7 import uuid7, uuid7_time_ms
from duckspool.contracts._versions import (
    CURRENT_SCHEMA_VERSION,
    known_schema_versions,
    register_schema_version,
    unregister_schema_version,
)
from duckspool.exceptions import LineRejected

__all__ = [
    "CURRENT_SCHEMA_VERSION",
    "EVENT_TYPE_MAX_LENGTH",
    "ID_MAX_LENGTH",
    "INVALID_EVENT",
    "INVALID_JSON",
    "NAMESPACES",
    "NOT_AN_OBJECT",
    "NUMBER_OUT_OF_RANGE",
    "UNSUPPORTED_SCHEMA_VERSION",
    "LineRejected",
    "TelemetryContext",
    "TelemetryEvent",
    "check_event_type",
    "current_context",
    "describe_validation_error",
    "known_schema_versions",
    "make_event",
    "namespace_of",
    "otel_trace_id",
    "parse_line",
    "register_schema_version",
    "telemetry_context",
    "unregister_schema_version",
    "uuid7",
    "uuid7_time_ms",
]
