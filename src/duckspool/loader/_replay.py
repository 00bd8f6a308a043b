"""Giving quarantined lines a second chance after an upgrade (a new schema version, a fix)."""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from duckspool.contracts import LineRejected, parse_line
from duckspool.exceptions import SpoolNotFound
from duckspool.loader._lock import SpoolLock
from duckspool.loader._quarantine import ID_CONFLICT, QuarantineRecord, iter_records, raw_bytes
from duckspool.spool import SpoolLayout
from duckspool.spool._segment import fsync_dir

__all__ = ["ReplayResult", "replay_quarantine"]


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """How many quarantined lines now pass (and went to ``sealed/``) and how many stay."""

    replayed: int
    kept: int
    segment: str | None


def replay_quarantine(spool_dir: str | os.PathLike[str]) -> ReplayResult:
    """Re-validate every quarantined line; move those that now pass into a new sealed segment.

    The new segment is written and fsynced before the quarantine files shrink, so
    a crash in between duplicates lines (which the loader's dedup absorbs) but
    never loses one. ``id_conflict`` records stay: replaying them cannot succeed.
    Holds the loader's spool lock; raises ``RuntimeError`` if a loader is running
    and :class:`~duckspool.exceptions.SpoolNotFound` (creating nothing) if the
    spool directory does not exist.
    """
    layout = SpoolLayout(Path(spool_dir).expanduser())
    if not layout.root.is_dir():
        raise SpoolNotFound(str(layout.root.absolute()))
    lock = SpoolLock(layout.root)
    if not lock.acquire():
        raise RuntimeError(
            f"a loader (pid {lock.holder()}) is running on {layout.root}; "
            "retry when it has finished"
        )
    try:
        return _replay(layout)
    finally:
        lock.release()


def _replay(layout: SpoolLayout) -> ReplayResult:
    passing: list[tuple[QuarantineRecord, bytes]] = []
    by_file: dict[Path, list[QuarantineRecord]] = defaultdict(list)
    for record in iter_records(layout.quarantine):
        by_file[record.file].append(record)
        if record.reason == ID_CONFLICT:
            continue
        try:
            raw = raw_bytes(record)
            parse_line(raw)
        except (LineRejected, OSError, ValueError):
            continue
        passing.append((record, raw))
    if not passing:
        return ReplayResult(0, sum(len(v) for v in by_file.values()), None)
    layout.ensure(layout.sealed)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    name = f"{stamp}_replay_{os.getpid()}_000001.jsonl"
    tmp = layout.sealed / f".{name}.partial"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        for _, raw in passing:
            fh.write(raw + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.rename(tmp, layout.sealed / name)
    fsync_dir(layout.sealed)
    replayed = {id(r) for r, _ in passing}
    kept = 0
    for path, records in by_file.items():
        remaining = [r for r in records if id(r) not in replayed]
        kept += len(remaining)
        for record in records:
            if id(record) in replayed and "rawFile" in record.fields:
                (path.parent / str(record.fields["rawFile"])).unlink(missing_ok=True)
        if not remaining:
            path.unlink(missing_ok=True)
            continue
        rewrite = path.with_name(f".{path.name}.rewrite")
        fd = os.open(rewrite, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            for record in remaining:
                fh.write(orjson.dumps(record.fields) + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(rewrite, path)
    return ReplayResult(len(passing), kept, name)
