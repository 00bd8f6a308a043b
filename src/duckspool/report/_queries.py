"""The figures behind the product sections, each one aggregate query in DuckDB.

Every function takes a cursor on the read-only database and the :class:`Period`, binds
the period's bounds as parameters, and returns aggregates only (never event rows),
so a report over ten million rows moves a few hundred rows into Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import duckdb

from duckspool.report._period import Period

__all__ = [
    "SESSION_BINS",
    "AuthFigures",
    "JobFigures",
    "OverviewFigures",
    "auth_figures",
    "job_figures",
    "materialize",
    "overview_figures",
    "rows",
    "span",
]

TOP_EVENT_TYPES = 12
SYSTEM_USER = "system"
"""The user id jobs carry (docs/event-namespaces.md); not a person, so not counted as a user."""

SESSION_BINS: tuple[tuple[str, float], ...] = (
    ("< 1 min", 60),
    ("1-5 min", 300),
    ("5-15 min", 900),
    ("15-30 min", 1_800),
    ("30-60 min", 3_600),
    ("1-2 h", 7_200),
    ("2-4 h", 14_400),
    ("4-24 h", 86_400),
    ("≥ 24 h", float("inf")),
)
"""Session-length histogram bins: label and exclusive upper bound in seconds."""


Connection = duckdb.DuckDBPyConnection


def rows(con: Connection, sql: str, params: list[object] | None = None) -> list[tuple[Any, ...]]:
    """Run one statement on ``con`` and fetch every (aggregate) row."""
    return con.execute(sql, params or []).fetchall()


def materialize(con: Connection, name: str, sql: str, params: list[object]) -> None:
    """Keep ``sql``'s rows in a temporary table ``name`` (a name we own) for several queries.

    The views extract payload fields from JSON on every read; extracting them once
    and answering several aggregates from the result makes a report of ten million
    rows several times faster. Temporary tables live in the connection's memory, so
    this works on a database opened read-only.
    """
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}", params)


def span(con: Connection, period: Period) -> tuple[int, Any, Any]:
    """Events in the period, and the first and last event time in it (None when empty)."""
    where, params = period.where()
    return rows(
        con,
        f"SELECT count(*), min(occurred_at), max(occurred_at) FROM telemetry_events WHERE {where}",
        params,
    )[0]


@dataclass(frozen=True, slots=True)
class OverviewFigures:
    """Events per bucket and namespace, the busiest event types, distinct users per day."""

    total: int
    by_bucket: list[tuple[datetime, str, int]]
    top_types: list[tuple[str, int]]
    other_types: int
    type_count: int
    users_per_day: list[tuple[date, int]]


def overview_figures(con: Connection, period: Period) -> OverviewFigures:
    """The overview's aggregates over ``period``."""
    where, params = period.where()
    by_bucket = rows(
        con,
        f"SELECT {period.bucket_sql()} AS b, namespace, count(*) FROM telemetry_events "
        f"WHERE {where} GROUP BY ALL ORDER BY b, namespace",
        params,
    )
    types = rows(
        con,
        f"SELECT event_type, count(*) AS n FROM telemetry_events WHERE {where} "
        "GROUP BY 1 ORDER BY n DESC, event_type",
        params,
    )
    users = rows(
        con,
        f"SELECT {period.day_sql()} AS d, count(DISTINCT user_id) FROM telemetry_events "
        f"WHERE {where} AND user_id <> ? GROUP BY 1 ORDER BY 1",
        [*params, SYSTEM_USER],
    )
    top = [(t, int(n)) for t, n in types[:TOP_EVENT_TYPES]]
    return OverviewFigures(
        total=sum(int(n) for _, _, n in by_bucket),
        by_bucket=[(b, ns, int(n)) for b, ns, n in by_bucket],
        top_types=top,
        other_types=sum(int(n) for _, n in types[TOP_EVENT_TYPES:]),
        type_count=len(types),
        users_per_day=[(d, int(n)) for d, n in users],
    )


@dataclass(frozen=True, slots=True)
class AuthFigures:
    """Logins by outcome over time, why they failed, how sessions ended and how long they lasted.

    ``session_ends`` rows are (how it ended, sessions, p50 seconds, p95 seconds), where
    "how" is ``logout`` or ``expired: <reason>``. ``session_lengths`` counts ended sessions
    per :data:`SESSION_BINS` bin (by index). ``still_open`` counts sessions that logged
    in during the period with no logout or expiry in it.
    """

    events: int
    logins: list[tuple[datetime, str, int]]
    failure_reasons: list[tuple[str, int]]
    session_ends: list[tuple[str, int, float | None, float | None]]
    session_lengths: list[tuple[int, int]]
    still_open: int


