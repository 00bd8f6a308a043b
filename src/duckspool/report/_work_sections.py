"""The work sections, exchanges and jobs: figures in, blocks of chart + table out."""

from __future__ import annotations

from duckspool.report._charts import bar_chart, line_chart
from duckspool.report._exchanges import MAX_MACHINES, MachineFigures
from duckspool.report._format import DURATION_MS, PERCENT, fmt_count, fmt_duration_ms, fmt_percent
from duckspool.report._model import Block, Section, Table
from duckspool.report._period import Period
from duckspool.report._queries import JobFigures
from duckspool.report._sections import FOLD_ROWS, grid, share

__all__ = ["exchanges_section", "jobs_section"]


def _machine_blocks(m: MachineFigures, when: str) -> list[Block]:
    first = m.reached.get(m.funnel[0], 0) if m.funnel else 0
    title = f"Funnel of {m.machine}: exchanges that reached each state, in state order, {when}"
    rows, prev = [], None
    for state in m.funnel:
        n = m.reached.get(state, 0)
        step = fmt_percent(n / prev) if prev else "—"
        rows.append([state, fmt_count(n), step, share(n, first)])
        prev = n
    rows += [
        [
            f"{s} (off the main path)",
            fmt_count(m.reached.get(s, 0)),
            "—",
            share(m.reached.get(s, 0), first),
        ]
        for s in m.other_states
    ]
    funnel = Block(
        title,
        bar_chart(
            title,
            m.funnel,
            [("exchanges", [m.reached.get(s, 0) for s in m.funnel])],
            horizontal=True,
        ),
        Table(
            ["state", "exchanges", "from previous step", "of first step"],
            rows,
            (False, True, True, True),
        ),
        notes=[f"{fmt_count(m.exchanges)} exchanges, {fmt_count(m.transitions)} transitions."],
    )
    states = [s for s in (*m.funnel, *m.other_states) if s in m.dwell]
    dwell_title = f"Time {m.machine} exchanges spent in each state (p50 and p95), {when}"
    if not states:
        return [funnel, Block(dwell_title, notes=["No exchange made two transitions."])]
    dwell = Block(
        dwell_title,
        bar_chart(
            dwell_title,
            states,
            [("p50", [m.dwell[s][1] for s in states]), ("p95", [m.dwell[s][2] for s in states])],
            fmt=DURATION_MS,
            horizontal=True,
        ),
        Table(
            ["state", "exits measured", "p50", "p95"],
            [
                [
                    s,
                    fmt_count(m.dwell[s][0]),
                    fmt_duration_ms(m.dwell[s][1]),
                    fmt_duration_ms(m.dwell[s][2]),
                ]
                for s in states
            ],
            (False, True, True, True),
        ),
        notes=[
            "From the events' own timestamps: the gap between an exchange's consecutive "
            "transitions. Time in the first state is not measured (nothing marks entering it)."
        ],
    )
    return [funnel, dwell]


def exchanges_section(machines: list[MachineFigures], period: Period) -> Section:
    """Per machine: the funnel in state order with conversions, and time in each state."""
    if not machines:
        return Section(
            "exchanges",
            "Exchanges",
            absent="No exchange transitions (exchange.state.transitioned) in this period. "
            "Emit them with ExchangeStateMachine from duckspool.integrations.",
        )
    when = period.describe()
    blocks = [b for m in machines for b in _machine_blocks(m, when)]
    notes = (
        [f"Showing the {MAX_MACHINES} busiest machines."] if len(machines) >= MAX_MACHINES else []
    )
    return Section("exchanges", "Exchanges", blocks, notes=notes)


def jobs_section(fig: JobFigures, period: Period) -> Section:
    """Runs, failure rate and p50/p95 duration per job, over time and in total."""
    if not fig.per_job and not fig.unfinished:
        return Section(
            "jobs",
            "Jobs",
            absent="No job runs (job.run.*) in this period. Wrap jobs with track_job or "
            "attach_job_listener from duckspool.integrations.",
        )
    when = period.describe()
    notes = (
        [f"{fmt_count(fig.unfinished)} run(s) started without a completion or failure event."]
        if fig.unfinished
        else []
    )
    if not fig.per_job:
        return Section("jobs", "Jobs", notes=notes, absent="No job run finished in this period.")
    buckets, jobs, cells = grid(period, [(b, j, r) for b, j, r, _, _, _ in fig.per_bucket])
    failures = {(b, j): f for b, j, _, f, _, _ in fig.per_bucket}
    labels = [period.label(b) for b in buckets]
    runs_title = f"Finished job runs per {period.bucket} by job, {when}"
    runs = Block(
        runs_title,
        bar_chart(
            runs_title,
            labels,
            [(j, [cells.get((b, j), 0) for b in buckets]) for j in jobs],
            stacked=True,
            category_title=f"{period.bucket} (UTC)",
        ),
        Table(
            [f"{period.bucket} (UTC)", "job", "runs", "failed", "failure rate", "p50", "p95"],
            [
                [
                    period.label(b),
                    j,
                    fmt_count(r),
                    fmt_count(f),
                    fmt_percent(f / r),
                    fmt_duration_ms(p50),
                    fmt_duration_ms(p95),
                ]
                for b, j, r, f, p50, p95 in fig.per_bucket
            ],
            (False, False, True, True, True, True, True),
            collapsed=len(fig.per_bucket) > FOLD_ROWS,
        ),
    )
    rate_title = f"Job failure rate per {period.bucket} by job, {when}"
    rate = Block(
        rate_title,
        line_chart(
            rate_title,
            labels,
            [
                (
                    j,
                    [
                        failures[(b, j)] / cells[(b, j)] if cells.get((b, j)) else None
                        for b in buckets
                    ],
                )
                for j in jobs
            ],
            fmt=PERCENT,
            category_title=f"{period.bucket} (UTC)",
        ),
        notes=["Buckets without a run of a job leave a gap in its line."],
    )
    duration_title = f"Job run duration per job (p50 and p95), {when}"
    duration = Block(
        duration_title,
        bar_chart(
            duration_title,
            [j for j, *_ in fig.per_job],
            [
                ("p50", [p50 for *_, p50, _ in fig.per_job]),
                ("p95", [p95 for *_, p95 in fig.per_job]),
            ],
            fmt=DURATION_MS,
            horizontal=True,
        ),
        Table(
            ["job", "runs", "failed", "failure rate", "p50", "p95"],
            [
                [
                    j,
                    fmt_count(r),
                    fmt_count(f),
                    fmt_percent(f / r),
                    fmt_duration_ms(p50),
                    fmt_duration_ms(p95),
                ]
                for j, r, f, p50, p95 in fig.per_job
            ],
            (False, True, True, True, True, True),
        ),
    )
    total = sum(r for _, r, _, _, _ in fig.per_job)
    failed = sum(f for _, _, f, _, _ in fig.per_job)
    return Section(
        "jobs",
        "Jobs",
        [duration, runs, rate],
        notes=notes,
        tiles=[
            ("runs", fmt_count(total)),
            ("failure rate", fmt_percent(failed / total)),
            ("jobs", fmt_count(len(jobs))),
        ],
    )
