"""The ``duckspool`` command's core sub-commands. Library errors become one-line CLI errors here.

Commands that read (``load``, ``stats``, ``query``, ``quarantine``) never create
a missing spool or database (see cli/_locate.py); ``migrate`` creates the
database, ``run`` is the loader service and may create both.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from duckspool.cli._locate import (
    BUSY_EXIT,
    CliError,
    busy_message,
    require_db,
    require_spool,
    with_wait,
)
from duckspool.cli._query import cmd_query
from duckspool.exceptions import DatabaseLocked
from duckspool.loader import (
    Loader,
    LoadReport,
    iter_records,
    replay_quarantine,
    run_loader_forever,
)
from duckspool.migrations import Migration, available, migrate, pending
from duckspool.repository import DuckDBTelemetryRepository, open_database
from duckspool.repository._history import recent_load_totals
from duckspool.spool import SpoolLayout

__all__ = ["COMMANDS", "CliError"]


def _print_json(data: Any) -> None:
    print(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode())


def _note(command: str, text: str) -> None:
    print(f"duckspool {command}: note: {text}", file=sys.stderr)


def cmd_migrate(args: argparse.Namespace) -> int:
    db = Path(args.db)
    if args.dry_run:  # creates nothing, not even the file
        if db.exists():
            con = open_database(db, read_only=True)
            try:
                todo = pending(con)
            finally:
                con.close()
        else:
            todo = available()
        _list_migrations("pending", todo, db)
        if not db.exists():
            print(f"({db} does not exist yet; `duckspool migrate` would create it)")
        return 0
    con = open_database(db)
    try:
        done = migrate(con)
    finally:
        con.close()
    _list_migrations("applied", done, db)
    return 0


def _list_migrations(verb: str, migrations: list[Migration], db: Path) -> None:
    for m in migrations:
        print(f"{verb} {m.version:04d}_{m.name}")
    if not migrations:
        print(f"{db}: up to date")


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
    if report.errors:
        more = f" (and {len(report.errors) - 1} more)" if report.errors[1:] else ""
        print(f"duckspool load: error: {report.errors[0]}{more}", file=sys.stderr)
    if report.skipped:
        return BUSY_EXIT
    return 0 if report.ok else 1


def _segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.jsonl")) if directory.is_dir() else []


def _load_notes(layout: SpoolLayout) -> None:
    strangers = layout.strangers()
    if strangers:
        shown = ", ".join(strangers[:5]) + (
            f" and {len(strangers) - 5} more" if strangers[5:] else ""
        )
        _note(
            "load",
            f"{layout.sealed} holds {len(strangers)} file(s) that are not segments "
            f"(*.jsonl) and are never loaded: {shown}",
        )
    if not _segments(layout.sealed):
        active = _segments(layout.active)
        if active:
            _note(
                "load",
                f"{layout.sealed} is empty but {layout.active} holds {len(active)} segment(s) "
                "still being written: each seals when its emitter closes it or it reaches the "
                "emitter's max_segment_age (30 s by default), or at the next load once its "
                "process has exited",
            )


def cmd_load(args: argparse.Namespace) -> int:
    spool = require_spool(args)
    require_db(args)
    _load_notes(SpoolLayout(spool))
    loader = Loader(
        spool,
        args.db,
        batch_events=args.batch_events,
        progress=None if args.json else _progress_printer(),
    )
    report = loader.run_once()
    if report.skipped:
        print(f"duckspool load: busy: {report.skipped}; nothing loaded", file=sys.stderr)
    return _report_out(report, args.json)


def cmd_run(args: argparse.Namespace) -> int:
    loader = Loader(args.spool, args.db, batch_events=args.batch_events)

    def on_start() -> None:
        print(
            f"duckspool: loading {args.spool} into {args.db} every {args.interval:g}s "
            "(Ctrl-C to stop)",
            file=sys.stderr,
            flush=True,
        )

    def on_report(report: LoadReport) -> None:
        if report.segments_loaded or report.errors or report.skipped:
            print(report.summary(), flush=True)

    signum = run_loader_forever(
        loader, interval=args.interval, on_report=on_report, on_start=on_start
    )
    print("duckspool: stopped", file=sys.stderr)
    if signum == signal.SIGINT:
        print("duckspool run: interrupted (the batch in progress was finished)", file=sys.stderr)
        return 130
    return 0


def _spool_stats(layout: SpoolLayout) -> dict[str, Any]:
    now = time.time()
    info: dict[str, Any] = {}
    for label, directory in (
        ("sealed", layout.sealed),
        ("active", layout.active),
        ("failed", layout.failed),
    ):
        stats = []
        for p in _segments(directory):
            try:
                stats.append(p.stat())
            except FileNotFoundError:
                continue
        info[label] = {
            "segments": len(stats),
            "bytes": sum(s.st_size for s in stats),
            "oldest_age_seconds": round(now - min(s.st_mtime for s in stats), 1) if stats else None,
        }
    info["not_segments"] = layout.strangers()
    reasons: Counter[str] = Counter(r.reason for r in iter_records(layout.quarantine))
    info["quarantine"] = dict(sorted(reasons.items()))
    return info


def _db_stats(args: argparse.Namespace, data: dict[str, Any]) -> None:
    """Fill the database part of ``data``; a busy database is marked, not fatal."""
    db = Path(args.db)
    data.update(database_state="ok", database_detail=None, rows=None, recent_loads=[])
    if not db.exists():
        data.update(database_state="missing", rows=0)
        return
    try:
        repo = with_wait(lambda: DuckDBTelemetryRepository(db, read_only=True), args.wait)
    except DatabaseLocked as exc:
        data.update(database_state="busy", database_detail=busy_message(exc, reader=True))
        return
    with repo:
        data["rows"] = repo.count()
        cur = repo.cursor()
        try:
            data["recent_loads"] = recent_load_totals(cur, args.loads) if args.loads else []
        finally:
            cur.close()


def cmd_stats(args: argparse.Namespace) -> int:
    spool = require_spool(args)
    data: dict[str, Any] = {"spool": str(spool), "database": str(args.db)}
    data.update(_spool_stats(SpoolLayout(spool)))
    _db_stats(args, data)
    busy = data["database_state"] == "busy"
    if args.json:
        _print_json(data)
    else:
        _print_stats(data)
    if busy:
        print(f"duckspool stats: busy: {data['database_detail']}", file=sys.stderr)
        return BUSY_EXIT
    return 0


def _print_stats(data: dict[str, Any]) -> None:
    print(f"spool {data['spool']}")
    for label in ("sealed", "active", "failed"):
        s = data[label]
        age = f", oldest {s['oldest_age_seconds']}s" if s["oldest_age_seconds"] is not None else ""
        print(f"  {label:7} {s['segments']} segment(s), {s['bytes']} bytes{age}")
    if data["not_segments"]:
        names = data["not_segments"]
        print(f"  not segments in sealed/ (never loaded): {len(names)}: {', '.join(names[:10])}")
    quarantine = data["quarantine"]
    total = sum(quarantine.values())
    detail = ", ".join(f"{k}={v}" for k, v in quarantine.items())
    print(f"  quarantine {total} line(s)" + (f" ({detail})" if detail else ""))
    state = data["database_state"]
    if state == "missing":
        print(f"database {data['database']}: does not exist yet (nothing loaded)")
        return
    if state == "busy":
        print(f"database {data['database']}: BUSY, counts unavailable")
        return
    print(f"database {data['database']}: {data['rows']} row(s) in telemetry_events")
    if data["recent_loads"]:
        print("recent loads (one line per load, newest first):")
        for load in data["recent_loads"]:
            print(
                f"  {load['loaded_at']}  {load['segments']} segment(s)  lines={load['lines']} "
                f"inserted={load['inserted']} duplicates={load['duplicates']} "
                f"quarantined={load['quarantined']}"
            )


def cmd_quarantine_list(args: argparse.Namespace) -> int:
    spool = require_spool(args)
    records = [
        r
        for r in iter_records(SpoolLayout(spool).quarantine)
        if args.reason is None or r.reason == args.reason
    ]
    shown = records[: args.limit] if args.limit else records
    if args.json:
        _print_json([r.fields for r in shown])
        return 0
    from duckspool.cli._format import render

    rows = [(r.segment, r.line, r.reason, r.detail[:100]) for r in shown]
    print(render(["segment", "line", "reason", "detail"], rows, "table"))
    if len(shown) < len(records):
        print(f"... {len(records) - len(shown)} more (use --limit 0 for all)")
    return 0


def cmd_quarantine_replay(args: argparse.Namespace) -> int:
    spool = require_spool(args)
    if not args.no_load:
        require_db(args)
    try:
        result = replay_quarantine(spool)
    except RuntimeError as exc:
        raise CliError(str(exc), code=BUSY_EXIT) from None
    print(
        f"replayed {result.replayed} line(s) into sealed/{result.segment or '-'}; "
        f"{result.kept} stay in quarantine"
    )
    if result.replayed and not args.no_load:
        report = Loader(spool, args.db).run_once()
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
