"""The views against hand-written queries, and the demo end to end (export: test_export*.py)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from duckspool import DuckDBTelemetryRepository, make_event
from duckspool.demo import build_report, run_demo

T0 = datetime(2026, 11, 26, 8, tzinfo=UTC)


def known_dataset() -> list:
    events = []
    for i in range(12):
        s, u = f"s{i}", f"u{i % 4}"
        ok = i % 3 != 0
        events.append(make_event("action.auth.login",
                                 {"method": "password", "outcome": "success" if ok else "failure",
                                  "failureReason": None if ok else "bad_password"},
                                 session_id=s, user_id=u, timestamp=T0 + timedelta(minutes=17 * i)))
        if ok:
            kind = "action.auth.logout" if i % 2 else "action.auth.session_expired"
            events.append(make_event(kind, {"sessionAgeSeconds": 60 * i},
                                     session_id=s, user_id=u,
                                     timestamp=T0 + timedelta(minutes=17 * i + 5)))
    for i in range(5):
        for k, (a, b) in enumerate([("draft", "submitted"), ("submitted", "accepted")][: 1 + i % 2]):
            events.append(make_event("exchange.state.transitioned",
                                     {"machine": "trade", "exchangeId": f"ex{i}", "from": a, "to": b,
                                      "timeInPreviousStateMs": 100 * (k + 1)},
                                     session_id="s", user_id="u",
                                     timestamp=T0 + timedelta(minutes=i, seconds=k)))
    for i in range(6):
        run = f"r{i}"
        events.append(make_event("job.run.started", {"job": "sync", "runId": run},
                                 session_id="job:sync", user_id="system",
                                 timestamp=T0 + timedelta(hours=i)))
        done = "job.run.failed" if i == 5 else "job.run.completed"
        events.append(make_event(done, {"job": "sync", "runId": run, "durationMs": 10.0 * (i + 1),
                                        "outcome": "failure" if i == 5 else "success",
                                        **({"errorType": "Timeout"} if i == 5 else {})},
                                 session_id="job:sync", user_id="system",
                                 timestamp=T0 + timedelta(hours=i, seconds=1)))
    return events


def test_views_answer_like_hand_written_queries(db_path: Path) -> None:
    with DuckDBTelemetryRepository(db_path) as repo:
        repo.save_many(known_dataset())
        q = lambda sql: repo.fetch(sql)[1]
        assert q("SELECT action, outcome, count(*) FROM auth_events GROUP BY ALL ORDER BY ALL") == \
            q("SELECT split_part(event_type, '.', 3), payload->>'outcome', count(*) "
              "FROM telemetry_events WHERE event_type LIKE 'action.auth.%' GROUP BY ALL ORDER BY ALL")
        assert q("SELECT count(*), count(ended_at), sum(failed_logins) FROM auth_sessions") == \
            [(12, 8, 4)]
        assert q("SELECT occurred_hour, count(*) FROM auth_events WHERE action = 'login' "
                 "GROUP BY 1 ORDER BY 1") == \
            q("SELECT date_trunc('hour', occurred_at::TIMESTAMP), count(*) FROM telemetry_events "
              "WHERE event_type = 'action.auth.login' GROUP BY 1 ORDER BY 1")
        assert q("SELECT to_state, count(*) FROM exchange_transitions GROUP BY 1 ORDER BY 1") == \
            [("accepted", 2), ("submitted", 5)]
        assert q("SELECT sum(time_in_previous_state_ms) FROM exchange_transitions") == [(900.0,)]
        assert q("SELECT count(*), count(*) FILTER (WHERE outcome = 'success'), "
                 "max(duration_ms), any_value(error_type) FILTER (WHERE error_type IS NOT NULL) "
                 "FROM job_runs") == [(6, 5, 60.0, "Timeout")]


def test_views_work_from_the_duckdb_python_api_directly(db_path: Path) -> None:
    with DuckDBTelemetryRepository(db_path) as repo:
        repo.save_many(known_dataset())
    con = duckdb.connect(str(db_path), read_only=True)
    assert con.execute("SELECT count(*) FROM job_runs").fetchone() == (6,)
    con.close()


def test_demo_end_to_end_and_twice(tmp_path: Path) -> None:
    out = io.StringIO()
    spool, db = tmp_path / "spool", tmp_path / "demo.duckdb"
    result = run_demo(spool, db, events=1500, workers=2, out=out)
    text = out.getvalue()
    assert "events by namespace" in text
    assert "exchange funnel" in text
    assert result.load.ok
    report = result.report
    with DuckDBTelemetryRepository(db, read_only=True) as repo:
        q = lambda sql: repo.fetch(sql)[1][0][0]
        assert report["rows"] == q("SELECT count(*) FROM telemetry_events")
        assert report["by_namespace"]["exchange"] == q(
            "SELECT count(*) FROM telemetry_events WHERE namespace = 'exchange'")
        assert report["job_runs"] == q(
            "SELECT count(DISTINCT payload->>'runId') FROM telemetry_events "
            "WHERE event_type IN ('job.run.completed', 'job.run.failed')")
        assert report["failed_logins"] == q(
            "SELECT count(*) FROM telemetry_events WHERE event_type = 'action.auth.login' "
            "AND payload->>'outcome' = 'failure'")
        assert report["exchange_funnel"][0][1] == q(
            "SELECT count(DISTINCT payload->>'exchangeId') FROM telemetry_events "
            "WHERE event_type = 'exchange.state.transitioned' AND payload->>'from' = 'draft'")
    assert report["quarantined"] == 3
    assert report["duplicates_skipped"] >= 1
    assert result.emitted >= 1500
    second = run_demo(spool, db, events=500, workers=1, out=io.StringIO())
    assert second.report["rows"] > report["rows"]
    assert build_report(spool, db)["rows"] == second.report["rows"]
