"""Sub-commands that live beside the core ones: the demo and the Parquet export."""

from __future__ import annotations

import argparse
from pathlib import Path

from duckspool.cli._commands import COMMANDS
from duckspool.cli._locate import CliError
from duckspool.cli._parser import add_demo, add_location_options

__all__ = ["register"]


def cmd_demo(args: argparse.Namespace) -> int:
    from duckspool.demo import DemoError, main_from_cli

    try:
        return main_from_cli(args)
    except DemoError as exc:
        raise CliError(str(exc)) from None


def cmd_export(args: argparse.Namespace) -> int:
    from duckspool.repository import DuckDBTelemetryRepository, export_parquet

    if not Path(args.db).exists():
        print(f"nothing to export: {args.db} does not exist")
        return 0
    with DuckDBTelemetryRepository(args.db) as repo:
        result = export_parquet(repo, args.to)
    print(
        f"exported {result.rows} row(s) to {result.target} (loaded up to {result.exported_until})"
    )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the demo and export sub-commands to ``sub``."""
    add_demo(sub)
    p = sub.add_parser("export", help="write new rows as Parquet partitioned by date/namespace")
    add_location_options(p)
    p.add_argument("--to", type=Path, required=True, help="target directory")
    COMMANDS["demo"] = cmd_demo
    COMMANDS["export"] = cmd_export
