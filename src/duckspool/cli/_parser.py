"""The ``duckspool`` argument parser: every option typed and range-checked, every command
with a one-line description, its defaults and one example (docs/cli.md is generated from it).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from duckspool._version import __version__
from duckspool.cli._args import CliParser, float_in, int_in, path_arg
from duckspool.contracts import (
    INVALID_EVENT,
    INVALID_JSON,
    NOT_AN_OBJECT,
    NUMBER_OUT_OF_RANGE,
    UNSUPPORTED_SCHEMA_VERSION,
)
from duckspool.loader import (
    DEFAULT_INTERVAL,
    ID_CONFLICT,
    OVERSIZE,
    TRUNCATED,
    UNSTORABLE,
)
from duckspool.loader._schedule import MAX_INTERVAL, MIN_INTERVAL

__all__ = [
    "QUARANTINE_REASONS",
    "add_command",
    "add_demo",
    "add_location_options",
    "build_core_parser",
]

QUARANTINE_REASONS = (
    INVALID_JSON,
    NOT_AN_OBJECT,
    INVALID_EVENT,
    UNSUPPORTED_SCHEMA_VERSION,
    NUMBER_OUT_OF_RANGE,
    TRUNCATED,
    OVERSIZE,
    ID_CONFLICT,
    UNSTORABLE,
)
"""The reason codes of docs/loader.md, from the contract and the loader that give them."""


if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[Any]


def add_location_options(parser: argparse.ArgumentParser) -> None:
    """``--spool`` and ``--db`` (``~`` expanded; None means: environment, then default)."""
    parser.add_argument(
        "--spool",
        type=path_arg,
        default=None,
        help="spool directory (default: $DUCKSPOOL_SPOOL_DIR or ./var/spool)",
    )
    parser.add_argument(
        "--db",
        type=path_arg,
        default=None,
        help="DuckDB file (default: $DUCKSPOOL_DB or ./var/telemetry.duckdb)",
    )


def _batch_events(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--batch-events",
        type=int_in(1, 10_000_000),
        default=100_000,
        help="events per transaction, 1 to 10000000 (default: %(default)s)",
    )


def _wait(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait",
        type=float_in(0, 3600),
        default=0.0,
        metavar="SECONDS",
        help="wait up to SECONDS for a busy database, 0 to 3600 (default: %(default)s)",
    )


def _verbose(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0 if top else argparse.SUPPRESS,
        help="log progress to stderr (-vv: debug, APScheduler's per-run lines too)",
    )


def add_command(sub: SubParsers, name: str, summary: str, example: str) -> argparse.ArgumentParser:
    """A sub-command with its one-line description, an example and ``-v``."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=summary,
        description=summary[0].upper() + summary[1:] + ".",
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _verbose(parser)
    return parser


