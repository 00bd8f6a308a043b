"""One loader per spool directory, held with an advisory file lock."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

__all__ = ["SpoolLock"]


class SpoolLock:
    """Non-blocking exclusive ``flock`` on ``<spool>/.loader.lock``.

    The kernel releases it when the holder dies, even by ``kill -9``, so a
    crashed loader never leaves a stale lock behind.
    """

    def __init__(self, spool_dir: Path) -> None:
        self.path = spool_dir / ".loader.lock"
        self._fd = -1

    def acquire(self) -> bool:
        """True if this process now holds the lock; False if another loader does."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        try:  # the pid is for humans reading the file; a full disk must not stop the load
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError:
            pass
        self._fd = fd
        return True

    def holder(self) -> str:
        """The pid the current holder wrote into the lock file, if readable."""
        try:
            return self.path.read_text().strip() or "unknown"
        except OSError:
            return "unknown"

    def release(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)
