"""Shared fixtures: real spool directories, real DuckDB files, real child processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from duckspool import DuckDBTelemetryRepository, TelemetryEvent, make_event

DATA = Path(__file__).parent / "data"
SRC = Path(__file__).resolve().parent.parent / "src"


def pytest_configure(config: pytest.Config) -> None:
    """Let child processes take Ctrl-C as a terminal's children would.

    A shell without job control starts a background job (``( .ci/run & )``)
    with SIGINT ignored, children inherit that, and Python then installs no
    KeyboardInterrupt handler: the Ctrl-C tests would wait forever. A Python
    handler here is reset to the default in each child at exec.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def load_vectors() -> list[dict[str, Any]]:
    """The shared envelope vectors, copied into tests/data."""
    with (DATA / "envelopes.jsonl").open() as fh:
        return [json.loads(line) for line in fh if line.strip()]


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    return tmp_path / "spool"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "telemetry.duckdb"


@pytest.fixture
def repo(db_path: Path) -> Iterator[DuckDBTelemetryRepository]:
    with DuckDBTelemetryRepository(db_path) as r:
        yield r


def sample_event(i: int = 0, **overrides: Any) -> TelemetryEvent:
    """A typical ~400-byte event, varied by ``i``."""
    fields: dict[str, Any] = {
        "session_id": f"sess-{i % 50}",
        "user_id": f"user-{i % 20}",
        "correlation_id": f"corr-{i}",
        "product_id": "prod-1",
        "payload": {"method": "password", "attempt": i, "mfa": i % 2 == 0},
    }
    fields.update(overrides)
    event_type = fields.pop("event_type", "action.auth.login")
    payload = fields.pop("payload")
    return make_event(event_type, payload, **fields)


def write_segment(directory: Path, name: str, lines: list[bytes | str], *,
                  trailing_newline: bool = True) -> Path:
    """A segment file as an emitter (or a crash) would leave it."""
    directory.mkdir(parents=True, exist_ok=True)
    raw = b"\n".join(x.encode() if isinstance(x, str) else x for x in lines)
    if trailing_newline and lines:
        raw += b"\n"
    path = directory / name
    path.write_bytes(raw)
    return path


def read_spool_lines(spool: Path, *dirs: str) -> list[bytes]:
    """Every line of every segment in the given spool sub-directories."""
    out: list[bytes] = []
    for d in dirs or ("sealed",):
        for p in sorted((spool / d).glob("*.jsonl")):
            out.extend(p.read_bytes().splitlines())
    return out


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_python(code: str, *args: str, timeout: float = 60, check: bool = True,
               **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with this checkout's package importable."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True, text=True, timeout=timeout, env=child_env(), check=False, **kwargs,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"child failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def spawn_python(code: str, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(), **kwargs,
    )


EventFactory = Callable[..., TelemetryEvent]


@pytest.fixture
def event() -> EventFactory:
    return sample_event
