"""The clock-moved run: .ci/run runs the whole suite again with the wall clock a year ahead
(.ci/shift_clock.c, preloaded into every process of the run).

This file checks that the run really is shifted (so a broken preload cannot make the
step pass vacuously). ``DUCKSPOOL_REQUIRE_CLOCK_SHIFT_DAYS=<days>`` is set by .ci/run;
without it (an ordinary ``pytest`` run) the check is skipped, with it it must pass.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime

import duckdb
import pytest

from tests.conftest import child_env

REQUIRED_DAYS = os.environ.get("DUCKSPOOL_REQUIRE_CLOCK_SHIFT_DAYS")


def real_now() -> float:
    """The kernel's time, which the preload does not shift: boot time + uptime."""
    with open("/proc/stat") as fh:
        boot = next(int(line.split()[1]) for line in fh if line.startswith("btime"))
    with open("/proc/uptime") as fh:
        return boot + float(fh.read().split()[0])


@pytest.mark.skipif(not REQUIRED_DAYS, reason="only in .ci/run's clock-shift step")
def test_the_whole_process_tree_sees_the_moved_clock() -> None:
    shift = float(REQUIRED_DAYS or 0) * 86_400
    tolerance = 3600.0  # /proc/uptime vs btime rounding, a slow machine
    assert abs(time.time() - real_now() - shift) < tolerance, "the clock shift is not in effect"
    assert abs(datetime.now(UTC).timestamp() - real_now() - shift) < tolerance
    stamp = duckdb.connect().execute("SELECT epoch(now())").fetchone()
    assert stamp is not None and abs(float(stamp[0]) - real_now() - shift) < tolerance
    assert time.monotonic() < real_now() - shift  # monotonic clocks are left alone
    child = subprocess.run([sys.executable, "-c", "import time; print(time.time())"],
                           capture_output=True, text=True, env=child_env(), timeout=60,
                           check=True)
    assert abs(float(child.stdout) - real_now() - shift) < tolerance
