"""Exchange funnels: the machine's state order from its transitions, and time in each state.

The order is the graph's, not the counts': the funnel is the longest chain of
observed transitions from a state nothing enters (ties go to the busier edge), and
the states off that chain (cancellations, rejections) follow in graph order. Time in
a state is the gap between an exchange's consecutive transitions, from the events' own
timestamps; the time spent in the very first state is unknown (nothing marks entering
it) and is left out rather than guessed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from duckspool.report._period import Period
from duckspool.report._queries import Connection, materialize, rows

__all__ = ["MAX_MACHINES", "MachineFigures", "exchange_figures", "state_order"]

MAX_MACHINES = 6
"""Machines shown, busiest first; the rest are named in a sentence."""


@dataclass(frozen=True, slots=True)
class MachineFigures:
    """One machine's funnel and dwell times over the period.

    ``funnel`` is the main chain in order; ``other_states`` the remaining states in
    graph order; ``reached`` maps a state to the distinct exchanges that were in it;
    ``dwell`` maps a state to (transitions out of it measured, p50 ms, p95 ms).
    """

    machine: str
    exchanges: int
    transitions: int
    funnel: list[str]
    other_states: list[str]
    reached: dict[str, int]
    dwell: dict[str, tuple[int, float | None, float | None]]


def state_order(edges: Iterable[tuple[str, str, int]]) -> tuple[list[str], list[str]]:
    """The main chain and the other states, from (from, to, count) edges.

    Back edges (those closing a cycle, found by a depth-first walk from the sources in
    name order) are ignored, so any graph gets an order.
    """
    out: dict[str, dict[str, int]] = defaultdict(dict)
    states: set[str] = set()
    for src, dst, n in edges:
        states.update((src, dst))
        if src != dst:
            out[src][dst] = out[src].get(dst, 0) + n
    targets = {d for nxt in out.values() for d in nxt}
    sources = sorted(states - targets) or sorted(states)[:1]
    # Depth-first: post-order gives a topological order of the graph without back edges.
    done: set[str] = set()
    on_path: set[str] = set()
    post: list[str] = []
    back: set[tuple[str, str]] = set()

    def visit(state: str) -> None:
        stack: list[tuple[str, list[str]]] = [(state, sorted(out[state]))]
        on_path.add(state)
        while stack:
            node, todo = stack[-1]
            if not todo:
                stack.pop()
                on_path.discard(node)
                done.add(node)
                post.append(node)
                continue
            nxt = todo.pop(0)
            if nxt in on_path:
                back.add((node, nxt))
            elif nxt not in done:
                on_path.add(nxt)
                stack.append((nxt, sorted(out[nxt])))

    for state in [*sources, *sorted(states)]:
        if state not in done:
            visit(state)
    order = post[::-1]
    # Longest chain (in steps, then in volume) ending at each state.
    best: dict[str, tuple[int, int, str | None]] = dict.fromkeys(order, (0, 0, None))
    for src in order:
        steps, volume, _ = best[src]
        for dst, n in out[src].items():
            if (src, dst) in back:
                continue
            if (steps + 1, volume + n) > best[dst][:2]:
                best[dst] = (steps + 1, volume + n, src)
    end = max(order, key=lambda s: (best[s][0], best[s][1], -order.index(s))) if order else None
    chain: list[str] = []
    while end is not None:
        chain.append(end)
        end = best[end][2]
    chain.reverse()
    return chain, [s for s in order if s not in chain]


def exchange_figures(con: Connection, period: Period) -> list[MachineFigures]:
    """One :class:`MachineFigures` per machine with transitions in ``period``, busiest first."""
    # Over all time, not just the period: the transition before a period's first one
    # marks when its exchange entered the state it leaves. One sort serves both the
    # time in state and which states an exchange was in.
    materialize(
        con,
        "report_transitions",
        "SELECT m, exchange_id, from_state, to_state, occurred_at,"
        "  lag(occurred_at) OVER w AS entered_at, lag(to_state) OVER w AS entered_state "
        "FROM (SELECT coalesce(machine, '(unnamed)') AS m, exchange_id, from_state, to_state,"
        "  occurred_at, id FROM exchange_transitions) "
        "WINDOW w AS (PARTITION BY m, exchange_id ORDER BY occurred_at, id)",
        [],
    )
    where, params = period.where()
    machines = rows(
        con,
        "SELECT m, count(DISTINCT exchange_id), count(*) AS n FROM report_transitions "
        f"WHERE {where} GROUP BY 1 ORDER BY n DESC, m",
        params,
    )
    shown = [(m, int(x), int(n)) for m, x, n in machines[:MAX_MACHINES]]
    if not shown:
        return []
    names = [m for m, _, _ in shown]
    edges = rows(
        con,
        "SELECT m, from_state, to_state, count(*) FROM report_transitions "
        f"WHERE {where} AND list_contains(?, m) "
        "AND from_state IS NOT NULL AND to_state IS NOT NULL GROUP BY ALL",
        [*params, names],
    )
    # An exchange was in every state a transition of the period took it to, and in the
    # state it left unless the previous transition in the period already took it there.
    entered_where, entered_params = period.where("entered_at")
    reached = rows(
        con,
        "SELECT m, state, count(DISTINCT exchange_id) FROM ("
        f"  SELECT m, exchange_id, to_state AS state FROM report_transitions WHERE {where}"
        "  UNION ALL SELECT m, exchange_id, from_state FROM report_transitions"
        f"  WHERE {where} AND (entered_at IS NULL OR entered_state IS DISTINCT FROM from_state"
        f"    OR NOT ({entered_where}))"
        ") WHERE state IS NOT NULL AND list_contains(?, m) GROUP BY ALL",
        [*params, *params, *entered_params, names],
    )
    dwell = rows(
        con,
        "SELECT m, from_state, count(*), quantile_cont(ms, 0.5), quantile_cont(ms, 0.95) FROM ("
        "  SELECT m, from_state, epoch_ms(occurred_at) - epoch_ms(entered_at) AS ms"
        "  FROM report_transitions"
        f"  WHERE entered_state = from_state AND {where} AND list_contains(?, m)"
        ") GROUP BY ALL",
        [*params, names],
    )
    result = []
    for machine, exchanges, transitions in shown:
        chain, others = state_order((f, t, int(n)) for m, f, t, n in edges if m == machine)
        result.append(
            MachineFigures(
                machine=machine,
                exchanges=exchanges,
                transitions=transitions,
                funnel=chain,
                other_states=others,
                reached={s: int(n) for m, s, n in reached if m == machine},
                dwell={s: (int(n), p50, p95) for m, s, n, p50, p95 in dwell if m == machine},
            )
        )
    return result
