"""A rate limit per kind of message, with a bound on how many kinds it remembers."""

from __future__ import annotations

__all__ = ["RateLimit"]

_ANY = "*"


class RateLimit:
    """``allow(kind, now)`` is True at most once per ``interval`` seconds for each kind.

    Past ``max_kinds`` distinct kinds, new kinds share one slot, so arbitrary
    input cannot grow the table. Not thread-safe: callers hold their own lock.
    """

    def __init__(self, interval: float, *, max_kinds: int) -> None:
        self.interval = interval
        self.max_kinds = max_kinds
        self._last: dict[str, float] = {}

    def allow(self, kind: str, now: float) -> bool:
        if kind not in self._last and len(self._last) >= self.max_kinds:
            kind = _ANY
        last = self._last.get(kind)
        if last is not None and now - last < self.interval:
            return False
        self._last[kind] = now
        return True
