"""What every web integration does per request: pick the correlation id, derive ids.

Framework-free: each integration hands in a header getter and binds the result
with :func:`duckspool.telemetry_context`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable

from duckspool.contracts import otel_trace_id, uuid7

__all__ = [
    "ANONYMOUS",
    "correlation_id_for",
    "request_session_id",
    "session_digest",
    "traceparent_trace_id",
]

ANONYMOUS = "anonymous"
"""``userId`` of requests (and failed logins) without an authenticated user."""

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,128}$")  # printable ASCII, no spaces, bounded
_ZERO_TRACE = "0" * 32


def traceparent_trace_id(value: str | None) -> str | None:
    """The trace id of a W3C ``traceparent`` header, or None if it is not a valid one."""
    if not value:
        return None
    match = _TRACEPARENT.match(value.strip().lower())
    if match is None or match.group(1) == "ff" or match.group(2) == _ZERO_TRACE:
        return None
    if match.group(1) == "00" and len(value.strip()) != 55:
        return None  # version 00 has exactly four fields
    return match.group(2)


def correlation_id_for(header: Callable[[str], str | None]) -> str:
    """The request's correlation id, in this order of preference:

    1. the active OpenTelemetry span's trace id (when the app uses OpenTelemetry);
    2. the trace id of an inbound W3C ``traceparent`` header;
    3. ``X-Request-ID``, then ``X-Correlation-ID`` (printable ASCII, at most 128
       characters; anything else is ignored rather than stored);
    4. a new UUIDv7.

    ``header(name)`` returns a header's value or None (names are case-insensitive).
    """
    found = otel_trace_id() or traceparent_trace_id(header("traceparent"))
    if found:
        return found
    for name in ("x-request-id", "x-correlation-id"):
        value = header(name)
        if value and _REQUEST_ID.match(value.strip()):
            return value.strip()
    return str(uuid7())


def session_digest(key: bytes, session_key: str) -> str:
    """A stable, non-reversible session id: ``s_`` + 32 hex digits of HMAC-SHA256.

    ``key`` is the application's secret (Django's ``SECRET_KEY``, Flask's
    ``secret_key``): without it the digest cannot be linked back to the session
    key, which is a credential and never leaves the application.
    """
    digest = hmac.new(key, b"duckspool.session:" + session_key.encode(), hashlib.sha256)
    return "s_" + digest.hexdigest()[:32]


def request_session_id(correlation_id: str) -> str:
    """The session id of a request that has no session: one per request."""
    return f"request:{correlation_id}"
