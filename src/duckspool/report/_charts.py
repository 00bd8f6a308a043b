"""Chart specs: Chart.js configurations built from aggregates, as plain JSON-able dicts.

A spec never holds code. Number formats are named (``meta.format``: count, percent,
ms) and turned into axis and tooltip callbacks by ``assets/report.js``, which also
gives every series after the first a hatch pattern, so series differ by more than
colour. Lines differ by point shape and dash as well.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from duckspool.report._format import COUNT

__all__ = ["PALETTE", "bar_chart", "line_chart"]

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
)
_POINTS = ("circle", "rect", "triangle", "rectRot", "crossRot", "star", "rectRounded", "cross")
_DASHES: tuple[list[int], ...] = ([], [6, 3], [2, 2], [8, 3, 2, 3])

Series = tuple[str, Sequence[float | int | None]]


def _height(labels: Sequence[str], horizontal: bool) -> int:
    if horizontal:
        return min(70 + 26 * max(len(labels), 1), 520)
    return 280


def _value_axis(stacked: bool, title: str | None) -> dict[str, Any]:
    axis: dict[str, Any] = {"beginAtZero": True, "stacked": stacked, "grid": {"color": "#e5e5e5"}}
    if title:
        axis["title"] = {"display": True, "text": title}
    return axis


def _category_axis(stacked: bool, title: str | None) -> dict[str, Any]:
    axis: dict[str, Any] = {"stacked": stacked, "grid": {"display": False}}
    if title:
        axis["title"] = {"display": True, "text": title}
    return axis


def _options(
    *,
    stacked: bool,
    horizontal: bool,
    legend: bool,
    value_title: str | None,
    category_title: str | None,
) -> dict[str, Any]:
    value = _value_axis(stacked, value_title)
    category = _category_axis(stacked, category_title)
    return {
        "animation": False,
        "responsive": True,
        "maintainAspectRatio": False,
        "indexAxis": "y" if horizontal else "x",
        "interaction": {"mode": "nearest", "axis": "y" if horizontal else "x", "intersect": False},
        "plugins": {"legend": {"display": legend, "position": "bottom"}},
        "scales": {"x": value, "y": category} if horizontal else {"x": category, "y": value},
    }


def _datasets(
    series: Sequence[Series], style: Callable[[int], dict[str, Any]]
) -> list[dict[str, Any]]:
    """One dataset per series: its name, its values, and the style of the i-th series."""
    return [
        {"label": name, "data": list(values), **style(i)} for i, (name, values) in enumerate(series)
    ]


def _chart(
    kind: str,
    title: str,
    labels: Sequence[str],
    datasets: list[dict[str, Any]],
    fmt: str,
    axis_titles: tuple[str | None, str | None],
    *,
    stacked: bool = False,
    horizontal: bool = False,
) -> dict[str, Any]:
    value_title, category_title = axis_titles
    return {
        "type": kind,
        "data": {"labels": list(labels), "datasets": datasets},
        "options": _options(
            stacked=stacked,
            horizontal=horizontal,
            legend=len(datasets) > 1,
            value_title=value_title,
            category_title=category_title,
        ),
        "meta": {
            "title": title,
            "format": fmt,
            "patterns": kind == "bar" and len(datasets) > 1,
            "height": _height(labels, horizontal),
        },
    }


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    fmt: str = COUNT,
    stacked: bool = False,
    horizontal: bool = False,
    value_title: str | None = None,
    category_title: str | None = None,
) -> dict[str, Any]:
    """A (stacked, horizontal) bar chart; ``title`` is also the canvas's accessible name."""
    datasets = _datasets(
        series,
        lambda i: {
            "backgroundColor": PALETTE[i % len(PALETTE)],
            "borderColor": "#ffffff",
            "borderWidth": 1,
        },
    )
    axes = (value_title, category_title)
    return _chart("bar", title, labels, datasets, fmt, axes, stacked=stacked, horizontal=horizontal)


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    fmt: str = COUNT,
    value_title: str | None = None,
    category_title: str | None = None,
) -> dict[str, Any]:
    """Lines that differ by colour, point shape and dash; gaps (None) are not bridged."""
    datasets = _datasets(
        series,
        lambda i: {
            "borderColor": PALETTE[i % len(PALETTE)],
            "backgroundColor": PALETTE[i % len(PALETTE)],
            "pointStyle": _POINTS[i % len(_POINTS)],
            "pointRadius": 3,
            "borderDash": _DASHES[i % len(_DASHES)],
            "borderWidth": 2,
            "spanGaps": False,
        },
    )
    return _chart("line", title, labels, datasets, fmt, (value_title, category_title))
