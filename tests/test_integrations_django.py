"""Django through its own test Client, a real settings module and a real SQLite database."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from duckspool.testing import Capture, assert_emitted
from tests.integrations_support import TRACE_ID, TRACEPARENT, default_spool, load_rows

__all__ = ["default_spool"]

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def django_site(tmp_path_factory: pytest.TempPathFactory) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.django_site.settings"
    os.environ["DUCKSPOOL_TEST_DJANGO_DB"] = str(tmp_path_factory.mktemp("django") / "db.sqlite3")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.contrib.auth.models import User

    User.objects.create_user("alice", password=PASSWORD)


def _alice_pk() -> str:
    from django.contrib.auth.models import User

    return str(User.objects.get(username="alice").pk)


def test_request_context_login_logout_and_failed_login(
    django_site: None, telemetry_events: Capture
) -> None:
    from django.test import Client

    from duckspool.integrations.django import session_id_for

    client = Client()
    page = client.get("/page/", headers={"traceparent": TRACEPARENT}).json()
    assert page == {"accepted": True, "user": "anonymous", "session": f"request:{TRACE_ID}",
                    "correlation": TRACE_ID}
    assert_emitted(telemetry_events, "action.page.viewed", page="home", correlation_id=TRACE_ID,
                   user_id="anonymous", product_id="django-site")

    bad = client.post("/login/", {"username": "alice", "password": "wrong-guess"},
                      headers={"X-Request-ID": "req-failed-1"})
    assert bad.status_code == 401
    failed = assert_emitted(telemetry_events, "action.auth.login", outcome="failure",
                            correlation_id="req-failed-1")
    assert failed.user_id == "anonymous"
    assert failed.payload == {"method": "password", "outcome": "failure",
                              "failureReason": "invalid_credentials"}

    assert client.post("/login/", {"username": "alice", "password": PASSWORD},
                       headers={"X-Correlation-ID": "req-login-2"}).status_code == 200
    key = client.session.session_key
    pk = _alice_pk()
    login = assert_emitted(telemetry_events, "action.auth.login", outcome="success",
                           user_id=pk, session_id=session_id_for(key),
                           correlation_id="req-login-2")
    assert login.payload["method"] == "ModelBackend"
    # track() after login() in the same request runs as the new user and session.
    assert_emitted(telemetry_events, "action.page.viewed", page="welcome", user_id=pk,
                   session_id=session_id_for(key), correlation_id="req-login-2")

    page = client.get("/page/").json()
    assert (page["user"], page["session"]) == (pk, session_id_for(key))

    client.get("/logout/", headers={"traceparent": TRACEPARENT})
    assert_emitted(telemetry_events, "action.auth.logout", user_id=pk,
                   session_id=session_id_for(key), correlation_id=TRACE_ID)

    raw = b"\n".join(e.to_json_line() for e in telemetry_events)
    for secret in (PASSWORD, "wrong-guess", key):
        assert secret.encode() not in raw


def test_authenticate_outside_a_request_and_client_login(
    django_site: None, telemetry_events: Capture
) -> None:
    from django.contrib.auth import authenticate
    from django.test import Client

    assert authenticate(username="alice", password="nope") is None
    failed = assert_emitted(telemetry_events, "action.auth.login", outcome="failure")
    assert (failed.user_id, failed.session_id) == ("anonymous", "anonymous")

    client = Client()
    assert client.login(username="alice", password=PASSWORD)
    assert_emitted(telemetry_events, "action.auth.login", outcome="success", user_id=_alice_pk())
    client.logout()
    assert_emitted(telemetry_events, "action.auth.logout", user_id=_alice_pk())
    assert b"nope" not in b"".join(e.to_json_line() for e in telemetry_events)


def test_a_cookie_whose_session_is_gone_emits_session_expired(
    django_site: None, telemetry_events: Capture
) -> None:
    from django.contrib.sessions.models import Session
    from django.test import Client

    from duckspool.integrations.django import session_id_for

    client = Client()
    assert client.login(username="alice", password=PASSWORD)
    stale_key = client.session.session_key
    Session.objects.filter(session_key=stale_key).delete()  # expired and cleared by the store

    page = client.get("/page/", headers={"X-Request-ID": "after-expiry"}).json()
    assert page["user"] == "anonymous"
    expired = assert_emitted(telemetry_events, "action.auth.session_expired",
                             session_id=session_id_for(stale_key),
                             correlation_id="after-expiry", expiryReason="other",
                             detectedBy="stale_cookie")
    assert expired.user_id == "anonymous"
    assert stale_key.encode() not in expired.to_json_line()

    # A request without any session cookie is not an expiry.
    before = len([e for e in telemetry_events if e.event_type.endswith("session_expired")])
    Client().get("/page/")
    assert len([e for e in telemetry_events if e.event_type.endswith("session_expired")]) == before


def test_django_events_reach_the_table(django_site: None, default_spool: Path,
                                       tmp_path: Path) -> None:
    from django.test import Client

    client = Client()
    client.post("/login/", {"username": "alice", "password": PASSWORD},
                headers={"traceparent": TRACEPARENT})
    client.get("/page/", headers={"X-Request-ID": "req-9"})
    import duckspool

    duckspool.shutdown()  # flush and seal, as at process exit
    rows = load_rows(default_spool, tmp_path / "t.duckdb")
    pk = _alice_pk()
    assert [(r["event_type"], r["user_id"], r["correlation_id"]) for r in rows] == [
        ("action.auth.login", pk, TRACE_ID),
        ("action.page.viewed", pk, TRACE_ID),
        ("action.page.viewed", pk, "req-9"),
    ]
    assert {r["product_id"] for r in rows} == {"django-site"}
    assert len({r["session_id"] for r in rows}) == 1


def test_async_requests_bind_the_same_ids(django_site: None, telemetry_events: Capture) -> None:
    import asyncio

    from django.test import AsyncClient

    async def visit() -> dict[str, str]:
        response = await AsyncClient().get("/page/", headers={"traceparent": TRACEPARENT})
        return response.json()  # type: ignore[no-any-return]

    page = asyncio.run(visit())
    assert page == {"accepted": True, "user": "anonymous", "session": f"request:{TRACE_ID}",
                    "correlation": TRACE_ID}
    assert_emitted(telemetry_events, "action.page.viewed", correlation_id=TRACE_ID)


def test_a_login_outside_a_request_leaves_the_callers_context_alone(
    django_site: None, telemetry_events: Capture
) -> None:
    from django.test import Client

    import duckspool

    assert Client().login(username="alice", password=PASSWORD)
    assert duckspool.current_context() == duckspool.TelemetryContext()
