"""Django: add the app and the middleware, and auth and request context are wired.

::

    INSTALLED_APPS = [..., "duckspool.integrations.django"]
    MIDDLEWARE = [
        ...,
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "duckspool.integrations.django.TelemetryMiddleware",  # after those two
    ]

The app connects ``user_logged_in``, ``user_logged_out`` and ``user_login_failed``
to ``action.auth.login`` / ``logout`` / ``login`` (failure). The middleware binds
each request's ids (see :class:`TelemetryMiddleware`) so ``duckspool.track()``
anywhere below a view needs none, and emits ``action.auth.session_expired``
when a request brings a session cookie whose session no longer exists.
Optional setting ``DUCKSPOOL_PRODUCT_ID``: the ``productId`` of every event.
"""

from duckspool.integrations.django._middleware import TelemetryMiddleware, session_id_for

__all__ = ["TelemetryMiddleware", "session_id_for"]
