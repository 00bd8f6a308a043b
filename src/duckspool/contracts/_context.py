"""Ambient ids for events, so integrations need not thread them through every call."""

from __future__ import annotations

import contextvars
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from duckspool.contracts._event import TelemetryEvent
from duckspool.contracts._parse import describe_validation_error
from duckspool.contracts._uuid7 import uuid7
from duckspool.exceptions import InvalidEvent

__all__ = [
    "TelemetryContext",
    "current_context",
    "make_event",
    "otel_trace_id",
    "telemetry_context",
]


@dataclass(frozen=True, slots=True)
class TelemetryContext:
    """The ids an event takes when its builder is not given them."""

    session_id: str | None = None
    user_id: str | None = None
    correlation_id: str | None = None
    product_id: str | None = None


_EMPTY = TelemetryContext()
_current: contextvars.ContextVar[TelemetryContext] = contextvars.ContextVar(
    "duckspool_telemetry_context", default=_EMPTY
)


def current_context() -> TelemetryContext:
    """The context in force here (an empty one outside any ``telemetry_context``)."""
    return _current.get()


@contextmanager
def telemetry_context(
    *,
    session_id: str | None = None,
    user_id: str | None = None,
    correlation_id: str | None = None,
    product_id: str | None = None,
) -> Iterator[TelemetryContext]:
    """Set ids for the events built inside the block; ids not given keep the outer value.

    Based on contextvars, so it follows asyncio tasks and ``contextvars.copy_context``.
    """
    outer = _current.get()
    changes = {
        k: v
        for k, v in (
            ("session_id", session_id),
            ("user_id", user_id),
            ("correlation_id", correlation_id),
            ("product_id", product_id),
        )
        if v is not None
    }
    inner = replace(outer, **changes)
    token = _current.set(inner)
    try:
        yield inner
    finally:
        _current.reset(token)


def rebind(**ids: str | None) -> None:
    """Change ids of the current context in place, until the enclosing
    ``telemetry_context`` (or request binding) ends: integrations call this when a
    login changes the user and session in the middle of a request. Outside any
    bound context it does nothing, so nothing leaks into the rest of the thread.
    ``None`` values are ignored."""
    current = _current.get()
    changes = {k: v for k, v in ids.items() if v is not None}
    if changes and current is not _EMPTY:
        _current.set(replace(current, **changes))


def otel_trace_id() -> str | None:
    """The active OpenTelemetry span's trace id (32 lower-case hex digits), if recording.

    Only looks when the application has imported ``opentelemetry.trace`` itself:
    duckspool never imports OpenTelemetry, so an application without it pays
    nothing. Never raises.
    """
    trace: Any = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return None
    try:
        span = trace.get_current_span()
        if not span.is_recording():
            return None
        trace_id = span.get_span_context().trace_id
        if not trace_id:
            return None
        return f"{trace_id:032x}"
    except Exception:  # noqa: BLE001 - a broken tracer must not break event building
        return None


def make_event(
    event_type: str,
    payload: Mapping[str, Any] | None = None,
    *,
    session_id: str | None = None,
    user_id: str | None = None,
    correlation_id: str | None = None,
    product_id: str | None = None,
    timestamp: datetime | None = None,
) -> TelemetryEvent:
    """Build an event, taking the ids not passed from the current ``telemetry_context``.

    A missing correlation id is, in order, the active OpenTelemetry span's trace
    id (when the application uses OpenTelemetry and a span is recording), else a
    fresh UUIDv7, so every event can be correlated. A missing session or user id,
    a bad type name or a payload that is not a mapping raises
    :class:`~duckspool.exceptions.InvalidEvent` (a ``ValueError``) naming the field;
    nothing else escapes.
    """
    ctx = _current.get()
    if correlation_id is None:
        correlation_id = ctx.correlation_id or otel_trace_id() or str(uuid7())
    try:
        fields: dict[str, Any] = {
            "event_type": event_type,
            "session_id": session_id if session_id is not None else ctx.session_id,
            "user_id": user_id if user_id is not None else ctx.user_id,
            "correlation_id": correlation_id,
            "product_id": product_id if product_id is not None else ctx.product_id,
            "payload": dict(payload) if payload is not None else {},
        }
        if timestamp is not None:
            fields["timestamp"] = timestamp
        return TelemetryEvent(**fields)
    except ValidationError as exc:
        detail = describe_validation_error(exc)
        for name in ("session_id", "user_id"):
            if fields[name] is None:
                detail = detail.replace(
                    f"{name}: Input should be a valid string",
                    f"{name}: not given and not set by telemetry_context",
                )
        raise InvalidEvent(event_type, detail) from None
    except (TypeError, ValueError) as exc:  # dict(payload) of something that is not a mapping
        raise InvalidEvent(event_type, f"payload: {exc}") from None
