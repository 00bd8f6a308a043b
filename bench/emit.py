"""Caller-side cost of emit() and sustained events/s, against baselines in the same run.

    python bench/emit.py [--calls 50000] [--rounds 5] [--sustained 1000000]

Baselines, each fed the same ~400-byte event:
- stdlib logging with a RotatingFileHandler writing the event's JSON line;
- Segment's ``Client.track()`` (pip install -e '.[bench]') with its enqueue path
  live and no network: built with ``send=False``, then ``client.send = True``, so
  track() reaches its queue while no consumer thread runs.
Rounds interleave the candidates so machine noise hits them alike; figures are
medians over rounds, and ratios are computed within each round.
"""

from __future__ import annotations

import argparse
import gc
import logging
import logging.handlers
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import git_revision, machine, median, peak_rss_mib, percentile, publish
from duckspool import Emitter, TelemetryEvent

PAYLOAD = {
    "method": "password",
    "mfa": True,
    "client": "web",
    "ip_country": "DE",
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0",
}


def build_event(i: int) -> TelemetryEvent:
    return TelemetryEvent(
        event_type="action.auth.login",
        session_id="sess-4f1c2a9e",
        user_id=f"user-{i % 1000}",
        product_id="prod-web",
        correlation_id="corr-7d3e0b1a",
        payload=PAYLOAD,
    )


def per_call_ns(fn: Callable[[int], Any], calls: int) -> list[float]:
    """Time each call on its own (perf_counter_ns), minus the timer's own cost."""
    clock = time.perf_counter_ns
    overhead = []
    for _ in range(2000):
        t0 = clock()
        overhead.append(clock() - t0)
    base = median(overhead)
    samples = []
    gc.disable()
    try:
        for i in range(calls):
            t0 = clock()
            fn(i)
            samples.append(clock() - t0 - base)
    finally:
        gc.enable()
    return samples


def logging_candidate(tmp: Path, events: list[TelemetryEvent]) -> tuple[Callable[[int], Any],
                                                                         Callable[[], None]]:
    logger = logging.getLogger(f"bench.rotating.{id(tmp)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = logging.handlers.RotatingFileHandler(tmp / "log.jsonl", maxBytes=16 << 20,
                                                   backupCount=1000)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    n = len(events)

    def call(i: int) -> None:
        logger.info(events[i % n].to_json_line().decode())

    def close() -> None:
        logger.removeHandler(handler)
        handler.close()

    return call, close


def segment_candidate(events: list[TelemetryEvent], calls: int) -> tuple[Callable[[int], Any],
                                                                          Callable[[], None]]:
    from segment.analytics import Client  # type: ignore[import-untyped]

    logging.getLogger("segment").setLevel(logging.CRITICAL)
    client = Client("bench-write-key", send=False, max_queue_size=calls * 2 + 10)
    client.send = True  # enqueue path live; no consumer thread was started
    n = len(events)

    def call(i: int) -> None:
        e = events[i % n]
        client.track(user_id=e.user_id, event=e.event_type, properties=e.payload,
                     context={"sessionId": e.session_id}, timestamp=e.timestamp,
                     message_id=str(e.id))

    def close() -> None:
        while not client.queue.empty():
            client.queue.get_nowait()

    return call, close


