"""The request middleware: binds user, session and correlation ids for each request."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.utils.encoding import force_bytes

from duckspool.contracts import telemetry_context
from duckspool.integrations._web import (
    ANONYMOUS,
    correlation_id_for,
    request_session_id,
    session_digest,
)
from duckspool.integrations.auth import record_session_expired

__all__ = ["TelemetryMiddleware", "session_id_for"]


def session_id_for(session_key: str) -> str:
    """The ``sessionId`` events carry for a Django session key: a digest keyed with
    ``SECRET_KEY`` (the key itself is a credential and never appears in an event)."""
    return session_digest(force_bytes(settings.SECRET_KEY), session_key)


def user_id_of(user: Any) -> str | None:
    """``str(user.pk)`` of an authenticated user, else None."""
    if user is not None and getattr(user, "is_authenticated", False):
        return str(user.pk)
    return None


class TelemetryMiddleware:
    """Binds each request's ids with ``telemetry_context`` (sync and async views).

    - ``correlationId``: the OpenTelemetry trace id, else the ``traceparent``
      trace id, else ``X-Request-ID`` / ``X-Correlation-ID``, else a new id.
    - ``userId``: ``str(request.user.pk)`` when authenticated, else ``"anonymous"``.
    - ``sessionId``: :func:`session_id_for` of the session key, else
      ``request:<correlationId>`` for a request without a session.

    A request whose session cookie names a session the store no longer has
    (expired and cleared, flushed elsewhere, or forged) emits
    ``action.auth.session_expired`` with ``expiryReason`` ``other`` and
    ``detectedBy`` ``stale_cookie``, under the digest of the cookie's key.
    Place it after ``SessionMiddleware`` and ``AuthenticationMiddleware``.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response
        self.product_id: str | None = getattr(settings, "DUCKSPOOL_PRODUCT_ID", None)
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: Any) -> Any:
        if iscoroutinefunction(self):
            return self._acall(request)
        with self._bound(request):
            return self.get_response(request)

    async def _acall(self, request: Any) -> Any:
        from asgiref.sync import sync_to_async

        # The session and user loads hit the database: do them off the event loop.
        ids = await sync_to_async(self._ids)(request)
        with telemetry_context(**ids):
            response: Awaitable[Any] = self.get_response(request)
            return await response

    @contextlib.contextmanager
    def _bound(self, request: Any) -> Iterator[None]:
        with telemetry_context(**self._ids(request)):
            yield

    def _ids(self, request: Any) -> dict[str, str | None]:
        correlation_id = correlation_id_for(request.headers.get)
        session_id = None
        expired_key = None
        session = getattr(request, "session", None)
        if session is not None:
            cookie = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
            try:
                session.keys()  # loads the session: an unknown key is reset to None
                key = session.session_key
            except Exception:  # noqa: BLE001 - a broken session store is the app's error to see
                key = None
            if key:
                session_id = session_id_for(key)
            elif cookie:
                expired_key = cookie
        user_id = user_id_of(getattr(request, "user", None))
        ids = {
            "correlation_id": correlation_id,
            "session_id": session_id or request_session_id(correlation_id),
            "user_id": user_id or ANONYMOUS,
            "product_id": self.product_id,
        }
        if expired_key is not None:
            record_session_expired(
                user_id=ANONYMOUS,  # the session and who it belonged to are gone
                session_id=session_id_for(expired_key),
                reason="other",
                correlation_id=correlation_id,
                product_id=self.product_id,
                extra={"detectedBy": "stale_cookie"},
            )
        return ids
