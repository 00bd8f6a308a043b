"""The loader's per-line work with the contract, and the first look at each segment.

:func:`validate_segment` runs in the loader's process or in a worker process
(it takes and returns only plain data). For a segment the bulk path can read it
only hashes and counts (``raw``); otherwise it validates every line into a
staging file. :func:`validate_lines` is the authority a load target calls for
the lines it did not accept in bulk. Reads in bounded blocks; a line longer than
the limit is never held in memory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from duckspool.contracts import LineRejected, parse_line
from duckspool.loader._quarantine import OVERSIZE, TRUNCATED, UNSTORABLE, QuarantineWriter
from duckspool.loader._reader import SegmentLine, iter_lines, scan_segment
from duckspool.repository import SegmentLines, StagedFile
from duckspool.repository._errors import is_environmental
from duckspool.spool import parse_segment_name

__all__ = ["SegmentResult", "validate_lines", "validate_segment"]


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
    passthrough: bool = False
    """``staged`` is the segment itself (every line was a valid wire line): never delete it."""
    raw: bool = False
    """Not validated yet: the load target validates it (in bulk where it can)."""
    verified: bool = False
    """``raw``, and the CRC-32 in its name matches its bytes: written whole by an emitter."""
    environmental: bool = False
    """``error`` is our disk's or permissions' fault, not the segment's."""


def validate_segment(
    path: Path,
    ordinal: int,
    staging_dir: Path,
    quarantine_dir: Path,
    max_line_bytes: int,
    bulk: bool = False,
) -> SegmentResult:
    """Validate every line of ``path``; stage the valid ones, quarantine the rest (unpublished).

    With ``bulk``, a segment DuckDB can split into the same lines is only
    hashed and counted and comes back ``raw`` (and ``verified`` when its name
    carries the CRC-32 of its bytes). When every line is a valid event
    already in the exact wire form, nothing is copied: the segment itself is
    the staging file (``passthrough``). Never raises: a failure comes back in
    ``error``.
    """
    staged = staging_dir / f".duckspool-stage-{os.getpid()}-{ordinal}.jsonl"
    quarantine: QuarantineWriter | None = None
    try:
        name = parse_segment_name(path.name)
        marked = bulk and name is not None and name.checksum is not None
        scan = scan_segment(path, crc=marked)
        key, size = scan.key, scan.size
        if bulk and scan.bulk_ok:
            verified = marked and name is not None and name.checksum == scan.crc
            return SegmentResult(
                path, ordinal, key, size, lines=scan.lines, raw=True, verified=verified
            )
        quarantine = QuarantineWriter(quarantine_dir, path, key)
        lines, events, passthrough = _stage(path, staged, quarantine, max_line_bytes)
        quarantine.close()
    except Exception as exc:  # noqa: BLE001 - reported, and the segment retried later
        staged.unlink(missing_ok=True)
        if quarantine is not None:
            quarantine.discard()
        return SegmentResult(
            path,
            ordinal,
            error=f"{type(exc).__name__}: {exc}",
            environmental=is_environmental(exc),
        )
    if not events:
        staged.unlink(missing_ok=True)
    return SegmentResult(
        path,
        ordinal,
        key,
        size,
        (path if passthrough else staged) if events else None,
        events,
        lines,
        events,
        dict(quarantine.reasons),
        passthrough=passthrough and events > 0,
    )


class _Sink:
    """The staging file, opened only once a segment turns out not to be passthrough."""

    def __init__(self, path: Path, segment: Path) -> None:
        self.path = path
        self.segment = segment
        self.out: list[bytes] = []
        self.file: IO[bytes] | None = None

    def start(self, upto: int) -> None:
        """Open the file and copy lines 1..``upto`` (all valid wire lines) with their numbers."""
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        self.file = os.fdopen(fd, "wb")
        with self.segment.open("rb") as fh:
            for number in range(1, upto + 1):
                self.add(fh.readline().rstrip(b"\n"), number)

    def add(self, wire: bytes, number: int) -> None:
        self.out.append(b'%s,"_n":%d}\n' % (wire[:-1], number))
        if len(self.out) >= 4096:
            self.flush()

    def flush(self) -> None:
        if self.file is not None and self.out:
            self.file.write(b"".join(self.out))
        self.out.clear()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            if self.file is not None:
                self.file.close()


