"""Turning one spool line back into an event, with a reason code when it cannot be."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from duckspool.contracts._event import TelemetryEvent
from duckspool.contracts._naming import check_event_type
from duckspool.contracts._versions import CURRENT_SCHEMA_VERSION, convert_to_current
from duckspool.exceptions import LineRejected

__all__ = [
    "INVALID_EVENT",
    "INVALID_JSON",
    "NOT_AN_OBJECT",
    "UNSUPPORTED_SCHEMA_VERSION",
    "describe_validation_error",
    "parse_line",
]

INVALID_JSON = "invalid_json"
NOT_AN_OBJECT = "not_an_object"
INVALID_EVENT = "invalid_event"
UNSUPPORTED_SCHEMA_VERSION = "unsupported_schema_version"

_MAX_DETAIL = 2000


def describe_validation_error(error: ValidationError) -> str:
    """One line per problem, each led by its field path (``payload``, ``eventType`` ...)."""
    parts = []
    for item in error.errors(include_url=False):
        path = ".".join(str(p) for p in item["loc"]) or "<event>"
        msg = item["msg"].removeprefix("Value error, ")
        if path == "eventType" and isinstance(item.get("input"), str):
            try:
                check_event_type(item["input"])
            except ValueError as exc:
                msg = str(exc)
        parts.append(f"{path}: {msg}")
    return "; ".join(parts)[:_MAX_DETAIL]


def _type_name(value: Any) -> str:
    return {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def parse_line(line: bytes) -> TelemetryEvent:
    """Validate one spool line (without its newline) and return the event.

    Raises :class:`~duckspool.exceptions.LineRejected` and nothing else, whatever
    the bytes are.
    """
    try:
        event = TelemetryEvent.model_validate_json(line)
    except ValidationError:
        return _parse_slow(line)
    except Exception as exc:  # noqa: BLE001 - the promise is "LineRejected and nothing else"
        raise LineRejected(INVALID_EVENT, f"{type(exc).__name__}: {exc}"[:_MAX_DETAIL]) from None
    return event


def _parse_slow(line: bytes) -> TelemetryEvent:
    # The fast path failed: decode again to say precisely why, and to give
    # lines of other known schema versions their converter.
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise LineRejected(INVALID_JSON, str(exc)[:_MAX_DETAIL]) from None
    except Exception as exc:  # noqa: BLE001
        raise LineRejected(INVALID_JSON, f"{type(exc).__name__}: {exc}"[:_MAX_DETAIL]) from None
    if not isinstance(obj, dict):
        raise LineRejected(NOT_AN_OBJECT, f"expected a JSON object, got {_type_name(obj)}")
    version = obj.get("schemaVersion", CURRENT_SCHEMA_VERSION)
    if (
        isinstance(version, int)
        and not isinstance(version, bool)
        and version >= 1
        and version != CURRENT_SCHEMA_VERSION
    ):
        try:
            converted = convert_to_current(version, obj)
        except Exception as exc:  # noqa: BLE001 - a faulty converter rejects the line, no more
            raise LineRejected(
                INVALID_EVENT,
                f"converter for schemaVersion {version} failed: {type(exc).__name__}: {exc}",
            ) from None
        if converted is None:
            raise LineRejected(
                UNSUPPORTED_SCHEMA_VERSION,
                f"schemaVersion {version} is not known to this release "
                f"(current: {CURRENT_SCHEMA_VERSION}); upgrade duckspool, then replay "
                "the quarantine",
            )
        obj = converted
    try:
        return TelemetryEvent.model_validate_json(orjson.dumps(obj))
    except ValidationError as exc:
        raise LineRejected(INVALID_EVENT, describe_validation_error(exc)) from None
    except Exception as exc:  # noqa: BLE001
        raise LineRejected(INVALID_EVENT, f"{type(exc).__name__}: {exc}"[:_MAX_DETAIL]) from None
