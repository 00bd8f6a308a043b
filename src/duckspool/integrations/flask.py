"""Flask: ``init_app(app)`` binds each request's ids; Flask-Login's signals become auth events.

::

    from duckspool.integrations.flask import init_app
    init_app(app)            # after LoginManager(app) if you use Flask-Login

Per request (``before_request`` / ``teardown_request``): ``correlationId`` from
OpenTelemetry, ``traceparent``, ``X-Request-ID`` / ``X-Correlation-ID`` or a new
id; ``userId`` = ``current_user.get_id()`` when Flask-Login has an authenticated
user, else ``"anonymous"``; ``sessionId`` = a digest (keyed with the app's
``secret_key``) of a random id duckspool keeps in the Flask session
(``_duckspool_sid``, set at login), else ``request:<correlationId>``. With
Flask-Login installed, ``user_logged_in`` / ``user_logged_out`` emit
``action.auth.login`` / ``action.auth.logout``. Flask-Login does not see
failed logins: call ``record_login(success=False, ...)`` where you check
the password.
"""

from __future__ import annotations

import contextvars
import secrets
from typing import Any

import flask

from duckspool.contracts._context import TelemetryContext, _current, rebind
from duckspool.integrations._web import (
    ANONYMOUS,
    correlation_id_for,
    request_session_id,
    session_digest,
)
from duckspool.integrations.auth import record_login, record_logout

__all__ = ["SESSION_MARKER", "init_app"]

SESSION_MARKER = "_duckspool_sid"
"""The Flask session key where duckspool keeps its random per-login id."""

_CONTEXT_SLOT = "_duckspool_context_token"


def _secret(app: flask.Flask) -> bytes:
    key = app.secret_key or b"duckspool-no-secret-key"
    return key if isinstance(key, bytes) else str(key).encode()


def _session_id(app: flask.Flask) -> str | None:
    marker = flask.session.get(SESSION_MARKER)
    return session_digest(_secret(app), str(marker)) if marker else None


def _current_user_id() -> str | None:
    try:
        from flask_login import current_user
    except ImportError:
        return None
    try:
        if current_user.is_authenticated:
            return str(current_user.get_id())
    except Exception:  # noqa: BLE001, S110 - no LoginManager on this app: no user
        pass
    return None


def init_app(app: flask.Flask, *, product_id: str | None = None) -> None:
    """Wire duckspool into ``app`` (see the module docstring for what it binds and emits)."""

    def bind() -> None:
        correlation_id = correlation_id_for(flask.request.headers.get)
        ctx = TelemetryContext(
            correlation_id=correlation_id,
            session_id=_session_id(app) or request_session_id(correlation_id),
            user_id=_current_user_id() or ANONYMOUS,
            product_id=product_id,
        )
        setattr(flask.g, _CONTEXT_SLOT, _current.set(ctx))

    def unbind(_error: BaseException | None = None) -> None:
        token: contextvars.Token[TelemetryContext] | None = flask.g.pop(_CONTEXT_SLOT, None)
        if token is not None:
            try:
                _current.reset(token)
            except ValueError:  # torn down in another context: it dies with that context
                pass

    app.before_request(bind)
    app.teardown_request(unbind)
    _connect_flask_login(app, product_id)


def _connect_flask_login(app: flask.Flask, product_id: str | None) -> None:
    try:
        from flask_login import user_logged_in, user_logged_out
    except ImportError:
        return

    def logged_in(sender: Any, user: Any = None, **_: Any) -> None:
        flask.session[SESSION_MARKER] = secrets.token_hex(16)  # a new session id per login
        user_id = str(user.get_id())
        session_id = _session_id(app)
        record_login(
            user_id=user_id, session_id=session_id, method="flask_login", product_id=product_id
        )
        rebind(user_id=user_id, session_id=session_id)

    def logged_out(sender: Any, user: Any = None, **_: Any) -> None:
        user_id = None
        try:
            user_id = str(user.get_id()) if user is not None else None
        except Exception:  # noqa: BLE001, S110 - an anonymous user without get_id
            pass
        record_logout(user_id=user_id, session_id=_session_id(app), product_id=product_id)
        flask.session.pop(SESSION_MARKER, None)

    user_logged_in.connect(logged_in, app, weak=False)
    user_logged_out.connect(logged_out, app, weak=False)