def build_core_parser() -> argparse.ArgumentParser:
    """The parser with the core commands (cli/_extra.py adds the others)."""
    parser = CliParser(
        prog="duckspool",
        description="Durable product telemetry: spool events locally, load them into DuckDB.",
        epilog="Exit codes: 0 done, 1 failed, 2 usage error, 75 busy (retry later), "
        "130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"duckspool {__version__}")
    _verbose(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = add_command(
        sub,
        "migrate",
        "create or upgrade the database schema",
        "duckspool migrate --db var/telemetry.duckdb --dry-run",
    )
    add_location_options(p)
    p.add_argument(
        "--dry-run", action="store_true", help="only list pending migrations; creates nothing"
    )

    p = add_command(
        sub,
        "load",
        "load every sealed segment once and print the report",
        "duckspool load --spool var/spool --db var/telemetry.duckdb --json",
    )
    add_location_options(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    _batch_events(p)

    p = add_command(
        sub,
        "run",
        "load on a schedule until SIGINT/SIGTERM",
        "duckspool run --interval 60",
    )
    add_location_options(p)
    p.add_argument(
        "--interval",
        type=float_in(MIN_INTERVAL, MAX_INTERVAL),
        default=DEFAULT_INTERVAL,
        help=f"seconds between loads, {MIN_INTERVAL:g} to {MAX_INTERVAL:g} (default: %(default)s)",
    )
    _batch_events(p)

    p = add_command(
        sub,
        "stats",
        "spool backlog, quarantine counts, rows and recent loads",
        "duckspool stats --loads 10 --json",
    )
    add_location_options(p)
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.add_argument(
        "--loads",
        type=int_in(0, 1000),
        default=5,
        help="how many recent loads to show, 0 to 1000 (default: %(default)s)",
    )
    _wait(p)

    _add_query(sub)
    _add_quarantine(sub)
    return parser


def _add_query(sub: SubParsers) -> None:
    p = add_command(
        sub,
        "query",
        "run read-only SQL against the database",
        'duckspool query "SELECT namespace, count(*) FROM telemetry_events GROUP BY 1"',
    )
    add_location_options(p)
    p.add_argument(
        "sql",
        nargs="?",
        help="SQL text, or - to read it from stdin; several ;-separated statements "
        "print one result each",
    )
    p.add_argument("-f", "--file", type=path_arg, help="read the SQL from FILE instead")
    p.add_argument(
        "--format",
        choices=["table", "csv", "json", "ndjson"],
        default="table",
        help="output format (default: %(default)s)",
    )
    p.add_argument(
        "--max-rows",
        type=int_in(0, 1_000_000_000),
        default=None,
        help="rows shown at most, 0 for all (default: 100 for table, all otherwise)",
    )
    _wait(p)


def _add_quarantine(sub: SubParsers) -> None:
    q = add_command(
        sub,
        "quarantine",
        "inspect or replay quarantined lines",
        "duckspool quarantine list --reason invalid_json",
    )
    qsub = q.add_subparsers(dest="quarantine_command", metavar="ACTION")
    p = add_command(
        qsub,
        "list",
        "list quarantined lines with their reasons",
        "duckspool quarantine list --reason invalid_event --limit 0 --json",
    )
    add_location_options(p)
    p.add_argument(
        "--reason",
        choices=QUARANTINE_REASONS,
        metavar="REASON",
        help="only this reason: " + ", ".join(QUARANTINE_REASONS),
    )
    p.add_argument(
        "--limit",
        type=int_in(0, 1_000_000_000),
        default=50,
        help="at most this many, 0 for all (default: %(default)s)",
    )
    p.add_argument("--json", action="store_true", help="print full records as JSON")
    p = add_command(
        qsub,
        "replay",
        "re-validate quarantined lines and load those that pass",
        "duckspool quarantine replay --spool var/spool --db var/telemetry.duckdb",
    )
    add_location_options(p)
    p.add_argument("--no-load", action="store_true", help="only move passing lines to sealed/")


def add_demo(sub: SubParsers) -> argparse.ArgumentParser:
    """The ``demo`` command's parser (registered by cli/_extra.py)."""
    p = add_command(
        sub,
        "demo",
        "simulate a service, load its events and print a report",
        "duckspool demo --dir /tmp/duckspool-demo --events 5000",
    )
    add_location_options(p)
    p.add_argument(
        "--dir",
        type=path_arg,
        default=None,
        help="put the spool and database under DIR instead of --spool/--db",
    )
    p.add_argument(
        "--events",
        type=int_in(1, 5_000_000),
        default=20_000,
        help="about how many events to emit, 1 to 5000000 (default: %(default)s)",
    )
    p.add_argument(
        "--workers",
        type=int_in(1, 64),
        default=2,
        help="emitting processes, 1 to 64 (default: %(default)s)",
    )
    p.add_argument(
        "--append",
        action="store_true",
        help="add to the spool and database a previous demo left (default: refuse them)",
    )
    return p
