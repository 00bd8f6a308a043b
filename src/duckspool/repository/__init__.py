"""Where events are stored: the repository protocol and its DuckDB implementation."""

from duckspool.repository._connection import DEFAULT_STORAGE_VERSION, open_database
from duckspool.repository._duckdb import (
    BatchResult,
    Conflict,
    DuckDBTelemetryRepository,
    SegmentLoad,
    StagedFile,
)
from duckspool.repository._export import EXPORT_COLUMNS, ExportResult, export_parquet
from duckspool.repository._manifest import (
    EXPORT_SCHEMA_VERSION,
    ExportFile,
    ExportManifest,
    read_manifests,
)
from duckspool.repository._protocol import EventQuery, SaveResult, TelemetryRepository
from duckspool.repository._prune import PruneResult, prune_exported
from duckspool.repository._staging import StagedBatch

__all__ = [
    "DEFAULT_STORAGE_VERSION",
    "EXPORT_COLUMNS",
    "EXPORT_SCHEMA_VERSION",
    "BatchResult",
    "Conflict",
    "DuckDBTelemetryRepository",
    "EventQuery",
    "ExportFile",
    "ExportManifest",
    "ExportResult",
    "PruneResult",
    "SaveResult",
    "SegmentLoad",
    "StagedBatch",
    "StagedFile",
    "TelemetryRepository",
    "export_parquet",
    "open_database",
    "prune_exported",
    "read_manifests",
]
