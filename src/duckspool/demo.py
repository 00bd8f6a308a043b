"""``duckspool demo``: a small simulated service exercising the whole pipeline.

Worker processes act as a product's backend: users log in (some fail), browse,
log out or let sessions expire; exchanges move through their states; jobs run
and sometimes fail. Everything goes through the integrations into the spool;
then the loader runs and a report is printed from SQL over the views.
"""

from __future__ import annotations

import multiprocessing
import random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from duckspool.contracts import make_event, telemetry_context, uuid7
from duckspool.integrations import (
    ExchangeStateMachine,
    InvalidTransition,
    SessionExpiryAdapter,
    record_login,
    record_logout,
    track_job,
)
from duckspool.loader import Loader, LoadReport, iter_records
from duckspool.repository import DuckDBTelemetryRepository
from duckspool.spool import Emitter, SpoolLayout

__all__ = ["DemoError", "DemoResult", "run_demo"]

EXCHANGE_FLOW = {
    "draft": ["submitted", "cancelled"],
    "submitted": ["under_review", "cancelled"],
    "under_review": ["accepted", "rejected"],
    "accepted": ["settled"],
    "rejected": [],
    "cancelled": [],
    "settled": [],
}
FUNNEL = ["draft", "submitted", "under_review", "accepted", "settled"]
JOBS = ["nightly-report", "invoice-sync", "search-reindex", "email-digest"]


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What a demo run did and the report it printed."""

    emitted: int
    load: LoadReport
    report: dict[str, Any]


class _JobFailure(RuntimeError):
    """A simulated job failure."""


def _pretend_to_work(rng: random.Random, job: str) -> None:
    time.sleep(rng.uniform(0, 0.002))
    if rng.random() < 0.1:
        raise _JobFailure(job)


def _simulate(worker: int, spool: str, budget: int, seed: int) -> int:
    """One worker process: emit about ``budget`` events; returns how many were accepted."""
    rng = random.Random(seed * 1000 + worker)
    start = datetime.now(UTC) - timedelta(hours=24)
    machine_err = InvalidTransition
    with Emitter(spool) as emitter:
        machine = ExchangeStateMachine(
            "trade", EXCHANGE_FLOW, initial="draft", emitter=emitter, error=machine_err
        )
        expire = SessionExpiryAdapter(emitter=emitter, product_id="demo-app")
        for flag in ("new-checkout", "dark-mode"):
            emitter.emit(
                make_event(
                    "launch.feature.enabled",
                    {"flag": flag, "rollout": 0.5},
                    session_id=f"deploy-{worker}",
                    user_id="system",
                    timestamp=start,
                )
            )
        n = 0
        while emitter.stats().emitted < budget:
            n += 1
            user = f"user-{worker}-{rng.randrange(200)}"
            session = f"sess-{worker}-{n}"
            at = start + timedelta(seconds=rng.uniform(0, 24 * 3600))
            with telemetry_context(
                session_id=session, user_id=user, product_id="demo-app", correlation_id=str(uuid7())
            ):
                if rng.random() < 0.12:
                    record_login(
                        method=rng.choice(["password", "sso"]),
                        success=False,
                        failure_reason=rng.choice(["bad_password", "locked", "mfa_timeout"]),
                        at=at,
                        emitter=emitter,
                    )
                    continue
                record_login(
                    method=rng.choice(["password", "sso", "passkey"]),
                    mfa=rng.random() < 0.6,
                    at=at,
                    emitter=emitter,
                )
                for k in range(rng.randrange(1, 4)):
                    exchange = machine.start(f"ex-{worker}-{n}-{k}", at=at)
                    t = at
                    while machine.transitions[exchange.state]:
                        options = sorted(machine.transitions[exchange.state])
                        weights = [0.15 if o in ("cancelled", "rejected") else 1.0 for o in options]
                        to = rng.choices(options, weights)[0]
                        t += timedelta(seconds=rng.uniform(5, 600))
                        exchange.transition(to, trigger=rng.choice(["user", "system"]), at=t)
                    try:  # a client bug tries to reopen a finished exchange: refused
                        exchange.transition("draft")
                    except machine_err:
                        pass
                    if exchange.state == "settled" and rng.random() < 0.3:
                        emitter.emit(
                            make_event(
                                "review.exchange.rated",
                                {"exchangeId": exchange.exchange_id, "rating": rng.randint(1, 5)},
                                timestamp=t + timedelta(minutes=5),
                            )
                        )
                age = rng.uniform(60, 7200)
                end = at + timedelta(seconds=age)
                if rng.random() < 0.7:
                    record_logout(session_age_seconds=round(age, 1), at=end, emitter=emitter)
                else:
                    expire(
                        session, user, at, rng.choice(["idle_timeout", "absolute_timeout"]), at=end
                    )
            if n % 5 == 0:
                job = rng.choice(JOBS)
                try:
                    with track_job(job, emitter=emitter):
                        _pretend_to_work(rng, job)
                except _JobFailure:
                    pass
            if n % 50 == 0:
                # A client retrying after a timeout delivers the same event twice.
                again = make_event(
                    "action.page.viewed", {"page": "/home"}, session_id=session, user_id=user
                )
                emitter.emit(again)
                emitter.emit(again)
        return emitter.stats().accepted


def _write_legacy_segment(spool: Path) -> int:
    # An old client that wrote broken lines: the loader must quarantine, not crash.
    layout = SpoolLayout(spool)
    layout.ensure(layout.sealed)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    lines = [
        b'{"eventType": "action.auth.login", "userId": "legacy"',  # cut short
        b'["not", "an", "object"]',
        b'{"id": "legacy-1", "eventType": "Billing.Paid", "sessionId": "s", "userId": "u",'
        b' "correlationId": "c", "timestamp": "2026-01-01T00:00:00Z", "schemaVersion": 1,'
        b' "payload": {}}',
    ]
    (layout.sealed / f"{stamp}_legacy-client_0_000001.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    return len(lines)


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    # fork is fine here: the parent has started no threads yet, and it is fast.
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _previous_rows(db_path: Path) -> int:
    if not db_path.exists():
        return 0
    with DuckDBTelemetryRepository(db_path, read_only=True) as repo:
        return repo.count()


def run_demo(
    spool_dir: Path,
    db_path: Path,
    *,
    events: int = 20_000,
    workers: int = 2,
    seed: int = 7,
    out: TextIO = sys.stdout,
) -> DemoResult:
    """Run the simulation, load, and print the report; returns its figures.

    Adds to whatever ``spool_dir`` and ``db_path`` already hold (the CLI refuses
    that unless ``--append``) and says so on the page.
    """
    started = time.monotonic()
    spool = Path(spool_dir)
    earlier = _previous_rows(db_path)
    print(
        f"duckspool demo: {workers} worker process(es) emitting ~{events:,} events into {spool}",
        file=out,
        flush=True,
    )
    if earlier:
        print(f"  appending: {db_path} already holds {earlier:,} rows", file=out, flush=True)
    per_worker = max(events // max(workers, 1), 1)
    run_seed = seed + int(time.time())
    with _context().Pool(workers) as pool:
        results = [
            pool.apply_async(_simulate, (w, str(spool), per_worker, run_seed))
            for w in range(workers)
        ]
        emitted = 0
        for w, result in enumerate(results):
            count = result.get(timeout=600)
            emitted += count
            print(f"  worker {w}: {count:,} events spooled", file=out, flush=True)
    legacy = _write_legacy_segment(spool)
    print(f"  legacy client: {legacy} broken lines spooled", file=out, flush=True)
    print(f"loading into {db_path} ...", file=out, flush=True)
    loader = Loader(spool, db_path)
    with Emitter(spool) as own, track_job("duckspool-loader", emitter=own):
        load = loader.run_once()
    print(f"  pass 1: {load.summary()}", file=out, flush=True)
    # The loader's own job event is emitted when its run ends, so it loads in a second pass.
    second = loader.run_once()
    print(f"  pass 2 (the loader's own job event): {second.summary()}", file=out, flush=True)
    lines = load.lines_read + second.lines_read
    inserted = load.events_inserted + second.events_inserted
    duplicates = load.duplicates + second.duplicates
    quarantined = load.quarantined_total + second.quarantined_total
    print(
        f"  lines read {lines:,} = {emitted:,} spooled by the workers + {legacy} legacy + "
        f"{second.lines_read:,} loader job event(s); = {inserted:,} inserted + "
        f"{duplicates:,} duplicates + {quarantined:,} quarantined",
        file=out,
        flush=True,
    )
    report = build_report(spool, db_path)
    report["earlier_rows"] = earlier
    report["inserted_now"] = inserted
    print_report(report, out)
    print(
        f"done in {time.monotonic() - started:.1f}s. Try: duckspool query "
        f'"SELECT * FROM job_runs LIMIT 5" --db {db_path}',
        file=out,
    )
    return DemoResult(emitted, load, report)


def build_report(spool: Path, db_path: Path) -> dict[str, Any]:
    """The report's figures, every one from SQL over the table and views."""
    with DuckDBTelemetryRepository(db_path, read_only=True) as repo:

        def q(sql: str) -> list[tuple[Any, ...]]:
            return repo.fetch(sql)[1]

        by_namespace = dict(
            q("SELECT namespace, count(*) FROM telemetry_events GROUP BY 1 ORDER BY 1")
        )
        reached = dict(
            q(
                "SELECT state, count(DISTINCT exchange_id) FROM ("
                "  SELECT exchange_id, from_state AS state FROM exchange_transitions"
                "  UNION ALL SELECT exchange_id, to_state FROM exchange_transitions) "
                "GROUP BY 1"
            )
        )
        jobs = q(
            "SELECT count(*), count(*) FILTER (WHERE outcome = 'success'), "
            "quantile_cont(duration_ms, 0.95) FROM job_runs WHERE outcome IS NOT NULL"
        )
        per_hour = q(
            "SELECT occurred_hour, count(*) FROM auth_events "
            "WHERE action = 'login' AND outcome = 'success' GROUP BY 1 ORDER BY 1"
        )
        failed = q(
            "SELECT count(*) FROM auth_events WHERE action = 'login' AND outcome = 'failure'"
        )[0][0]
        duplicates = q("SELECT coalesce(sum(duplicates), 0) FROM load_ledger")[0][0]
        total = q("SELECT count(*) FROM telemetry_events")[0][0]
    quarantined = sum(1 for _ in iter_records(SpoolLayout(spool).quarantine))
    runs, ok, p95 = jobs[0]
    return {
        "rows": int(total),
        "by_namespace": {k: int(v) for k, v in by_namespace.items()},
        "exchange_funnel": [(s, int(reached.get(s, 0))) for s in FUNNEL],
        "job_runs": int(runs),
        "job_success_rate": (ok / runs) if runs else None,
        "job_p95_ms": float(p95) if p95 is not None else None,
        "logins_per_hour": [(h.strftime("%Y-%m-%d %H:00"), int(n)) for h, n in per_hour],
        "failed_logins": int(failed),
        "duplicates_skipped": int(duplicates),
        "quarantined": quarantined,
    }


