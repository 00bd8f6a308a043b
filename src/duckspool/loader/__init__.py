"""The loader: sealed segments in, validated and deduplicated rows out, on a schedule."""

from duckspool.loader._loader import Loader
from duckspool.loader._quarantine import (
    ID_CONFLICT,
    OVERSIZE,
    TRUNCATED,
    UNSTORABLE,
    QuarantineRecord,
    iter_records,
    raw_bytes,
)
from duckspool.loader._reader import iter_lines, segment_key
from duckspool.loader._replay import ReplayResult, replay_quarantine
from duckspool.loader._report import LoadReport
from duckspool.loader._schedule import (
    DEFAULT_INTERVAL,
    LOADER_JOB_ID,
    add_loader_job,
    run_loader_forever,
    start_background_loader,
)

__all__ = [
    "DEFAULT_INTERVAL",
    "ID_CONFLICT",
    "LOADER_JOB_ID",
    "OVERSIZE",
    "TRUNCATED",
    "UNSTORABLE",
    "LoadReport",
    "Loader",
    "QuarantineRecord",
    "ReplayResult",
    "add_loader_job",
    "iter_lines",
    "iter_records",
    "raw_bytes",
    "replay_quarantine",
    "run_loader_forever",
    "segment_key",
    "start_background_loader",
]
