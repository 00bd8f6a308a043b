"""Sub-commands that live beside the core ones: the demo, and those of other modules."""

from __future__ import annotations

import argparse

from duckspool.cli._commands import COMMANDS
from duckspool.cli._locate import CliError
from duckspool.cli._parser import add_demo

__all__ = ["register"]


def cmd_demo(args: argparse.Namespace) -> int:
    from duckspool.demo import DemoError, main_from_cli

    try:
        return main_from_cli(args)
    except DemoError as exc:
        raise CliError(str(exc)) from None


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the demo, export/prune/ship (cli/_scale.py) and report (cli/_report.py) to ``sub``."""
    add_demo(sub)
    COMMANDS["demo"] = cmd_demo
    from duckspool.cli._scale import register as register_scale

    register_scale(sub)
    from duckspool.cli._report import add_report_command

    add_report_command(sub)
