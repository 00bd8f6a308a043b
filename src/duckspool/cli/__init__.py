"""The ``duckspool`` command line. The only place library errors become exit codes.

Exit codes: 0 done, 1 failed, 2 usage error, 75 busy (EX_TEMPFAIL: another
process holds the database or the spool; retry later), 130 interrupted. Every
error is one line on stderr; no traceback reaches the user (``-vv`` logs one).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from duckspool.cli._args import UsageError
from duckspool.cli._locate import BUSY_EXIT, CliError, busy_message, resolve_locations
from duckspool.cli._parser import build_core_parser
from duckspool.exceptions import DatabaseLocked, DuckspoolError

__all__ = ["build_parser", "main"]

log = logging.getLogger(__name__)

USAGE_EXIT = 2
INTERRUPTED_EXIT = 130
_READERS = ("stats", "query")
_REPORTING = ("load", "quarantine replay")


def _add_optional_commands(parser: argparse.ArgumentParser) -> None:
    from duckspool.cli._extra import register

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            register(action)


def build_parser() -> argparse.ArgumentParser:
    """The whole argument parser (docs/cli.md is generated from its help texts)."""
    parser = build_core_parser()
    _add_optional_commands(parser)
    return parser


class _OneLineFormatter(logging.Formatter):
    """Log records without their traceback: the CLI never shows one (``-vv`` does)."""

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record = logging.makeLogRecord(record.__dict__)
            record.msg = f"{record.getMessage()}: {type(exc).__name__}: {_first_line(exc)}"
            record.args = None
            record.exc_info = record.exc_text = None
        return super().format(record)


def _configure_logging(verbosity: int, command: str) -> None:
    level = logging.DEBUG if verbosity >= 2 else logging.INFO if verbosity else logging.WARNING
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(fmt) if verbosity >= 2 else _OneLineFormatter(fmt))
    logging.basicConfig(level=level, handlers=[handler])
    # APScheduler logs every run at INFO ("Running job ...", "executed successfully"):
    # with -v those lines would bury the loader's own. -vv shows them.
    logging.getLogger("apscheduler").setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING)
    # One-shot commands print the load report, errors included: the loader's own log
    # lines would say it twice. `run` is a service and keeps them.
    quiet = not verbosity and command in _REPORTING
    logging.getLogger("duckspool").setLevel(logging.CRITICAL if quiet else logging.NOTSET)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _os_error(exc: OSError) -> str:
    text = exc.strerror or _first_line(exc)
    return f"{text}: {exc.filename}" if exc.filename else text


def main(argv: Sequence[str] | None = None) -> int:  # noqa: PLR0911 - every exit code at one point
    """Entry point of the ``duckspool`` console script; returns the exit code."""
    name = "duckspool"
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except UsageError as exc:
            print(exc, file=sys.stderr)
            return USAGE_EXIT
        except SystemExit as exc:  # --help, --version
            return exc.code if isinstance(exc.code, int) else 0
        if args.command is None:
            print("duckspool: error: a command is required (see duckspool --help)", file=sys.stderr)
            return USAGE_EXIT
        name = args.command
        if name == "quarantine":
            if args.quarantine_command is None:
                print(
                    "duckspool quarantine: error: an action is required: list or replay "
                    "(see duckspool quarantine --help)",
                    file=sys.stderr,
                )
                return USAGE_EXIT
            name = f"quarantine {args.quarantine_command}"
        _configure_logging(args.verbose, name)
        resolve_locations(args)
        from duckspool.cli._commands import COMMANDS

        return COMMANDS[name](args)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return USAGE_EXIT
    except KeyboardInterrupt:
        print(f"{_prog(name)}: interrupted", file=sys.stderr)
        return INTERRUPTED_EXIT
    except BrokenPipeError:
        return 0
    except DatabaseLocked as exc:
        print(f"{_prog(name)}: busy: {busy_message(exc, reader=name in _READERS)}", file=sys.stderr)
        return BUSY_EXIT
    except CliError as exc:
        print(f"{_prog(name)}: error: {exc}", file=sys.stderr)
        return exc.code
    except DuckspoolError as exc:
        print(f"{_prog(name)}: error: {_first_line(exc)}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{_prog(name)}: error: {_os_error(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # the last line of defence: one line, never a traceback
        from duckspool.repository._errors import is_interrupt

        if is_interrupt(exc):
            print(f"{_prog(name)}: interrupted", file=sys.stderr)
            return INTERRUPTED_EXIT
        log.debug("unexpected failure", exc_info=True)
        print(
            f"{_prog(name)}: error: unexpected {type(exc).__name__}: {_first_line(exc)} "
            "(run with -vv for details; please report it)",
            file=sys.stderr,
        )
        return 1


def _prog(name: str) -> str:
    return name if name == "duckspool" else f"duckspool {name}"
