"""End-to-end load rate of a spool backlog, against baselines in the same run.

    python bench/load.py [--events 1000000] [--dlt-events 100000] [--prefill 10000000] [--scale3]
                         [--before REV]

Each candidate runs in its own interpreter (so its peak RSS and CPU time are its
own) on a fresh copy of the same backlog: ~400-byte events in 16 MiB segments,
10% of them redeliveries of earlier ids. Four backlogs ("variants"):
``emitter`` (every line as ``to_json_line`` writes it, in segments named with
the CRC-32 of their bytes as the emitter's writer seals them: provenance),
``emitter_plain`` (the same lines without provenance), ``invalid1`` (plus 1%
invalid lines scattered through every segment, no provenance) and ``foreign``
(10% of lines valid but not in the canonical form: other key order and spacing).
- duckspool: ``Loader.run_once()`` with default options (recover, validate every
  line with the contract, in bulk where it can; dedup in batch and against the
  table; ledger).
- read_json: DuckDB's own ``read_json`` bulk insert of the same files with no
  validation or dedup (the physical limit here; ``ignore_errors`` for lines
  that are not JSON), into a file ``duckdb.connect`` creates: DuckDB 2's default
  storage format (v2.0.0, whose string compression is cheaper to write).
- read_json_same_format: the same insert into a file in duckspool's default
  storage format (v1.1.0), with DuckDB's default row groups (for one insert of
  every row, faster than duckspool's 16,384-row groups, which pay for FSST
  compression once per row group): what writing that format costs DuckDB alone.
- duckspool_v13: the same, into a database file created first in storage format
  v1.3.0 (``storage_version="v1.3.0"``; the file keeps it), on ``emitter`` and
  ``invalid1``. duckspool's default format is v1.1.0, for older readers.
- before: duckspool at revision ``--before`` (exported with ``git archive``), on
  the ``foreign`` variant, for "no slower than today".
- dlt_merge: dlt into DuckDB with ``write_disposition="merge"``, ``primary_key="id"``
  and Parquet staging (its fastest configuration we found), on ``--dlt-events``
  events because it is two orders of magnitude slower (pip install -e '.[bench]').
- duckspool_prefilled: duckspool into a table already holding ``--prefill`` rows.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
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


_INVALID = [
    b'{"id": "broken", "eventType": 7}',
    b'{"id":"0190e6a4-8f5e-7c3a-9b1d-2f4e6a8c0b1d","eventType":"billing.paid"',
    b"not json at all",
    b'{"id":"0190e6a4-8f5e-7c3a-9b1d-2f4e6a8c0b1e","eventType":"action.a.b","sessionId":"s",'
    b'"userId":"u","productId":null,"correlationId":"c","timestamp":"2026-01-01T00:00:00Z",'
    b'"schemaVersion":1,"payload":{"x":NaN}}',
]


def _segment_file(sealed: Path, seg_no: int, data: bytes | bytearray, provenance: bool) -> None:
    """Write one segment; with ``provenance`` named as the emitter's writer seals it."""
    if provenance:
        # Imported here: the "before" worker imports this module with an older duckspool.
        from duckspool.spool._layout import sealed_segment_name

        name = sealed_segment_name(f"20260101T000000000000Z_bench_1_{seg_no:06d}.jsonl",
                                   zlib.crc32(data))
    else:
        name = f"seg-{seg_no:05d}.jsonl"
    (sealed / name).write_bytes(data)


def make_backlog(directory: Path, events: int, seed: int = 1, *, invalid: float = 0.0,
                 foreign: float = 0.0, provenance: bool = False) -> dict[str, int]:
    """Write ``events`` lines (10% redeliveries) into 16 MiB segments; return counts.

    ``invalid``: that share of lines is invalid; ``foreign``: that share of events
    is written valid but not canonical (reversed key order, spaces); ``provenance``:
    segments carry the CRC-32 of their bytes in their names, as the emitter's
    writer names them (only for lines an emitter could have written).
    """
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
    bad = 0
    for i in range(events):
        if invalid and rng.random() < invalid:
            line = _INVALID[i % len(_INVALID)]
            bad += 1
        elif recent and rng.random() < 0.10:
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
            if foreign and rng.random() < foreign:
                line = json.dumps(dict(reversed(orjson.loads(line).items()))).encode()
            unique += 1
            recent.append(line)
            if len(recent) > 5000:
                recent.pop(0)
        buf += line + b"\n"
        if len(buf) >= SEGMENT_BYTES:
            seg_no += 1
            _segment_file(sealed, seg_no, buf, provenance)
            buf = bytearray()
    if buf:
        seg_no += 1
        _segment_file(sealed, seg_no, buf, provenance)
    total_bytes = sum(p.stat().st_size for p in sealed.iterdir())
    return {"events": events, "unique": unique, "invalid": bad, "segments": seg_no,
            "bytes": total_bytes}


