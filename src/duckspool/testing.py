"""Helpers for testing your own telemetry: capture events in memory, assert on them.

::

    from duckspool.testing import assert_emitted, capture_events

    def test_checkout_emits_an_event():
        with capture_events() as events:
            checkout(cart)
        assert_emitted(events, "action.checkout.completed", user_id="u-1", items=3)

While ``capture_events()`` is active, every event emitted in this process
(``duckspool.track``/``emit``, any :class:`~duckspool.Emitter`, every
integration) is appended to the yielded list *instead of* being written: nothing
touches disk, and no default emitter is created. ``events.drops`` lists
``(reason, object)`` for what was dropped (e.g. ``invalid_event`` with the
:class:`~duckspool.InvalidEvent` that says why). Captures nest; each sees
everything emitted while it is active. Events emitted in other processes
(forked workers) are not captured.

It is also a pytest plugin (registered through the ``pytest11`` entry point,
so it is active once duckspool is installed) providing the fixture
``telemetry_events``: a capture active for the whole test.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from duckspool.contracts import TelemetryEvent
from duckspool.spool import _capture
from duckspool.spool._capture import Capture

__all__ = ["Capture", "assert_emitted", "capture_events", "telemetry_events"]

_ENVELOPE = ("session_id", "user_id", "product_id", "correlation_id", "timestamp", "id")


@contextmanager
def capture_events() -> Iterator[Capture]:
    """Capture the events emitted in this process while the block runs (see the module)."""
    capture = _capture.start()
    try:
        yield capture
    finally:
        _capture.stop(capture)


def _matches(event: TelemetryEvent, fields: dict[str, Any]) -> bool:
    for name, expected in fields.items():
        if name in _ENVELOPE:
            if getattr(event, name) != expected:
                return False
        elif name == "payload":
            if event.payload != expected:
                return False
        elif name not in event.payload or event.payload[name] != expected:
            return False
    return True


def assert_emitted(
    events: Iterable[TelemetryEvent], event_type: str, **fields: Any
) -> TelemetryEvent:
    """Assert that an event of ``event_type`` matching ``fields`` was captured; return it.

    ``fields`` name envelope attributes (``user_id``, ``session_id``,
    ``correlation_id``, ``product_id``, ``timestamp``, ``id``), ``payload=`` (the
    whole payload) or, for any other name, a payload key (``items=3``). On
    failure the ``AssertionError`` lists the events of that type that were seen.
    """
    seen = [e for e in events if e.event_type == event_type]
    for event in seen:
        if _matches(event, fields):
            return event
    shown = "\n".join(
        f"  {e.event_type} user={e.user_id} session={e.session_id} "
        f"correlation={e.correlation_id} payload={e.payload}"
        for e in seen[:20]
    )
    raise AssertionError(
        f"no {event_type} event matching {fields!r} was emitted; "
        + (f"{len(seen)} of that type were:\n{shown}" if seen else "none of that type")
    )


try:  # the pytest plugin: only when pytest is what imports this module
    import pytest
except ImportError:  # pragma: no cover - used without pytest
    pass
else:

    @pytest.fixture
    def telemetry_events() -> Iterator[Capture]:
        """Every event emitted during the test, captured in memory (see ``capture_events``)."""
        with capture_events() as events:
            yield events
