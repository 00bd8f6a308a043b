"""Sub-commands that live beside the core ones: the demo, and those of other modules."""

from __future__ import annotations

import argparse
from pathlib import Path

from duckspool.cli._commands import COMMANDS, add_location_options

__all__ = ["register"]


def cmd_demo(args: argparse.Namespace) -> int:
    from duckspool.demo import main_from_cli

    return main_from_cli(args)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the demo, and export/prune/ship (cli/_scale.py), to ``sub``."""
    p = sub.add_parser("demo", help="simulate a service, load its events and print a report")
    add_location_options(p)
    p.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="put the spool and database under DIR instead of --spool/--db",
    )
    p.add_argument("--events", type=int, default=20_000, help="about how many events to emit")
    p.add_argument("--workers", type=int, default=2, help="emitting processes")
    COMMANDS["demo"] = cmd_demo
    from duckspool.cli._scale import register as register_scale

    register_scale(sub)
    from duckspool.cli._report import add_report_command

    add_report_command(sub)
