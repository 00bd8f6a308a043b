"""An event's canonical bytes: equal events give equal bytes, whatever the key order."""

from __future__ import annotations

import hashlib

import orjson

from duckspool.contracts._event import TelemetryEvent

__all__ = ["canonical_line", "content_hash"]


def canonical_line(event: TelemetryEvent) -> bytes:
    """The event as JSON with every object's keys sorted, so equal events give equal bytes.

    Raises ``TypeError`` when the payload holds what JSON cannot carry (an
    integer past 64 bits, a non-JSON object).
    """
    return orjson.dumps(
        {
            "id": event.id,
            "eventType": event.event_type,
            "sessionId": event.session_id,
            "userId": event.user_id,
            "productId": event.product_id,
            "correlationId": event.correlation_id,
            "timestamp": event.timestamp,
            "schemaVersion": event.schema_version,
            "payload": event.payload,
        },
        option=orjson.OPT_UTC_Z | orjson.OPT_SORT_KEYS,
    )


def content_hash(canonical: bytes) -> int:
    """A signed 64-bit hash of an event's canonical bytes (tells redelivery from collision)."""
    return int.from_bytes(hashlib.blake2b(canonical, digest_size=8).digest(), "big", signed=True)
