"""Shipping sealed segments from a host's spool into a central spool's ``sealed/``.

Many hosts, one loader: each host's services write a local spool, and
:func:`ship_segments` (``duckspool ship``, on a timer) moves its sealed
segments into the central spool the one loader reads (a shared mount, or a
directory a sync tool mirrors). Per segment::

    copy to sealed/.<name>.<host>-<pid>.shipping (flock'ed while written), fsync
    rename to sealed/<name>, fsync sealed/      <- the loader sees whole files only
    delete the source, fsync the source's sealed/

A crash at any point loses nothing and doubles nothing: before the rename the
source is intact and the temp file is removed by the next run (its lock is
free once the writer is dead); after the rename but before the delete, the
next run finds the copy (or, if it was loaded meanwhile, ships it again, and
the loader's ledger, which knows segments by content, loads it once).

The host side is held with the spool's loader lock (``<spool>/.loader.lock``),
so a shipper and a loader never consume the same spool at once; the central
side needs no lock (renames are atomic), so its loader keeps running.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import socket
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from duckspool.exceptions import ConfigurationError, DuckspoolError
from duckspool.spool._layout import SEGMENT_SUFFIX, SpoolLayout
from duckspool.spool._segment import abandoned, fsync_dir

__all__ = ["ShipReport", "SpoolBusy", "ship_segments"]

log = logging.getLogger(__name__)

_TEMP_SUFFIX = ".shipping"
_CHUNK = 1 << 20

Checkpoint = Callable[[str, str], None]
"""Called as ``checkpoint(stage, segment_name)`` at ``copying`` (first chunk written),
``copied`` (temp file synced), ``renamed`` (copy in place, source still there) and
``deleted``; crash tests stop the process there."""


class SpoolBusy(DuckspoolError):
    """Another process (a loader or another shipper) holds the host spool's lock."""


@dataclass(slots=True)
class ShipReport:
    """What one run moved. ``already_there`` were found in place already (a rerun after
    a crash) and only removed from the host; ``vanished`` were gone before they could
    be read; ``stale_temps`` are temp files of dead shippers that were removed."""

    shipped: list[str] = field(default_factory=list)
    bytes: int = 0
    already_there: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    stale_temps: int = 0
    dry_run: bool = False
    seconds: float = 0.0

    def summary(self) -> str:
        verb = "would ship" if self.dry_run else "shipped"
        text = f"{verb} {len(self.shipped)} segment(s), {self.bytes} bytes"
        if self.already_there:
            text += f"; {len(self.already_there)} already there"
        if self.vanished:
            text += f"; {len(self.vanished)} vanished"
        if self.stale_temps:
            text += f"; removed {self.stale_temps} stale temp file(s)"
        return text + f" in {self.seconds:.2f}s"


def ship_segments(
    host_spool: str | os.PathLike[str],
    central_spool: str | os.PathLike[str],
    *,
    dry_run: bool = False,
    checkpoint: Checkpoint | None = None,
) -> ShipReport:
    """Move every sealed segment of ``host_spool`` into ``central_spool``'s ``sealed/``.

    Raises :class:`ConfigurationError` if either spool directory is missing or
    both are the same, :class:`SpoolBusy` if a loader or shipper holds the host
    spool, and ``OSError`` for disk failures (segments already moved stay moved;
    the rest stay on the host for the next run).
    """
    started = time.monotonic()
    host = SpoolLayout(Path(host_spool).resolve())
    central = SpoolLayout(Path(central_spool).resolve())
    for label, layout in (("host", host), ("central", central)):
        if not layout.root.is_dir():
            raise ConfigurationError(f"{label} spool {layout.root} does not exist")
    if host.root == central.root:
        raise ConfigurationError(f"host and central spool are the same directory: {host.root}")
    report = ShipReport(dry_run=dry_run)
    segments = _sealed(host.sealed)
    if dry_run:
        for path, size in segments:
            report.shipped.append(path.name)
            report.bytes += size
        report.seconds = time.monotonic() - started
        return report
    lock_fd = _lock_host(host.root)
    try:
        central.ensure(central.sealed)
        report.stale_temps = _remove_stale_temps(central.sealed)
        for path, _size in segments:
            _ship_one(path, central.sealed, report, checkpoint)
        if report.shipped or report.already_there:
            fsync_dir(host.sealed)
    finally:
        os.close(lock_fd)
    report.seconds = time.monotonic() - started
    log.info("duckspool ship %s -> %s: %s", host.root, central.root, report.summary())
    return report


