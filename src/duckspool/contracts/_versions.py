"""Schema versions this release understands, and how older lines are brought up to date.

The model in ``_event.py`` always describes ``CURRENT_SCHEMA_VERSION``. Every
other version a release can still read has a converter that turns a decoded
line of that version into a dict of the current shape. Spools written by an
older release therefore keep loading after an upgrade.

Adding version 2 (see docs/event-namespaces.md, "Schema versions"):
1. change the model and set ``CURRENT_SCHEMA_VERSION = 2``;
2. ``register_schema_version(1, convert_v1_to_v2)`` here, where the converter
   maps a version-1 object to the version-2 shape;
3. lines already quarantined as ``unsupported_schema_version`` by an older
   loader can then be loaded with ``duckspool quarantine replay``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = [
    "CURRENT_SCHEMA_VERSION",
    "Converter",
    "convert_to_current",
    "known_schema_versions",
    "register_schema_version",
    "unregister_schema_version",
]

CURRENT_SCHEMA_VERSION = 1

Converter = Callable[[dict[str, Any]], dict[str, Any]]
_converters: dict[int, Converter] = {}
_lock = threading.Lock()


def register_schema_version(version: int, converter: Converter) -> None:
    """Teach this process to read lines of ``version`` by converting them to the current shape."""
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"a schema version is an int >= 1, got {version!r}")
    if version == CURRENT_SCHEMA_VERSION:
        raise ValueError(f"version {version} is the current version and needs no converter")
    with _lock:
        _converters[version] = converter


def unregister_schema_version(version: int) -> None:
    """Forget a converter registered with :func:`register_schema_version`."""
    with _lock:
        _converters.pop(version, None)


def known_schema_versions() -> frozenset[int]:
    """Every version this process can read."""
    with _lock:
        return frozenset(_converters) | {CURRENT_SCHEMA_VERSION}


def convert_to_current(version: int, obj: dict[str, Any]) -> dict[str, Any] | None:
    """The current-shape dict for ``obj`` of ``version``, or None if the version is unknown."""
    if version == CURRENT_SCHEMA_VERSION:
        return obj
    with _lock:
        converter = _converters.get(version)
    if converter is None:
        return None
    converted = dict(converter(obj))
    converted["schemaVersion"] = CURRENT_SCHEMA_VERSION
    return converted