def run(args: argparse.Namespace) -> dict[str, Any]:
    events = [build_event(i) for i in range(1000)]
    line_bytes = median([len(e.to_json_line()) for e in events])
    try:
        import segment.analytics  # type: ignore[import-untyped]  # noqa: F401

        have_segment = True
    except ImportError:
        have_segment = False
        print("segment-analytics-python not installed: pip install -e '.[bench]'",
              file=sys.stderr)
    rounds: list[dict[str, dict[str, float]]] = []
    for r in range(args.rounds):
        tmp = Path(tempfile.mkdtemp(prefix="duckspool-bench-"))
        try:
            results: dict[str, dict[str, float]] = {}
            candidates: list[tuple[str, Callable[[int], Any], Callable[[], None]]] = []
            call, close = logging_candidate(tmp, events)
            candidates.append(("logging_rotating_file", call, close))
            if have_segment:
                call, close = segment_candidate(events, args.calls)
                candidates.append(("segment_track", call, close))
            emitter = Emitter(tmp / "spool")
            n = len(events)
            candidates.append(("duckspool_emit",
                               lambda i, em=emitter, n=n: em.emit(events[i % n]), lambda: None))
            candidates.append(("duckspool_build_and_emit",
                               lambda i, em=emitter: em.emit(build_event(i)), lambda: None))
            candidates.append(("build_event_only", build_event, lambda: None))
            if r % 2:
                candidates.reverse()
            for name, call, close in candidates:
                samples = per_call_ns(call, args.calls)
                close()
                results[name] = {"median_ns": median(samples),
                                 "p99_ns": percentile(samples, 0.99)}
            emitter.close()
            rounds.append(results)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(
            f"{k}={v['median_ns']:.0f}ns" for k, v in results.items()), file=sys.stderr)

    names = list(rounds[0])
    summary = {
        name: {
            "median_ns": median([rd[name]["median_ns"] for rd in rounds]),
            "p99_ns": median([rd[name]["p99_ns"] for rd in rounds]),
        }
        for name in names
    }
    ratios: dict[str, float] = {}

    def ratio(a: str, b: str) -> float:
        return median([rd[a]["median_ns"] / rd[b]["median_ns"] for rd in rounds])

    ratios["emit / logging"] = ratio("duckspool_emit", "logging_rotating_file")
    if have_segment:
        ratios["emit / segment_track"] = ratio("duckspool_emit", "segment_track")
        ratios["build+emit / segment_track"] = ratio("duckspool_build_and_emit", "segment_track")
    sustained = sustained_throughput(args.sustained)
    burst = burst_memory(args.burst)
    return {
        "machine": machine(),
        "revision": git_revision(),
        "event_line_bytes": line_bytes,
        "calls_per_round": args.calls,
        "rounds": args.rounds,
        "per_call": summary,
        "ratios": ratios,
        "sustained": sustained,
        "burst": burst,
    }


def sustained_throughput(n: int) -> dict[str, float]:
    """Events/s from one thread into the spool with the default policy, until flushed."""
    events = [build_event(i) for i in range(1000)]
    out = []
    for _ in range(3):
        tmp = Path(tempfile.mkdtemp(prefix="duckspool-bench-"))
        try:
            em = Emitter(tmp / "spool")
            t0 = time.perf_counter()
            for i in range(n):
                em.emit(events[i % 1000])
            assert em.flush(120)
            elapsed = time.perf_counter() - t0
            em.close()
            s = em.stats()
            out.append({"events_per_s": s.written / elapsed, "dropped": s.dropped_total,
                        "written": s.written})
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return {
        "events": n,
        "events_per_s_median": median([o["events_per_s"] for o in out]),
        "dropped_median": median([o["dropped"] for o in out]),
    }


def burst_memory(n: int) -> dict[str, float]:
    """RSS while bursting far above the buffer bound with the writer held back."""
    events = [build_event(i) for i in range(1000)]
    tmp = Path(tempfile.mkdtemp(prefix="duckspool-bench-"))
    try:
        em = Emitter(tmp / "spool", max_buffer_events=10_000, max_buffer_bytes=8 << 20)
        before = peak_rss_mib()
        hold = threading.Lock()
        with hold:
            em._io_lock.acquire()  # the disk "stalls": nothing drains the buffer
            latencies = []
            for i in range(n):
                t0 = time.perf_counter_ns()
                em.emit(events[i % 1000])
                if i % 100 == 0:
                    latencies.append(time.perf_counter_ns() - t0)
            em._io_lock.release()
        em.close()
        s = em.stats()
        return {
            "events": n,
            "buffer_events": 10_000,
            "dropped_buffer_full": s.dropped.get("buffer_full", 0),
            "written": s.written,
            "peak_rss_growth_mib": round(peak_rss_mib() - before, 1),
            "emit_median_ns_during_burst": median(latencies),
            "emit_p99_ns_during_burst": percentile(latencies, 0.99),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sustained", type=int, default=1_000_000)
    parser.add_argument("--burst", type=int, default=500_000)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    result = run(args)
    publish(result, args.json)


if __name__ == "__main__":
    main()
