"""Property tests of the bounded-memory building blocks: the emitter's ring, the loader's reader."""

from __future__ import annotations

import io
from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from duckspool.loader import _reader
from duckspool.loader._reader import iter_lines
from duckspool.spool._ring import LineRing

_ops = st.lists(
    st.one_of(
        st.tuples(st.just("put"),
                  st.binary(max_size=9).map(lambda b: b.replace(b"\n", b"") + b"\n")),
        st.tuples(st.just("consume"), st.integers(0, 10)),
    ),
    max_size=200,
)


@given(capacity=st.integers(1, 64), ops=_ops)
@settings(max_examples=400, deadline=None)
def test_ring_behaves_like_a_bounded_fifo(capacity: int, ops: list[tuple[str, object]]) -> None:
    ring = LineRing(capacity)
    model: deque[bytes] = deque()
    for op, arg in ops:
        if op == "put":
            assert isinstance(arg, bytes)
            was_empty = not model
            if ring.put(arg, 10**9):
                model.append(arg)
            else:
                # Refused only for want of room: never when empty and the line fits at all.
                assert not (was_empty and len(arg) <= capacity)
                assert sum(map(len, model)) + len(arg) > capacity or model
        else:
            assert isinstance(arg, int)
            k = min(arg, len(model))
            ring.consume(sum(len(model[i]) for i in range(k)), k)
            for _ in range(k):
                model.popleft()
        assert b"".join(bytes(ring.buf[a:b]) for a, b in ring.regions()) == b"".join(model)
        assert (ring.lines, ring.bytes) == (len(model), sum(map(len, model)))
        assert len(ring.buf) == capacity  # never grows


def _reference(data: bytes, limit: int) -> list[tuple[int, int, bytes | None, bool]]:
    out = []
    offset = 0
    parts = data.split(b"\n")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if last and not part:
            break
        out.append((offset, len(part), part if len(part) <= limit else None, not last))
        offset += len(part) + 1
    return out


@given(data=st.binary(max_size=80).map(lambda b: b.replace(b"\x00", b"\n")),
       limit=st.integers(0, 10), chunk=st.integers(1, 16))
@settings(max_examples=600, deadline=None)
def test_reader_splits_like_bytes_split_whatever_the_chunking(
    data: bytes, limit: int, chunk: int
) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_reader, "_CHUNK", chunk)
        lines = list(iter_lines(io.BytesIO(data), limit))
    got = [(x.offset, x.length, x.data, x.terminated) for x in lines]
    assert got == _reference(data, limit)
    assert [x.number for x in lines] == list(range(1, len(got) + 1))
