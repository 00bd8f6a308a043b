"""The ``duckspool`` command line. The only place library errors become exit codes."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from duckspool._version import __version__
from duckspool.cli._commands import (
    COMMANDS,
    DEFAULTS,
    CliError,
    add_location_options,
    resolve_locations,
)
from duckspool.exceptions import DuckspoolError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (docs/cli.md is generated from its help texts)."""
    parser = argparse.ArgumentParser(
        prog="duckspool",
        description="Durable product telemetry: spool events locally, load them into DuckDB.",
    )
    parser.add_argument("--version", action="version", version=f"duckspool {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("migrate", help="create or upgrade the database schema")
    add_location_options(p)
    p.add_argument("--dry-run", action="store_true", help="only list pending migrations")

    p = sub.add_parser("load", help="load every sealed segment once and print the report")
    add_location_options(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--batch-events", type=int, default=100_000, help="events per transaction")

    p = sub.add_parser("run", help="load on a schedule until SIGINT/SIGTERM")
    add_location_options(p)
    p.add_argument(
        "--interval",
        type=float,
        default=DEFAULTS["interval"],
        help="seconds between loads (default: %(default)s)",
    )
    p.add_argument("--batch-events", type=int, default=100_000, help="events per transaction")

    p = sub.add_parser("stats", help="spool backlog, quarantine counts, rows and recent loads")
    add_location_options(p)
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.add_argument("--loads", type=int, default=5, help="how many recent loads to show")

    p = sub.add_parser("query", help="run read-only SQL against the database")
    add_location_options(p)
    p.add_argument("sql", help='the SQL statement, e.g. "SELECT count(*) FROM telemetry_events"')
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")

    q = sub.add_parser("quarantine", help="inspect or replay quarantined lines")
    qsub = q.add_subparsers(dest="quarantine_command", metavar="ACTION")
    p = qsub.add_parser("list", help="list quarantined lines with their reasons")
    add_location_options(p)
    p.add_argument("--reason", help="only this reason code")
    p.add_argument("--limit", type=int, default=50, help="at most this many (0: all)")
    p.add_argument("--json", action="store_true", help="print full records as JSON")
    p = qsub.add_parser("replay", help="re-validate quarantined lines and load those that pass")
    add_location_options(p)
    p.add_argument("--no-load", action="store_true", help="only move passing lines to sealed/")

    _add_optional_commands(sub)
    return parser


def _add_optional_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from duckspool.cli._extra import register

    register(sub)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``duckspool`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    name = args.command
    if name == "quarantine":
        if args.quarantine_command is None:
            parser.parse_args(["quarantine", "--help"])
        name = f"quarantine {args.quarantine_command}"
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    resolve_locations(args)
    handler = COMMANDS[name]
    try:
        return handler(args)
    except (DuckspoolError, CliError) as exc:
        print(f"duckspool {name}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"duckspool {name}: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print(f"duckspool {name}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
