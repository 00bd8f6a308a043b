"""Documentation that must stay true: the CLI reference, README commands, public API."""

from __future__ import annotations

import re
from pathlib import Path

import duckspool
from duckspool.cli import build_parser
from duckspool.cli._reference import _subparsers, render_reference

ROOT = Path(__file__).resolve().parent.parent


def test_cli_reference_is_generated_from_help() -> None:
    assert (ROOT / "docs" / "cli.md").read_text() == render_reference(), (
        "docs/cli.md is stale: python -m duckspool.cli._reference > docs/cli.md"
    )


def test_every_command_is_documented() -> None:
    text = (ROOT / "docs" / "cli.md").read_text()
    parser = build_parser()
    for name, sub in _subparsers(parser).items():
        nested = _subparsers(sub)
        for full in ([f"{name} {n}" for n in nested] if nested else [name]):
            assert f"## `duckspool {full}`" in text, full
            assert full.split()[0] in (ROOT / "README.md").read_text(), full


def test_public_api_is_exported() -> None:
    for name in duckspool.__all__:
        assert hasattr(duckspool, name), name
    from duckspool import DuckDBTelemetryRepository, TelemetryEvent, TelemetryRepository

    assert TelemetryRepository and TelemetryEvent and DuckDBTelemetryRepository


def test_readme_commands_and_links_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "duckspool demo" in readme
    assert "python -m pytest" in readme
    for link in re.findall(r"\]\((docs/[^)]+)\)", readme):
        assert (ROOT / link).exists(), link


def test_every_quarantine_reason_is_documented() -> None:
    from duckspool.contracts import (
        INVALID_EVENT,
        INVALID_JSON,
        NOT_AN_OBJECT,
        UNSUPPORTED_SCHEMA_VERSION,
    )
    from duckspool.loader import ID_CONFLICT, OVERSIZE, TRUNCATED, UNSTORABLE

    text = (ROOT / "docs" / "loader.md").read_text()
    for reason in (INVALID_JSON, NOT_AN_OBJECT, INVALID_EVENT, UNSUPPORTED_SCHEMA_VERSION,
                   TRUNCATED, OVERSIZE, ID_CONFLICT, UNSTORABLE):
        assert f"`{reason}`" in text, reason


def test_every_drop_reason_is_documented() -> None:
    text = (ROOT / "docs" / "spool.md").read_text()
    for reason in duckspool.DropReason:
        assert f"`{reason.value}`" in text, reason
