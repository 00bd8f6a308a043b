"""The manifest each export run leaves beside its Parquet files, and checking files against it.

``DIR/_manifests/run-<stamp>-<window>.json`` says which files one run wrote, how
many rows each holds, and the id / time ranges they cover. Spark, Trino and
Hive skip paths that start with ``_``, so the manifests never show up as data.
A manifest is written (atomically) only after every file of its run is
complete, so a manifest names exactly the rows that are in the export: that is
what ``prune`` relies on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from duckspool.exceptions import RepositoryError
from duckspool.spool._segment import fsync_dir

__all__ = [
    "EXPORT_SCHEMA_VERSION",
    "MANIFEST_DIR",
    "ExportFile",
    "ExportManifest",
    "read_manifests",
    "write_manifest",
]

EXPORT_SCHEMA_VERSION = 1
"""Version of the export's column contract (docs/export.md); bumped on any change to it."""

MANIFEST_DIR = "_manifests"
_FILE_MODE = 0o600


@dataclass(frozen=True, slots=True)
class ExportFile:
    """One Parquet file of a run: its path relative to the export root and what it holds."""

    path: str
    rows: int
    bytes: int
    min_id: str
    max_id: str
    min_occurred_at: str
    max_occurred_at: str


@dataclass(frozen=True, slots=True)
class ExportManifest:
    """What one export run wrote.

    ``loaded_after``/``loaded_until`` bound the rows' ``loaded_at`` (exclusive /
    inclusive); ``since``/``until`` the window of ``occurred_at`` the target was
    asked for (None: unbounded). Times are ISO-8601 UTC strings.
    """

    run: str
    export_schema_version: int
    event_schema_versions: tuple[int, ...]
    since: str | None
    until: str | None
    loaded_after: str | None
    loaded_until: str
    rows: int
    min_id: str | None
    max_id: str | None
    min_occurred_at: str | None
    max_occurred_at: str | None
    files: tuple[ExportFile, ...]
    written_at: str

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2)

    @classmethod
    def from_json(cls, data: bytes, source: Path) -> ExportManifest:
        """Parse a manifest; raises :class:`RepositoryError` naming ``source`` if it is not one."""
        try:
            raw: dict[str, Any] = orjson.loads(data)
            files = tuple(ExportFile(**f) for f in raw.pop("files"))
            versions = tuple(int(v) for v in raw.pop("event_schema_versions"))
            return cls(files=files, event_schema_versions=versions, **raw)
        except (orjson.JSONDecodeError, TypeError, KeyError, AttributeError, ValueError) as exc:
            raise RepositoryError(f"export manifest {source} is unreadable: {exc}") from None


def iso(value: datetime | None) -> str | None:
    """ISO-8601 form of an aware datetime, or None."""
    return value.isoformat() if value is not None else None


def manifest_path(root: Path, run: str) -> Path:
    return root / MANIFEST_DIR / f"{run}.json"


def write_manifest(root: Path, manifest: ExportManifest) -> Path:
    """Write ``manifest`` under ``root/_manifests`` atomically (temp, fsync, rename, fsync dir)."""
    directory = root / MANIFEST_DIR
    make_private_dir(directory)
    final = manifest_path(root, manifest.run)
    temp = directory / f".{final.name}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, _FILE_MODE)
    try:
        os.fchmod(fd, _FILE_MODE)
        view = memoryview(manifest.to_json())
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(temp, final)
    fsync_dir(directory)
    return final


def read_manifests(root: Path) -> Iterator[tuple[Path, ExportManifest]]:
    """Every manifest under ``root``, oldest run first."""
    directory = root / MANIFEST_DIR
    if not directory.is_dir():
        return
    for path in sorted(directory.glob("run-*.json")):
        yield path, ExportManifest.from_json(path.read_bytes(), path)


def make_private_dir(path: Path) -> None:
    """Create ``path`` and missing parents owner-only (0700); existing ones are left alone."""
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:
            continue
        os.chmod(directory, 0o700)  # mkdir's mode is cut by the umask
