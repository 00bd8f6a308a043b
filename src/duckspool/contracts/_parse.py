"""Turning one spool line back into an event, with a reason code when it cannot be."""

from __future__ import annotations

import math
import re
from typing import Any

import orjson
import pydantic_core
from pydantic import ValidationError

from duckspool.contracts._event import TelemetryEvent
from duckspool.contracts._naming import check_event_type
from duckspool.contracts._versions import CURRENT_SCHEMA_VERSION, convert_to_current
from duckspool.exceptions import LineRejected

__all__ = [
    "INVALID_EVENT",
    "INVALID_JSON",
    "NOT_AN_OBJECT",
    "NUMBER_OUT_OF_RANGE",
    "UNSUPPORTED_SCHEMA_VERSION",
    "describe_validation_error",
    "parse_line",
]

INVALID_JSON = "invalid_json"
NOT_AN_OBJECT = "not_an_object"
INVALID_EVENT = "invalid_event"
UNSUPPORTED_SCHEMA_VERSION = "unsupported_schema_version"
NUMBER_OUT_OF_RANGE = "number_out_of_range"
"""A JSON number no double can hold (``1e400``): refused, never stored as ``null``."""

# pydantic-core's JSON parser accepts NaN and Infinity (not JSON, RFC 8259) and
# reads a number past the double range as infinity. Either can only come from a
# line holding one of these byte patterns, so only such lines pay for the
# strict second look (it also fires on strings that merely contain them).
_NON_FINITE_SUSPECT = re.compile(rb"NaN|Infinity|[0-9]{300}|[eE][+]?0*[1-9][0-9]{2}")

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
    if _NON_FINITE_SUSPECT.search(line):
        _strict_json(line)  # raises for NaN, Infinity and numbers past a double
    return event


def _strict_json(line: bytes) -> Any:
    """Decode by RFC 8259 (no NaN/Infinity), integers kept exact, doubles kept finite."""
    try:
        value = pydantic_core.from_json(line, allow_inf_nan=False)
    except Exception as exc:  # noqa: BLE001 - ValueError, or a recursion limit
        raise LineRejected(INVALID_JSON, str(exc)[:_MAX_DETAIL]) from None
    path = _first_infinite(value, "")
    if path is not None:
        raise LineRejected(
            NUMBER_OUT_OF_RANGE,
            f"{path or '<event>'}: number is out of the range of a 64-bit float; "
            "send it as a string to keep it exactly",
        )
    return value


def _first_infinite(value: Any, path: str) -> str | None:
    if isinstance(value, float):
        return path if math.isinf(value) else None
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _first_infinite(item, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


def _parse_slow(line: bytes) -> TelemetryEvent:
    # The fast path failed: decode again to say precisely why, and to give
    # lines of other known schema versions their converter.
    obj = _strict_json(line)
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
        event = TelemetryEvent.model_validate_json(orjson.dumps(obj))
    except ValidationError as exc:
        raise LineRejected(INVALID_EVENT, describe_validation_error(exc)) from None
    except Exception as exc:  # noqa: BLE001
        raise LineRejected(INVALID_EVENT, f"{type(exc).__name__}: {exc}"[:_MAX_DETAIL]) from None
    return event
