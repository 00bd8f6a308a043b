"""Auth events: login (successful or not), logout, and session expiry.

Call these from the application's own login, logout and session-store code.
Payloads carry how and why, never credentials: only the named arguments below
reach them, and ``extra`` keys that look like secrets are dropped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from duckspool.integrations._emit import emit_safely
from duckspool.spool import Emitter

__all__ = [
    "LOGIN",
    "LOGOUT",
    "SESSION_EXPIRED",
    "SessionExpiryAdapter",
    "record_login",
    "record_logout",
    "record_session_expired",
]

LOGIN = "action.auth.login"
LOGOUT = "action.auth.logout"
SESSION_EXPIRED = "action.auth.session_expired"

ExpiryReason = Literal["idle_timeout", "absolute_timeout", "revoked", "other"]


def record_login(
    *,
    user_id: str | None = None,
    session_id: str | None = None,
    method: str,
    success: bool = True,
    failure_reason: str | None = None,
    mfa: bool | None = None,
    product_id: str | None = None,
    correlation_id: str | None = None,
    at: datetime | None = None,
    emitter: Emitter | None = None,
    extra: dict[str, Any] | None = None,
) -> bool:
    """A login attempt. Failed attempts are events too (``success=False`` and a reason)."""
    payload = {
        **(extra or {}),
        "method": method,
        "outcome": "success" if success else "failure",
        "failureReason": None if success else (failure_reason or "unspecified"),
        "mfa": mfa,
    }
    return emit_safely(
        LOGIN,
        payload,
        emitter=emitter,
        session_id=session_id,
        user_id=user_id,
        correlation_id=correlation_id,
        product_id=product_id,
        at=at,
    )


def record_logout(
    *,
    user_id: str | None = None,
    session_id: str | None = None,
    session_age_seconds: float | None = None,
    initiated_by: Literal["user", "admin", "system"] = "user",
    product_id: str | None = None,
    correlation_id: str | None = None,
    at: datetime | None = None,
    emitter: Emitter | None = None,
    extra: dict[str, Any] | None = None,
) -> bool:
    """An explicit logout."""
    payload = {
        **(extra or {}),
        "sessionAgeSeconds": session_age_seconds,
        "initiatedBy": initiated_by,
    }
    return emit_safely(
        LOGOUT,
        payload,
        emitter=emitter,
        session_id=session_id,
        user_id=user_id,
        correlation_id=correlation_id,
        product_id=product_id,
        at=at,
    )


def record_session_expired(
    *,
    user_id: str | None = None,
    session_id: str | None = None,
    session_age_seconds: float | None = None,
    reason: ExpiryReason = "idle_timeout",
    product_id: str | None = None,
    correlation_id: str | None = None,
    at: datetime | None = None,
    emitter: Emitter | None = None,
    extra: dict[str, Any] | None = None,
) -> bool:
    """A session that ended without a logout."""
    payload = {**(extra or {}), "sessionAgeSeconds": session_age_seconds, "expiryReason": reason}
    return emit_safely(
        SESSION_EXPIRED,
        payload,
        emitter=emitter,
        session_id=session_id,
        user_id=user_id,
        correlation_id=correlation_id,
        product_id=product_id,
        at=at,
    )


class SessionExpiryAdapter:
    """A callback for session stores: ``adapter(session_id, user_id, created_at, reason)``.

    Hand it to whatever the store calls when it drops a session; it computes the
    session's age and emits ``action.auth.session_expired``.
    """

    def __init__(self, *, emitter: Emitter | None = None, product_id: str | None = None) -> None:
        self.emitter = emitter
        self.product_id = product_id

    def __call__(
        self,
        session_id: str,
        user_id: str,
        created_at: datetime | None = None,
        reason: ExpiryReason = "idle_timeout",
        *,
        at: datetime | None = None,
    ) -> bool:
        age = None
        if created_at is not None:
            from datetime import UTC

            now = at or datetime.now(UTC)
            try:
                age = round((now - created_at).total_seconds(), 3)
            except TypeError:  # naive vs aware: leave the age out rather than guess
                age = None
        return record_session_expired(
            user_id=user_id,
            session_id=session_id,
            session_age_seconds=age,
            reason=reason,
            product_id=self.product_id,
            at=at,
            emitter=self.emitter,
        )
