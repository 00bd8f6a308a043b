"""The emitter in one process: accounting, rotation, permissions, bad input, degraded starts."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import duckspool
from duckspool import ConfigurationError, DropReason, Emitter, EmitterStats, parse_line
from duckspool.spool import SpoolLayout, parse_segment_name, recover
from tests.conftest import read_spool_lines, sample_event


def assert_adds_up(s: EmitterStats) -> None:
    assert s.emitted == s.written + s.pending + s.dropped_total, s


def test_n_events_give_exactly_n_lines(spool_dir: Path) -> None:
    events = [sample_event(i) for i in range(5000)]
    with Emitter(spool_dir) as em:
        for e in events:
            em.emit(e)
    lines = read_spool_lines(spool_dir)
    assert [parse_line(x) for x in lines] == events
    s = em.stats()
    assert (s.emitted, s.accepted, s.written, s.pending, s.dropped_total) == (5000, 5000, 5000,
                                                                              0, 0)
    assert s.bytes_written == sum(len(x) + 1 for x in lines)
    assert s.segments_sealed == 1
    assert list((spool_dir / "active").iterdir()) == []


def test_flush_makes_lines_visible_before_close(spool_dir: Path) -> None:
    with Emitter(spool_dir, flush_interval=60) as em:
        for i in range(10):
            em.emit(sample_event(i))
        assert em.flush(timeout=10)
        active = read_spool_lines(spool_dir, "active")
        assert len(active) == 10
        assert em.stats().written == 10


def test_rotation_by_size(spool_dir: Path) -> None:
    with Emitter(spool_dir, max_segment_bytes=4096) as em:
        for i in range(300):
            em.emit(sample_event(i))
    segments = sorted((spool_dir / "sealed").glob("*.jsonl"))
    assert len(segments) > 5
    for seg in segments:
        data = seg.read_bytes()
        assert data.endswith(b"\n")
        assert len(data) <= 4096 + 400  # a segment never outgrows its bound by more than a line
    assert len(read_spool_lines(spool_dir)) == 300
    seqs = [parse_segment_name(p.name) for p in segments]
    assert all(s is not None and s.pid == os.getpid() for s in seqs)


def test_rotation_by_age_with_an_injected_clock(spool_dir: Path) -> None:
    now = [1000.0]
    em = Emitter(spool_dir, max_segment_age=30, clock=lambda: now[0], flush_interval=0.01)
    em.emit(sample_event(1))
    assert em.flush(5)
    assert list((spool_dir / "sealed").glob("*.jsonl")) == []
    now[0] += 31
    em.emit(sample_event(2))
    assert em.flush(5)
    for _ in range(200):
        if len(list((spool_dir / "sealed").glob("*.jsonl"))) >= 1:
            break
        threading.Event().wait(0.01)
    assert len(list((spool_dir / "sealed").glob("*.jsonl"))) >= 1
    em.close()
    assert len(read_spool_lines(spool_dir)) == 2


def test_clock_going_backwards_does_not_freeze_sealing(spool_dir: Path) -> None:
    now = [1000.0]
    em = Emitter(spool_dir, max_segment_age=30, clock=lambda: now[0], flush_interval=0.01)
    em.emit(sample_event(1))
    assert em.flush(5)
    now[0] -= 500  # the clock jumps back
    em.emit(sample_event(2))
    assert em.flush(5)
    now[0] += 31  # 31 s after the jump: the age restarted at the jump, so it seals
    em.emit(sample_event(3))
    assert em.flush(5)
    deadline = 200
    while deadline and not list((spool_dir / "sealed").glob("*.jsonl")):
        threading.Event().wait(0.01)
        deadline -= 1
    assert list((spool_dir / "sealed").glob("*.jsonl"))
    em.close()
    assert len(read_spool_lines(spool_dir)) == 3


def test_owner_only_permissions(spool_dir: Path) -> None:
    with Emitter(spool_dir) as em:
        em.emit(sample_event(1))
    for d in (spool_dir, spool_dir / "active", spool_dir / "sealed"):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700
    for f in (spool_dir / "sealed").iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600


def test_permissions_are_configurable(spool_dir: Path) -> None:
    with Emitter(spool_dir, dir_mode=0o750, file_mode=0o640) as em:
        em.emit(sample_event(1))
    assert stat.S_IMODE((spool_dir / "sealed").stat().st_mode) == 0o750
    f = next((spool_dir / "sealed").iterdir())
    assert stat.S_IMODE(f.stat().st_mode) == 0o640


def test_emit_after_close_is_counted_not_raised(spool_dir: Path) -> None:
    seen: list[Any] = []
    em = Emitter(spool_dir, on_drop=lambda reason, ev: seen.append(reason))
    em.close()
    em.emit(sample_event(1))
    em.close()  # idempotent
    assert em.stats().dropped == {"closed": 1}
    assert seen == [DropReason.CLOSED]


def test_bad_input_is_counted_by_reason(spool_dir: Path) -> None:
    seen: list[str] = []
    with Emitter(spool_dir, max_line_bytes=2048, on_drop=lambda r, e: seen.append(r)) as em:
        em.emit(None)  # type: ignore[arg-type]
        em.emit("action.auth.login")  # type: ignore[arg-type]
        em.emit({"eventType": "action.x"})  # type: ignore[arg-type]
        em.emit(sample_event(1, payload={"blob": "x" * 5000}))
        em.emit(sample_event(2, payload={"obj": object()}))
        em.emit(sample_event(3, payload={"big": 2**70}))
        em.emit(sample_event(4))
    s = em.stats()
    assert s.dropped == {"not_an_event": 3, "oversize": 1, "unserializable": 2}
    assert s.written == 1
    assert_adds_up(s)
    assert sorted(seen) == sorted(["not_an_event"] * 3 + ["oversize"] + ["unserializable"] * 2)


def test_a_raising_on_drop_callback_is_contained(spool_dir: Path) -> None:
    def boom(reason: str, event: object) -> None:
        raise RuntimeError("callback bug")

    with Emitter(spool_dir, on_drop=boom) as em:
        em.emit(None)  # type: ignore[arg-type]
    assert em.stats().dropped == {"not_an_event": 1}


def test_buffer_full_drops_are_counted_and_memory_is_bounded(spool_dir: Path) -> None:
    # A writer that cannot keep up (flush_interval long, wake threshold unreachable
    # before the bound) must drop rather than grow.
    em = Emitter(spool_dir, max_buffer_events=100, flush_interval=3600)
    em._wake_events = 10**9  # keep the writer asleep so the bound is what stops growth
    em._wake_bytes = 10**12
    for i in range(1000):
        em.emit(sample_event(i))
    s = em.stats()
    assert s.pending <= 100
    assert s.dropped.get("buffer_full", 0) >= 900 - 1
    em.close()
    s = em.stats()
    assert_adds_up(s)
    assert s.written == 1000 - s.dropped["buffer_full"]
    assert len(read_spool_lines(spool_dir)) == s.written


def test_blocking_option_waits_for_room_instead_of_dropping(spool_dir: Path) -> None:
    with Emitter(spool_dir, max_buffer_events=50, block_timeout=5.0) as em:
        for i in range(2000):
            em.emit(sample_event(i))
    s = em.stats()
    assert s.dropped_total == 0
    assert s.written == 2000


@pytest.mark.parametrize("options", [
    {"max_buffer_events": 0}, {"max_buffer_bytes": -1}, {"fsync": "sometimes"},
    {"max_segment_age": 0}, {"dir_mode": 0o7777}, {"on_drop": 5}, {"block_timeout": -1},
    {"max_line_bytes": 10, "max_buffer_bytes": 5},
])
def test_only_invalid_options_raise(spool_dir: Path, options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        Emitter(spool_dir, **options)


def test_unusable_spool_path_degrades_then_recovers(tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "spool"
    blocker.write_text("not a directory")
    with caplog.at_level(logging.WARNING, logger="duckspool"):
        em = Emitter(blocker, flush_interval=0.01)
    assert "not usable" in caplog.text
    assert em.stats().degraded
    for i in range(20):
        em.emit(sample_event(i))
    assert not em.flush(timeout=0.3)
    assert em.stats().write_errors >= 1
    blocker.unlink()  # the path becomes usable
    assert em.flush(timeout=10)
    em.close()
    s = em.stats()
    assert (s.written, s.dropped_total) == (20, 0)
    assert not s.degraded
    assert len(read_spool_lines(blocker)) == 20


def test_emit_from_asyncio(spool_dir: Path) -> None:
    async def main(em: Emitter) -> None:
        async def worker(k: int) -> None:
            for i in range(100):
                em.emit(sample_event(k * 1000 + i))
                await asyncio.sleep(0)

        await asyncio.gather(*(worker(k) for k in range(10)))

    with Emitter(spool_dir) as em:
        asyncio.run(main(em))
    assert len(read_spool_lines(spool_dir)) == 1000


_anything = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary()
    | st.builds(object),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=10,
)


@given(value=_anything)
@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_emit_never_raises_whatever_it_is_given(tmp_path: Path, value: Any) -> None:
    em = _shared_emitter(tmp_path)
    em.emit(value)
    try:
        event = sample_event(1, payload={"v": value})
    except Exception:
        return
    em.emit(event)


_emitters: dict[Path, Emitter] = {}


def _shared_emitter(tmp_path: Path) -> Emitter:
    if tmp_path not in _emitters:
        _emitters[tmp_path] = Emitter(tmp_path / "spool")
    return _emitters[tmp_path]


def test_default_emitter_uses_the_environment(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUCKSPOOL_SPOOL_DIR", str(tmp_path / "env-spool"))
    duckspool.shutdown()
    try:
        duckspool.emit(sample_event(1))
        duckspool.emit("garbage")  # type: ignore[arg-type]
        assert duckspool.get_emitter().layout.root == tmp_path / "env-spool"
    finally:
        duckspool.shutdown()
    assert len(read_spool_lines(tmp_path / "env-spool")) == 1


def test_configure_replaces_and_closes_the_default(tmp_path: Path) -> None:
    first = duckspool.configure(str(tmp_path / "a"))
    first.emit(sample_event(1))
    second = duckspool.configure(str(tmp_path / "b"))
    assert first.closed and not second.closed
    duckspool.emit(sample_event(2))
    duckspool.shutdown()
    assert len(read_spool_lines(tmp_path / "a")) == 1
    assert len(read_spool_lines(tmp_path / "b")) == 1


def test_recover_leaves_a_live_writers_segment_alone(spool_dir: Path) -> None:
    em = Emitter(spool_dir)
    em.emit(sample_event(1))
    assert em.flush(5)
    assert recover(spool_dir) == []
    assert len(list((spool_dir / "active").glob("*.jsonl"))) == 1
    em.close()


def test_recover_seals_an_abandoned_segment_and_drops_empty_ones(spool_dir: Path) -> None:
    layout = SpoolLayout(spool_dir)
    layout.ensure(layout.active)
    (layout.active / "old.jsonl").write_bytes(orjson.dumps({"x": 1}) + b"\n{torn")
    (layout.active / "empty.jsonl").write_bytes(b"")
    assert recover(spool_dir) == ["old.jsonl"]
    assert (layout.sealed / "old.jsonl").read_bytes().endswith(b"{torn")  # bytes untouched
    assert not (layout.active / "empty.jsonl").exists()


def test_segment_names_carry_host_pid_time_and_sequence() -> None:
    from datetime import UTC, datetime

    from duckspool.spool import new_segment_name

    name = new_segment_name(7, datetime(2026, 11, 26, 1, 2, 3, 456789, tzinfo=UTC))
    parsed = parse_segment_name(name)
    assert parsed is not None
    assert parsed.pid == os.getpid()
    assert parsed.sequence == 7
    assert parsed.started_at == datetime(2026, 11, 26, 1, 2, 3, 456789, tzinfo=UTC)
    assert parse_segment_name("other.jsonl") is None
