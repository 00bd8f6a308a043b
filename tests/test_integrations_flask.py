"""Flask and Flask-Login through Flask's own test_client."""

from __future__ import annotations

from pathlib import Path

import flask
import flask_login
import pytest

import duckspool
from duckspool.integrations.flask import SESSION_MARKER, init_app
from duckspool.testing import Capture, assert_emitted
from tests.integrations_support import TRACE_ID, TRACEPARENT, default_spool, load_rows

__all__ = ["default_spool"]


class User(flask_login.UserMixin):
    def __init__(self, user_id: str) -> None:
        self.id = user_id


def make_app() -> flask.Flask:
    app = flask.Flask(__name__)
    app.secret_key = "flask-test-secret"
    manager = flask_login.LoginManager(app)
    manager.user_loader(User)
    init_app(app, product_id="flask-app")

    @app.get("/page")
    def page() -> dict[str, object]:
        accepted = duckspool.track("action.page.viewed", {"page": "home"})
        ctx = duckspool.current_context()
        return {"accepted": accepted, "user": ctx.user_id, "session": ctx.session_id,
                "correlation": ctx.correlation_id}

    @app.post("/login/<user_id>")
    def login(user_id: str) -> str:
        flask_login.login_user(User(user_id))
        duckspool.track("action.page.viewed", {"page": "welcome"})
        return "ok"

    @app.post("/logout")
    def logout() -> str:
        flask_login.logout_user()
        return "ok"

    @app.get("/boom")
    def boom() -> str:
        duckspool.track("action.page.viewed", {"page": "boom"})
        raise RuntimeError("view failed")

    return app


def test_flask_request_context_and_flask_login(telemetry_events: Capture) -> None:
    app = make_app()
    client = app.test_client()

    page = client.get("/page", headers={"traceparent": TRACEPARENT}).get_json()
    assert page == {"accepted": True, "user": "anonymous", "session": f"request:{TRACE_ID}",
                    "correlation": TRACE_ID}
    page = client.get("/page", headers={"X-Request-ID": "req-7"}).get_json()
    assert page["correlation"] == "req-7"

    client.post("/login/u-42", headers={"X-Request-ID": "req-login"})
    with client.session_transaction() as session:
        marker = session[SESSION_MARKER]
    login = assert_emitted(telemetry_events, "action.auth.login", user_id="u-42",
                           correlation_id="req-login", method="flask_login",
                           product_id="flask-app")
    assert login.session_id.startswith("s_") and marker not in login.session_id
    assert_emitted(telemetry_events, "action.page.viewed", page="welcome", user_id="u-42",
                   session_id=login.session_id)

    page = client.get("/page").get_json()
    assert (page["user"], page["session"]) == ("u-42", login.session_id)

    client.post("/logout")
    assert_emitted(telemetry_events, "action.auth.logout", user_id="u-42",
                   session_id=login.session_id)
    page = client.get("/page").get_json()
    assert page["user"] == "anonymous" and page["session"].startswith("request:")

    # A new login is a new session id.
    client.post("/login/u-42")
    logins = [e for e in telemetry_events if e.event_type == "action.auth.login"]
    assert len({e.session_id for e in logins}) == 2


def test_flask_context_is_unbound_after_each_request_even_on_error(
    telemetry_events: Capture,
) -> None:
    app = make_app()
    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    assert client.get("/boom", headers={"X-Request-ID": "req-boom"}).status_code == 500
    assert_emitted(telemetry_events, "action.page.viewed", page="boom", correlation_id="req-boom")
    assert duckspool.current_context() == duckspool.TelemetryContext()


@pytest.mark.parametrize("traceparent", [
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff is invalid
    "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",   # 31 digits
    "garbage",
])
def test_an_invalid_traceparent_falls_back_to_the_request_id(
    telemetry_events: Capture, traceparent: str
) -> None:
    client = make_app().test_client()
    page = client.get("/page", headers={"traceparent": traceparent,
                                        "X-Request-ID": "fallback"}).get_json()
    assert page["correlation"] == "fallback"


def test_flask_events_reach_the_table(default_spool: Path, tmp_path: Path) -> None:
    client = make_app().test_client()
    client.post("/login/u-1", headers={"traceparent": TRACEPARENT})
    client.get("/page", headers={"X-Request-ID": "req-2"})
    duckspool.shutdown()
    rows = load_rows(default_spool, tmp_path / "t.duckdb")
    assert [(r["event_type"], r["user_id"], r["correlation_id"], r["payload"].get("page"))
            for r in rows] == [
        ("action.auth.login", "u-1", TRACE_ID, None),
        ("action.page.viewed", "u-1", TRACE_ID, "welcome"),
        ("action.page.viewed", "u-1", "req-2", "home"),
    ]
    assert len({r["session_id"] for r in rows}) == 1
