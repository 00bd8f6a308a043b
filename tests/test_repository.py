"""The repository contract, written once and run over every implementation."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from duckspool import (
    DuckDBTelemetryRepository,
    EventQuery,
    LoadTarget,
    MemoryTelemetryRepository,
    RepositoryError,
    TelemetryEvent,
    TelemetryRepository,
    make_event,
)
from tests.conftest import sample_event

BACKENDS = ["duckdb-file", "duckdb-memory", "memory"]
Store = DuckDBTelemetryRepository | MemoryTelemetryRepository


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Every implementation of the protocols (apscheduler's datastore tests are the model)."""
    if request.param == "memory":
        with MemoryTelemetryRepository() as memory:
            yield memory
        return
    target = tmp_path / "t.duckdb" if request.param == "duckdb-file" else ":memory:"
    with DuckDBTelemetryRepository(target) as repo:
        yield repo


T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def _dataset() -> list[TelemetryEvent]:
    out = []
    types = ["action.auth.login", "action.auth.logout", "exchange.state.transitioned",
             "job.run.completed", "review.comment.created", "launch.release.published"]
    for i in range(120):
        out.append(make_event(
            types[i % len(types)], {"i": i},
            session_id=f"s{i % 4}", user_id=f"u{i % 3}", correlation_id=f"c{i % 5}",
            product_id=None if i % 2 else "p1", timestamp=T0 + timedelta(minutes=i)))
    return out


def test_implements_the_protocols(store: Store) -> None:
    assert isinstance(store, TelemetryRepository)
    assert isinstance(store, LoadTarget)


def test_a_closed_store_refuses_calls(store: Store) -> None:
    store.close()
    with pytest.raises(RepositoryError):
        store.count()


def test_saving_the_same_events_twice_is_idempotent(store: Store) -> None:
    events = [sample_event(i) for i in range(1000)]
    first = store.save_many(events)
    second = store.save_many(events)
    assert (first.inserted, first.duplicates) == (1000, 0)
    assert (second.inserted, second.duplicates) == (0, 1000)
    assert store.count() == 1000


def test_duplicates_within_one_call_keep_one(store: Store) -> None:
    e = sample_event(1)
    result = store.save_many([e, e, e, sample_event(2)])
    assert (result.inserted, result.duplicates) == (2, 2)
    assert store.count() == 2


def test_same_id_different_content_is_a_conflict_first_row_stays(
    store: Store,
) -> None:
    e = sample_event(1)
    store.save_many([e])
    other = e.model_copy(update={"payload": {"changed": True}})
    result = store.save_many([other])
    assert result.conflicts == (e.id,)
    assert (result.inserted, result.duplicates) == (0, 0)
    assert store.get(e.id) == e


def test_get_round_trips_every_field(store: Store) -> None:
    e = make_event("review.comment.created", {"a": {"b": [1, 2, {"c": None}]}, "s": "Grüße ✓ 🚀"},
                   session_id="s", user_id="u", product_id="p", correlation_id="c")
    store.save_many([e])
    assert store.get(e.id) == e
    assert store.get(uuid.uuid4()) is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (EventQuery(), 120),
        (EventQuery(namespace="action"), 40),
        (EventQuery(event_type="action.auth.login"), 20),
        (EventQuery(event_type_prefix="action.auth."), 40),
        (EventQuery(event_type_prefix="exchange"), 20),
        (EventQuery(session_id="s1"), 30),
        (EventQuery(user_id="u2"), 40),
        (EventQuery(correlation_id="c0"), 24),
        (EventQuery(product_id="p1"), 60),
        (EventQuery(since=T0 + timedelta(minutes=100)), 20),
        (EventQuery(until=T0 + timedelta(minutes=10)), 10),
        (EventQuery(since=T0 + timedelta(minutes=10), until=T0 + timedelta(minutes=20)), 10),
        (EventQuery(namespace="action", session_id="s0", user_id="u0"), 10),
    ],
)
def test_count_and_find_filters(store: Store, query: EventQuery,
                                expected: int) -> None:
    data = _dataset()
    store.save_many(data)
    assert store.count(query) == expected
    found = store.find(query, limit=1000)
    assert len(found) == expected
    manual = [e for e in data if _matches(e, query)]
    assert {e.id for e in found} == {e.id for e in manual}


def _matches(e: TelemetryEvent, q: EventQuery) -> bool:
    return all([
        q.namespace is None or e.namespace == q.namespace,
        q.event_type is None or e.event_type == q.event_type,
        q.event_type_prefix is None or e.event_type.startswith(q.event_type_prefix),
        q.session_id is None or e.session_id == q.session_id,
        q.user_id is None or e.user_id == q.user_id,
        q.product_id is None or e.product_id == q.product_id,
        q.correlation_id is None or e.correlation_id == q.correlation_id,
        q.since is None or e.timestamp >= q.since,
        q.until is None or e.timestamp < q.until,
    ])


def test_find_orders_and_limits(store: Store) -> None:
    store.save_many(_dataset())
    asc = store.find(limit=5)
    desc = store.find(limit=5, order="desc")
    assert [e.timestamp for e in asc] == [T0 + timedelta(minutes=i) for i in range(5)]
    assert [e.timestamp for e in desc] == [T0 + timedelta(minutes=119 - i) for i in range(5)]
    with pytest.raises(ValueError, match="order"):
        store.find(order="sideways")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone-aware"):
        store.count(EventQuery(since=datetime(2026, 1, 1)))


@pytest.mark.parametrize("hostile", [
    "' OR 1=1 --", "x'); DROP TABLE telemetry_events; --", "%", "_", "\\", "\"", "a\x00b",
    "action.%", "🚀",
])
def test_filter_values_are_bound_parameters(store: Store,
                                            hostile: str) -> None:
    store.save_many(_dataset())
    for field in ("session_id", "user_id", "correlation_id", "product_id", "namespace",
                  "event_type", "event_type_prefix"):
        assert store.count(EventQuery(**{field: hostile})) == 0
    assert store.count() == 120
    tricky = make_event("action.auth.login", session_id="' OR 1=1 --", user_id="%")
    store.save_many([tricky])
    assert store.count(EventQuery(session_id="' OR 1=1 --")) == 1
    assert store.count(EventQuery(user_id="%")) == 1


def test_two_threads_saving_the_same_events_keep_one_row_each(
    store: Store,
) -> None:
    events = [sample_event(i) for i in range(5000)]
    results = []
    barrier = threading.Barrier(2)

    def save() -> None:
        barrier.wait()
        results.append(store.save_many(events))

    threads = [threading.Thread(target=save) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count() == 5000
    assert sorted(r.inserted for r in results) == [0, 5000]
    assert sum(r.duplicates for r in results) == 5000