def _sealed(directory: Path) -> list[tuple[Path, int]]:
    if not directory.is_dir():
        return []
    found = []
    for path in directory.glob(f"*{SEGMENT_SUFFIX}"):
        try:
            st = path.lstat()
        except FileNotFoundError:
            continue
        if stat.S_ISREG(st.st_mode):  # anything else is the loader's to set aside
            found.append((path.name, path, st.st_size))
    found.sort()
    return [(p, size) for _, p, size in found]


def _lock_host(root: Path) -> int:
    path = root / ".loader.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        try:
            holder = path.read_text().strip() or "unknown"
        except OSError:
            holder = "unknown"
        raise SpoolBusy(
            f"spool {root} is held by another loader or shipper (pid {holder}); "
            "retry when it is done"
        ) from None
    return fd


def _remove_stale_temps(sealed: Path) -> int:
    """Temp files whose writer is dead (their flock is free); live shippers keep theirs."""
    removed = 0
    for path in sealed.glob(f".*{_TEMP_SUFFIX}"):
        with abandoned(path) as fd:
            if fd is not None:
                path.unlink(missing_ok=True)
                removed += 1
    return removed


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _ship_one(
    source: Path, sealed: Path, report: ShipReport, checkpoint: Checkpoint | None
) -> None:
    name = source.name
    try:
        src_fd = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        report.vanished.append(name)
        return
    try:
        size = os.fstat(src_fd).st_size
        dest = sealed / name
        if dest.exists():
            if dest.stat().st_size == size and _digest(dest) == _digest(source):
                source.unlink(missing_ok=True)  # a rerun after a crash between rename and delete
                report.already_there.append(name)
                return
            # Same name, other content: keep both, under a name that cannot collide.
            dest = sealed / f"{source.stem}.{_digest(source)[:12]}{SEGMENT_SUFFIX}"
        _copy_into_place(src_fd, size, dest, checkpoint)
    finally:
        os.close(src_fd)
    if checkpoint:
        checkpoint("renamed", name)
    source.unlink(missing_ok=True)
    report.shipped.append(name)
    report.bytes += size
    if checkpoint:
        checkpoint("deleted", name)


def _copy_into_place(src_fd: int, size: int, dest: Path, checkpoint: Checkpoint | None) -> None:
    host = socket.gethostname().replace("/", "-")[:64]
    temp = dest.parent / f".{dest.name}.{host}-{os.getpid()}{_TEMP_SUFFIX}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        _fill(fd, src_fd, size, dest.name, checkpoint)
        if checkpoint:
            checkpoint("copied", dest.name)
        os.rename(temp, dest)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)
    fsync_dir(dest.parent)


def _fill(fd: int, src_fd: int, size: int, name: str, checkpoint: Checkpoint | None) -> None:
    """Copy ``size`` bytes of the source into the (locked) temp file and fsync it."""
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.fchmod(fd, 0o600)
    offset = 0
    while offset < size:
        chunk = os.pread(src_fd, min(_CHUNK, size - offset), offset)
        if not chunk:
            raise OSError(f"segment {name} shrank while being shipped")
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view) :]
        offset += len(chunk)
        if checkpoint and offset == len(chunk):
            checkpoint("copying", name)
    os.fsync(fd)
    if os.fstat(fd).st_nlink == 0:
        # Taken for a dead shipper's temp file and removed between our open and flock.
        raise OSError(f"temp file for {name} was removed under us; retry")
