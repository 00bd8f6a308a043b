"""The period a report covers: bounds, how to say it in UTC, and the time buckets of its charts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from duckspool.exceptions import ConfigurationError

__all__ = ["Period", "parse_instant"]

# Bucket widths a chart may use; the SQL literal is chosen from this table, never from input.
_BUCKETS = ("hour", "day", "week", "month")


def parse_instant(text: str, *, option: str = "time") -> datetime:
    """An ISO-8601 date or date-time as an aware UTC datetime (naive input is taken as UTC).

    Raises :class:`~duckspool.exceptions.ConfigurationError` naming ``option`` and the
    accepted forms when ``text`` is not one of them.
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigurationError(
            f"{option}: {text!r} is not an ISO-8601 date or time "
            "(e.g. 2026-11-25 or 2026-11-25T14:00:00Z)"
        ) from None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _floor(value: datetime, bucket: str) -> datetime:
    value = value.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if bucket == "hour":
        return value
    value = value.replace(hour=0)
    if bucket == "week":  # DuckDB's date_trunc('week') starts on Monday
        return value - timedelta(days=value.weekday())
    if bucket == "month":
        return value.replace(day=1)
    return value


def _step(value: datetime, bucket: str) -> datetime:
    if bucket == "hour":
        return value + timedelta(hours=1)
    if bucket == "day":
        return value + timedelta(days=1)
    if bucket == "week":
        return value + timedelta(weeks=1)
    year, month = (value.year + 1, 1) if value.month == 12 else (value.year, value.month + 1)
    return value.replace(year=year, month=month)


@dataclass(frozen=True, slots=True)
class Period:
    """What the caller asked for (``since``/``until``, either may be None) and what the data spans.

    ``start``/``end`` are what the titles say: the requested bound where one was
    given, else the first/last event in the range (None when there are none).
    """

    since: datetime | None
    until: datetime | None
    first: datetime | None = None
    last: datetime | None = None

    def __post_init__(self) -> None:
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ConfigurationError(
                f"--since {self.since:%Y-%m-%d %H:%M:%S} is not before --until "
                f"{self.until:%Y-%m-%d %H:%M:%S} (UTC)"
            )

    def where(self, column: str = "occurred_at") -> tuple[str, list[object]]:
        """A SQL condition on ``column`` (a name we own) and its bound parameters."""
        parts: list[str] = ["TRUE"]
        params: list[object] = []
        if self.since is not None:
            parts.append(f"{column} >= ?")
            params.append(self.since)
        if self.until is not None:
            parts.append(f"{column} < ?")
            params.append(self.until)
        return " AND ".join(parts), params

    @property
    def start(self) -> datetime | None:
        return self.since or self.first

    @property
    def end(self) -> datetime | None:
        return self.until or self.last

    def describe(self) -> str:
        """The period in words, UTC, e.g. ``2026-11-25 10:00 to 2026-11-26 09:59 UTC``."""
        start, end = self.start, self.end
        if start is None and end is None:
            return "all time"
        left = f"{start.astimezone(UTC):%Y-%m-%d %H:%M}" if start else "the beginning"
        right = f"{end.astimezone(UTC):%Y-%m-%d %H:%M}" if end else "now"
        return f"{left} to {right} UTC"

    @property
    def bucket(self) -> str:
        """The width of a time bucket: hour up to 2 days, day up to 92, week up to 2 years."""
        start, end = self.start, self.end
        if start is None or end is None:
            return "day"
        span = end - start
        if span <= timedelta(days=2):
            return "hour"
        if span <= timedelta(days=92):
            return "day"
        return "week" if span <= timedelta(days=730) else "month"

    def bucket_sql(self, column: str = "occurred_at") -> str:
        """The start of ``column``'s :attr:`bucket` as a UTC TIMESTAMP (``column``: a name we own).

        Integer arithmetic on ``epoch_us``: without DuckDB's ICU extension, casting ten
        million TIMESTAMPTZ values to TIMESTAMP for ``date_trunc`` takes seconds; this
        takes a tenth of that. Weeks start on Monday, like ``date_trunc('week')``.
        """
        assert self.bucket in _BUCKETS
        hour, day = 3_600_000_000, 86_400_000_000
        days = f"(epoch_us({column}) // {day})"
        if self.bucket == "hour":
            return f"make_timestamp(epoch_us({column}) // {hour} * {hour})"
        if self.bucket == "day":
            return f"make_timestamp({days} * {day})"
        if self.bucket == "week":  # 1970-01-01 was a Thursday: Mondays are 3 days before
            return f"make_timestamp((({days} + 3) // 7 * 7 - 3) * {day})"
        return f"date_trunc('month', make_timestamp({days} * {day}))"

    @staticmethod
    def day_sql(column: str = "occurred_at") -> str:
        """The UTC date of ``column`` (a name we own), computed as :meth:`bucket_sql` is."""
        return f"make_timestamp(epoch_us({column}) // 86400000000 * 86400000000)::DATE"

    def buckets(self) -> list[datetime]:
        """Every bucket start (naive UTC, like DuckDB's) from the start to the end, in order."""
        start, end = self.start, self.end
        if start is None or end is None:
            return []
        bucket = self.bucket
        at, stop = _floor(start, bucket), _floor(end, bucket)
        if self.until is not None and end == self.until and stop == end:
            stop = _floor(end - timedelta(microseconds=1), bucket)  # until is exclusive
        out = []
        while at <= stop:
            out.append(at.replace(tzinfo=None))
            at = _step(at, bucket)
        return out

    def label(self, value: datetime | date) -> str:
        """A bucket start as an axis label."""
        if self.bucket == "hour" and isinstance(value, datetime):
            return f"{value:%m-%d %H:00}"
        if self.bucket == "month":
            return f"{value:%Y-%m}"
        return f"{value:%Y-%m-%d}"
