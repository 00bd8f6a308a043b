"""Reading a segment line by line in bounded memory, and naming it by its content."""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = ["SegmentLine", "SegmentScan", "copy_range", "iter_lines", "scan_segment", "segment_key"]

_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class SegmentLine:
    """One line of a segment, without its newline.

    ``data`` is None for a line longer than the reader's limit (its bytes stay on
    disk: ``offset`` and ``length`` say where). ``terminated`` is False only for
    a last line with no newline after it, which is how a torn write looks.
    """

    number: int
    offset: int
    length: int
    data: bytes | None
    terminated: bool


def segment_key(path: Path) -> tuple[str, int]:
    """``(sha256:size key, size)`` of a file: the ledger knows segments by content."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return f"{digest.hexdigest()}:{size}", size


@dataclass(frozen=True, slots=True)
class SegmentScan:
    """One C-speed pass over a segment: its ledger key, size, line count, bulk eligibility.

    ``bulk_ok`` is True when every line ends in ``\n`` and the file holds no
    ``\r``, NUL or byte-order mark: then DuckDB's line reader and
    :func:`iter_lines` split it into the same numbered lines. ``crc`` is the
    zlib CRC-32 of the whole file (checked against a provenance-marked name).
    """

    key: str
    size: int
    lines: int
    bulk_ok: bool
    crc: int = 0


def scan_segment(path: Path, *, crc: bool = True) -> SegmentScan:
    """Hash, count and check ``path`` in one read (see :class:`SegmentScan`).

    ``crc=False`` skips the CRC-32 (``SegmentScan.crc`` is then 0).
    """
    digest = hashlib.sha256()
    size = lines = 0
    clean = True
    last = b""
    checksum = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            if size == 0 and chunk.startswith(b"\xef\xbb\xbf"):
                clean = False
            digest.update(chunk)
            if crc:
                checksum = zlib.crc32(chunk, checksum)
            size += len(chunk)
            lines += chunk.count(b"\n")
            if clean and (b"\r" in chunk or b"\0" in chunk):
                clean = False
            last = chunk[-1:]
    if last and last != b"\n":
        lines += 1
    key = f"{digest.hexdigest()}:{size}"
    return SegmentScan(key, size, lines, clean and last == b"\n", checksum)


def iter_lines(fh: BinaryIO, max_line_bytes: int) -> Iterator[SegmentLine]:
    """Yield every line of ``fh``; lines over ``max_line_bytes`` come without their data."""
    number = 0
    offset = 0  # file offset of the start of ``pending``
    pending = b""
    oversize_start = -1  # offset where the current oversize line began, or -1
    while True:
        chunk = fh.read(_CHUNK)
        if not chunk:
            break
        if oversize_start >= 0:
            end = chunk.find(b"\n")
            if end < 0:
                offset += len(chunk)
                continue
            number += 1
            line_end = offset + end
            yield SegmentLine(number, oversize_start, line_end - oversize_start, None, True)
            oversize_start = -1
            offset = line_end + 1
            pending = chunk[end + 1 :]
        else:
            pending += chunk
        start = 0
        while True:
            end = pending.find(b"\n", start)
            if end < 0:
                break
            number += 1
            length = end - start
            if length > max_line_bytes:
                yield SegmentLine(number, offset + start, length, None, True)
            else:
                yield SegmentLine(number, offset + start, length, pending[start:end], True)
            start = end + 1
        offset += start
        pending = pending[start:]
        if len(pending) > max_line_bytes:
            oversize_start = offset
            offset += len(pending)
            pending = b""
    if oversize_start >= 0:
        number += 1
        yield SegmentLine(number, oversize_start, offset - oversize_start, None, False)
    elif pending:
        number += 1
        yield SegmentLine(number, offset, len(pending), pending, False)


def copy_range(src: Path, offset: int, length: int, dst: BinaryIO) -> None:
    """Copy ``length`` bytes of ``src`` from ``offset`` into ``dst`` in bounded chunks."""
    fd = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
    try:
        while length > 0:
            data = os.pread(fd, min(_CHUNK, length), offset)
            if not data:
                break
            dst.write(data)
            offset += len(data)
            length -= len(data)
    finally:
        os.close(fd)
