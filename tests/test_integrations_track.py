"""track(), before_emit, duckspool.testing, OpenTelemetry, and lazy framework imports."""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import duckspool
from duckspool import Emitter, InvalidEvent, TelemetryEvent, make_event, telemetry_context
from duckspool.integrations import record_login
from duckspool.testing import Capture, assert_emitted, capture_events
from tests.conftest import read_spool_lines, run_python
from tests.integrations_support import TRACE_ID, load_rows

FRAMEWORKS = ("django", "flask", "flask_login", "fastapi", "starlette", "celery", "kombu",
              "opentelemetry", "httpx", "httpx2")


def test_import_duckspool_imports_no_framework(tmp_path: Path) -> None:
    out = run_python(f"""
        import sys
        import duckspool, duckspool.integrations, duckspool.testing
        duckspool.track("action.x.y", session_id="s", user_id="u")
        loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({FRAMEWORKS!r}))
        print(",".join(loaded) or "none")
    """, cwd=tmp_path).stdout.strip()
    assert out == "none"


def test_make_event_raises_invalid_event_not_pydantic_errors() -> None:
    with pytest.raises(InvalidEvent, match="session_id: not given") as info:
        make_event("action.auth.login", user_id="u")
    assert isinstance(info.value, ValueError) and isinstance(info.value, duckspool.DuckspoolError)
    with pytest.raises(InvalidEvent, match="event_type"):
        make_event("Not A Type", session_id="s", user_id="u")
    with pytest.raises(InvalidEvent, match="payload"):
        make_event("action.a.b", [1, 2], session_id="s", user_id="u")  # type: ignore[arg-type]


def test_track_counts_what_it_cannot_build_and_warns_once_per_kind(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    drops: list[tuple[str, object]] = []
    with Emitter(tmp_path / "spool", on_drop=lambda r, o: drops.append((r, o))) as em:
        caplog.set_level(logging.WARNING, logger="duckspool")
        with telemetry_context(session_id="s", user_id="u"):
            assert em.track("action.page.viewed", {"n": 1}) is True
            for _ in range(5):
                assert em.track("Bad Type") is False
            assert em.track("action.page.viewed", {"when": object()}) is False
        assert em.track("action.page.viewed") is False  # no ids anywhere
    stats = em.stats()
    assert stats.dropped == {"invalid_event": 7}
    assert stats.written == 1 and stats.emitted == 8
    assert all(r == "invalid_event" and isinstance(o, InvalidEvent) for r, o in drops)
    warnings = [r.getMessage() for r in caplog.records if "invalid_event" in r.getMessage()]
    assert len(warnings) == 3  # one per kind of mistake, not one per call
    assert any("event_type" in w for w in warnings)
    assert any("payload" in w for w in warnings)
    assert any("session_id: not given" in w for w in warnings)


ids = st.one_of(st.none(), st.text(max_size=300), st.integers(), st.just(""))
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12,
)
anything = st.one_of(json_values, st.builds(object), st.binary(max_size=20),
                     st.sets(st.integers(), max_size=3))
payloads = st.one_of(st.none(), st.dictionaries(st.one_of(st.text(max_size=12), st.integers()),
                                                anything, max_size=5), anything)
event_types = st.one_of(st.sampled_from(["action.page.viewed", "job.run.started", "launch.x.y"]),
                        st.text(max_size=140), st.none(), st.integers())
moments = st.one_of(st.none(), st.datetimes(timezones=st.just(UTC)), st.datetimes(),
                    st.text(max_size=5))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(event_type=event_types, payload=payloads, session_id=ids, user_id=ids,
       correlation_id=ids, product_id=ids, at=moments)
def test_track_never_raises_and_every_call_is_accepted_or_counted(
    tmp_path: Path, event_type: Any, payload: Any, session_id: Any, user_id: Any,
    correlation_id: Any, product_id: Any, at: Any,
) -> None:
    with capture_events() as events:
        em = Emitter(tmp_path / "fuzz", max_line_bytes=4096, max_buffer_bytes=1 << 16,
                     warn_interval=3600)
        before = em.stats()
        accepted = em.track(event_type, payload, session_id=session_id, user_id=user_id,
                            correlation_id=correlation_id, product_id=product_id, at=at)
        accepted_default = duckspool.track(event_type, payload, session_id=session_id,
                                           user_id=user_id, correlation_id=correlation_id,
                                           product_id=product_id, at=at)
        after = em.stats()
        em.close()
    assert isinstance(accepted, bool) and accepted == accepted_default
    counted = sum(after.dropped.values()) - sum(before.dropped.values())
    assert counted == (0 if accepted else 1)
    assert len(events) == (2 if accepted else 0)
    assert len(events.drops) == (0 if accepted else 2)
    for event in events:  # what was accepted is a valid event whose wire form parses back
        assert duckspool.parse_line(event.to_json_line()) == event