def print_report(report: dict[str, Any], out: TextIO) -> None:
    """The report as a terminal reads it, time running forwards."""
    earlier = report.get("earlier_rows", 0)
    detail = (
        f" ({earlier:,} from earlier runs + {report.get('inserted_now', 0):,} inserted now)"
        if earlier
        else ""
    )
    print(f"\n== telemetry_events: {report['rows']:,} rows{detail}", file=out)
    print("events by namespace:", file=out)
    for ns, n in report["by_namespace"].items():
        print(f"  {ns:10} {n:>8,}", file=out)
    print("exchange funnel (distinct exchanges reaching each state):", file=out)
    top = max((n for _, n in report["exchange_funnel"]), default=0) or 1
    for state, n in report["exchange_funnel"]:
        print(f"  {state:13} {n:>7,}  {n / top:6.1%}", file=out)
    rate = report["job_success_rate"]
    p95 = report["job_p95_ms"]
    print(
        f"job runs: {report['job_runs']:,}, success rate "
        f"{(rate or 0):.1%}, p95 duration {(p95 or 0):.1f} ms",
        file=out,
    )
    hours = report["logins_per_hour"]
    print(
        f"successful logins per hour (UTC, {len(hours)} hours, oldest first; failed logins: "
        f"{report['failed_logins']:,}):",
        file=out,
    )
    peak = max((n for _, n in hours), default=0) or 1
    if len(hours) > 6:
        print(f"  ... {len(hours) - 6} earlier hours not shown", file=out)
    for hour, n in hours[-6:]:
        print(f"  {hour}  {n:>6,} {'#' * max(1, round(30 * n / peak))}", file=out)
    print(
        f"duplicates skipped: {report['duplicates_skipped']:,}   "
        f"quarantined lines: {report['quarantined']:,}",
        file=out,
    )


def _refuse_leftovers(spool: Path, db: Path) -> None:
    """A second demo in the same place would add to the first: say so instead."""
    found = [str(p) for p in (spool, db) if p.exists()]
    if found:
        raise DemoError(
            f"{' and '.join(found)} already exist (a previous demo?); pass --append to add "
            "to them, or --dir NEW_DIR to start clean"
        )


class DemoError(Exception):
    """The demo refused to run (its message is one line for the CLI)."""


def main_from_cli(args: Any) -> int:
    """The ``duckspool demo`` command."""
    spool = Path(args.dir) / "spool" if args.dir else Path(args.spool)
    db = Path(args.dir) / "telemetry.duckdb" if args.dir else Path(args.db)
    if not args.append:
        _refuse_leftovers(spool, db)
    run_demo(spool, db, events=args.events, workers=args.workers)
    from duckspool.report import write_report

    print(f"report: {write_report(db, db.parent / 'report.html', spool=spool).path}")
    return 0
