"""A fixed-size ring of newline-terminated lines: the emitter's buffer.

Its memory is allocated once and reused, so the buffer is bounded by
configuration and the hot path allocates nothing that outlives a call. (A deque
of bytes objects made every event touch fresh pages; on the virtual machines we
measured on, that page-fault cost dwarfed the rest of ``emit()``.) The writer
writes straight from the ring through memoryview slices, and a failed write
simply leaves its lines in place to be retried.

Not thread-safe by itself: the emitter's lock guards ``put``, ``regions``,
``consume`` and ``clear``; the writer reads the snapshot returned by
``regions`` without the lock, which is safe because ``put`` never writes
into bytes that have not been consumed.
"""

from __future__ import annotations

__all__ = ["LineRing"]


class LineRing:
    """FIFO of newline-terminated lines in one bytearray."""

    # Slots: put() runs once per emit(), and slot access is the cheapest there is.
    __slots__ = ("buf", "bytes", "capacity", "end", "head", "lines", "tail", "view")

    def __init__(self, capacity: int) -> None:
        self.buf = bytearray(capacity)
        self.view = memoryview(self.buf)  # also pins the size: a resize would raise
        self.capacity = capacity
        self.head = 0  # next write position
        self.tail = 0  # oldest unconsumed byte
        self.end = -1  # when wrapped: end of the data in the upper part; else -1
        self.bytes = 0  # unconsumed bytes (lines + newlines)
        self.lines = 0  # unconsumed lines

    def put(self, line: bytes, max_lines: int) -> bool:
        """Append ``line`` (ending in a newline); False, storing nothing, if it won't fit.

        ``max_lines`` bounds the number of lines as ``capacity`` bounds the bytes.
        """
        lines = self.lines
        if lines >= max_lines:
            return False
        size = len(line)
        if not lines:
            self.tail = 0
            self.end = -1
            head = 0
        else:
            head = self.head
        if self.end < 0:
            if head + size > self.capacity:
                if size > self.tail:
                    return False
                self.end = head  # wrap: the upper part ends here
                head = 0
        elif head + size > self.tail:
            return False
        stop = head + size
        self.buf[head:stop] = line
        self.head = stop
        self.bytes += size
        self.lines = lines + 1
        return True

    def regions(self) -> list[tuple[int, int]]:
        """The unconsumed bytes as (start, stop) ranges, oldest first; each holds whole lines."""
        if self.lines == 0:
            return []
        if self.end < 0:
            return [(self.tail, self.head)]
        return [(self.tail, self.end), (0, self.head)]

    def consume(self, nbytes: int, nlines: int) -> None:
        """Release the oldest ``nbytes`` (``nlines`` lines), which the writer has written."""
        self.bytes -= nbytes
        self.lines -= nlines
        while nbytes:
            if self.end >= 0:
                upper = self.end - self.tail
                if nbytes >= upper:
                    nbytes -= upper
                    self.tail = 0
                    self.end = -1
                    continue
            self.tail += nbytes
            nbytes = 0
        if self.end >= 0 and self.tail == self.end:
            self.tail = 0
            self.end = -1

    def clear(self) -> None:
        self.head = self.tail = 0
        self.end = -1
        self.bytes = 0
        self.lines = 0