def test_before_emit_scrubs_samples_and_its_failures_are_counted(tmp_path: Path) -> None:
    def scrub(event: TelemetryEvent) -> TelemetryEvent | None:
        if event.payload.get("sample") == "drop":
            return None
        if event.payload.get("sample") == "raise":
            raise RuntimeError("hook bug")
        if event.payload.get("sample") == "junk":
            return "not an event"  # type: ignore[return-value]
        return event.model_copy(update={"payload": {**event.payload, "email": "<redacted>"}})

    with Emitter(tmp_path / "spool", before_emit=scrub) as em, \
            telemetry_context(session_id="s", user_id="u"):
        assert em.track("action.a.b", {"email": "a@b.c"}) is True
        assert em.track("action.a.b", {"sample": "drop"}) is False
        assert em.track("action.a.b", {"sample": "raise", "email": "x@y.z"}) is False
        em.emit(make_event("action.a.b", {"sample": "junk", "email": "x@y.z"}))
    assert em.stats().dropped == {"filtered": 1, "filter_error": 2}
    raw = b"".join(read_spool_lines(tmp_path / "spool"))
    assert b"<redacted>" in raw and b"a@b.c" not in raw and b"x@y.z" not in raw


def test_configure_takes_before_emit(tmp_path: Path) -> None:
    em = duckspool.configure(str(tmp_path / "spool"), before_emit=lambda e: None)
    try:
        assert duckspool.track("action.a.b", session_id="s", user_id="u") is False
        assert em.stats().dropped == {"filtered": 1}
    finally:
        duckspool.shutdown()


def test_capture_sees_every_path_and_writes_nothing(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the default emitter would create ./var/spool here
    duckspool.shutdown()
    with capture_events() as events, telemetry_context(session_id="s", user_id="u"):
        duckspool.track("action.a.default_track")
        duckspool.emit(make_event("action.a.default_emit"))
        own = Emitter(tmp_path / "own")
        own.track("action.a.emitter_track")
        own.emit(make_event("action.a.emitter_emit"))
        record_login(method="password")
        duckspool.track("Bad")
        own.close()
    assert [e.event_type for e in events] == [
        "action.a.default_track", "action.a.default_emit", "action.a.emitter_track",
        "action.a.emitter_emit", "action.auth.login"]
    assert [r for r, _ in events.drops] == ["invalid_event"]
    assert not (tmp_path / "var").exists()
    assert list((tmp_path / "own").rglob("*.jsonl")) == []
    assert own.stats().written == 0


def test_captures_nest_and_stop(telemetry_events: Capture) -> None:
    with telemetry_context(session_id="s", user_id="u"):
        with capture_events() as inner:
            duckspool.track("action.a.inner")
        duckspool.track("action.a.outer")
    assert [e.event_type for e in inner] == ["action.a.inner"]
    assert [e.event_type for e in telemetry_events] == ["action.a.inner", "action.a.outer"]


def test_assert_emitted_matches_envelope_and_payload_and_says_what_it_saw(
    telemetry_events: Capture,
) -> None:
    at = datetime(2020, 1, 2, tzinfo=UTC)
    duckspool.track("action.cart.checked_out", {"items": 3}, session_id="s", user_id="u-1",
                    at=at)
    found = assert_emitted(telemetry_events, "action.cart.checked_out", user_id="u-1", items=3,
                           timestamp=at)
    assert found.payload == {"items": 3}
    assert_emitted(telemetry_events, "action.cart.checked_out", payload={"items": 3})
    with pytest.raises(AssertionError, match=r"1 of that type were:\n.*user=u-1.*'items': 3"):
        assert_emitted(telemetry_events, "action.cart.checked_out", items=4)
    with pytest.raises(AssertionError, match="none of that type"):
        assert_emitted(telemetry_events, "action.cart.abandoned")


def test_opentelemetry_recording_span_gives_the_correlation_id(
    telemetry_events: Capture, tmp_path: Path
) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    tracer = TracerProvider().get_tracer("test")
    with telemetry_context(session_id="s", user_id="u"):
        with tracer.start_as_current_span("request") as span:
            trace_id = f"{span.get_span_context().trace_id:032x}"
            duckspool.track("action.a.in_span")
            explicit = make_event("action.a.explicit", correlation_id="mine")
        with TracerProvider(sampler=ALWAYS_OFF).get_tracer("off").start_as_current_span("x"):
            duckspool.track("action.a.not_recording")
        duckspool.track("action.a.outside")
    assert_emitted(telemetry_events, "action.a.in_span", correlation_id=trace_id)
    assert explicit.correlation_id == "mine"
    others = {e.event_type: e.correlation_id for e in telemetry_events}
    assert trace_id not in (others["action.a.not_recording"], others["action.a.outside"])


def test_opentelemetry_trace_id_wins_over_headers_in_a_web_request(
    telemetry_events: Capture,
) -> None:
    import flask
    from opentelemetry.sdk.trace import TracerProvider

    from duckspool.integrations.flask import init_app

    app = flask.Flask(__name__)
    init_app(app)
    tracer = TracerProvider().get_tracer("test")

    @app.get("/")
    def view() -> str:
        return str(duckspool.track("action.page.viewed"))

    with tracer.start_as_current_span("server") as span:
        trace_id = f"{span.get_span_context().trace_id:032x}"
        app.test_client().get("/", headers={"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01",
                                            "X-Request-ID": "r"})
    assert_emitted(telemetry_events, "action.page.viewed", correlation_id=trace_id)


def test_track_at_keeps_the_given_time_through_the_table(tmp_path: Path) -> None:
    at = datetime(2019, 6, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    with Emitter(tmp_path / "spool") as em:
        assert em.track("action.a.b", {"x": math.pi}, session_id="s", user_id="u", at=at)
    [row] = load_rows(tmp_path / "spool", tmp_path / "t.duckdb")
    assert row["payload"] == {"x": math.pi}
