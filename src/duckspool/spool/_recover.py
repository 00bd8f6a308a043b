"""Sealing segments left in ``active/`` by processes that are gone."""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

from duckspool.spool._layout import SEGMENT_SUFFIX, SpoolLayout
from duckspool.spool._segment import fsync_dir

__all__ = ["recover"]

log = logging.getLogger(__name__)


def recover(spool_dir: str | os.PathLike[str]) -> list[str]:
    """Seal every active segment whose writer is gone; return the names sealed.

    A live writer holds an exclusive ``flock`` on its segment, and the kernel
    releases it when the process dies however it dies, so "lock free" means
    "owner gone" even across pid reuse. (An age threshold was rejected: age cannot
    tell a quiet writer from a dead one, and sealing a live writer's segment
    would let the loader delete lines still being appended.) A segment's bytes
    are never rewritten: a torn last line is the loader's to quarantine.
    Empty abandoned segments are deleted.
    """
    layout = SpoolLayout(Path(spool_dir))
    if not layout.active.is_dir():
        return []
    sealed: list[str] = []
    for path in sorted(layout.active.glob(f"*{SEGMENT_SUFFIX}")):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue  # sealed by its writer meanwhile
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its writer is alive
            if os.fstat(fd).st_nlink == 0:
                continue
            if os.fstat(fd).st_size == 0:
                path.unlink(missing_ok=True)
                continue
            layout.ensure(layout.sealed)
            os.rename(path, layout.sealed / path.name)
            sealed.append(path.name)
        finally:
            os.close(fd)
    # Hidden files are segments whose creation was interrupted before the rename.
    for path in layout.active.glob(".*.new"):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_size == 0:
                path.unlink(missing_ok=True)
        except BlockingIOError:
            pass
        finally:
            os.close(fd)
    if sealed:
        fsync_dir(layout.sealed)
        log.info("recovered %d abandoned segment(s) in %s", len(sealed), layout.active)
    return sealed
