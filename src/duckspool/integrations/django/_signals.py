"""Django's auth signals turned into auth events (credentials never reach a payload)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

from duckspool.contracts import current_context
from duckspool.contracts._context import rebind
from duckspool.integrations._web import ANONYMOUS
from duckspool.integrations.auth import record_login, record_logout
from duckspool.integrations.django._middleware import session_id_for, user_id_of

__all__ = ["connect_auth_signals"]

_UID = "duckspool"


def _backend_name(user: Any) -> str:
    backend = getattr(user, "backend", None) or "django"
    return str(backend).rsplit(".", 1)[-1]


def _session_id(request: Any) -> str | None:
    session = getattr(request, "session", None)
    key = getattr(session, "session_key", None)
    return session_id_for(key) if key else None


def _product_id() -> str | None:
    return getattr(settings, "DUCKSPOOL_PRODUCT_ID", None)


def on_logged_in(sender: Any, request: Any = None, user: Any = None, **_: Any) -> None:
    """``login()`` has cycled the session key: the new session's digest is the session id."""
    user_id = user_id_of(user)
    session_id = _session_id(request) or current_context().session_id or ANONYMOUS
    record_login(
        user_id=user_id,
        session_id=session_id,
        method=_backend_name(user),
        product_id=_product_id(),
    )
    rebind(user_id=user_id, session_id=session_id)  # the rest of this request is theirs


def on_logged_out(sender: Any, request: Any = None, user: Any = None, **_: Any) -> None:
    record_logout(
        user_id=user_id_of(user) or current_context().user_id or ANONYMOUS,
        session_id=_session_id(request) or current_context().session_id or ANONYMOUS,
        product_id=_product_id(),
    )


def on_login_failed(sender: Any, credentials: Any = None, request: Any = None, **_: Any) -> None:
    """No user: ``userId`` is ``"anonymous"`` (or the already-logged-in user);
    the attempted username and password are never put in the event."""
    ctx = current_context()
    record_login(
        user_id=ctx.user_id or ANONYMOUS,
        session_id=_session_id(request) or ctx.session_id or ANONYMOUS,
        method="password",
        success=False,
        failure_reason="invalid_credentials",
        product_id=_product_id(),
    )


def connect_auth_signals() -> None:
    """Connect the three handlers (idempotent: Django de-duplicates by ``dispatch_uid``)."""
    user_logged_in.connect(on_logged_in, dispatch_uid=f"{_UID}.logged_in")
    user_logged_out.connect(on_logged_out, dispatch_uid=f"{_UID}.logged_out")
    user_login_failed.connect(on_login_failed, dispatch_uid=f"{_UID}.login_failed")
