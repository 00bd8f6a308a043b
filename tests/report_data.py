"""Known events for the report tests, emitted through a real Emitter and loaded by the real Loader.

Everything happens on 2026-03-02 (UTC) between 10:00 and 12:00, so hour buckets and
figures are fixed whatever day the tests run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from duckspool import make_event
from duckspool.integrations import (
    ExchangeStateMachine,
    record_login,
    record_logout,
    record_session_expired,
)
from duckspool.loader import Loader
from duckspool.spool import Emitter

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
"""The clock the tests give the report (an hour after the last event)."""

FLOW = {
    "draft": ["submitted", "cancelled"],
    "submitted": ["under_review", "cancelled"],
    "under_review": ["accepted", "rejected"],
    "accepted": ["settled"],
}

HOSTILE = [
    "<img src=x onerror=window.__pwned=1>",
    "</script><script>window.__pwned=1</script>",
    "<!--",
    "\"'><svg onload=window.__pwned=1>",
    "\u202eevil\u202c right-to-left",
    "zero\u200bwidth\u2028line\u2029para",
    "x" * 3000,
]
"""Strings a hostile service or user could put in any field the report shows."""


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _job(emitter: Emitter, job: str, run: str, minute: float, ms: float, ok: bool) -> None:
    ids = {"session_id": f"job:{job[:40]}", "user_id": "system"}
    emitter.emit(make_event("job.run.started", {"job": job, "runId": run}, timestamp=at(minute), **ids))
    payload: dict[str, Any] = {"job": job, "runId": run, "durationMs": ms,
                               "outcome": "success" if ok else "failure"}
    if not ok:
        payload["errorType"] = "TimeoutError"
    kind = "job.run.completed" if ok else "job.run.failed"
    emitter.emit(make_event(kind, payload, timestamp=at(minute) + timedelta(milliseconds=ms), **ids))


def emit_known(spool: Path, *, hostile: str | None = None) -> int:
    """The known events (see the tests for what they imply); ``hostile`` goes into every text field."""
    h = hostile or ""
    hid = h[:200]  # ids are at most 256 characters; payload fields take the whole string

    def st(name: str) -> str:
        return name + hid

    flow = {st(k): [st(v) for v in vs] for k, vs in FLOW.items()}
    with Emitter(spool) as em:
        # Auth: 5 successful logins, 3 failures; 2 logouts, 1 expiry, 2 sessions left open.
        for i in range(1, 6):
            record_login(method="password", session_id=f"s{i}{hid}", user_id=f"u{i}{hid}",
                         at=at(i), emitter=em)
        for reason, minute in (("bad_password", 6), ("bad_password", 7), ("locked", 70)):
            record_login(method="password", success=False, failure_reason=reason + h,
                         session_id=f"f{minute}", user_id=f"u{minute}", at=at(minute), emitter=em)
        record_logout(session_id=f"s1{hid}", user_id=f"u1{hid}", session_age_seconds=120, at=at(3), emitter=em)
        record_logout(session_id=f"s2{hid}", user_id=f"u2{hid}", session_age_seconds=600, at=at(12), emitter=em)
        record_session_expired(session_id=f"s3{hid}", user_id=f"u3{hid}", session_age_seconds=3000,
                               reason="idle_timeout" + h, at=at(53), emitter=em)
        # Exchanges: A settles, B is cancelled after submission, C is cancelled as a draft.
        machine = ExchangeStateMachine(f"trade{h}", flow, initial=st("draft"), emitter=em)
        ids = {"session_id": "s1", "user_id": "u1"}
        a = machine.start(f"A{hid}")
        for to, minute in (("submitted", 0), ("under_review", 1), ("accepted", 3), ("settled", 7)):
            a.transition(st(to), trigger=h or "user", at=at(20 + minute), **ids)
        b = machine.start("B")
        b.transition(st("submitted"), at=at(30), **ids)
        b.transition(st("cancelled"), at=at(35), **ids)
        c = machine.start("C")
        c.transition(st("cancelled"), at=at(40), **ids)
        # Jobs: sync runs 3 times (one failure), reindex once.
        _job(em, f"sync{h}", "r1", 5, 100, True)
        _job(em, f"sync{h}", "r2", 65, 300, False)
        _job(em, f"sync{h}", "r3", 66, 200, True)
        _job(em, "reindex", "r4", 80, 1500, True)
        # Something of another namespace, with hostile payload text.
        em.emit(make_event("action.page.viewed", {"page": "/home" + h}, session_id="s1",
                           user_id=f"u1{hid}", timestamp=at(90)))
        return em.stats().accepted


def build_known(spool: Path, db: Path, *, hostile: str | None = None) -> int:
    """Emit the known events and load them into ``db``; returns the number emitted."""
    emitted = emit_known(spool, hostile=hostile)
    report = Loader(spool, db).run_once()
    assert report.ok, report.errors
    return emitted
