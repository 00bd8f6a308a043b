"""A segment's life after sealing: listed, loaded and disposed of, or set aside.

Only the loader moves or removes sealed segments, and only while it holds the
spool lock; every move is a rename within the spool, so a crash leaves each
segment in exactly one place.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from pathlib import Path

from duckspool.spool import SpoolLayout

__all__ = ["SegmentShelf"]

log = logging.getLogger(__name__)


class SegmentShelf:
    """The loader's hands on ``sealed/``, ``loaded/``, ``failed/`` and ``tmp/``."""

    def __init__(self, layout: SpoolLayout, keep_loaded_for: float | None) -> None:
        self.layout = layout
        self.keep_loaded_for = keep_loaded_for

    def sealed(self) -> list[tuple[Path, int]]:
        """Sealed segments, oldest first, with their sizes; non-files are set aside at once."""
        found = []
        for path in self.layout.sealed.glob("*.jsonl"):
            try:
                st = path.lstat()
            except FileNotFoundError:
                continue
            if not stat.S_ISREG(st.st_mode):
                # A FIFO would block the reader forever, a directory cannot be read:
                # set aside at once rather than retried.
                self.set_aside(path, "not a regular file", 0)
                continue
            found.append((st.st_mtime, path.name, path, st.st_size))
        found.sort()
        return [(p, size) for _, _, p, size in found]

    def set_aside(self, path: Path, error: str, count: int) -> None:
        """Move ``path`` into ``failed/`` with a ``.reason`` file beside it."""
        failed = self.layout.failed
        self.layout.ensure(failed)
        reason = failed / f"{path.name}.reason"
        fd = os.open(reason, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"set aside after {count} failed attempt(s)\nlast error: {error}\n")
        try:
            os.rename(path, failed / path.name)
        except FileNotFoundError:
            pass
        log.error(
            "segment %s set aside in %s after %d failures: %s", path.name, failed, count, error
        )

    def dispose(self, path: Path) -> None:
        """A loaded segment: delete it, or keep it in ``loaded/`` for ``keep_loaded_for``."""
        try:
            if self.keep_loaded_for:
                self.layout.ensure(self.layout.loaded)
                os.rename(path, self.layout.loaded / path.name)
            else:
                path.unlink()
        except FileNotFoundError:
            pass

    def clean_tmp(self) -> None:
        """Remove staging and partial quarantine files: orphans of a crash (we hold the lock)."""
        for path in self.layout.tmp.glob(".duckspool-stage-*"):
            path.unlink(missing_ok=True)
        for path in self.layout.quarantine.glob(".*.partial"):
            path.unlink(missing_ok=True)

    def purge_loaded(self) -> None:
        """Delete segments kept in ``loaded/`` longer than ``keep_loaded_for``."""
        if not self.keep_loaded_for or not self.layout.loaded.is_dir():
            return
        horizon = time.time() - self.keep_loaded_for
        for path in self.layout.loaded.glob("*.jsonl"):
            try:
                if path.stat().st_mtime < horizon:
                    path.unlink()
            except FileNotFoundError:
                continue
