"""Sub-commands for outgrowing one host and one file: ``export``, ``prune`` and ``ship``."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from duckspool.cli._args import path_arg
from duckspool.cli._commands import COMMANDS
from duckspool.cli._locate import BUSY_EXIT, CliError, require_db
from duckspool.cli._parser import add_command, add_location_options
from duckspool.exceptions import DatabaseLocked

__all__ = ["parse_instant", "register"]

"""Exit code when another process holds what we need (sysexits.h): retry later."""


def parse_instant(text: str) -> datetime:
    """``YYYY-MM-DD`` (midnight UTC) or an ISO-8601 date-time (UTC unless it says otherwise)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date or ISO-8601 date-time: {text!r} (e.g. 2026-11-01 or 2026-11-01T12:00Z)"
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _busy(command: str, exc: Exception) -> int:
    print(f"duckspool {command}: busy: {exc}", file=sys.stderr)
    return BUSY_EXIT


def cmd_export(args: argparse.Namespace) -> int:
    from duckspool.repository import DuckDBTelemetryRepository, export_parquet

    db = require_db(args)
    try:
        with DuckDBTelemetryRepository(db) as repo:
            result = export_parquet(repo, args.to, since=args.since, until=args.until)
    except DatabaseLocked as exc:
        return _busy("export", exc)
    print(
        f"exported {result.rows} row(s) in {result.files} file(s) to {result.target} "
        f"(loaded up to {result.exported_until})"
        + (f"; manifest {result.manifest}" if result.manifest else "")
    )
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    from duckspool.repository import DuckDBTelemetryRepository, prune_exported

    db = require_db(args)
    try:
        with DuckDBTelemetryRepository(db) as repo:
            result = prune_exported(
                repo, args.export_dir, args.exported_before, dry_run=args.dry_run
            )
    except DatabaseLocked as exc:
        return _busy("prune", exc)
    verb = "would delete" if result.dry_run else "deleted"
    print(
        f"{verb} {result.deleted} of {result.candidates} row(s) before "
        f"{result.cutoff.isoformat()} proven in {result.files_verified} exported file(s); "
        f"kept {result.kept} not proven exported"
    )
    if result.problems:
        more = f" (and {len(result.problems) - 1} more)" if len(result.problems) > 1 else ""
        raise CliError(f"their rows were kept: {result.problems[0]}{more}")
    return 0


def cmd_ship(args: argparse.Namespace) -> int:
    from duckspool.spool import SpoolBusy, ship_segments

    try:
        report = ship_segments(args.spool, args.to, dry_run=args.dry_run)
    except SpoolBusy as exc:
        return _busy("ship", exc)
    if args.json:
        data: dict[str, Any] = {
            "shipped": report.shipped,
            "bytes": report.bytes,
            "already_there": report.already_there,
            "vanished": report.vanished,
            "stale_temps": report.stale_temps,
            "dry_run": report.dry_run,
            "seconds": round(report.seconds, 3),
        }
        print(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        return 0
    for name in report.shipped:
        print(f"{'would ship' if report.dry_run else 'shipped'} {name}")
    print(report.summary())
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the export, prune and ship sub-commands to ``sub``."""
    p = add_command(
        sub,
        "export",
        "write new rows as Parquet partitioned by date/namespace (docs/export.md)",
        "duckspool export --to /data/telemetry-parquet --since 2026-11-01",
    )
    add_location_options(p)
    p.add_argument("--to", type=path_arg, required=True, help="target directory")
    p.add_argument(
        "--since", type=parse_instant, help="only events that occurred at or after this (UTC)"
    )
    p.add_argument("--until", type=parse_instant, help="only events that occurred before this")

    p = add_command(
        sub,
        "prune",
        "delete rows from the database that are proven to be in the export",
        "duckspool prune --exported-before 2026-10-01 --export-dir /data/telemetry-parquet",
    )
    add_location_options(p)
    p.add_argument(
        "--exported-before",
        type=parse_instant,
        required=True,
        metavar="DATE",
        help="delete exported rows that occurred before DATE (UTC midnight)",
    )
    p.add_argument(
        "--export-dir",
        type=path_arg,
        required=True,
        metavar="DIR",
        help="the `duckspool export --to` directory whose manifests prove rows exported",
    )
    p.add_argument("--dry-run", action="store_true", help="only count what would be deleted")

    p = add_command(
        sub,
        "ship",
        "move this host's sealed segments into a central spool's sealed/",
        "duckspool ship --spool /var/lib/app/spool --to /mnt/central/spool",
    )
    p.add_argument(
        "--spool",
        type=path_arg,
        default=None,
        help="this host's spool directory (default: $DUCKSPOOL_SPOOL_DIR or ./var/spool)",
    )
    p.add_argument(
        "--to", type=path_arg, required=True, metavar="CENTRAL_SPOOL", help="the loader's spool"
    )
    p.add_argument("--dry-run", action="store_true", help="only list what would move")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    COMMANDS["export"] = cmd_export
    COMMANDS["prune"] = cmd_prune
    COMMANDS["ship"] = cmd_ship
