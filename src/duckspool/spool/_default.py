"""A process-wide emitter for services that do not want to pass one around."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from duckspool._defaults import default_spool_dir
from duckspool.contracts import TelemetryEvent, make_event
from duckspool.exceptions import InvalidEvent
from duckspool.spool import _capture
from duckspool.spool._emitter import Emitter
from duckspool.spool._stats import DropReason

__all__ = ["configure", "emit", "get_emitter", "shutdown", "track"]

_guard = threading.Lock()
_default: Emitter | None = None


def configure(spool_dir: str | None = None, **options: Any) -> Emitter:
    """Replace the default emitter (closing the old one) and return the new one.

    ``spool_dir`` defaults to ``$DUCKSPOOL_SPOOL_DIR``, else ``./var/spool``;
    ``options`` are :class:`Emitter` options (``before_emit``, ``on_drop`` ...).
    Raises ConfigurationError for bad options.
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
    """``emit()`` on the default emitter. Never raises.

    While ``duckspool.testing.capture_events()`` is active and no default
    emitter exists yet, none is created: the event is only captured.
    """
    try:
        if _default is None and _capture.active():
            if isinstance(event, TelemetryEvent):
                _capture.record_event(event)
            else:
                _capture.record_drop(DropReason.NOT_AN_EVENT, event)
            return
        get_emitter().emit(event)
    except Exception:  # noqa: BLE001, S110 - even a broken environment must not reach the caller
        pass


def track(
    event_type: str,
    payload: Mapping[str, Any] | None = None,
    *,
    session_id: str | None = None,
    user_id: str | None = None,
    correlation_id: str | None = None,
    product_id: str | None = None,
    at: datetime | None = None,
) -> bool:
    """Build an event from the arguments and the current context and emit it on the
    default emitter; return whether it was accepted. Never raises.

    Ids not given come from :func:`duckspool.telemetry_context` (which the
    framework integrations bind per request). What cannot be built is counted as
    ``invalid_event`` in ``get_emitter().stats()`` and warned about at a limited
    rate (see :meth:`Emitter.track`).
    """
    ids: dict[str, Any] = {
        "session_id": session_id,
        "user_id": user_id,
        "correlation_id": correlation_id,
        "product_id": product_id,
    }
    try:
        if _default is None and _capture.active():
            return _capture_only(event_type, payload, ids, at)
        return get_emitter().track(event_type, payload, at=at, **ids)
    except Exception:  # noqa: BLE001 - even a broken environment must not reach the caller
        return False


def _capture_only(
    event_type: str, payload: Mapping[str, Any] | None, ids: dict[str, Any], at: datetime | None
) -> bool:
    try:
        event = make_event(event_type, payload, timestamp=at, **ids)
        event.to_json_line()
    except InvalidEvent as exc:
        _capture.record_drop(DropReason.INVALID_EVENT, exc)
        return False
    except Exception as exc:  # noqa: BLE001 - a payload JSON cannot carry
        _capture.record_drop(DropReason.INVALID_EVENT, InvalidEvent(event_type, f"payload: {exc}"))
        return False
    return _capture.record_event(event)


def shutdown(timeout: float | None = None) -> None:
    """Close the default emitter (flushing it); the next ``emit()`` makes a new one."""
    global _default
    with _guard:
        old, _default = _default, None
    if old is not None:
        old.close(timeout)
