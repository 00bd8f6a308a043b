"""Sub-commands that live beside the core ones: the demo and the Parquet export."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the optional sub-commands to ``sub`` (filled in as they are built)."""
