"""Where ``duckspool.testing.capture_events()`` hooks into every emitter of the process.

While a capture is active, an event an emitter would have buffered is appended
to each active capture instead, and never reaches the spool; what an emitter
drops is recorded as ``(reason, object)`` beside it. The check on the hot path
is one read of a module global.
"""

from __future__ import annotations

import threading
from typing import Any

from duckspool.contracts import TelemetryEvent

__all__ = ["Capture", "active", "record_drop", "record_event", "start", "stop"]


class Capture(list[TelemetryEvent]):
    """A list of captured events; ``drops`` holds ``(reason, object)`` for each drop."""

    def __init__(self) -> None:
        super().__init__()
        self.drops: list[tuple[str, Any]] = []


_lock = threading.Lock()
_active: tuple[Capture, ...] = ()


def active() -> bool:
    return bool(_active)


def start() -> Capture:
    global _active
    capture = Capture()
    with _lock:
        _active = (*_active, capture)
    return capture


def stop(capture: Capture) -> None:
    global _active
    with _lock:
        _active = tuple(c for c in _active if c is not capture)


def record_event(event: TelemetryEvent) -> bool:
    """Append ``event`` to every active capture; False when none is active."""
    captures = _active
    for capture in captures:
        capture.append(event)
    return bool(captures)


def record_drop(reason: str, obj: object) -> None:
    for capture in _active:
        capture.drops.append((reason, obj))
