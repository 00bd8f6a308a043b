"""The spool directory's layout and segment names.

::

    spool/
      active/      segments being written, one per emitting process (locked while open)
      sealed/      complete segments, ready for the loader (any *.jsonl name loads)
      quarantine/  rejected lines with their reasons (written by the loader)
      loaded/      loaded segments, kept only when the loader is asked to keep them
      failed/      segments the loader gave up on after repeated failures, with a reason
      tmp/         the loader's staging files
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = [
    "SegmentName",
    "SpoolLayout",
    "new_segment_name",
    "parse_segment_name",
    "sealed_segment_name",
]

SEGMENT_SUFFIX = ".jsonl"
_HOST_UNSAFE = re.compile(r"[^A-Za-z0-9.-]")
_NAME = re.compile(
    r"^(\d{8}T\d{12}Z)_([A-Za-z0-9.-]+)_(\d+)_(\d{6,})(?:\.crc-([0-9a-f]{8}))?\.jsonl$"
)


@dataclass(frozen=True, slots=True)
class SpoolLayout:
    """Paths of one spool directory; ``ensure()`` creates them owner-only."""

    root: Path

    @property
    def active(self) -> Path:
        return self.root / "active"

    @property
    def sealed(self) -> Path:
        return self.root / "sealed"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def loaded(self) -> Path:
        return self.root / "loaded"

    @property
    def failed(self) -> Path:
        return self.root / "failed"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    def ensure(self, *dirs: Path, mode: int = 0o700) -> None:
        """Create ``dirs`` (and the root) if missing; raises OSError if it cannot."""
        if not self.root.parent.exists():
            self.root.parent.mkdir(parents=True, exist_ok=True)
        for path in (self.root, *dirs):
            try:
                path.mkdir(mode=mode)
            except FileExistsError:
                if not path.is_dir():
                    raise NotADirectoryError(f"{path} exists and is not a directory") from None
            else:
                # mkdir's mode is cut by the umask; telemetry holds user ids, so say it exactly.
                os.chmod(path, mode)

    def strangers(self) -> list[str]:
        """Names in ``sealed/`` the loader will never read (not ``*.jsonl``), sorted.

        A ``notes.txt`` or a ``*.jsonl.gz`` dropped there by hand is not an error,
        but nobody should believe it was loaded: ``stats`` and ``load`` name them.
        """
        try:
            names = [p.name for p in self.sealed.iterdir()]
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(n for n in names if not n.endswith(SEGMENT_SUFFIX))


@dataclass(frozen=True, slots=True)
class SegmentName:
    """What a segment's file name says: who wrote it, when it started, and its sequence."""

    started_at: datetime
    host: str
    pid: int
    sequence: int
    checksum: int | None = None
    """The zlib CRC-32 of the whole file the writer sealed (its provenance), if named."""


def _host() -> str:
    return _HOST_UNSAFE.sub("-", socket.gethostname())[:64] or "host"


def new_segment_name(sequence: int, now: datetime | None = None) -> str:
    """``<UTC start>_<host>_<pid>_<sequence>.jsonl``: sorts by start time, readable by eye."""
    started = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{started:%Y%m%dT%H%M%S%f}Z_{_host()}_{os.getpid()}_{sequence:06d}{SEGMENT_SUFFIX}"


def sealed_segment_name(name: str, checksum: int) -> str:
    """``name`` with the CRC-32 of the sealed file's bytes: ``..._<sequence>.crc-<8 hex>.jsonl``.

    The emitter's writer names a segment so when it seals one it wrote whole
    (see docs/loader.md, "Provenance"); the loader recomputes the checksum.
    """
    return f"{name.removesuffix(SEGMENT_SUFFIX)}.crc-{checksum & 0xFFFFFFFF:08x}{SEGMENT_SUFFIX}"


def parse_segment_name(name: str) -> SegmentName | None:
    """The parts of a name made by :func:`new_segment_name` (or :func:`sealed_segment_name`).

    None for any other name.
    """
    match = _NAME.match(name)
    if not match:
        return None
    started = datetime.strptime(match[1], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
    checksum = int(match[5], 16) if match[5] else None
    return SegmentName(started, match[2], int(match[3]), int(match[4]), checksum)
