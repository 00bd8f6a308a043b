"""The product sections overview and auth: figures in, blocks of chart + table out.

Each title says what is shown and over which period (UTC). A section whose events
are absent says so in one sentence instead of drawing an empty chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from duckspool.report._charts import bar_chart
from duckspool.report._format import (
    fmt_count,
    fmt_duration_ms,
    fmt_percent,
)
from duckspool.report._model import Block, Section, Table
from duckspool.report._period import Period
from duckspool.report._queries import SESSION_BINS, AuthFigures, OverviewFigures

__all__ = ["FOLD_ROWS", "auth_section", "grid", "overview_section", "share"]

FOLD_ROWS = 12
"""Tables longer than this start folded."""


def share(n: int, total: int) -> str:
    return fmt_percent(n / total) if total else "—"


def grid(
    period: Period, rows: Sequence[tuple[datetime, str, int]]
) -> tuple[list[datetime], list[str], dict[tuple[datetime, str], int]]:
    """Every bucket of the period (gaps as zero), the series names, and the counts."""
    cells = {(b, s): n for b, s, n in rows}
    buckets = sorted(set(period.buckets()) | {b for b, _, _ in rows})
    names = sorted({s for _, s, _ in rows})
    return buckets, names, cells


def _over_time_table(
    period: Period,
    buckets: list[datetime],
    names: list[str],
    cells: dict[tuple[datetime, str], int],
) -> Table:
    rows = [
        [
            period.label(b),
            *(fmt_count(cells.get((b, s), 0)) for s in names),
            fmt_count(sum(cells.get((b, s), 0) for s in names)),
        ]
        for b in buckets
    ]
    return Table(
        [f"{period.bucket} (UTC)", *names, "total"],
        rows,
        (False, *(True for _ in names), True),
        collapsed=len(rows) > FOLD_ROWS,
    )


def over_time(
    title: str,
    period: Period,
    rows: Sequence[tuple[datetime, str, int]],
    order: Sequence[str] | None = None,
    notes: list[str] | None = None,
) -> Block:
    """A stacked bar per time bucket, one series per name (in ``order``), and its table."""
    buckets, names, cells = grid(period, rows)
    names = list(order) if order is not None else names
    return Block(
        title,
        bar_chart(
            title,
            [period.label(b) for b in buckets],
            [(s, [cells.get((b, s), 0) for b in buckets]) for s in names],
            stacked=True,
            category_title=f"{period.bucket} (UTC)",
        ),
        _over_time_table(period, buckets, names, cells),
        notes=notes or [],
    )


def _ranked(
    title: str, label: str, rows: Sequence[tuple[str, int]], total: int, unit: str = "events"
) -> Block:
    return Block(
        title,
        bar_chart(title, [r for r, _ in rows], [(unit, [n for _, n in rows])], horizontal=True),
        Table(
            [label, unit, "share"],
            [[r, fmt_count(n), share(n, total)] for r, n in rows],
            (False, True, True),
            collapsed=len(rows) > FOLD_ROWS,
        ),
    )


def overview_section(fig: OverviewFigures, period: Period) -> Section:
    """Events over time by namespace, top event types, distinct users per day."""
    when = period.describe()
    namespaces = sorted({ns for _, ns, _ in fig.by_bucket})
    by_namespace = over_time(
        f"Events per {period.bucket} by namespace, {when}", period, fig.by_bucket
    )
    types = list(fig.top_types)
    if fig.other_types:
        types.append(("(all other types)", fig.other_types))
    top = _ranked(f"Most frequent event types, {when}", "event type", types, fig.total)
    users_title = f"Distinct users per day (UTC), {when}"
    users = Block(
        users_title,
        bar_chart(
            users_title,
            [f"{d:%Y-%m-%d}" for d, _ in fig.users_per_day],
            [("users", [n for _, n in fig.users_per_day])],
        ),
        Table(
            ["day (UTC)", "distinct users"],
            [[f"{d:%Y-%m-%d}", fmt_count(n)] for d, n in fig.users_per_day],
            (False, True),
            collapsed=len(fig.users_per_day) > FOLD_ROWS,
        ),
        notes=['Users are distinct user ids; "system" (what jobs carry) is not counted.'],
    )
    if not fig.users_per_day:
        users = Block(users_title, notes=["No events from users (only system events)."])
    return Section(
        "overview",
        "Overview",
        [by_namespace, top, users],
        tiles=[
            ("events", fmt_count(fig.total)),
            ("namespaces", fmt_count(len(namespaces))),
            ("event types", fmt_count(fig.type_count)),
        ],
    )


def auth_section(fig: AuthFigures, period: Period) -> Section:
    """Logins by outcome, failure reasons, how sessions ended and how long they lasted."""
    if not fig.events:
        return Section(
            "auth",
            "Authentication",
            absent="No auth events (action.auth.*) in this period. Record them with "
            "record_login, record_logout and record_session_expired from duckspool.integrations.",
        )
    when = period.describe()
    outcomes = {o for _, o, _ in fig.logins}
    order = sorted(outcomes, key=lambda o: (o != "success", o != "failure", o))
    attempts = sum(n for _, _, n in fig.logins)
    failed = sum(n for _, o, n in fig.logins if o == "failure")
    logins = over_time(
        f"Login attempts per {period.bucket} by outcome, {when}",
        period,
        fig.logins,
        order,
        notes=[f"{fmt_count(attempts)} attempts, {fmt_percent(failed / attempts)} failed."]
        if attempts
        else ["No login attempts in this period."],
    )
    reasons = (
        _ranked(
            f"Why logins failed, {when}",
            "failure reason",
            fig.failure_reasons,
            failed,
            unit="failed logins",
        )
        if fig.failure_reasons
        else Block(f"Why logins failed, {when}", notes=["No failed logins in this period."])
    )
    ends = [(e, n) for e, n, _, _ in fig.session_ends]
    if fig.still_open:
        ends.append(("no logout or expiry seen", fig.still_open))
    total_ends = sum(n for _, n in ends)
    ended_title = f"How sessions ended, {when}"
    lengths = {e: (p50, p95) for e, _, p50, p95 in fig.session_ends}
    ended = Block(
        ended_title,
        bar_chart(
            ended_title, [e for e, _ in ends], [("sessions", [n for _, n in ends])], horizontal=True
        ),
        Table(
            ["ended by", "sessions", "share", "p50 length", "p95 length"],
            [
                [
                    e,
                    fmt_count(n),
                    share(n, total_ends),
                    *(
                        fmt_duration_ms(v * 1000 if v is not None else None)
                        for v in lengths.get(e, (None, None))
                    ),
                ]
                for e, n in ends
            ],
            (False, True, True, True, True),
        ),
    )
    bins = dict(fig.session_lengths)
    ended_n = sum(bins.values())
    hist_title = f"Session length of sessions that ended, {when}"
    hist = Block(
        hist_title,
        bar_chart(
            hist_title,
            [label for label, _ in SESSION_BINS],
            [("sessions", [bins.get(i, 0) for i in range(len(SESSION_BINS))])],
            category_title="session length",
        ),
        Table(
            ["length", "sessions", "share"],
            [
                [label, fmt_count(bins.get(i, 0)), share(bins.get(i, 0), ended_n)]
                for i, (label, _) in enumerate(SESSION_BINS)
            ],
            (False, True, True),
        ),
    )
    blocks = [logins, reasons, ended if ends else Block(ended_title, notes=["No sessions."])]
    blocks.append(hist if ended_n else Block(hist_title, notes=["No session lengths recorded."]))
    return Section("auth", "Authentication", blocks)
