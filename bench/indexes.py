"""Index choices, measured: PRIMARY KEY vs anti-join dedup, and ART indexes for the views' queries.

    python bench/indexes.py [--rows 1000000] [--history 5000000]

Same DuckDB file layout as telemetry_events. Rounds interleave the candidates;
medians are reported, and ratios within the run.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, publish

TABLE = """
CREATE TABLE telemetry_events (
    id UUID {key}, event_type VARCHAR NOT NULL, namespace VARCHAR NOT NULL,
    session_id VARCHAR NOT NULL, user_id VARCHAR NOT NULL, product_id VARCHAR,
    correlation_id VARCHAR NOT NULL, occurred_at TIMESTAMPTZ NOT NULL,
    schema_version INTEGER NOT NULL, payload JSON NOT NULL, source_segment VARCHAR,
    loaded_at TIMESTAMPTZ NOT NULL)
"""
SOURCE = """
SELECT uuidv7() AS id, 'action.auth.login' AS event_type, 'action' AS namespace,
       'sess-' || (i % 200000) AS session_id, 'user-' || (i % 5000) AS user_id,
       'prod-web' AS product_id, 'corr-' || i AS correlation_id,
       TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_milliseconds(i * 10) AS occurred_at,
       1 AS schema_version, '{{"method":"password","mfa":true}}'::JSON AS payload,
       'seg' AS source_segment, now() AS loaded_at
FROM range({start}, {stop}) t(i)
"""
QUERIES = {
    "by session": "SELECT count(*) FROM telemetry_events WHERE session_id = 'sess-4242'",
    "by correlation": "SELECT * FROM telemetry_events WHERE correlation_id = 'corr-777777'",
    "last hour": "SELECT namespace, count(*) FROM telemetry_events WHERE occurred_at >= "
                 "(SELECT max(occurred_at) FROM telemetry_events) - INTERVAL 1 HOUR GROUP BY 1",
    "per hour": "SELECT date_trunc('hour', occurred_at::TIMESTAMP), count(*) "
                "FROM telemetry_events GROUP BY 1",
}


def insert_rate(db: Path, rows: int, mode: str) -> float:
    con = duckdb.connect(str(db))
    con.execute(TABLE.format(key="PRIMARY KEY" if mode == "primary_key" else "NOT NULL"))
    con.execute(f"CREATE TEMP TABLE batch AS {SOURCE.format(start=0, stop=rows)}")
    t0 = time.perf_counter()
    if mode == "primary_key":
        con.execute("INSERT INTO telemetry_events SELECT * FROM batch")
    else:
        con.execute("INSERT INTO telemetry_events SELECT b.* FROM batch b "
                    "ANTI JOIN telemetry_events t ON b.id = t.id")
    con.execute("CHECKPOINT")
    elapsed = time.perf_counter() - t0
    con.close()
    return rows / elapsed


def query_times(db: Path, history: int, index: bool) -> dict[str, float]:
    con = duckdb.connect(str(db))
    con.execute(TABLE.format(key="NOT NULL"))
    con.execute(f"INSERT INTO telemetry_events {SOURCE.format(start=0, stop=history)}")
    if index:
        con.execute("CREATE INDEX ix_session ON telemetry_events (session_id)")
        con.execute("CREATE INDEX ix_corr ON telemetry_events (correlation_id)")
    con.execute("CHECKPOINT")
    out = {}
    for name, sql in QUERIES.items():
        samples = []
        for _ in range(5):
            t0 = time.perf_counter()
            con.execute(sql).fetchall()
            samples.append(time.perf_counter() - t0)
        out[name] = statistics.median(samples) * 1000
    t0 = time.perf_counter()
    con.execute(f"INSERT INTO telemetry_events "
                f"{SOURCE.format(start=history, stop=history + 200_000)}")
    out["insert 200k more (ms)"] = (time.perf_counter() - t0) * 1000
    con.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--history", type=int, default=5_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="duckspool-ixbench-"))
    try:
        rates: dict[str, list[float]] = {"primary_key": [], "anti_join": []}
        for r in range(args.rounds):
            for mode in (["primary_key", "anti_join"] if r % 2 == 0
                         else ["anti_join", "primary_key"]):
                db = work / f"{mode}-{r}.duckdb"
                rates[mode].append(insert_rate(db, args.rows, mode))
                db.unlink()
        queries = {label: query_times(work / f"q-{label}.duckdb", args.history, index)
                   for label, index in (("zone maps only", False), ("ART indexes", True))}
        result: dict[str, Any] = {
            "machine": machine(),
            "insert_rows_per_s": {k: statistics.median(v) for k, v in rates.items()},
            "primary_key_vs_anti_join": statistics.median(
                [a / b for a, b in zip(rates["primary_key"], rates["anti_join"], strict=True)]),
            "query_ms": queries,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    publish(result, args.json)


if __name__ == "__main__":
    main()
