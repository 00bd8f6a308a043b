"""End-to-end load rate of a spool backlog, against baselines in the same run.

    python bench/load.py [--events 1000000] [--dlt-events 100000] [--prefill 10000000] [--scale3]

Each candidate runs in its own interpreter (so its peak RSS is its own) on a
fresh copy of the same backlog: ~400-byte events in 16 MiB segments, 10% of
them redeliveries of earlier ids.
- duckspool: ``Loader.run_once()`` with default options (recover, validate every
  line with the contract, dedup in batch and against the table, ledger).
- duckdb_read_json: DuckDB's own ``read_json`` bulk insert of the same files with
  no validation or dedup (the physical limit here).
- dlt_merge: dlt into DuckDB with ``write_disposition="merge"``, ``primary_key="id"``
  and Parquet staging (its fastest configuration we found), on ``--dlt-events``
  events because it is two orders of magnitude slower (pip install -e '.[bench]').
- duckspool_prefilled: duckspool into a table already holding ``--prefill`` rows.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import orjson

from _common import git_revision, machine, median, peak_rss_mib, publish

SEGMENT_BYTES = 16 << 20
COLUMNS = {
    "id": "UUID", "eventType": "VARCHAR", "sessionId": "VARCHAR", "userId": "VARCHAR",
    "productId": "VARCHAR", "correlationId": "VARCHAR", "timestamp": "TIMESTAMPTZ",
    "schemaVersion": "INTEGER", "payload": "JSON",
}


def _uuid7_at(ms: int, rng: random.Random) -> uuid.UUID:
    value = (ms << 80) | (0x7 << 76) | (rng.getrandbits(12) << 64) | (0b10 << 62) \
        | rng.getrandbits(62)
    return uuid.UUID(int=value)


def make_backlog(directory: Path, events: int, seed: int = 1) -> dict[str, int]:
    """Write ``events`` lines (10% redeliveries) into 16 MiB segments; return counts."""
    rng = random.Random(seed)
    sealed = directory / "sealed"
    sealed.mkdir(parents=True)
    start = datetime.now(UTC) - timedelta(hours=1)
    start_ms = int(start.timestamp() * 1000)
    recent: list[bytes] = []
    unique = 0
    seg_no = 0
    buf = bytearray()
    types = ["action.auth.login", "action.auth.logout", "exchange.state.transitioned",
             "job.run.completed", "review.comment.created"]
    for i in range(events):
        if recent and rng.random() < 0.10:
            line = rng.choice(recent)
        else:
            ms = start_ms + i // 50
            line = orjson.dumps({
                "id": _uuid7_at(ms, rng),
                "eventType": types[i % len(types)],
                "sessionId": f"sess-{rng.getrandbits(32):08x}",
                "userId": f"user-{i % 5000}",
                "productId": "prod-web",
                "correlationId": f"corr-{rng.getrandbits(32):08x}",
                "timestamp": datetime.fromtimestamp(ms / 1000, UTC),
                "schemaVersion": 1,
                "payload": {"method": "password", "mfa": i % 2 == 0, "client": "web",
                            "country": "DE", "attempt": i % 7,
                            "agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0"},
            }, option=orjson.OPT_UTC_Z)
            unique += 1
            recent.append(line)
            if len(recent) > 5000:
                recent.pop(0)
        buf += line + b"\n"
        if len(buf) >= SEGMENT_BYTES:
            seg_no += 1
            (sealed / f"seg-{seg_no:05d}.jsonl").write_bytes(buf)
            buf = bytearray()
    if buf:
        seg_no += 1
        (sealed / f"seg-{seg_no:05d}.jsonl").write_bytes(buf)
    total_bytes = sum(p.stat().st_size for p in sealed.iterdir())
    return {"events": events, "unique": unique, "segments": seg_no, "bytes": total_bytes}


# -- workers (each in its own interpreter) ---------------------------------------------
def worker_duckspool(spool: Path, db: Path) -> dict[str, Any]:
    from duckspool import Loader

    t0 = time.perf_counter()
    report = Loader(spool, db).run_once()
    elapsed = time.perf_counter() - t0
    assert report.ok, report.errors
    return {"seconds": elapsed, "lines": report.lines_read, "inserted": report.events_inserted,
            "duplicates": report.duplicates, "peak_rss_mib": peak_rss_mib()}


def worker_read_json(spool: Path, db: Path) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect(str(db))
    cols = ", ".join(f"'{k}': '{v}'" for k, v in COLUMNS.items())
    con.execute("CREATE TABLE raw_events AS SELECT * FROM read_json(?, format = "
                f"'newline_delimited', columns = {{{cols}}}) LIMIT 0",
                [str(spool / "sealed" / "*.jsonl")])
    t0 = time.perf_counter()
    con.execute(f"INSERT INTO raw_events SELECT * FROM read_json(?, format = "
                f"'newline_delimited', columns = {{{cols}}})",
                [str(spool / "sealed" / "*.jsonl")])
    con.execute("CHECKPOINT")
    elapsed = time.perf_counter() - t0
    (n,) = con.execute("SELECT count(*) FROM raw_events").fetchone()  # type: ignore[misc]
    con.close()
    return {"seconds": elapsed, "lines": n, "inserted": n, "peak_rss_mib": peak_rss_mib()}


def worker_dlt(spool: Path, db: Path) -> dict[str, Any]:
    import dlt

    files = sorted((spool / "sealed").glob("*.jsonl"))

    @dlt.resource(name="telemetry_events", write_disposition="merge", primary_key="id")
    def events() -> Any:
        for path in files:
            with path.open("rb") as fh:
                for line in fh:
                    yield orjson.loads(line)

    pipeline = dlt.pipeline(pipeline_name="bench", destination=dlt.destinations.duckdb(str(db)),
                            dataset_name="telemetry", pipelines_dir=str(spool / "dlt"))
    t0 = time.perf_counter()
    pipeline.run(events(), loader_file_format="parquet")
    elapsed = time.perf_counter() - t0
    lines = sum(1 for p in files for _ in p.open("rb"))
    return {"seconds": elapsed, "lines": lines, "peak_rss_mib": peak_rss_mib()}


def worker_prefill(db: Path, rows: int) -> dict[str, Any]:
    from duckspool import DuckDBTelemetryRepository

    with DuckDBTelemetryRepository(db) as repo:
        cur = repo.cursor()
        t0 = time.perf_counter()
        cur.execute(f"""
            INSERT INTO telemetry_events
            SELECT uuidv7(), 'action.auth.login', 'action', 'sess-' || (i % 100000),
                   'user-' || (i % 5000), 'prod-web', 'corr-' || i,
                   TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_milliseconds(i), 1,
                   '{{"method":"password","mfa":true}}', 'prefill', now()
            FROM range({rows}) t(i)
        """)
        cur.execute("CHECKPOINT")
        cur.close()
    return {"seconds": time.perf_counter() - t0}


WORKERS = {"duckspool": worker_duckspool, "read_json": worker_read_json, "dlt": worker_dlt}


def run_worker(name: str, spool: Path, db: Path) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, "--worker", name, "--spool", str(spool),
                           "--db", str(db)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def candidate(name: str, backlog: Path, work: Path, label: str,
              prefilled_db: Path | None = None) -> dict[str, Any]:
    spool = work / f"{label}-spool"
    shutil.copytree(backlog, spool)
    db = work / f"{label}.duckdb"
    if prefilled_db is not None:
        shutil.copy(prefilled_db, db)
    try:
        result = run_worker(name, spool, db)
    finally:
        shutil.rmtree(spool, ignore_errors=True)
        db.unlink(missing_ok=True)
        db.with_suffix(".duckdb.wal").unlink(missing_ok=True)
    result["events_per_s"] = result["lines"] / result["seconds"]
    print(f"  {label}: {result['events_per_s']:,.0f} events/s, "
          f"peak RSS {result.get('peak_rss_mib', 0):.0f} MiB", file=sys.stderr)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--dlt-events", type=int, default=100_000,
                        help="events for the dlt baseline (0 skips it)")
    parser.add_argument("--prefill", type=int, default=10_000_000,
                        help="rows already in the table for the history run (0 skips it)")
    parser.add_argument("--scale3", action="store_true", help="also load a 3x backlog (RSS)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--worker", choices=list(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--spool", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args.spool, args.db)))
        return

    work = Path(tempfile.mkdtemp(prefix="duckspool-loadbench-", dir=args.workdir))
    try:
        results: dict[str, Any] = {"machine": machine(), "revision": git_revision()}
        backlog = work / "backlog"
        results["backlog"] = make_backlog(backlog, args.events)
        print(f"backlog: {results['backlog']}", file=sys.stderr)
        rounds = []
        for r in range(args.rounds):
            print(f"round {r + 1}/{args.rounds}", file=sys.stderr)
            order = ["read_json", "duckspool"] if r % 2 == 0 else ["duckspool", "read_json"]
            rounds.append({n: candidate(n, backlog, work, f"r{r}-{n}") for n in order})
        results["rounds"] = rounds
        ds = [rd["duckspool"]["events_per_s"] for rd in rounds]
        raw = [rd["read_json"]["events_per_s"] for rd in rounds]
        results["duckspool_events_per_s"] = median(ds)
        results["read_json_events_per_s"] = median(raw)
        results["ratio_vs_read_json"] = median([a / b for a, b in zip(ds, raw, strict=True)])
        results["duckspool_peak_rss_mib"] = max(rd["duckspool"]["peak_rss_mib"] for rd in rounds)
        if args.dlt_events:
            small = work / "dlt-backlog"
            make_backlog(small, args.dlt_events, seed=2)
            try:
                results["dlt"] = candidate("dlt", small, work, "dlt")
                results["ratio_vs_dlt"] = results["duckspool_events_per_s"] / results["dlt"][
                    "events_per_s"]
            except (RuntimeError, ImportError) as exc:
                results["dlt"] = {"error": str(exc)[-500:]}
        if args.prefill:
            prefilled = work / "prefilled.duckdb"
            proc = subprocess.run([sys.executable, "-c", (
                "import sys, json; sys.path.insert(0, sys.argv[1]); import load; "
                "print(json.dumps(load.worker_prefill(__import__('pathlib').Path(sys.argv[2]),"
                " int(sys.argv[3]))))"), str(Path(__file__).parent), str(prefilled),
                str(args.prefill)], capture_output=True, text=True, check=True)
            results["prefill"] = {"rows": args.prefill, **json.loads(proc.stdout)}
            hist = [candidate("duckspool", backlog, work, f"hist{r}", prefilled)
                    for r in range(args.rounds)]
            results["prefilled_events_per_s"] = median([h["events_per_s"] for h in hist])
            results["ratio_prefilled_vs_empty"] = (results["prefilled_events_per_s"]
                                                   / results["duckspool_events_per_s"])
        if args.scale3:
            big = work / "backlog3"
            make_backlog(big, args.events * 3, seed=3)
            r3 = candidate("duckspool", big, work, "x3")
            results["scale3"] = r3
            shutil.rmtree(big, ignore_errors=True)
        publish(results, args.json)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
