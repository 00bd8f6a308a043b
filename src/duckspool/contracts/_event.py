"""The event envelope: the one shape every duckspool event has on the wire and in Python."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic.alias_generators import to_camel

from duckspool.contracts._naming import EVENT_TYPE_MAX_LENGTH, EVENT_TYPE_PATTERN
from duckspool.contracts._uuid7 import uuid7
from duckspool.contracts._versions import CURRENT_SCHEMA_VERSION

__all__ = ["ID_MAX_LENGTH", "TelemetryEvent"]

ID_MAX_LENGTH = 256
"""Maximum length of sessionId, userId, productId and correlationId."""

# Ids are opaque strings, but control characters in them only ever come from bugs
# and make log lines and CSV exports lie, so they are refused.
IdStr = Annotated[
    str, StringConstraints(min_length=1, max_length=ID_MAX_LENGTH, pattern=r"^[^\x00-\x1f\x7f]+$")
]


def _to_utc(value: datetime) -> datetime:
    # pydantic parses "Z" into its own tzinfo class; one tzinfo makes round trips exact.
    return value if value.tzinfo is UTC else value.astimezone(UTC)


_NO_NEWLINE = orjson.OPT_UTC_Z
_WITH_NEWLINE = orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE


def _utcnow() -> datetime:
    return datetime.now(UTC)


class TelemetryEvent(BaseModel):
    """One product-telemetry event.

    Frozen; built by snake_case attribute names or by the camelCase wire names.
    Unknown top-level keys are rejected. ``timestamp`` must be timezone-aware and
    is normalised to UTC; ``id`` defaults to a new time-ordered UUIDv7.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    id: uuid.UUID = Field(default_factory=uuid7)
    # Checked by pydantic-core's regex (a Python validator would double the cost of
    # building an event); parse_line re-runs check_event_type to say precisely why.
    event_type: Annotated[
        str, StringConstraints(max_length=EVENT_TYPE_MAX_LENGTH, pattern=EVENT_TYPE_PATTERN)
    ]
    session_id: IdStr
    user_id: IdStr
    product_id: IdStr | None = None
    correlation_id: IdStr
    # strict: JSON must carry an ISO-8601 string (pydantic would otherwise read a
    # number as Unix seconds, usually a unit bug) and Python must pass a datetime.
    timestamp: Annotated[
        AwareDatetime, Field(default_factory=_utcnow, strict=True), AfterValidator(_to_utc)
    ]
    # Only the current version validates; parse_line converts the other known ones first.
    schema_version: Annotated[int, Field(strict=True, ge=1, le=CURRENT_SCHEMA_VERSION)] = (
        CURRENT_SCHEMA_VERSION
    )
    payload: dict[str, Any] = Field(default_factory=dict)

    @property
    def namespace(self) -> str:
        """The first segment of ``event_type``."""
        return self.event_type.partition(".")[0]

    def to_json_line(self, *, newline: bool = False) -> bytes:
        """The wire form: one JSON object, camelCase keys, UTC ``Z`` timestamp.

        No trailing newline unless ``newline`` is True (the spool's framing).
        Raises ``TypeError`` if the payload holds something JSON cannot carry.
        """
        d = self.__dict__  # one dict look-up per field beats pydantic attribute access
        return orjson.dumps(
            {
                "id": d["id"],
                "eventType": d["event_type"],
                "sessionId": d["session_id"],
                "userId": d["user_id"],
                "productId": d["product_id"],
                "correlationId": d["correlation_id"],
                "timestamp": d["timestamp"],
                "schemaVersion": d["schema_version"],
                "payload": d["payload"],
            },
            option=_WITH_NEWLINE if newline else _NO_NEWLINE,
        )