# -- workers (each in its own interpreter) ---------------------------------------------
def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def worker_duckspool(spool: Path, db: Path) -> dict[str, Any]:
    from duckspool import Loader

    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    report = Loader(spool, db).run_once()
    elapsed = time.perf_counter() - t0
    cpu = _cpu_seconds() - cpu0
    assert report.ok, report.errors
    return {"seconds": elapsed, "cpu_seconds": cpu, "lines": report.lines_read,
            "inserted": report.events_inserted, "duplicates": report.duplicates,
            "quarantined": report.quarantined_total,
            "bulk_lines": getattr(report, "bulk_lines", 0), "peak_rss_mib": peak_rss_mib()}


def worker_duckspool_v13(spool: Path, db: Path) -> dict[str, Any]:
    """``worker_duckspool`` into a file created first in storage format v1.3.0 (it keeps it)."""
    from duckspool import DuckDBTelemetryRepository

    DuckDBTelemetryRepository(db, storage_version="v1.3.0").close()
    return worker_duckspool(spool, db)


def worker_read_json(spool: Path, db: Path) -> dict[str, Any]:
    import duckdb

    return _raw_insert(duckdb.connect(str(db)), spool)


def worker_read_json_same_format(spool: Path, db: Path) -> dict[str, Any]:
    """``worker_read_json`` into a file in duckspool's default storage format."""
    import duckdb

    from duckspool.repository._connection import DEFAULT_STORAGE_VERSION

    con = duckdb.connect()
    path = str(db).replace("'", "''")
    con.execute(f"ATTACH '{path}' AS raw (STORAGE_VERSION '{DEFAULT_STORAGE_VERSION}')")
    con.execute("USE raw")
    return _raw_insert(con, spool)


def _raw_insert(con: Any, spool: Path) -> dict[str, Any]:
    cols = ", ".join(f"'{k}': '{v}'" for k, v in COLUMNS.items())
    con.execute("CREATE TABLE raw_events AS SELECT * FROM read_json(?, format = "
                f"'newline_delimited', columns = {{{cols}}}) LIMIT 0",
                [str(spool / "sealed" / "*.jsonl")])
    t0 = time.perf_counter()
    cpu0 = _cpu_seconds()
    con.execute(f"INSERT INTO raw_events SELECT * FROM read_json(?, format = "
                f"'newline_delimited', ignore_errors = true, columns = {{{cols}}})",
                [str(spool / "sealed" / "*.jsonl")])
    con.execute("CHECKPOINT")
    elapsed = time.perf_counter() - t0
    cpu = _cpu_seconds() - cpu0
    (n,) = con.execute("SELECT count(*) FROM raw_events").fetchone()  # type: ignore[misc]
    con.close()
    lines = sum(p.read_bytes().count(b"\n") for p in (spool / "sealed").glob("*.jsonl"))
    return {"seconds": elapsed, "cpu_seconds": cpu, "lines": lines, "inserted": n,
            "peak_rss_mib": peak_rss_mib()}


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


WORKERS = {"duckspool": worker_duckspool, "read_json": worker_read_json,
           "read_json_same_format": worker_read_json_same_format, "dlt": worker_dlt,
           "before": worker_duckspool, "duckspool_v13": worker_duckspool_v13}
V13_VARIANTS = ("emitter", "invalid1")
"""Variants also loaded into a file in storage format v1.3.0 (docs/loader.md)."""
BEFORE_SRC: Path | None = None


def run_worker(name: str, spool: Path, db: Path) -> dict[str, Any]:
    env = dict(os.environ)
    if name == "before":
        assert BEFORE_SRC is not None
        env["PYTHONPATH"] = str(BEFORE_SRC)
    proc = subprocess.run([sys.executable, __file__, "--worker", name, "--spool", str(spool),
                           "--db", str(db)], capture_output=True, text=True, check=False,
                          env=env)
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
    if "cpu_seconds" in result:
        result["cpu_s_per_m_events"] = result["cpu_seconds"] / result["lines"] * 1e6
    print(f"  {label}: {result['events_per_s']:,.0f} events/s, "
          f"{result.get('cpu_s_per_m_events', 0):.1f} CPU s/M, "
          f"peak RSS {result.get('peak_rss_mib', 0):.0f} MiB", file=sys.stderr)
    return result


