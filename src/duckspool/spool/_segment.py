"""One active segment file: appends that never leave a torn line behind, and sealing."""

from __future__ import annotations

import contextlib
import fcntl
import os
import zlib
from collections.abc import Iterator
from pathlib import Path

from duckspool.spool._layout import sealed_segment_name

__all__ = ["ActiveSegment", "abandoned", "fsync_dir"]


def fsync_dir(path: Path) -> None:
    """Make a rename or create in ``path`` durable (best effort: some filesystems refuse)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def abandoned(path: Path) -> Iterator[int | None]:
    """A read-only fd of ``path``, flock-ed by us, when its writer is gone; else None.

    Every writer (emitter segment, shipper's temp copy) holds an exclusive flock
    on its file for as long as it writes, so a free lock means the writer died or
    finished. None when the lock is held or the file vanished meanwhile. The fd is
    closed, and the lock released, on leaving the block.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        yield None
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        yield fd
    finally:
        os.close(fd)


class ActiveSegment:
    """An append-only file in ``active/``, locked (flock) for as long as this process has it open.

    The lock is how :func:`duckspool.spool.recover` tells a live writer from a dead
    one: the kernel drops it when the process dies, even by ``kill -9``.
    """

    def __init__(self, active_dir: Path, name: str, mode: int, created: float) -> None:
        self.name = name
        self.path = active_dir / name
        self.size = 0
        self.lines = 0
        self.created = created
        self.broken = False
        self.crc = 0
        """CRC-32 of every byte appended so far (the file holds exactly those bytes)."""
        self.provenance = True
        """Seal under a name carrying ``crc``: False once the file may hold other bytes."""
        # Created under a hidden name, locked, then renamed into view: recover() never
        # sees an unlocked segment of a live process. O_RDWR, not O_WRONLY: if the
        # directory is deleted under us, read_complete() reads the lines back.
        hidden = active_dir / f".{name}.new"
        fd = os.open(hidden, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, mode)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.fchmod(fd, mode)
            os.rename(hidden, self.path)
        except BaseException:
            os.close(fd)
            hidden.unlink(missing_ok=True)
            raise
        self.fd = fd

    def append(self, data: bytes | memoryview) -> None:
        """Write ``data`` (whole lines) or nothing: after a failure the file is cut back.

        If the cut itself fails the segment is marked ``broken`` and must not be
        appended to again (its tail may hold a fragment of ``data``).
        """
        start = self.size
        view = memoryview(data)
        try:
            while view:
                written = os.write(self.fd, view)
                view = view[written:]
        except OSError:
            try:
                os.ftruncate(self.fd, start)
            except OSError:
                self.broken = True
                self.provenance = False
            raise
        self.size += len(data)
        self.crc = zlib.crc32(data, self.crc)

    def is_unlinked(self) -> bool:
        """True when the file was deleted under us (its directory removed or replaced)."""
        try:
            return os.fstat(self.fd).st_nlink == 0
        except OSError:
            return True

    def read_complete(self) -> bytes:
        """Every complete line written so far (for rescuing an unlinked segment)."""
        data = os.pread(self.fd, self.size, 0) if self.size else b""
        end = data.rfind(b"\n")
        return data[: end + 1]

    def fsync(self) -> None:
        os.fsync(self.fd)

    def seal(self, sealed_dir: Path, *, durable: bool) -> bool:
        """Move the file into ``sealed_dir`` (atomic rename); an empty one is deleted instead.

        The sealed name carries the CRC-32 of the bytes appended (the segment's
        provenance, see :func:`~duckspool.spool._layout.sealed_segment_name`)
        unless ``provenance`` was cleared. Returns True if a segment was sealed.
        Raises OSError, leaving it open, if the rename fails.
        """
        if self.size == 0:
            self.path.unlink(missing_ok=True)
            self.close()
            return False
        if durable:
            os.fsync(self.fd)
        name = sealed_segment_name(self.name, self.crc) if self.provenance else self.name
        os.rename(self.path, sealed_dir / name)
        if durable:
            fsync_dir(sealed_dir)
        self.close()
        return True

    def close(self) -> None:
        """Close the file, releasing the lock (idempotent)."""
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)

    def forget(self) -> None:
        """Drop the file descriptor without touching the file: a forked child's copy."""
        self.close()
