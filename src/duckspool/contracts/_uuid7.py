"""Time-ordered UUIDv7 ids (RFC 9562), because Python 3.11 has no ``uuid.uuid7``.

Ids made in one process are strictly increasing: within one millisecond a
12-bit counter in ``rand_a`` orders them (RFC 9562 section 6.2, method 1), and
when it overflows the timestamp is advanced by one millisecond. Time-ordered
ids keep each load's ids in a narrow range, which lets DuckDB's zone maps skip
old row groups when deduplicating.
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid

__all__ = ["uuid7", "uuid7_time_ms"]

_lock = threading.Lock()
_last_ms = 0
_counter = 0
_COUNTER_MAX = 0xFFF
# Bound once: enum and attribute look-ups cost more than building the id itself.
_new = object.__new__
_set = object.__setattr__
_UUID = uuid.UUID
_UNKNOWN_SAFETY = uuid.SafeUUID.unknown
_time_ns = time.time_ns
_randbits = random.getrandbits


def _reset_after_fork() -> None:
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)


def uuid7() -> uuid.UUID:
    """Return a new UUIDv7, strictly greater than the previous one from this process."""
    global _last_ms, _counter
    # random (Mersenne Twister, reseeded by CPython in forked children) rather than
    # os.urandom: ids need uniqueness, not secrecy, and a syscall per id triples the cost.
    rand = _randbits(80)
    now_ms = _time_ns() // 1_000_000
    with _lock:
        if now_ms > _last_ms:
            _last_ms = now_ms
            # Start the counter in the lower half so several ids fit in one millisecond
            # before it overflows, yet the first id of a millisecond stays unpredictable.
            _counter = (rand >> 64) & 0x7FF
        else:
            # Same millisecond, or the clock went backwards: stay monotonic.
            _counter += 1
            if _counter > _COUNTER_MAX:
                _last_ms += 1
                _counter = 0
        ms = _last_ms
        counter = _counter
    value = (
        (ms & 0xFFFF_FFFF_FFFF) << 80
        | 0x7 << 76
        | counter << 64
        | 0b10 << 62
        | (rand & 0x3FFF_FFFF_FFFF_FFFF)
    )
    # uuid.UUID(int=...) re-checks a value we built correct by construction and costs
    # more than the rest of this function; set the slots directly instead.
    result = _new(_UUID)
    _set(result, "int", value)
    _set(result, "is_safe", _UNKNOWN_SAFETY)
    return result


def uuid7_time_ms(value: uuid.UUID) -> int:
    """The Unix time in milliseconds carried by a UUIDv7."""
    return value.int >> 80