def _stage(
    path: Path, staged: Path, quarantine: QuarantineWriter, max_line: int
) -> tuple[int, int, bool]:
    """Validate ``path``; returns (lines, events, passthrough)."""
    lines = events = 0
    sink = _Sink(staged, path)
    try:
        with path.open("rb") as fh:
            for line in iter_lines(fh, max_line):
                lines += 1
                wire = _check_line(line, quarantine, max_line)
                if wire is not None:
                    events += 1
                    if sink.file is None and wire == line.data:
                        continue  # still passthrough: nothing to copy
                    if sink.file is None:
                        sink.start(line.number - 1)
                    sink.add(wire, line.number)
                    continue
                # Anything but a valid wire line ends passthrough for this segment.
                if sink.file is None:
                    sink.start(line.number - 1)
    finally:
        sink.close()
    return lines, events, sink.file is None


def validate_lines(
    path: Path,
    ordinal: int,
    staging_dir: Path,
    quarantine: QuarantineWriter,
    wanted: Mapping[int, bytes | None] | None,
    max_line_bytes: int,
) -> SegmentLines:
    """The authority: validate lines ``wanted`` (None: all) of ``path`` with the contract.

    ``wanted`` maps line numbers to their exact bytes where the caller has them;
    the segment is read only for the others. Valid lines are staged (wire form
    with ``_n``), the rest go to ``quarantine``.
    """
    staged = staging_dir / f".duckspool-stage-{os.getpid()}-{ordinal}-lines.jsonl"
    before = quarantine.count
    events = 0
    sink = _Sink(staged, path)
    sink.start(0)
    try:
        unread: set[int] | None = None
        if wanted is not None:
            unread = {n for n, data in wanted.items() if data is None}
            for number, data in sorted(wanted.items()):
                if data is not None:
                    # Given lines come from a segment whose every line ends in "\n".
                    line = SegmentLine(number, 0, len(data), data, True)
                    wire = _check_line(line, quarantine, max_line_bytes)
                    if wire is not None:
                        events += 1
                        sink.add(wire, number)
        if unread is None or unread:
            with path.open("rb") as fh:
                for line in iter_lines(fh, max_line_bytes):
                    if unread is not None and line.number not in unread:
                        continue
                    wire = _check_line(line, quarantine, max_line_bytes)
                    if wire is not None:
                        events += 1
                        sink.add(wire, line.number)
    finally:
        sink.close()
    if not events:
        staged.unlink(missing_ok=True)
    return SegmentLines(
        StagedFile(staged, ordinal) if events else None, events, quarantine.count - before
    )


def _check_line(line: SegmentLine, quarantine: QuarantineWriter, max_line: int) -> bytes | None:
    """The wire form of a valid line; None for a blank line or one quarantined here."""
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
        return None
    if not data or data.isspace():
        return None  # skipped, not quarantined
    return _validated_wire(data, line.number, line.terminated, quarantine)


def _validated_wire(
    data: bytes, number: int, terminated: bool, quarantine: QuarantineWriter
) -> bytes | None:
    """The event's wire form if ``data`` is valid, else None (and the line is quarantined)."""
    try:
        event = parse_line(data)
    except LineRejected as exc:
        if terminated:
            quarantine.add(number, exc.reason, exc.detail, data)
        else:
            quarantine.add(
                number, TRUNCATED, f"last line has no newline (torn write): {exc.detail}", data
            )
        return None
    try:
        return event.to_json_line()
    except TypeError as exc:
        quarantine.add(number, UNSTORABLE, f"payload: {exc}", data)
        return None
