"""The one way integrations emit: build from context, emit, and never raise."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from duckspool.contracts import make_event
from duckspool.spool import Emitter
from duckspool.spool import emit as default_emit

__all__ = ["SECRET_KEY", "clean_payload", "emit_safely"]

log = logging.getLogger(__name__)

# Keys that must never reach a payload, whatever a caller passes in ``extra``.
SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)?|secret|token|api[_-]?key|auth(orization)?|cookie|credential|"
    r"private[_-]?key|otp|pin|ssn|card[_-]?number|cvv",
    re.IGNORECASE,
)


def clean_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Drop None values and any key that looks like a secret (at every depth)."""
    out: dict[str, Any] = {}
    for key, value in payload.items():
        if value is None or SECRET_KEY.search(str(key)):
            continue
        out[key] = clean_payload(value) if isinstance(value, Mapping) else value
    return out


def emit_safely(
    event_type: str,
    payload: Mapping[str, Any],
    *,
    emitter: Emitter | None = None,
    session_id: str | None = None,
    user_id: str | None = None,
    correlation_id: str | None = None,
    product_id: str | None = None,
    at: datetime | None = None,
) -> bool:
    """Build an event (ids not given come from ``telemetry_context``) and emit it.

    Returns False, logging at debug level, when the event could not be built
    (e.g. no session id anywhere); never raises.
    """
    try:
        event = make_event(
            event_type,
            clean_payload(payload),
            session_id=session_id,
            user_id=user_id,
            correlation_id=correlation_id,
            product_id=product_id,
            timestamp=at,
        )
    except Exception as exc:  # noqa: BLE001 - telemetry must never break the caller
        log.debug("duckspool: %s not emitted: %s", event_type, exc)
        return False
    try:
        (emitter.emit if emitter is not None else default_emit)(event)
    except Exception:  # noqa: BLE001 - emit() never raises; this guards a custom emitter
        return False
    return True
