"""duckspool: durable product telemetry for Python services.

Typed events (:class:`TelemetryEvent`) are emitted fire-and-forget into a local,
rotating spool (:class:`Emitter`, :func:`emit`); a scheduled :class:`Loader`
validates, deduplicates and bulk-loads them into the DuckDB table
``telemetry_events``, which anyone can query with SQL.
"""

from duckspool._defaults import default_db_path, default_spool_dir
from duckspool._version import __version__
from duckspool.contracts import (
    CURRENT_SCHEMA_VERSION,
    NAMESPACES,
    LineRejected,
    TelemetryContext,
    TelemetryEvent,
    current_context,
    make_event,
    parse_line,
    register_schema_version,
    telemetry_context,
    uuid7,
)
from duckspool.exceptions import (
    ConfigurationError,
    DatabaseLocked,
    DatabaseTooNew,
    DuckspoolError,
    MigrationChecksumMismatch,
    MigrationError,
    RepositoryError,
)
from duckspool.loader import (
    Loader,
    LoadReport,
    add_loader_job,
    run_loader_forever,
    start_background_loader,
)
from duckspool.repository import (
    DuckDBTelemetryRepository,
    EventQuery,
    LoadTarget,
    MemoryTelemetryRepository,
    SaveResult,
    TelemetryRepository,
)
from duckspool.spool import (
    DropReason,
    Emitter,
    EmitterStats,
    configure,
    emit,
    get_emitter,
    recover,
    shutdown,
)

__all__ = [
    "CURRENT_SCHEMA_VERSION",
    "NAMESPACES",
    "ConfigurationError",
    "DatabaseLocked",
    "DatabaseTooNew",
    "DropReason",
    "DuckDBTelemetryRepository",
    "DuckspoolError",
    "Emitter",
    "EmitterStats",
    "EventQuery",
    "LineRejected",
    "LoadReport",
    "LoadTarget",
    "Loader",
    "MemoryTelemetryRepository",
    "MigrationChecksumMismatch",
    "MigrationError",
    "RepositoryError",
    "SaveResult",
    "TelemetryContext",
    "TelemetryEvent",
    "TelemetryRepository",
    "__version__",
    "add_loader_job",
    "configure",
    "current_context",
    "default_db_path",
    "default_spool_dir",
    "emit",
    "get_emitter",
    "make_event",
    "parse_line",
    "recover",
    "register_schema_version",
    "run_loader_forever",
    "shutdown",
    "start_background_loader",
    "telemetry_context",
    "uuid7",
]