def summarise(rounds: list[dict[str, Any]], variant: str) -> dict[str, Any]:
    """Medians over ``rounds`` for one variant; each ratio is taken within a round first."""
    def per_round(name: str, key: str = "events_per_s") -> list[float]:
        return [rd[variant][name][key] for rd in rounds]

    def ratio(mine: list[float], baseline: list[float]) -> float:
        return median([a / b for a, b in zip(mine, baseline, strict=True)])

    ds, raw = per_round("duckspool"), per_round("read_json")
    same = per_round("read_json_same_format")
    summary: dict[str, Any] = {
        "duckspool_events_per_s": median(ds),
        "read_json_events_per_s": median(raw),
        "ratio_vs_read_json": ratio(ds, raw),
        "read_json_same_format_events_per_s": median(same),
        "ratio_vs_read_json_same_format": ratio(ds, same),
        "cpu_s_per_m_events": median(per_round("duckspool", "cpu_s_per_m_events")),
        "read_json_cpu_s_per_m_events": median(per_round("read_json", "cpu_s_per_m_events")),
        "peak_rss_mib": max(per_round("duckspool", "peak_rss_mib")),
    }
    if "duckspool_v13" in rounds[0][variant]:
        v13 = per_round("duckspool_v13")
        summary["v13_events_per_s"] = median(v13)
        summary["v13_ratio_vs_read_json"] = ratio(v13, raw)
    if "before" in rounds[0][variant]:
        before = per_round("before")
        summary["before_events_per_s"] = median(before)
        summary["ratio_vs_before"] = ratio(ds, before)
    return summary


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
    parser.add_argument("--before", help="git revision to compare with on the foreign variant")
    parser.add_argument("--worker", choices=list(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--spool", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args.spool, args.db)))
        return

    work = Path(tempfile.mkdtemp(prefix="duckspool-loadbench-", dir=args.workdir))
    global BEFORE_SRC
    if args.before:
        BEFORE_SRC = work / "before"
        BEFORE_SRC.mkdir()
        archive = subprocess.run(["git", "archive", args.before, "src"], capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(BEFORE_SRC)], input=archive, check=True)
        BEFORE_SRC = BEFORE_SRC / "src"
    try:
        results: dict[str, Any] = {"machine": machine(), "revision": git_revision()}
        backlog = work / "backlog"
        variants: dict[str, dict[str, Any]] = {
            "emitter": {"provenance": True},
            "emitter_plain": {},
            "invalid1": {"invalid": 0.01},
            "foreign": {"foreign": 0.10},
        }
        backlogs = {}
        results["backlogs"] = {}
        for name, options in variants.items():
            backlogs[name] = work / f"backlog-{name}"
            results["backlogs"][name] = make_backlog(backlogs[name], args.events, **options)
            print(f"backlog {name}: {results['backlogs'][name]}", file=sys.stderr)
        backlog = backlogs["emitter"]
        rounds = []
        for r in range(args.rounds):
            print(f"round {r + 1}/{args.rounds}", file=sys.stderr)
            this: dict[str, Any] = {}
            for variant in variants:
                names = ["read_json", "read_json_same_format", "duckspool"]
                if variant in V13_VARIANTS:
                    names.append("duckspool_v13")
                if variant == "foreign" and BEFORE_SRC is not None:
                    names.append("before")
                order = names if r % 2 == 0 else names[::-1]
                this[variant] = {n: candidate(n, backlogs[variant], work, f"r{r}-{variant}-{n}")
                                 for n in order}
            rounds.append(this)
        results["rounds"] = rounds
        summary: dict[str, Any] = {}
        for variant in variants:
            summary[variant] = summarise(rounds, variant)
        results["summary"] = summary
        results["duckspool_events_per_s"] = summary["emitter"]["duckspool_events_per_s"]
        results["duckspool_peak_rss_mib"] = summary["emitter"]["peak_rss_mib"]
        for name in ("emitter_plain", "invalid1", "foreign"):
            shutil.rmtree(backlogs[name], ignore_errors=True)
        if args.dlt_events:
            small = work / "dlt-backlog"
            make_backlog(small, args.dlt_events, seed=2, provenance=True)
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
            make_backlog(big, args.events * 3, seed=3, provenance=True)
            r3 = candidate("duckspool", big, work, "x3")
            results["scale3"] = r3
            shutil.rmtree(big, ignore_errors=True)
        publish(results, args.json)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