def auth_figures(con: Connection, period: Period) -> AuthFigures:
    """The auth section's aggregates (view ``auth_events``) over ``period``."""
    where, params = period.where()
    materialize(
        con,
        "report_auth",
        "SELECT occurred_at, session_id, action, outcome, failure_reason, expiry_reason, "
        f"session_age_seconds FROM auth_events WHERE {where}",
        params,
    )
    events = rows(con, "SELECT count(*) FROM report_auth")[0][0]
    logins = rows(
        con,
        f"SELECT {period.bucket_sql()} AS b, coalesce(outcome, 'unknown'), count(*) "
        f"FROM report_auth WHERE action = 'login' GROUP BY ALL ORDER BY 1, 2",
    )
    reasons = rows(
        con,
        "SELECT coalesce(failure_reason, 'unspecified'), count(*) AS n FROM report_auth "
        "WHERE action = 'login' AND outcome = 'failure' "
        "GROUP BY 1 ORDER BY n DESC, 1",
    )
    ended = (
        "CASE WHEN action = 'logout' THEN 'logout' "
        "ELSE 'expired: ' || coalesce(expiry_reason, 'unspecified') END"
    )
    ends = rows(
        con,
        f"SELECT {ended} AS ended, count(*) AS n, quantile_cont(session_age_seconds, 0.5), "
        "quantile_cont(session_age_seconds, 0.95) FROM report_auth "
        "WHERE action IN ('logout', 'session_expired') "
        "GROUP BY 1 ORDER BY n DESC, 1",
    )
    bins = " ".join(
        f"WHEN session_age_seconds < {bound} THEN {i}"
        for i, (_, bound) in enumerate(SESSION_BINS[:-1])
    )
    lengths = rows(
        con,
        f"SELECT CASE {bins} ELSE {len(SESSION_BINS) - 1} END AS bin, count(*) "
        f"FROM report_auth WHERE action IN ('logout', 'session_expired') "
        "AND session_age_seconds IS NOT NULL GROUP BY 1 ORDER BY 1",
    )
    still_open = rows(
        con,
        "SELECT count(DISTINCT session_id) FROM report_auth WHERE "
        "action = 'login' AND outcome = 'success' AND session_id NOT IN ("
        "  SELECT session_id FROM report_auth WHERE action IN ('logout', 'session_expired'))",
    )[0][0]
    return AuthFigures(
        events=int(events),
        logins=[(b, o, int(n)) for b, o, n in logins],
        failure_reasons=[(r, int(n)) for r, n in reasons],
        session_ends=[(e, int(n), p50, p95) for e, n, p50, p95 in ends],
        session_lengths=[(int(b), int(n)) for b, n in lengths],
        still_open=int(still_open),
    )


@dataclass(frozen=True, slots=True)
class JobFigures:
    """Finished job runs per bucket and per job: runs, failures, p50/p95 duration in ms.

    A run's time is when it finished; ``unfinished`` counts runs that started in the
    period with no completion or failure event (still running, or the process died).
    """

    per_bucket: list[tuple[datetime, str, int, int, float | None, float | None]]
    per_job: list[tuple[str, int, int, float | None, float | None]]
    unfinished: int


_RUN_FIGURES = (
    "count(*), count(*) FILTER (WHERE outcome <> 'success'), "
    "quantile_cont(duration_ms, 0.5), quantile_cont(duration_ms, 0.95)"
)


def job_figures(con: Connection, period: Period) -> JobFigures:
    """The jobs section's aggregates (view ``job_runs``) over ``period``."""
    materialize(
        con,
        "report_jobs",
        "SELECT job, started_at, finished_at, outcome, duration_ms FROM job_runs",
        [],
    )
    where, params = period.where("finished_at")
    per_bucket = rows(
        con,
        f"SELECT {period.bucket_sql('finished_at')} AS b, coalesce(job, '(unnamed)') AS j, "
        f"{_RUN_FIGURES} FROM report_jobs WHERE outcome IS NOT NULL AND {where} "
        "GROUP BY ALL ORDER BY b, j",
        params,
    )
    per_job = rows(
        con,
        f"SELECT coalesce(job, '(unnamed)') AS j, {_RUN_FIGURES} FROM report_jobs "
        f"WHERE outcome IS NOT NULL AND {where} GROUP BY ALL ORDER BY j",
        params,
    )
    where_started, params_started = period.where("started_at")
    unfinished = rows(
        con,
        f"SELECT count(*) FROM report_jobs WHERE outcome IS NULL AND {where_started}",
        params_started,
    )[0][0]
    return JobFigures(
        per_bucket=[(b, j, int(r), int(f), p50, p95) for b, j, r, f, p50, p95 in per_bucket],
        per_job=[(j, int(r), int(f), p50, p95) for j, r, f, p50, p95 in per_job],
        unfinished=int(unfinished),
    )
