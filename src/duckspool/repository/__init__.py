"""Where events are stored: the repository protocols and their implementations.

:class:`DuckDBTelemetryRepository` is the store; :class:`MemoryTelemetryRepository`
keeps events in a dict (tests, and code that wants the loader without a file).
Both satisfy :class:`TelemetryRepository` and :class:`LoadTarget`.
"""

from duckspool.repository._connection import DEFAULT_STORAGE_VERSION, cursor_on, open_database
from duckspool.repository._duckdb import DuckDBTelemetryRepository
from duckspool.repository._envelope import ENVELOPE, EnvelopeField
from duckspool.repository._export import EXPORT_COLUMNS, ExportResult, export_parquet
from duckspool.repository._manifest import (
    EXPORT_SCHEMA_VERSION,
    ExportFile,
    ExportManifest,
    read_manifests,
)
from duckspool.repository._memory import MemoryTelemetryRepository
from duckspool.repository._protocol import (
    Authority,
    BatchResult,
    Conflict,
    EventQuery,
    LoadBatch,
    LoadTarget,
    SaveResult,
    SegmentLines,
    SegmentLoad,
    StagedFile,
    TelemetryRepository,
)
from duckspool.repository._prune import PruneResult, prune_exported
from duckspool.repository._staging import StagedBatch

__all__ = [
    "DEFAULT_STORAGE_VERSION",
    "ENVELOPE",
    "EXPORT_COLUMNS",
    "EXPORT_SCHEMA_VERSION",
    "Authority",
    "BatchResult",
    "Conflict",
    "DuckDBTelemetryRepository",
    "EnvelopeField",
    "EventQuery",
    "ExportFile",
    "ExportManifest",
    "ExportResult",
    "LoadBatch",
    "LoadTarget",
    "MemoryTelemetryRepository",
    "PruneResult",
    "SaveResult",
    "SegmentLines",
    "SegmentLoad",
    "StagedBatch",
    "StagedFile",
    "TelemetryRepository",
    "cursor_on",
    "export_parquet",
    "open_database",
    "prune_exported",
    "read_manifests",
]
