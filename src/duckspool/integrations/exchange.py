"""Exchange state machines that emit ``exchange.state.transitioned`` on every move.

The application declares the states and allowed transitions; a transition that
is not allowed raises the application's own error and emits nothing (that is
the application's code path). Telemetry failures never raise.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from duckspool.integrations._emit import emit_safely
from duckspool.spool import Emitter

__all__ = ["TRANSITIONED", "Exchange", "ExchangeStateMachine", "InvalidTransition"]

TRANSITIONED = "exchange.state.transitioned"


class InvalidTransition(ValueError):
    """The default error for a transition the machine does not allow."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Exchange:
    """One exchange moving through a machine's states.

    ``entered_at`` is when the current state was entered, on the events' own
    time line: the ``at=`` of the transition (or of ``start``) that entered it,
    else the wall-clock time then. ``timeInPreviousStateMs`` is the difference
    between two such timestamps, so events stamped with ``at=`` (replays,
    simulations, imports) measure the time between them, not between the calls.
    """

    machine: ExchangeStateMachine
    exchange_id: str
    state: str
    entered_at: datetime = field(default_factory=_utcnow)
    history: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def transition(
        self,
        to: str,
        *,
        trigger: str | None = None,
        at: datetime | None = None,
        extra: Mapping[str, Any] | None = None,
        session_id: str | None = None,
        user_id: str | None = None,
        correlation_id: str | None = None,
        product_id: str | None = None,
    ) -> None:
        """Move to ``to``; raises the machine's error if not allowed, emitting nothing."""
        with self._lock:
            previous = self.state
            allowed = self.machine.transitions.get(previous, frozenset())
            if to not in allowed:
                raise self.machine.error(
                    f"{self.machine.name}: {self.exchange_id} cannot go from {previous!r} to "
                    f"{to!r} (allowed: {', '.join(sorted(allowed)) or 'none'})"
                )
            now = at if at is not None else _utcnow()
            try:
                spent: float | None = (now - self.entered_at).total_seconds()
            except TypeError:  # a naive at=: the event itself is refused as invalid_event
                spent = None
            if spent is not None and spent < 0:
                spent = None  # stamped before the state was entered: no honest duration
            self.state = to
            self.entered_at = now
            self.history.append(to)
        payload = {
            **(extra or {}),
            "machine": self.machine.name,
            "exchangeId": self.exchange_id,
            "from": previous,
            "to": to,
            "trigger": trigger,
            "timeInPreviousStateMs": None if spent is None else round(spent * 1000, 3),
            "terminal": to in self.machine.terminal,
        }
        emit_safely(
            TRANSITIONED,
            payload,
            emitter=self.machine.emitter,
            at=now,
            session_id=session_id,
            user_id=user_id,
            correlation_id=correlation_id or self.exchange_id,
            product_id=product_id,
        )


class ExchangeStateMachine:
    """Declared states and allowed transitions for one kind of exchange.

    ``transitions`` maps a state to the states it may move to. ``error`` is the
    exception class raised for a transition that is not allowed.
    """

    def __init__(
        self,
        name: str,
        transitions: Mapping[str, Iterable[str]],
        *,
        initial: str,
        error: type[Exception] = InvalidTransition,
        emitter: Emitter | None = None,
    ) -> None:
        self.name = name
        self.transitions = {k: frozenset(v) for k, v in transitions.items()}
        states = set(self.transitions) | {s for v in self.transitions.values() for s in v}
        if initial not in states:
            raise ValueError(f"initial state {initial!r} is not one of the declared states")
        self.states = frozenset(states)
        self.initial = initial
        self.terminal = frozenset(s for s in states if not self.transitions.get(s))
        self.error = error
        self.emitter = emitter

    def start(
        self, exchange_id: str, state: str | None = None, *, at: datetime | None = None
    ) -> Exchange:
        """An exchange in ``state`` (default: the initial state), entered at ``at``
        (default: now). Pass ``at`` when the transitions will pass ``at`` too."""
        state = state or self.initial
        if state not in self.states:
            raise self.error(f"{self.name}: unknown state {state!r}")
        return Exchange(self, exchange_id, state, entered_at=at or _utcnow(), history=[state])
