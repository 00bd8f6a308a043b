"""The spool: segment files, rotation and sealing, the emitter and its writer thread.

Knows nothing of DuckDB.
"""

from duckspool.spool._default import configure, emit, get_emitter, shutdown, track
from duckspool.spool._emitter import Emitter, FsyncPolicy, close_all
from duckspool.spool._layout import (
    SegmentName,
    SpoolLayout,
    new_segment_name,
    parse_segment_name,
)
from duckspool.spool._recover import recover
from duckspool.spool._ship import ShipReport, SpoolBusy, ship_segments
from duckspool.spool._stats import DropReason, EmitterStats

__all__ = [
    "DropReason",
    "Emitter",
    "EmitterStats",
    "FsyncPolicy",
    "SegmentName",
    "ShipReport",
    "SpoolBusy",
    "SpoolLayout",
    "close_all",
    "configure",
    "emit",
    "get_emitter",
    "new_segment_name",
    "parse_segment_name",
    "recover",
    "ship_segments",
    "shutdown",
    "track",
]
