"""Process hooks for every live emitter: fork safety and flushing at interpreter exit.

Before a fork every emitter's locks are taken, so the child never inherits a
lock held mid-write; the child then resets each emitter (the parent's buffer,
segment and writer thread are the parent's). At exit, ``close_all`` flushes
every emitter within its ``exit_timeout``.
"""

from __future__ import annotations

import atexit
import os
import sys
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from duckspool.spool._emitter import Emitter

__all__ = ["close_all", "ensure_exit_hooks", "register"]

_live: weakref.WeakSet[Emitter] = weakref.WeakSet()
_hooks_pid = 0


def register(emitter: Emitter) -> None:
    _live.add(emitter)


def unregister(emitter: Emitter) -> None:
    _live.discard(emitter)


def _before_fork() -> None:
    for emitter in list(_live):
        emitter._io_lock.acquire()
        emitter._lock.acquire()


def _after_fork_parent() -> None:
    for emitter in list(_live):
        emitter._lock.release()
        emitter._io_lock.release()


def _after_fork_child() -> None:
    for emitter in list(_live):
        emitter._reset_after_fork()


os.register_at_fork(
    before=_before_fork, after_in_parent=_after_fork_parent, after_in_child=_after_fork_child
)


def close_all(timeout: float | None = None) -> None:
    """Close every live emitter of this process (interpreter exit calls this)."""
    for emitter in list(_live):
        emitter.close(emitter.exit_timeout if timeout is None else timeout)


def ensure_exit_hooks() -> None:
    """Register ``close_all`` for this process's exit (again in a forked child)."""
    # atexit covers normal exit and sys.exit. A multiprocessing child ends with
    # os._exit, which skips atexit, but runs multiprocessing's own finalizers.
    global _hooks_pid
    pid = os.getpid()
    if _hooks_pid == pid:
        return
    if _hooks_pid == 0:
        atexit.register(close_all)
    _hooks_pid = pid
    mp: Any = sys.modules.get("multiprocessing")
    if mp is not None:
        try:
            mp.util.Finalize(None, close_all, exitpriority=100)
        except Exception:  # noqa: BLE001, S110 - best effort; atexit still covers normal exit
            pass
