"""docs/cli.md, generated from the parser's own help so the reference cannot drift.

Regenerate with ``python -m duckspool.cli._reference > docs/cli.md``;
tests/test_docs.py fails when the file is stale or a command is undocumented.
"""

from __future__ import annotations

import argparse
import os

__all__ = ["render_reference"]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def render_reference() -> str:
    """The CLI reference as Markdown."""
    from duckspool.cli import build_parser

    os.environ["COLUMNS"] = "100"  # stable wrapping, whatever the terminal
    parser = build_parser()
    parts = [
        "# `duckspool` command reference",
        "",
        "Generated from `--help` by `python -m duckspool.cli._reference`; do not edit.",
        "Every command takes `--spool` and `--db` (defaults `$DUCKSPOOL_SPOOL_DIR` or",
        "`./var/spool`, and `$DUCKSPOOL_DB` or `./var/telemetry.duckdb`; `~` is expanded).",
        "Errors are one line on stderr. Exit codes: 2 usage error, 1 failure, 75 busy",
        "(another process holds the database or the spool: retry later), 130 interrupted.",
        "Commands that read (`load`, `stats`, `query`, `quarantine`) never create a missing",
        "spool or database; `migrate` creates the database, `run` both.",
        "",
        "```",
        parser.format_help().rstrip(),
        "```",
    ]
    for name, sub in _subparsers(parser).items():
        nested = _subparsers(sub)
        commands = {f"{name} {n}": p for n, p in nested.items()} if nested else {name: sub}
        for full, p in commands.items():
            parts += ["", f"## `duckspool {full}`", "", "```", p.format_help().rstrip(), "```"]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    print(render_reference(), end="")
