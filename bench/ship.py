"""Many hosts, one loader: shipping rate and the central loader's rate, against a baseline.

    python bench/ship.py [--hosts 8] [--segments 40] [--events 400] [--repeats 3] [--out FILE]

Each of ``--hosts`` host spools holds ``--segments`` sealed segments of
``--events`` ~400-byte events (the size an emitter seals under a moderate
load with a small max_segment_bytes). Per repeat, on fresh copies:
- ship: ``ship_segments(host, central)`` for every host, one after the other
  (copy, fsync, rename, fsync dir, delete source, per segment);
- central_load: ``Loader.run_once()`` on the central spool (all hosts' segments);
- baseline_load: the same events in one spool as 16 MiB segments, loaded the same
  way: what the many small segments cost the loader.
Medians of the repeats; the ratio is central_load events/s over baseline_load's.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import git_revision, machine, median, publish
from duckspool import Loader, make_event, ship_segments

SEGMENT_BYTES = 16 << 20


def make_lines(count: int) -> list[bytes]:
    return [
        make_event(
            "action.auth.login",
            {"method": "password", "attempt": i, "mfa": i % 2 == 0, "pad": "x" * 120},
            session_id=f"sess-{i % 500}",
            user_id=f"user-{i % 200}",
            correlation_id=f"corr-{i}",
            product_id="prod-1",
        ).to_json_line(newline=True)
        for i in range(count)
    ]


def write_hosts(root: Path, lines: list[bytes], hosts: int, segments: int, per: int) -> list[Path]:
    out, k = [], 0
    for h in range(hosts):
        sealed = root / f"host{h}" / "sealed"
        sealed.mkdir(parents=True)
        for s in range(segments):
            name = f"20261126T000000{s:06d}Z_host{h}_100_{s:06d}.jsonl"
            (sealed / name).write_bytes(b"".join(lines[k : k + per]))
            k += per
        out.append(sealed.parent)
    return out


def write_baseline(root: Path, lines: list[bytes]) -> Path:
    sealed = root / "baseline" / "sealed"
    sealed.mkdir(parents=True)
    chunk: list[bytes] = []
    size = n = 0
    for line in lines:
        chunk.append(line)
        size += len(line)
        if size >= SEGMENT_BYTES:
            (sealed / f"20261126T000000{n:06d}Z_one_1_{n:06d}.jsonl").write_bytes(b"".join(chunk))
            chunk, size, n = [], 0, n + 1
    if chunk:
        (sealed / f"20261126T000000{n:06d}Z_one_1_{n:06d}.jsonl").write_bytes(b"".join(chunk))
    return sealed.parent


def one_run(lines: list[bytes], args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="duckspool-bench-ship-") as tmp:
        root = Path(tmp)
        hosts = write_hosts(root, lines, args.hosts, args.segments, args.events)
        central = root / "central"
        central.mkdir()
        total_bytes = sum(len(x) for x in lines)
        started = time.perf_counter()
        shipped = sum(len(ship_segments(h, central).shipped) for h in hosts)
        ship_s = time.perf_counter() - started
        report = Loader(central, root / "central.duckdb").run_once()
        if not report.ok or report.events_inserted != len(lines):
            raise SystemExit(f"central load went wrong: {report.summary()}")
        assert report.segments_loaded == shipped == args.hosts * args.segments
        baseline = write_baseline(root, lines)
        base = Loader(baseline, root / "baseline.duckdb").run_once()
        if not base.ok or base.events_inserted != len(lines):
            raise SystemExit(f"baseline load went wrong: {base.summary()}")
        shutil.rmtree(root / "central")
    return {
        "ship_seconds": ship_s,
        "ship_segments_per_s": shipped / ship_s,
        "ship_mib_per_s": total_bytes / 2**20 / ship_s,
        "central_load_seconds": report.seconds,
        "central_load_segments_per_s": report.segments_loaded / report.seconds,
        "central_load_events_per_s": len(lines) / report.seconds,
        "baseline_load_seconds": base.seconds,
        "baseline_load_segments": base.segments_loaded,
        "baseline_load_events_per_s": len(lines) / base.seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--segments", type=int, default=40, help="sealed segments per host")
    parser.add_argument("--events", type=int, default=400, help="events per segment")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    lines = make_lines(args.hosts * args.segments * args.events)
    runs = [one_run(lines, args) for _ in range(args.repeats)]
    medians = {k: round(median([r[k] for r in runs]), 3) for k in runs[0]}
    medians["central_vs_baseline_events_ratio"] = round(
        medians["central_load_events_per_s"] / medians["baseline_load_events_per_s"], 3
    )
    publish(
        {
            "benchmark": "ship",
            "revision": git_revision(),
            "machine": machine(),
            "hosts": args.hosts,
            "segments_per_host": args.segments,
            "events_per_segment": args.events,
            "events": len(lines),
            "bytes": sum(len(x) for x in lines),
            "repeats": args.repeats,
            "median": medians,
            "runs": runs,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
