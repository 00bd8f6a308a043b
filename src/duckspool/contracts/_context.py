"""Ambient ids for events, so integrations need not thread them through every call."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from duckspool.contracts._event import TelemetryEvent
from duckspool.contracts._uuid7 import uuid7

__all__ = ["TelemetryContext", "current_context", "make_event", "telemetry_context"]


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

    A missing correlation id defaults to a fresh one, so every event can be
    correlated; a missing session or user id is a contract violation and
    raises pydantic's ``ValidationError`` like any invalid event.
    """
    ctx = _current.get()
    fields: dict[str, Any] = {
        "event_type": event_type,
        "session_id": session_id if session_id is not None else ctx.session_id,
        "user_id": user_id if user_id is not None else ctx.user_id,
        "correlation_id": (
            correlation_id
            if correlation_id is not None
            else ctx.correlation_id
            if ctx.correlation_id is not None
            else str(uuid7())
        ),
        "product_id": product_id if product_id is not None else ctx.product_id,
        "payload": dict(payload) if payload is not None else {},
    }
    if timestamp is not None:
        fields["timestamp"] = timestamp
    return TelemetryEvent(**fields)
