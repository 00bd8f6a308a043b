"""Validating one segment into a staging file: the loader's per-line work.

Runs in the loader's process or in a worker process (it takes and returns only
plain data), so several segments can be validated at once while DuckDB loads
the previous batch. Reads in bounded blocks; a line longer than the limit is
never held in memory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from duckspool.contracts import (
    LineRejected,
    TelemetryEvent,
    canonical_line,
    content_hash,
    parse_line,
)
from duckspool.loader._quarantine import OVERSIZE, TRUNCATED, UNSTORABLE, QuarantineWriter
from duckspool.loader._reader import iter_lines, segment_key

__all__ = ["SegmentResult", "validate_segment"]

_validate_json = TelemetryEvent.__pydantic_validator__.validate_json
_CURRENT = TelemetryEvent.model_fields["schema_version"].default


@dataclass(frozen=True, slots=True)
class SegmentResult:
    """What validating one segment produced (plain data: it may cross processes)."""

    path: Path
    ordinal: int
    key: str = ""
    size: int = 0
    staged: Path | None = None
    staged_rows: int = 0
    lines: int = 0
    events: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    error: str | None = None


def validate_segment(
    path: Path, ordinal: int, staging_dir: Path, quarantine_dir: Path, max_line_bytes: int
) -> SegmentResult:
    """Validate every line of ``path``; stage the valid ones, quarantine the rest (unpublished).

    Never raises: a failure to read the segment comes back in ``error``.
    """
    staged = staging_dir / f".duckspool-stage-{os.getpid()}-{ordinal}.jsonl"
    quarantine: QuarantineWriter | None = None
    try:
        key, size = segment_key(path)
        quarantine = QuarantineWriter(quarantine_dir, path, key)
        lines, events = _stage(path, ordinal, staged, quarantine, max_line_bytes)
        quarantine.close()
    except Exception as exc:  # noqa: BLE001 - reported, and the segment retried later
        staged.unlink(missing_ok=True)
        if quarantine is not None:
            quarantine.discard()
        return SegmentResult(path, ordinal, error=f"{type(exc).__name__}: {exc}")
    if not events:
        staged.unlink(missing_ok=True)
    return SegmentResult(
        path,
        ordinal,
        key,
        size,
        staged if events else None,
        events,
        lines,
        events,
        dict(quarantine.reasons),
    )


def _stage(
    path: Path, ordinal: int, staged: Path, quarantine: QuarantineWriter, max_line: int
) -> tuple[int, int]:
    lines = events = 0
    out: list[bytes] = []
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as sink, path.open("rb") as fh:
        for line in iter_lines(fh, max_line):
            lines += 1
            data = line.data
            if data is None:
                quarantine.add(
                    line.number,
                    OVERSIZE,
                    f"line is {line.length} bytes; the limit is {max_line}",
                    None,
                    line.offset,
                    line.length,
                )
                continue
            if not data or data.isspace():
                continue
            try:
                # The contract's fast path inline; parse_line only for what it rejects
                # or must convert (it also says why).
                event = _validate_json(data)
                if event.schema_version != _CURRENT:
                    event = parse_line(data)
            except Exception:  # noqa: BLE001 - parse_line classifies it, and raises nothing else
                try:
                    event = parse_line(data)
                except LineRejected as exc:
                    if line.terminated:
                        quarantine.add(line.number, exc.reason, exc.detail, data)
                    else:
                        quarantine.add(
                            line.number,
                            TRUNCATED,
                            f"last line has no newline (torn write): {exc.detail}",
                            data,
                        )
                    continue
            try:
                canonical = canonical_line(event)
            except TypeError as exc:
                quarantine.add(line.number, UNSTORABLE, f"payload: {exc}", data)
                continue
            out.append(
                b'%s,"_h":%d,"_s":%d,"_n":%d}\n'
                % (canonical[:-1], content_hash(canonical), ordinal, line.number)
            )
            events += 1
            if len(out) >= 4096:
                sink.write(b"".join(out))
                out.clear()
        sink.write(b"".join(out))
    return lines, events
