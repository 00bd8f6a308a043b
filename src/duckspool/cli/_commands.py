"""The ``duckspool`` command's sub-commands. Library errors become one-line CLI errors here."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import orjson

from duckspool._defaults import default_db_path, default_spool_dir
from duckspool.cli._format import render
from duckspool.loader import (
    DEFAULT_INTERVAL,
    Loader,
    LoadReport,
    iter_records,
    replay_quarantine,
    run_loader_forever,
)
from duckspool.migrations import migrate, pending
from duckspool.repository import DuckDBTelemetryRepository, open_database
from duckspool.spool import SpoolLayout

__all__ = ["COMMANDS", "CliError"]


class CliError(Exception):
    """A failure to report as one line and a non-zero exit code."""


def _print_json(data: Any) -> None:
    print(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode())


def cmd_migrate(args: argparse.Namespace) -> int:
    con = open_database(args.db)
    try:
        todo = pending(con)
        if args.dry_run:
            for m in todo:
                print(f"pending {m.version:04d}_{m.name}")
            if not todo:
                print("up to date")
            return 0
        done = migrate(con)
    finally:
        con.close()
    for m in done:
        print(f"applied {m.version:04d}_{m.name}")
    if not done:
        print(f"{args.db}: up to date")
    return 0


def _progress_printer() -> Any:
    if not sys.stderr.isatty():
        return None
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if done != total and now - last[0] < 0.1:
            return
        last[0] = now
        width = 30
        filled = width * done // max(total, 1)
        sys.stderr.write(f"\rloading [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return progress


def _report_out(report: LoadReport, as_json: bool) -> int:
    if as_json:
        _print_json(report.to_dict())
    else:
        print(report.summary())
        for error in report.errors[1:]:
            print(f"  error: {error}", file=sys.stderr)
    return 0 if report.ok else 1


def cmd_load(args: argparse.Namespace) -> int:
    loader = Loader(
        args.spool,
        args.db,
        batch_events=args.batch_events,
        progress=None if args.json else _progress_printer(),
    )
    return _report_out(loader.run_once(), args.json)


def cmd_run(args: argparse.Namespace) -> int:
    loader = Loader(args.spool, args.db, batch_events=args.batch_events)
    print(
        f"duckspool: loading {args.spool} into {args.db} every {args.interval:g}s (Ctrl-C to stop)",
        file=sys.stderr,
    )

    def on_report(report: LoadReport) -> None:
        if report.segments_loaded or report.errors or report.skipped:
            print(report.summary(), flush=True)

    run_loader_forever(loader, interval=args.interval, on_report=on_report)
    print("duckspool: stopped", file=sys.stderr)
    return 0


def _spool_stats(spool: Path) -> dict[str, Any]:
    layout = SpoolLayout(spool)
    now = time.time()
    info: dict[str, Any] = {}
    for label, directory in (
        ("sealed", layout.sealed),
        ("active", layout.active),
        ("failed", layout.failed),
    ):
        files = list(directory.glob("*.jsonl")) if directory.is_dir() else []
        stats = []
        for p in files:
            try:
                stats.append(p.stat())
            except FileNotFoundError:
                continue
        info[label] = {
            "segments": len(stats),
            "bytes": sum(s.st_size for s in stats),
            "oldest_age_seconds": round(now - min(s.st_mtime for s in stats), 1) if stats else None,
        }
    reasons: Counter[str] = Counter(r.reason for r in iter_records(layout.quarantine))
    info["quarantine"] = dict(sorted(reasons.items()))
    return info


def cmd_stats(args: argparse.Namespace) -> int:
    data: dict[str, Any] = {"spool": str(args.spool), "database": str(args.db)}
    data.update(_spool_stats(Path(args.spool)))
    if Path(args.db).exists():
        with DuckDBTelemetryRepository(args.db, read_only=True) as repo:
            data["rows"] = repo.count()
            data["recent_loads"] = repo.recent_loads(args.loads)
    else:
        data["rows"] = 0
        data["recent_loads"] = []
    if args.json:
        _print_json(data)
        return 0
    print(f"spool {data['spool']}")
    for label in ("sealed", "active", "failed"):
        s = data[label]
        age = f", oldest {s['oldest_age_seconds']}s" if s["oldest_age_seconds"] is not None else ""
        print(f"  {label:7} {s['segments']} segment(s), {s['bytes']} bytes{age}")
    quarantine = data["quarantine"]
    total = sum(quarantine.values())
    detail = ", ".join(f"{k}={v}" for k, v in quarantine.items())
    print(f"  quarantine {total} line(s)" + (f" ({detail})" if detail else ""))
    print(f"database {data['database']}: {data['rows']} row(s) in telemetry_events")
    if data["recent_loads"]:
        print("recent loads:")
        for load in data["recent_loads"]:
            print(
                f"  {load['loaded_at']}  {load['segment_name']}  lines={load['lines']} "
                f"inserted={load['inserted']} duplicates={load['duplicates']} "
                f"quarantined={load['quarantined']}"
            )
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    if not Path(args.db).exists():
        raise CliError(f"database {args.db} does not exist yet: run `duckspool load` first")
    with DuckDBTelemetryRepository(args.db, read_only=True) as repo:
        try:
            columns, rows = repo.fetch(args.sql)
        except duckdb.Error as exc:
            raise CliError(f"query failed: {str(exc).splitlines()[0]}") from None
    print(render(columns, rows, args.format))
    return 0


def cmd_quarantine_list(args: argparse.Namespace) -> int:
    records = [
        r
        for r in iter_records(SpoolLayout(Path(args.spool)).quarantine)
        if args.reason is None or r.reason == args.reason
    ]
    shown = records[: args.limit] if args.limit else records
    if args.json:
        _print_json([r.fields for r in shown])
        return 0
    rows = [(r.segment, r.line, r.reason, r.detail[:100]) for r in shown]
    print(render(["segment", "line", "reason", "detail"], rows, "table"))
    if len(shown) < len(records):
        print(f"... {len(records) - len(shown)} more (use --limit 0 for all)")
    return 0


def cmd_quarantine_replay(args: argparse.Namespace) -> int:
    try:
        result = replay_quarantine(args.spool)
    except RuntimeError as exc:
        raise CliError(str(exc)) from None
    print(
        f"replayed {result.replayed} line(s) into sealed/{result.segment or '-'}; "
        f"{result.kept} stay in quarantine"
    )
    if result.replayed and not args.no_load:
        report = Loader(args.spool, args.db).run_once()
        return _report_out(report, as_json=False)
    return 0


COMMANDS = {
    "migrate": cmd_migrate,
    "load": cmd_load,
    "run": cmd_run,
    "stats": cmd_stats,
    "query": cmd_query,
    "quarantine list": cmd_quarantine_list,
    "quarantine replay": cmd_quarantine_replay,
}


def add_location_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--spool",
        type=Path,
        default=None,
        help="spool directory (default: $DUCKSPOOL_SPOOL_DIR or ./var/spool)",
    )
    parser.add_argument(
        "--db",
        type=Path,
        default=None,
        help="DuckDB file (default: $DUCKSPOOL_DB or ./var/telemetry.duckdb)",
    )


def resolve_locations(args: argparse.Namespace) -> None:
    if getattr(args, "spool", "absent") is None:
        args.spool = default_spool_dir()
    if getattr(args, "db", "absent") is None:
        args.db = default_db_path()


DEFAULTS = {"interval": DEFAULT_INTERVAL}
