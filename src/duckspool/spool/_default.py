"""A process-wide emitter for services that do not want to pass one around."""

from __future__ import annotations

import threading
from typing import Any

from duckspool._defaults import default_spool_dir
from duckspool.contracts import TelemetryEvent
from duckspool.spool._emitter import Emitter

__all__ = ["configure", "emit", "get_emitter", "shutdown"]

_guard = threading.Lock()
_default: Emitter | None = None


def configure(spool_dir: str | None = None, **options: Any) -> Emitter:
    """Replace the default emitter (closing the old one) and return the new one.

    ``spool_dir`` defaults to ``$DUCKSPOOL_SPOOL_DIR``, else ``./var/spool``;
    ``options`` are :class:`Emitter` options. Raises ConfigurationError for bad options.
    """
    global _default
    fresh = Emitter(spool_dir or default_spool_dir(), **options)
    with _guard:
        old, _default = _default, fresh
    if old is not None:
        old.close()
    return fresh


def get_emitter() -> Emitter:
    """The default emitter, created from the environment on first use."""
    global _default
    emitter = _default
    if emitter is None:
        with _guard:
            if _default is None:
                _default = Emitter(default_spool_dir())
            emitter = _default
    return emitter


def emit(event: TelemetryEvent) -> None:
    """``emit()`` on the default emitter. Never raises."""
    try:
        get_emitter().emit(event)
    except Exception:  # noqa: BLE001, S110 - even a broken environment must not reach the caller
        pass


def shutdown(timeout: float | None = None) -> None:
    """Close the default emitter (flushing it); the next ``emit()`` makes a new one."""
    global _default
    with _guard:
        old, _default = _default, None
    if old is not None:
        old.close(timeout)
