"""Sealing segments left in ``active/`` by processes that are gone."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from duckspool.spool._layout import SEGMENT_SUFFIX, SpoolLayout
from duckspool.spool._segment import abandoned, fsync_dir

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
        with abandoned(path) as fd:
            if fd is None:
                continue  # its writer is alive, or sealed it meanwhile
            if os.fstat(fd).st_nlink == 0:
                continue
            if os.fstat(fd).st_size == 0:
                path.unlink(missing_ok=True)
                continue
            layout.ensure(layout.sealed)
            os.rename(path, layout.sealed / path.name)
            sealed.append(path.name)
    # Hidden files are segments whose creation was interrupted before the rename.
    for path in layout.active.glob(".*.new"):
        with abandoned(path) as fd:
            if fd is not None and os.fstat(fd).st_size == 0:
                path.unlink(missing_ok=True)
    if sealed:
        fsync_dir(layout.sealed)
        log.info("recovered %d abandoned segment(s) in %s", len(sealed), layout.active)
    return sealed
