"""The README's Python quick start, run exactly as written in a fresh directory."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import child_env

ROOT = Path(__file__).resolve().parent.parent


def quick_start() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start in Python", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "the README's quick start has no python code block"
    return match.group(1)


def test_readme_quick_start_runs_as_written(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", quick_start()], cwd=tmp_path, env=child_env(),
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    summary, count = proc.stdout.strip().splitlines()
    assert summary.startswith("1 segment(s), 1 lines, 1 inserted, 0 duplicates, 0 quarantined")
    assert count == "1"
    assert (tmp_path / "var" / "telemetry.duckdb").exists()
    # A second run, as a reader following along would do, adds one more event.
    again = subprocess.run([sys.executable, "-c", quick_start()], cwd=tmp_path, env=child_env(),
                           capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines()[1] == "2"
