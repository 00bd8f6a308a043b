"""The emitter's options: one validated record, so a bad value fails at construction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, Literal

from duckspool.contracts import TelemetryEvent
from duckspool.exceptions import ConfigurationError
from duckspool.spool._stats import DropReason

__all__ = ["BeforeEmit", "DropCallback", "EmitterOptions", "FsyncPolicy"]

FsyncPolicy = Literal["never", "interval", "always"]
DropCallback = Callable[[DropReason, object], None]
BeforeEmit = Callable[[TelemetryEvent], TelemetryEvent | None]

MiB = 1 << 20

_POSITIVE = (
    "max_buffer_events",
    "max_buffer_bytes",
    "max_line_bytes",
    "max_segment_bytes",
    "max_segment_age",
    "fsync_interval",
    "flush_interval",
    "exit_timeout",
    "close_timeout",
)


@dataclass(frozen=True, slots=True)
class EmitterOptions:
    """Every option of :class:`~duckspool.Emitter` (its docstring says what each does).

    Construction raises :class:`~duckspool.ConfigurationError` for a value the
    emitter cannot work with; nothing else about an emitter can fail to start.
    """

    max_buffer_events: int = 100_000
    max_buffer_bytes: int = 32 * MiB
    max_line_bytes: int = 1 * MiB
    max_segment_bytes: int = 16 * MiB
    max_segment_age: float = 30.0
    fsync: FsyncPolicy = "interval"
    fsync_interval: float = 1.0
    flush_interval: float = 0.1
    block_timeout: float = 0.0
    dir_mode: int = 0o700
    file_mode: int = 0o600
    on_drop: DropCallback | None = None
    before_emit: BeforeEmit | None = None
    exit_timeout: float = 5.0
    close_timeout: float = 30.0
    warn_interval: float = 60.0

    def __post_init__(self) -> None:
        for name in _POSITIVE:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ConfigurationError(f"{name} must be a positive number, got {value!r}")
        if self.fsync not in ("never", "interval", "always"):
            raise ConfigurationError(
                f"fsync must be 'never', 'interval' or 'always', not {self.fsync!r}"
            )
        if self.block_timeout < 0:
            raise ConfigurationError(f"block_timeout must be >= 0, got {self.block_timeout!r}")
        if self.max_line_bytes > self.max_buffer_bytes:
            raise ConfigurationError("max_line_bytes cannot exceed max_buffer_bytes")
        for name, mode in (("dir_mode", self.dir_mode), ("file_mode", self.file_mode)):
            if not isinstance(mode, int) or not 0 <= mode <= 0o777:
                raise ConfigurationError(f"{name} must be a permission mode like 0o700")
        for name in ("on_drop", "before_emit"):
            if getattr(self, name) is not None and not callable(getattr(self, name)):
                raise ConfigurationError(f"{name} must be callable")

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
