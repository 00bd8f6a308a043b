"""Time to write the HTML report of a large table, against plain aggregates in the same run.

    python bench/report.py [--rows 10000000] [--rounds 3] [--keep DIR] [--json OUT]

Builds a database of ``--rows`` events spread over 30 days with the demo's mix
(auth logins/logouts/expiries, exchange transitions, job runs, page views) directly
in DuckDB, then times, in alternating rounds (medians reported):
- report: ``write_report`` (read-only open, every section's aggregates, the HTML);
- baseline: ``SELECT namespace, count(*) ... GROUP BY 1`` on the same file, the one
  full-table aggregate every report needs, opened the same way.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import git_revision, machine, median, peak_rss_mib, publish
from duckspool.migrations import migrate
from duckspool.report import write_report
from duckspool.repository import DuckDBTelemetryRepository, open_database

# One row per i: the kind of event is i % 20, so the mix is fixed and known.
FILL = """
INSERT INTO telemetry_events
SELECT
    uuid() AS id,
    CASE WHEN k < 3 THEN 'action.auth.login' WHEN k = 3 THEN 'action.auth.logout'
         WHEN k = 4 THEN 'action.auth.session_expired'
         WHEN k < 13 THEN 'exchange.state.transitioned'
         WHEN k = 13 THEN 'job.run.started' WHEN k = 14 THEN 'job.run.completed'
         ELSE 'action.page.viewed' END AS event_type,
    CASE WHEN k BETWEEN 5 AND 12 THEN 'exchange' WHEN k IN (13, 14) THEN 'job'
         ELSE 'action' END AS namespace,
    'sess-' || (i // 7)::VARCHAR AS session_id,
    CASE WHEN k IN (13, 14) THEN 'system' ELSE 'user-' || (i % 50000)::VARCHAR END AS user_id,
    'demo-app' AS product_id,
    'corr-' || i::VARCHAR AS correlation_id,
    TIMESTAMPTZ '2026-01-01 00:00:00+00'
        + to_microseconds((i::HUGEINT * 30 * 86400000000 // $rows)::BIGINT) AS occurred_at,
    1 AS schema_version,
    (CASE
        WHEN k < 3 THEN json_object('method', 'password',
            'outcome', CASE WHEN i % 9 = 0 THEN 'failure' ELSE 'success' END,
            'failureReason', CASE WHEN i % 9 = 0 THEN 'bad_password' END)
        WHEN k = 3 THEN json_object('sessionAgeSeconds', (i % 7200)::DOUBLE)
        WHEN k = 4 THEN json_object('sessionAgeSeconds', (i % 9000)::DOUBLE,
                                    'expiryReason', 'idle_timeout')
        WHEN k < 13 THEN json_object('machine', 'trade', 'exchangeId', 'ex-' || (i // 20)::VARCHAR,
            'from', ['draft', 'submitted', 'under_review', 'accepted', 'settled',
                     'draft', 'submitted', 'under_review'][k - 4],
            'to', ['submitted', 'under_review', 'accepted', 'settled', 'archived',
                   'cancelled', 'cancelled', 'rejected'][k - 4],
            'timeInPreviousStateMs', (i % 60000)::DOUBLE)
        WHEN k = 13 THEN json_object('job', 'job-' || (i // 20 % 5)::VARCHAR,
            'runId', 'run-' || (i // 20)::VARCHAR)
        WHEN k = 14 THEN json_object('job', 'job-' || (i // 20 % 5)::VARCHAR,
            'runId', 'run-' || (i // 20)::VARCHAR, 'durationMs', (i % 5000)::DOUBLE,
            'outcome', CASE WHEN i // 20 % 11 = 0 THEN 'failure' ELSE 'success' END)
        ELSE json_object('page', '/p/' || (i % 100)::VARCHAR)
    END)::JSON AS payload,
    'bench.jsonl' AS source_segment,
    now() AS loaded_at
FROM (SELECT i, i % 20 AS k FROM range($rows) r(i))
"""


def build(db: Path, rows: int) -> float:
    """Fill a new database beside ``db`` and rename it into place (a failed build leaves none)."""
    started = time.perf_counter()
    partial = db.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    con = open_database(partial)
    try:
        migrate(con)
        con.execute(FILL, {"rows": rows})
        con.execute(
            "INSERT INTO load_ledger (segment_key, segment_name, size_bytes, lines, events, "
            "inserted, duplicates, quarantined) SELECT 'k' || i, 'seg-' || i, 16777216, $n, $n, "
            "$n, 0, 0 FROM range(100) r(i)",
            {"n": rows // 100},
        )
        con.execute("CHECKPOINT")
    finally:
        con.close()
    partial.rename(db)
    return time.perf_counter() - started


def baseline(db: Path) -> float:
    started = time.perf_counter()
    with DuckDBTelemetryRepository(db, read_only=True) as repo:
        repo.fetch("SELECT namespace, count(*) FROM telemetry_events GROUP BY 1")
    return time.perf_counter() - started


def report(db: Path, out: Path) -> tuple[float, int]:
    started = time.perf_counter()
    result = write_report(db, out)
    return time.perf_counter() - started, result.bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the database in DIR")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="duckspool-bench-report-"))
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / f"report-{args.rows}.duckdb"
    build_s = None if db.exists() else build(db, args.rows)
    report_s, baseline_s, size = [], [], 0
    for _ in range(args.rounds):
        baseline_s.append(baseline(db))
        seconds, size = report(db, workdir / "report.html")
        report_s.append(seconds)
    publish(
        {
            "benchmark": "report",
            "rows": args.rows,
            "database_bytes": db.stat().st_size,
            "build_seconds": build_s,
            "rounds": args.rounds,
            "report_seconds_median": round(median(report_s), 2),
            "report_seconds": [round(s, 2) for s in report_s],
            "baseline_group_by_namespace_seconds_median": round(median(baseline_s), 3),
            "report_over_baseline": round(median(report_s) / median(baseline_s), 1),
            "report_bytes": size,
            "peak_rss_mib": round(peak_rss_mib(), 1),
            "machine": machine(),
            "revision": git_revision(),
        },
        args.json,
    )


if __name__ == "__main__":
    main()
