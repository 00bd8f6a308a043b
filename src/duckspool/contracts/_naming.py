"""The event-type naming rules (docs/event-namespaces.md explains why)."""

from __future__ import annotations

import re

__all__ = [
    "EVENT_TYPE_MAX_LENGTH",
    "EVENT_TYPE_PATTERN",
    "NAMESPACES",
    "check_event_type",
    "namespace_of",
]

NAMESPACES: tuple[str, ...] = ("action", "exchange", "job", "review", "launch")
EVENT_TYPE_MAX_LENGTH = 128
EVENT_TYPE_PATTERN = r"^(?:" + "|".join(NAMESPACES) + r")(?:\.[a-z][a-z0-9_]*)+$"
_SEGMENT = re.compile(r"[a-z][a-z0-9_]*\Z")


def namespace_of(event_type: str) -> str:
    """The first segment of an event type: ``action.auth.login`` -> ``action``."""
    return event_type.partition(".")[0]


def check_event_type(value: str) -> str:
    """Return ``value`` if it follows the naming standard; raise ``ValueError`` saying why not."""
    if len(value) > EVENT_TYPE_MAX_LENGTH:
        raise ValueError(
            f"event type is {len(value)} characters long, the maximum is {EVENT_TYPE_MAX_LENGTH}"
        )
    segments = value.split(".")
    if segments[0] not in NAMESPACES:
        raise ValueError(
            f"unknown namespace {segments[0]!r}: an event type starts with one of "
            f"{', '.join(NAMESPACES)}"
        )
    if len(segments) < 2:
        raise ValueError(
            f"{value!r} is a bare namespace: an event type needs at least two "
            "dot-separated segments, e.g. 'action.auth.login'"
        )
    for segment in segments[1:]:
        if not _SEGMENT.match(segment):
            raise ValueError(
                f"segment {segment!r} must be lowercase letters, digits and "
                "underscores, starting with a letter"
            )
    return value
