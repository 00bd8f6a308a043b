"""Integrations against a real spool and a real DuckDB file, payloads checked."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from duckspool import (
    DuckDBTelemetryRepository,
    Emitter,
    EventQuery,
    InvalidEvent,
    Loader,
    telemetry_context,
)
from duckspool.integrations import (
    ExchangeStateMachine,
    SessionExpiryAdapter,
    attach_job_listener,
    record_login,
    record_logout,
    record_session_expired,
    track_job,
    track_job_async,
)
from tests.conftest import read_spool_lines


def load(spool: Path, db: Path) -> DuckDBTelemetryRepository:
    report = Loader(spool, db).run_once()
    assert report.ok, report.errors
    return DuckDBTelemetryRepository(db, read_only=True)


def payloads(repo: DuckDBTelemetryRepository, event_type: str) -> list[dict[str, Any]]:
    return [e.payload for e in repo.find(EventQuery(event_type=event_type), limit=1000)]


def test_auth_events(spool_dir: Path, db_path: Path) -> None:
    t0 = datetime(2026, 11, 26, 9, tzinfo=UTC)
    with Emitter(spool_dir) as em, telemetry_context(session_id="s1", user_id="u1"):
        assert record_login(method="password", mfa=True, at=t0, emitter=em)
        assert record_login(method="password", success=False, failure_reason="bad_password",
                            emitter=em)
        assert record_logout(session_age_seconds=12.5, emitter=em)
        assert record_session_expired(session_age_seconds=3600, reason="absolute_timeout",
                                      emitter=em)
        adapter = SessionExpiryAdapter(emitter=em, product_id="p")
        assert adapter("s2", "u2", t0, "idle_timeout", at=t0 + timedelta(minutes=30))
    with load(spool_dir, db_path) as repo:
        logins = payloads(repo, "action.auth.login")
        assert {"method": "password", "outcome": "success", "mfa": True} in logins
        assert {"method": "password", "outcome": "failure",
                "failureReason": "bad_password"} in logins
        assert payloads(repo, "action.auth.logout") == [{"sessionAgeSeconds": 12.5,
                                                         "initiatedBy": "user"}]
        expired = repo.find(EventQuery(event_type="action.auth.session_expired"))
        assert {(e.session_id, e.payload["expiryReason"], e.payload["sessionAgeSeconds"])
                for e in expired} == {("s1", "absolute_timeout", 3600),
                                      ("s2", "idle_timeout", 1800.0)}
        stamped = [e for e in repo.find(EventQuery(event_type="action.auth.login"))
                   if e.payload.get("mfa") is True]
        assert [e.timestamp for e in stamped] == [t0]  # at= is kept, whatever today's date is
        assert (stamped[0].session_id, stamped[0].user_id) == ("s1", "u1")


def test_no_secret_ever_reaches_a_payload(spool_dir: Path) -> None:
    secrets = {"password": "hunter2", "api_key": "AKIA123", "nested": {"token": "tok-9"},
               "Authorization": "Bearer x", "sessionCookie": "c=1", "otp": "123456"}
    with Emitter(spool_dir) as em:
        record_login(user_id="u", session_id="s", method="password", emitter=em,
                     extra=dict(secrets))
        record_logout(user_id="u", session_id="s", emitter=em, extra=dict(secrets))
    raw = b"\n".join(read_spool_lines(spool_dir))
    assert raw.count(b"action.auth.") == 2
    for value in ("hunter2", "AKIA123", "tok-9", "Bearer x", "c=1", "123456"):
        assert value.encode() not in raw


def test_secret_filter_matches_name_tokens_not_substrings(spool_dir: Path) -> None:
    secret = ["password", "accessToken", "api_key", "Authorization", "client_secret",
              "refresh_token", "sessionCookie", "cardNumber", "cvv", "otp", "pin", "ssn",
              "X-API-Key", "OTPCode", "auth"]
    ordinary = ["author", "shippingMethod", "classname", "mapping", "opinion", "authMethod",
                "pinned", "topic", "tokenizer", "passage", "happiness", "spinner"]
    with Emitter(spool_dir) as em:
        record_login(user_id="u", session_id="s", method="password", emitter=em,
                     extra=dict.fromkeys(secret + ordinary, "v"))
    [line] = read_spool_lines(spool_dir)
    payload = json.loads(line)["payload"]
    assert sorted(k for k in payload if k in secret + ordinary) == sorted(ordinary)


def test_auth_helpers_never_raise_without_ids_and_count_the_drop(spool_dir: Path) -> None:
    drops: list[tuple[str, object]] = []
    with Emitter(spool_dir, on_drop=lambda r, e: drops.append((r, e))) as em:
        assert record_login(method="password", emitter=em) is False  # no session anywhere
    assert em.stats().dropped == {"invalid_event": 1}
    assert em.stats().emitted == 1 and em.stats().written == 0
    [(reason, error)] = drops
    assert reason == "invalid_event"
    assert isinstance(error, InvalidEvent) and "session_id" in error.detail


TRADE = {"draft": ["submitted", "cancelled"], "submitted": ["accepted", "rejected"],
         "accepted": [], "rejected": [], "cancelled": []}


class AppError(Exception):
    pass


def test_exchange_transitions(spool_dir: Path, db_path: Path) -> None:
    t0 = datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)  # any past instant: time comes from at=
    with Emitter(spool_dir) as em, telemetry_context(session_id="s", user_id="u"):
        machine = ExchangeStateMachine("trade", TRADE, initial="draft", error=AppError,
                                       emitter=em)
        ex = machine.start("ex-1", at=t0)
        ex.transition("submitted", trigger="user", at=t0 + timedelta(minutes=3))
        with pytest.raises(AppError, match="cannot go from 'submitted' to 'draft'"):
            ex.transition("draft")
        ex.transition("accepted", trigger="reviewer", at=t0 + timedelta(minutes=3, seconds=1.5))
        assert ex.history == ["draft", "submitted", "accepted"]
        with pytest.raises(AppError):
            ex.transition("submitted")
    assert machine.terminal == {"accepted", "rejected", "cancelled"}
    with load(spool_dir, db_path) as repo:
        rows = repo.fetch("SELECT from_state, to_state, trigger, time_in_previous_state_ms, "
                          "terminal, correlation_id FROM exchange_transitions "
                          "ORDER BY occurred_at")[1]
    assert [r[:3] for r in rows] == [("draft", "submitted", "user"),
                                     ("submitted", "accepted", "reviewer")]
    assert [r[3] for r in rows] == [180_000, 1_500]  # from the events' own timestamps
    assert [r[4] for r in rows] == [False, True]
    assert {r[5] for r in rows} == {"ex-1"}


def test_unknown_states_are_refused_at_declaration() -> None:
    with pytest.raises(ValueError, match="initial"):
        ExchangeStateMachine("x", TRADE, initial="nowhere")


def test_track_job_sync_async_and_failures(spool_dir: Path, db_path: Path) -> None:
    with Emitter(spool_dir) as em:
        @track_job("decorated", emitter=em)
        def work(x: int) -> int:
            return x * 2

        @track_job("async-decorated", emitter=em)
        async def awork() -> str:
            await asyncio.sleep(0.001)
            return "ok"

        assert work(21) == 42
        assert asyncio.run(awork()) == "ok"
        with track_job("block", emitter=em) as run:
            assert run.run_id
        with pytest.raises(KeyError), track_job("failing", emitter=em):
            raise KeyError("boom")

        async def failing_async() -> None:
            async with track_job_async("async-block", emitter=em):
                raise ValueError("nope")

        with pytest.raises(ValueError, match="nope"):
            asyncio.run(failing_async())
    with load(spool_dir, db_path) as repo:
        runs = {r[0]: r[1:] for r in repo.fetch(
            "SELECT job, outcome, error_type, duration_ms IS NOT NULL, started_at IS NOT NULL "
            "FROM job_runs")[1]}
        started = repo.count(EventQuery(event_type="job.run.started"))
        system = repo.count(EventQuery(namespace="job", user_id="system"))
    assert runs == {
        "decorated": ("success", None, True, True),
        "async-decorated": ("success", None, True, True),
        "block": ("success", None, True, True),
        "failing": ("failure", "KeyError", True, True),
        "async-block": ("failure", "ValueError", True, True),
    }
    assert started == 5
    assert system == 10


def test_apscheduler_listener_reports_every_run(spool_dir: Path, db_path: Path) -> None:
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED

    calls = {"n": 0}
    finished: list[int] = []
    four_done = threading.Event()

    def flaky() -> None:
        calls["n"] += 1
        if calls["n"] % 2 == 0:
            raise RuntimeError("every other run fails")

    def on_finished(event: Any) -> None:  # registered after duckspool's listener: runs after it
        finished.append(event.code)
        if len(finished) >= 4:
            scheduler.pause()
            four_done.set()

    with Emitter(spool_dir) as em:
        scheduler = BackgroundScheduler(timezone="UTC")
        attach_job_listener(scheduler, emitter=em)
        scheduler.add_listener(on_finished, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        scheduler.add_job(flaky, "interval", seconds=0.05, id="flaky", name="flaky-job",
                          next_run_time=datetime.now(UTC))
        import logging

        logging.getLogger("apscheduler").setLevel(logging.CRITICAL)
        scheduler.start()
        assert four_done.wait(60)
        scheduler.shutdown(wait=True)
    with load(spool_dir, db_path) as repo:
        outcomes = [r[0] for r in repo.fetch(
            "SELECT outcome FROM job_runs WHERE job = 'flaky-job' AND outcome IS NOT NULL "
            "ORDER BY finished_at")[1]]
    assert len(outcomes) == calls["n"]
    assert outcomes[:4] == ["success", "failure", "success", "failure"]
