"""Quarantine records: every rejected line, with its reason, kept byte for byte.

One file per segment, ``quarantine/<segment stem>.<key prefix>.jsonl``, written
under a temporary name and renamed into place before the batch commits. The
name depends only on the segment's content, so a load retried after a crash
rewrites the same file instead of adding a second copy.
"""

from __future__ import annotations

import base64
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from duckspool.loader._reader import copy_range

__all__ = [
    "ID_CONFLICT",
    "OVERSIZE",
    "TRUNCATED",
    "UNSTORABLE",
    "QuarantineRecord",
    "QuarantineWriter",
    "iter_records",
    "raw_bytes",
]

TRUNCATED = "truncated"
"""The last line of a segment has no newline and does not parse: a torn write."""
OVERSIZE = "oversize"
"""The line is longer than the loader's ``max_line_bytes``; its bytes are in ``rawFile``."""
ID_CONFLICT = "id_conflict"
"""Same id as an event already kept, different content: a collision, not a redelivery."""
UNSTORABLE = "unstorable"
"""Valid by the contract but not storable (e.g. a payload integer beyond 64 bits)."""


@dataclass(frozen=True, slots=True)
class QuarantineRecord:
    """One quarantined line as read back from a quarantine file."""

    file: Path
    segment: str
    line: int
    reason: str
    detail: str
    fields: dict[str, Any]


def raw_bytes(record: QuarantineRecord) -> bytes:
    """The quarantined line's exact bytes."""
    if "rawFile" in record.fields:
        return (record.file.parent / str(record.fields["rawFile"])).read_bytes()
    if "rawBase64" in record.fields:
        return base64.b64decode(str(record.fields["rawBase64"]))
    return str(record.fields.get("raw", "")).encode()


class QuarantineWriter:
    """Collects the rejected lines of one segment; nothing is visible until ``publish()``."""

    def __init__(
        self,
        directory: Path,
        segment: Path,
        key: str,
        file_mode: int = 0o600,
        *,
        adopt: Counter[str] | None = None,
    ) -> None:
        """``adopt``: continue the unpublished records another process wrote (their counts)."""
        self.directory = directory
        self.segment = segment
        self.key = key
        self.file_mode = file_mode
        self.reasons: Counter[str] = Counter(adopt or {})
        self.count = sum(self.reasons.values())
        self._append = adopt is not None
        stem = segment.name.removesuffix(".jsonl")
        self.name = f"{stem}.{key[:16]}"
        self.path = directory / f"{self.name}.jsonl"
        self._tmp = directory / f".{self.name}.partial"
        self._sidecars: list[Path] = []
        self._file: IO[bytes] | None = None

    def _open(self) -> IO[bytes]:
        if self._file is None:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            mode = os.O_APPEND if self._append else os.O_TRUNC
            fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | mode | os.O_CLOEXEC, self.file_mode)
            self._append = True  # reopening must never cut what is already written
            self._file = os.fdopen(fd, "wb")
        return self._file

    def add(
        self,
        line: int,
        reason: str,
        detail: str,
        raw: bytes | None,
        offset: int = 0,
        length: int = 0,
        **extra: Any,
    ) -> None:
        """Record a rejected line; ``raw`` None means copy ``length`` bytes at ``offset``."""
        record: dict[str, Any] = {
            "segment": self.segment.name,
            "segmentKey": self.key,
            "line": line,
            "reason": reason,
            "detail": detail,
            "quarantinedAt": datetime.now(UTC),
            **extra,
        }
        if raw is None:
            sidecar = self.directory / f"{self.name}.line{line}.raw"
            fd = os.open(
                sidecar, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, self.file_mode
            )
            with os.fdopen(fd, "wb") as fh:
                copy_range(self.segment, offset, length, fh)
            self._sidecars.append(sidecar)
            record["rawFile"] = sidecar.name
            record["rawLength"] = length
        else:
            try:
                record["raw"] = raw.decode("utf-8")
            except UnicodeDecodeError:
                record["rawBase64"] = base64.b64encode(raw).decode("ascii")
        self._open().write(orjson.dumps(record, option=orjson.OPT_UTC_Z) + b"\n")
        self.count += 1
        self.reasons[reason] += 1

    def close(self) -> None:
        """Flush and close the unpublished records, leaving them for ``publish``."""
        file, self._file = self._file, None
        if file is not None:
            file.close()

    def publish(self, *, durable: bool = True) -> None:
        """Make the records visible (fsync, then atomic rename). No-op when there are none."""
        if not self.count:
            return
        self._open()
        assert self._file is not None
        self._file.flush()
        if durable:
            os.fsync(self._file.fileno())
        self.close()
        os.rename(self._tmp, self.path)

    def discard(self) -> None:
        """Forget unpublished records (the batch did not commit). Never raises."""
        try:
            self.close()
        except OSError:  # a full disk refuses even the final flush
            pass
        self._file = None
        try:
            self._tmp.unlink(missing_ok=True)
        except OSError:
            pass


def iter_records(directory: Path) -> Iterator[QuarantineRecord]:
    """Every record in the published quarantine files of ``directory``."""
    if not directory.is_dir():
        return
    for path in sorted(directory.glob("*.jsonl")):
        with path.open("rb") as fh:
            for raw in fh:
                if not raw.strip():
                    continue
                fields = orjson.loads(raw)
                yield QuarantineRecord(
                    file=path,
                    segment=fields.get("segment", ""),
                    line=int(fields.get("line", 0)),
                    reason=fields.get("reason", ""),
                    detail=fields.get("detail", ""),
                    fields=fields,
                )
