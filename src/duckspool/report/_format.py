"""How numbers read on the page: thousands separators, percentages, durations.

The same three formats are applied in the browser to chart axes and tooltips
(``assets/report.js``), so a table and its chart never disagree.
"""

from __future__ import annotations

import math

__all__ = [
    "COUNT",
    "DURATION_MS",
    "PERCENT",
    "fmt",
    "fmt_bytes",
    "fmt_count",
    "fmt_duration_ms",
    "fmt_percent",
]

COUNT = "count"
PERCENT = "percent"
DURATION_MS = "ms"


def fmt_count(value: float | None) -> str:
    """``12,345``; ``—`` for None."""
    if value is None:
        return "—"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def fmt_percent(value: float | None) -> str:
    """A fraction as a percentage with one decimal: ``0.1234`` → ``12.3%``."""
    if value is None or math.isnan(value):
        return "—"
    return f"{value * 100:.1f}%"


def fmt_duration_ms(value: float | None) -> str:
    """Milliseconds in the unit that reads best: ``850 ms``, ``4.2 s``, ``12.5 min``, ``3.1 h``."""
    if value is None or math.isnan(value):
        return "—"
    if value < 1_000:
        return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"
    if value < 60_000:
        return f"{value / 1_000:.1f} s"
    if value < 3_600_000:
        return f"{value / 60_000:.1f} min"
    if value < 172_800_000:
        return f"{value / 3_600_000:.1f} h"
    return f"{value / 86_400_000:,.1f} d"


def fmt(value: float | None, kind: str) -> str:
    """Format ``value`` as ``kind`` (:data:`COUNT`, :data:`PERCENT` or :data:`DURATION_MS`)."""
    if kind == PERCENT:
        return fmt_percent(value)
    if kind == DURATION_MS:
        return fmt_duration_ms(value)
    return fmt_count(value)


def fmt_bytes(value: int) -> str:
    """``512 B``, ``12.3 KiB``, ``4.0 MiB``, ``1.2 GiB``."""
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size:,.1f} GiB"  # pragma: no cover - the loop always returns
