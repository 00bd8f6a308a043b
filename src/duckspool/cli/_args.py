"""Argument types and the parser class: every value checked at parse time, one-line errors.

A usage mistake is one line on stderr naming the option and what it allows, and
exit code 2 (:class:`UsageError` carries it out of :func:`argparse.ArgumentParser.error`
so ``main(argv)`` can return the code instead of leaving the interpreter).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

__all__ = [
    "CliParser",
    "UsageError",
    "expand_path",
    "float_in",
    "int_in",
    "path_arg",
]


class UsageError(Exception):
    """A command line the parser refuses; ``str()`` is the one line to print."""


class CliParser(argparse.ArgumentParser):
    """``ArgumentParser`` whose errors are one line (no usage dump) raised as UsageError."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message} (see {self.prog} --help)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        raise SystemExit(status)


def int_in(low: int, high: int | None = None, *, zero: str | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in ``[low, high]``; ``zero`` documents what 0 means."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip().replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low or (high is not None and value > high):
            allowed = f">= {low}" if high is None else f"from {low} to {high}"
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def float_in(low: float, high: float) -> Callable[[str], float]:
    """An argparse type: a finite number from ``low`` to ``high``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or value < low or value > high:
            raise argparse.ArgumentTypeError(f"must be from {low:g} to {high:g}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


def expand_path(text: str | os.PathLike[str]) -> Path:
    """``~`` and ``~user`` expanded, as a shell would have done for an unquoted word."""
    return Path(os.fspath(text)).expanduser()


def path_arg(text: str) -> Path:
    """An argparse type for path options: non-empty, ``~`` expanded."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a path, got an empty string")
    if "\0" in text:
        raise argparse.ArgumentTypeError("a path cannot contain a NUL character")
    return expand_path(text)
