"""FastAPI and Starlette (alone) through their TestClient, with the pure ASGI middleware."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import duckspool
from duckspool import Emitter, Loader
from duckspool.integrations.asgi import TelemetryMiddleware, telemetry_lifespan
from duckspool.testing import Capture, assert_emitted
from tests.integrations_support import TRACE_ID, TRACEPARENT, load_rows


def _ids() -> dict[str, Any]:
    ctx = duckspool.current_context()
    return {"user": ctx.user_id, "session": ctx.session_id, "correlation": ctx.correlation_id}


def fastapi_app(**middleware: Any) -> FastAPI:
    app = FastAPI()
    app.add_middleware(TelemetryMiddleware, **middleware)

    @app.get("/async")
    async def async_page() -> dict[str, Any]:
        return {"accepted": duckspool.track("action.page.viewed", {"page": "async"}), **_ids()}

    @app.get("/sync")
    def sync_page() -> dict[str, Any]:  # runs in Starlette's thread pool
        return {"accepted": duckspool.track("action.page.viewed", {"page": "sync"}), **_ids()}

    return app


def test_fastapi_binds_the_context_for_async_and_sync_endpoints(
    telemetry_events: Capture,
) -> None:
    client = TestClient(fastapi_app())
    body = client.get("/async", headers={"traceparent": TRACEPARENT}).json()
    assert body == {"accepted": True, "user": "anonymous", "session": f"request:{TRACE_ID}",
                    "correlation": TRACE_ID}
    body = client.get("/sync", headers={"X-Request-ID": "req-sync"}).json()
    assert body["correlation"] == "req-sync"
    assert_emitted(telemetry_events, "action.page.viewed", page="sync",
                   correlation_id="req-sync", user_id="anonymous")
    generated = client.get("/async").json()["correlation"]
    assert len(generated) == 36  # a fresh UUIDv7 per request
    assert generated != client.get("/async").json()["correlation"]


def test_fastapi_resolvers_pick_user_and_session_and_a_failing_one_is_ignored(
    telemetry_events: Capture,
) -> None:
    def user(scope: Any) -> str | None:
        return dict(scope["headers"]).get(b"x-user", b"").decode() or None

    def session(scope: Any) -> str:
        raise LookupError("session store down")

    client = TestClient(fastapi_app(resolve_user=user, resolve_session=session,
                                    product_id="api"))
    body = client.get("/async", headers={"X-User": "u-5", "X-Correlation-ID": "c-5"}).json()
    assert body == {"accepted": True, "user": "u-5", "session": "request:c-5",
                    "correlation": "c-5"}
    assert_emitted(telemetry_events, "action.page.viewed", user_id="u-5", product_id="api")


class HeaderAuth(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
        name = conn.headers.get("x-user")
        return (AuthCredentials(["authenticated"]), SimpleUser(name)) if name else None


def test_starlette_alone_with_its_authentication_middleware(telemetry_events: Capture) -> None:
    async def page(request: Request) -> JSONResponse:
        duckspool.track("action.page.viewed", {"page": "starlette"})
        return JSONResponse(_ids())

    app = Starlette(
        routes=[Route("/", page)],
        middleware=[Middleware(TelemetryMiddleware),
                    # inside ours, but the user is resolved lazily from the shared scope
                    Middleware(AuthenticationMiddleware, backend=HeaderAuth())],
    )
    with TestClient(app) as client:
        anonymous = client.get("/", headers={"traceparent": TRACEPARENT}).json()
        assert anonymous["user"] == "anonymous" and anonymous["correlation"] == TRACE_ID
    assert_emitted(telemetry_events, "action.page.viewed", page="starlette",
                   correlation_id=TRACE_ID)


def test_authenticated_starlette_user_when_auth_runs_first(telemetry_events: Capture) -> None:
    async def page(request: Request) -> JSONResponse:
        duckspool.track("action.page.viewed", {"page": "authed"})
        return JSONResponse(_ids())

    app = Starlette(
        routes=[Route("/", page)],
        middleware=[Middleware(AuthenticationMiddleware, backend=HeaderAuth()),
                    Middleware(TelemetryMiddleware)],
    )
    body = TestClient(app).get("/", headers={"X-User": "carol"}).json()
    assert body["user"] == "carol"
    assert_emitted(telemetry_events, "action.page.viewed", page="authed", user_id="carol")


def test_lifespan_flushes_closes_and_loads_into_the_table(tmp_path: Path) -> None:
    spool, db = tmp_path / "spool", tmp_path / "t.duckdb"
    emitter = Emitter(spool, flush_interval=60)  # nothing is written unless close() flushes
    app = FastAPI(lifespan=telemetry_lifespan(emitter=emitter, loader=Loader(spool, db)))
    app.add_middleware(TelemetryMiddleware)

    @app.get("/")
    async def page() -> dict[str, bool]:
        return {"ok": emitter.track("action.page.viewed", {"page": "lifespan"})}

    with TestClient(app) as client:
        assert client.get("/", headers={"traceparent": TRACEPARENT}).json() == {"ok": True}
        assert client.get("/", headers={"X-Request-ID": "req-2"}).json() == {"ok": True}
        assert not emitter.closed
    assert emitter.closed and emitter.stats().written == 2
    # The lifespan ran one last load after closing the emitter: the rows are in the table.
    rows = load_rows(spool, db)
    assert [(r["event_type"], r["correlation_id"]) for r in rows] == [
        ("action.page.viewed", TRACE_ID), ("action.page.viewed", "req-2")]


def test_websocket_connections_are_bound_too(telemetry_events: Capture) -> None:
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        duckspool.track("action.chat.message_sent", {"text": await websocket.receive_text()})
        await websocket.send_json(_ids())
        await websocket.close()

    app = Starlette(routes=[WebSocketRoute("/ws", echo)],
                    middleware=[Middleware(TelemetryMiddleware)])
    with TestClient(app).websocket_connect("/ws", headers={"X-Request-ID": "ws-1"}) as ws:
        ws.send_text("hello")
        assert ws.receive_json()["correlation"] == "ws-1"
    assert_emitted(telemetry_events, "action.chat.message_sent", text="hello",
                   correlation_id="ws-1", user_id="anonymous")
