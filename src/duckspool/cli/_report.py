"""The ``duckspool report`` command: one HTML file from the database, read-only."""

from __future__ import annotations

import argparse
import sys
import webbrowser
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from duckspool.cli._args import path_arg
from duckspool.cli._commands import COMMANDS
from duckspool.cli._locate import BUSY_EXIT
from duckspool.cli._parser import add_command, add_location_options
from duckspool.exceptions import ConfigurationError, DatabaseLocked

__all__ = ["add_report_command", "cmd_report"]


def _instant(option: str) -> Callable[[str], datetime]:
    def parse(text: str) -> datetime:
        from duckspool.report import parse_instant

        try:
            return parse_instant(text, option=option)
        except ConfigurationError as exc:
            raise argparse.ArgumentTypeError(str(exc).split(": ", 1)[1]) from None

    return parse


def cmd_report(args: argparse.Namespace) -> int:
    """Write the report and print its path; 2 for a bad period, 75 when the database is busy."""
    from duckspool.report import write_report

    try:
        result = write_report(
            args.db, args.out, spool=args.spool, since=args.since, until=args.until
        )
    except ConfigurationError as exc:
        print(f"duckspool report: error: {exc}", file=sys.stderr)
        return 2
    except DatabaseLocked as exc:
        print(f"duckspool report: busy: {exc}; try again when the load is done", file=sys.stderr)
        return BUSY_EXIT
    print(result.path)
    if args.open:
        webbrowser.open(result.path.resolve().as_uri())
    return 0


def add_report_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``report`` to the sub-commands."""
    p = add_command(
        sub,
        "report",
        "write one self-contained HTML report (charts and tables) of the database",
        "duckspool report --since 2026-11-01 --out nov.html",
    )
    p.description = (
        "Write one self-contained HTML file: events over time, auth, exchange funnels, jobs and "
        "pipeline health, each a chart with its numbers, computed by DuckDB over the database "
        "opened read-only. It opens from disk and makes no network request."
    )
    add_location_options(p)
    p.add_argument(
        "--out",
        type=path_arg,
        default=Path("report.html"),
        help="the HTML file to write (default: %(default)s)",
    )
    p.add_argument(
        "--since",
        type=_instant("--since"),
        default=None,
        help="only events at or after this ISO-8601 date/time (UTC unless it says otherwise)",
    )
    p.add_argument(
        "--until",
        type=_instant("--until"),
        default=None,
        help="only events before this ISO-8601 date/time (UTC unless it says otherwise)",
    )
    p.add_argument("--open", action="store_true", help="open the report in the web browser")
    COMMANDS["report"] = cmd_report
