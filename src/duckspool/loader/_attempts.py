"""Counting failed loads per segment, so one poisonous segment cannot stall the rest."""

from __future__ import annotations

import os
from pathlib import Path

import orjson

__all__ = ["AttemptLog"]


class AttemptLog:
    """Failures per segment name in ``<spool>/loader-attempts.json`` (survives restarts)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            data = orjson.loads(path.read_bytes())
            self._data: dict[str, dict[str, object]] = data if isinstance(data, dict) else {}
        except (OSError, orjson.JSONDecodeError):
            self._data = {}

    def failed(self, name: str, error: str) -> int:
        """Record one failure of ``name``; return how many it has had."""
        entry = self._data.setdefault(name, {"attempts": 0})
        count = int(str(entry.get("attempts", 0))) + 1
        entry["attempts"] = count
        entry["error"] = error
        self._save()
        return count

    def forget(self, name: str) -> None:
        if self._data.pop(name, None) is not None:
            self._save()

    def _save(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(orjson.dumps(self._data))
        os.replace(tmp, self.path)
