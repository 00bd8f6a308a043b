"""ASGI (FastAPI, Starlette, any ASGI app): a pure ASGI middleware and a lifespan helper.

::

    from duckspool.integrations.asgi import TelemetryMiddleware, telemetry_lifespan
    app = FastAPI(lifespan=telemetry_lifespan())      # flush + close at shutdown
    app.add_middleware(TelemetryMiddleware)

The middleware binds each HTTP and WebSocket connection's ids with
``telemetry_context`` before calling the app, so ``duckspool.track()`` in an
endpoint (async, or sync in Starlette's thread pool, which copies the context)
needs none. It does no I/O and never blocks the event loop: ``emit`` only
appends to a memory buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, MutableMapping
from typing import Any

from duckspool.contracts import telemetry_context
from duckspool.integrations._web import ANONYMOUS, correlation_id_for, request_session_id
from duckspool.spool import Emitter, shutdown

__all__ = ["TelemetryMiddleware", "scope_user_id", "telemetry_lifespan"]

Scope = MutableMapping[str, Any]
ASGIApp = Callable[..., Any]
IdResolver = Callable[[Scope], str | None]


def scope_user_id(scope: Scope) -> str | None:
    """The default user resolver: Starlette's ``scope["user"]`` when authenticated
    (``identity``, else ``display_name``), else None."""
    user = scope.get("user")
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    for attribute in ("identity", "display_name"):
        try:
            value = getattr(user, attribute)
        except Exception:  # noqa: BLE001, S112 - BaseUser.identity raises NotImplementedError
            continue
        if value:
            return str(value)
    return None


def _header_getter(scope: Scope) -> Callable[[str], str | None]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers") or ():
        name = raw_name.decode("latin-1").lower()
        headers.setdefault(name, raw_value.decode("latin-1"))
    return headers.get


class TelemetryMiddleware:
    """Binds ``correlationId``, ``userId`` and ``sessionId`` for each request.

    - ``correlationId``: OpenTelemetry trace id, else ``traceparent``, else
      ``X-Request-ID`` / ``X-Correlation-ID``, else a new id.
    - ``userId``: ``resolve_user(scope)`` (default :func:`scope_user_id`, which
      needs Starlette's ``AuthenticationMiddleware`` to run first: add it after
      this one), else ``"anonymous"``.
    - ``sessionId``: ``resolve_session(scope)`` (no default: ASGI has no
      sessions; return a stable, non-secret id, never a raw session cookie),
      else ``request:<correlationId>``.

    A resolver that raises is treated as returning None.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        resolve_user: IdResolver | None = scope_user_id,
        resolve_session: IdResolver | None = None,
        product_id: str | None = None,
    ) -> None:
        self.app = app
        self.resolve_user = resolve_user
        self.resolve_session = resolve_session
        self.product_id = product_id

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope.get("type") not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        correlation_id = correlation_id_for(_header_getter(scope))
        with telemetry_context(
            correlation_id=correlation_id,
            user_id=_resolve(self.resolve_user, scope) or ANONYMOUS,
            session_id=_resolve(self.resolve_session, scope) or request_session_id(correlation_id),
            product_id=self.product_id,
        ):
            await self.app(scope, receive, send)


def _resolve(resolver: IdResolver | None, scope: Scope) -> str | None:
    if resolver is None:
        return None
    try:
        value = resolver(scope)
    except Exception:  # noqa: BLE001 - telemetry must not turn into a 500
        return None
    return str(value) if value else None


def telemetry_lifespan(
    *,
    emitter: Emitter | None = None,
    loader: Any = None,
    loader_interval: float | None = None,
    close_timeout: float = 10.0,
) -> Callable[[Any], contextlib.AbstractAsyncContextManager[None]]:
    """A lifespan for ``FastAPI(lifespan=...)`` / ``Starlette(lifespan=...)``.

    At shutdown it closes ``emitter`` (default: the process-wide one), which
    flushes and seals its segment, in a worker thread so the event loop is not
    blocked. With ``loader`` (a :class:`duckspool.Loader`) it also runs the
    background loader between startup and shutdown
    (``duckspool.start_background_loader``); at shutdown it stops it, closes the
    emitter, then runs one last load so the final segment reaches the table.
    """

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        scheduler = None
        if loader is not None:
            from duckspool.loader import start_background_loader

            if loader_interval is None:
                scheduler = start_background_loader(loader)
            else:
                scheduler = start_background_loader(loader, interval=loader_interval)
        try:
            yield
        finally:
            if scheduler is not None:
                await asyncio.to_thread(scheduler.shutdown, True)
            if emitter is not None:
                await asyncio.to_thread(emitter.close, close_timeout)
            else:
                await asyncio.to_thread(shutdown, close_timeout)
            if loader is not None:
                await asyncio.to_thread(loader.run_once)

    return lifespan
