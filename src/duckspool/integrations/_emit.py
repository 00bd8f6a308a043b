"""The one way integrations emit: build from context, emit, and never raise.

Payload keys that name a secret are dropped before an event is built. A key is
split into name tokens (camelCase, snake_case, kebab-case, dots, spaces:
``sessionCookie`` -> ``session cookie``, ``API-Key`` -> ``api key``) and dropped when
a token, or a pair of adjacent tokens, is in :data:`SECRET_TOKENS` /
:data:`SECRET_PAIRS`, or the whole key is ``auth``. Ordinary words that merely
contain one (``author``, ``shippingMethod``, ``mapping``, ``opinion``, ``classname``)
are kept.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from duckspool.spool import Emitter
from duckspool.spool import track as default_track

__all__ = ["SECRET_PAIRS", "SECRET_TOKENS", "clean_payload", "emit_safely", "is_secret_key"]

SECRET_TOKENS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "passcode",
        "secret",
        "token",
        "authorization",
        "cookie",
        "credential",
        "credentials",
        "apikey",
        "otp",
        "pin",
        "ssn",
        "cvv",
        "cvc",
    }
)
"""A key holding any of these name tokens is dropped."""

SECRET_PAIRS = frozenset(
    {
        ("api", "key"),
        ("private", "key"),
        ("secret", "key"),
        ("access", "key"),
        ("card", "number"),
        ("session", "key"),
        ("session", "id"),
    }
)
"""A key holding one of these pairs of adjacent name tokens is dropped.

``session id`` is here because in a payload it is the raw session key (a
credential); the envelope's own ``sessionId`` is a separate, derived field."""

# An upper-case run before a capitalised word (``OTPMethod`` -> OTP, Method), a word,
# an upper-case run, or digits.
_TOKEN = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def name_tokens(key: str) -> list[str]:
    """``"sessionCookie"`` -> ``["session", "cookie"]``; ``"api_key"`` -> ``["api", "key"]``."""
    return [t.lower() for t in _TOKEN.findall(key)]


def is_secret_key(key: object) -> bool:
    """Whether a payload key names a secret (see the module docstring for the rule)."""
    tokens = name_tokens(str(key))
    if tokens == ["auth"]:
        return True
    if any(t in SECRET_TOKENS for t in tokens):
        return True
    return any(pair in SECRET_PAIRS for pair in itertools.pairwise(tokens))


def clean_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Drop None values and any key that names a secret (at every depth)."""
    out: dict[str, Any] = {}
    for key, value in payload.items():
        if value is None or is_secret_key(key):
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

    Goes through ``track()`` of ``emitter`` (default: the process-wide one), so an
    event that cannot be built (e.g. no session id anywhere) is counted there as
    ``invalid_event`` and passed to its ``on_drop``. Returns whether the event
    was accepted; never raises.
    """
    try:
        cleaned = clean_payload(payload)
    except Exception:  # noqa: BLE001 - a payload mapping that fails to iterate
        cleaned = None
    track = emitter.track if emitter is not None else default_track
    try:
        if cleaned is None:
            # Let track() count and report it like any other unbuildable event.
            return track(event_type, payload, session_id=session_id, user_id=user_id)
        return track(
            event_type,
            cleaned,
            session_id=session_id,
            user_id=user_id,
            correlation_id=correlation_id,
            product_id=product_id,
            at=at,
        )
    except Exception:  # noqa: BLE001 - track() never raises; this guards a custom emitter
        return False
