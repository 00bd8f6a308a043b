"""Validation worker processes: plain child interpreters running :func:`main`.

Not multiprocessing: its "spawn" re-imports the parent's ``__main__`` in every
worker (re-running a service's start-up code that lacks a main guard), and
"fork" is unsafe in a process with threads (a scheduler, DuckDB's own). A plain
child speaking JSON lines over its stdin/stdout has neither problem, and exits
by itself when the loader dies (EOF on stdin, or the kernel's parent-death
signal).
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
from collections import deque
from collections.abc import Generator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

import orjson

from duckspool.loader import _validate
from duckspool.loader._validate import SegmentResult

__all__ = ["WorkerPool", "main"]

Task = tuple[Path, int, Path, Path, int, bool]
# -c rather than -m: the package imports this module, and runpy warns about
# executing a module that is already imported.
_WORKER_MAIN = "from duckspool.loader._workers import main; main()"


def _encode_task(task: Task) -> bytes:
    path, ordinal, staging, quarantine, max_line, bulk = task
    return orjson.dumps([str(path), ordinal, str(staging), str(quarantine), max_line, bulk]) + b"\n"


def _decode_result(line: bytes) -> SegmentResult:
    data: dict[str, Any] = orjson.loads(line)
    data["path"] = Path(data["path"])
    if data["staged"] is not None:
        data["staged"] = Path(data["staged"])
    return SegmentResult(**data)


class WorkerPool:
    """``size`` worker processes validating segments; results come back in task order."""

    def __init__(self, size: int) -> None:
        import duckspool

        package_root = str(Path(duckspool.__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        self._procs = [
            subprocess.Popen(
                [sys.executable, "-c", _WORKER_MAIN, str(os.getpid())],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
                # Their own process group: a terminal's Ctrl-C goes to the loader only.
                # A worker still importing has not yet ignored SIGINT, and would print
                # a KeyboardInterrupt traceback over the CLI's one line.
                process_group=0,
            )
            for _ in range(size)
        ]

    def run(
        self, tasks: Sequence[Task], lookahead: int = 2
    ) -> Generator[SegmentResult, None, None]:
        """Yield each task's result in order; stops cleanly if the caller stops iterating."""
        selector = selectors.DefaultSelector()
        assigned: dict[int, deque[int]] = {i: deque() for i in range(len(self._procs))}
        # Our own line buffers over raw reads: a buffered readline() can swallow two
        # results at once, and select() would then never report the second.
        partial: dict[int, bytes] = dict.fromkeys(range(len(self._procs)), b"")
        results: dict[int, SegmentResult] = {}
        next_task = 0
        next_out = 0
        for i, proc in enumerate(self._procs):
            assert proc.stdout is not None
            selector.register(proc.stdout, selectors.EVENT_READ, i)

        def assign(i: int) -> None:
            nonlocal next_task
            while (
                next_task < len(tasks)
                and len(assigned[i]) < lookahead
                and next_task - next_out < lookahead * len(self._procs) + 1
            ):
                stdin = self._procs[i].stdin
                assert stdin is not None
                stdin.write(_encode_task(tasks[next_task]))
                stdin.flush()
                assigned[i].append(next_task)
                next_task += 1

        try:
            for i in range(len(self._procs)):
                assign(i)
            while next_out < len(tasks):
                if next_out in results:
                    yield results.pop(next_out)
                    next_out += 1
                    for i in range(len(self._procs)):
                        assign(i)
                    continue
                for key, _ in selector.select(timeout=1.0):
                    i = key.data
                    stream: IO[bytes] = key.fileobj  # type: ignore[assignment]
                    chunk = os.read(stream.fileno(), 1 << 16)
                    if not chunk:
                        raise RuntimeError(
                            f"validation worker {self._procs[i].pid} exited "
                            f"(code {self._procs[i].poll()})"
                        )
                    *lines, partial[i] = (partial[i] + chunk).split(b"\n")
                    for line in lines:
                        results[assigned[i].popleft()] = _decode_result(line)
                    assign(i)
        finally:
            selector.close()
            for result in results.values():
                if result.staged is not None and not result.passthrough:
                    result.staged.unlink(missing_ok=True)

    def close(self) -> None:
        """Ask the workers to exit (EOF) and wait for them; kill any that linger."""
        for proc in self._procs:
            if proc.stdin is not None:
                try:
                    proc.stdin.close()
                except OSError:
                    pass
        for proc in self._procs:
            if proc.stdout is not None:
                # Results of segments validated ahead and never used: drop their staging.
                for line in proc.stdout:
                    try:
                        result = _decode_result(line)
                    except (ValueError, TypeError):
                        continue
                    if result.staged is not None and not result.passthrough:
                        result.staged.unlink(missing_ok=True)
                proc.stdout.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _die_with_parent(parent: int) -> None:
    try:
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # elsewhere EOF on stdin still ends the worker after its current segment
    if os.getppid() != parent:
        os._exit(1)


def main() -> None:
    """Validate tasks read from stdin until EOF, one JSON result line each."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only the loader decides to stop
    if len(sys.argv) > 1:
        _die_with_parent(int(sys.argv[1]))
    out = sys.stdout.buffer
    for raw in sys.stdin.buffer:
        path, ordinal, staging, quarantine, max_line, bulk = orjson.loads(raw)
        result = _validate.validate_segment(
            Path(path), ordinal, Path(staging), Path(quarantine), max_line, bulk
        )
        out.write(orjson.dumps(asdict(result), default=str) + b"\n")
        out.flush()
