"""The page as one HTML file: every string escaped, every script and style inlined.

Event data is untrusted. Text and attributes go through :func:`html.escape`, data
strings are isolated with ``<bdi>`` (a right-to-left override in a value cannot
reorder the page around it), and chart specs are embedded as JSON in a
``<script type="application/json">`` with ``<``, ``>``, ``&`` and every non-ASCII
character (U+2028/U+2029 included) written as ``\\uXXXX``, so no value can close the
script element or open a comment. A Content-Security-Policy allows only the two
scripts whose SHA-256 the page carries, and no network at all: should anything slip
through, it can neither run nor phone home.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from dataclasses import dataclass
from html import escape
from importlib import resources
from typing import Any

from duckspool.report._model import Block, Section, Table

__all__ = ["CHART_JS_VERSION", "PageInfo", "render_page", "script_json"]

CHART_JS_VERSION = "4.6.1"
"""Version of the vendored ``assets/chart.umd.min.js`` (npm ``chart.js``, MIT licence)."""

_SOURCE_MAP = re.compile(r"\n//# sourceMappingURL=\S+\s*$")


def _asset(name: str) -> str:
    return resources.files("duckspool.report").joinpath("assets", name).read_text("utf-8")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def script_json(data: Any) -> str:
    """``data`` as JSON safe to place inside a ``<script>`` element (see the module doc)."""
    text = json.dumps(_finite(data), ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _t(text: object) -> str:
    return escape(str(text), quote=True)


def _d(text: object) -> str:
    """A data value: escaped and bidi-isolated."""
    return f"<bdi>{_t(text)}</bdi>"


@dataclass(frozen=True, slots=True)
class PageInfo:
    """The header: what was read, over which period, and when the page was made."""

    title: str
    database: str
    spool: str
    period: str
    generated: str
    empty: str | None = None
    """A paragraph shown first when there are no events (what to do to get some)."""
    hint: str | None = None


def _table(table: Table) -> str:
    numeric = list(table.numeric) + [False] * (len(table.columns) - len(table.numeric))
    cls = [' class="num"' if n else "" for n in numeric]
    head = "".join(
        f"<th{c} scope=col>{_t(col)}</th>" for col, c in zip(table.columns, cls, strict=True)
    )
    body = "".join(
        "<tr>"
        + "".join(f"<td{c}>{_d(cell)}</td>" for cell, c in zip(row, cls, strict=True))
        + "</tr>"
        for row in table.rows
    )
    html = (
        f'<div class="tablewrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )
    if table.collapsed:
        return (
            f"<details><summary>{len(table.rows):,} rows: show the table</summary>{html}</details>"
        )
    return html


def _block(block: Block, chart_id: str, charts: dict[str, Any]) -> str:
    parts = [f'<div class="block"><h3>{_d(block.title)}</h3>']
    parts += [f'<p class="note">{_t(n)}</p>' for n in block.notes]
    inner = []
    if block.chart is not None:
        charts[chart_id] = block.chart
        height = int(block.chart["meta"]["height"])
        label = f"Chart: {block.chart['meta']['title']}. Its numbers are in the table beside it."
        inner.append(
            f'<div class="chart" style="height:{height}px">'
            f'<canvas id="{chart_id}" role="img" aria-label="{_t(label)}"></canvas></div>'
        )
    if block.table is not None:
        inner.append(_table(block.table))
    if inner:
        only = "" if block.chart is not None else " table-only"
        if block.table is None or len(block.table.columns) > 4:
            only = " wide"  # a chart alone takes the width; beside a wide table it would squeeze
        parts.append(f'<div class="body{only}">{"".join(inner)}</div>')
    parts.append("</div>")
    return "".join(parts)


def _section(section: Section, charts: dict[str, Any]) -> str:
    parts = [f'<section id="{_t(section.key)}"><h2>{_t(section.title)}</h2>']
    if section.tiles:
        parts.append(
            '<div class="tiles">'
            + "".join(
                f'<div class="tile"><b>{_t(v)}</b><span>{_t(k)}</span></div>'
                for k, v in section.tiles
            )
            + "</div>"
        )
    parts += [f'<p class="note">{_t(n)}</p>' for n in section.notes]
    if section.absent:
        parts.append(f'<p class="absent">{_t(section.absent)}</p>')
    for block in section.blocks:
        parts.append(_block(block, f"chart-{len(charts) + 1}", charts))
    parts.append("</section>")
    return "".join(parts)


def _hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


def render_page(info: PageInfo, sections: list[Section]) -> str:
    """The whole page; opens from ``file://`` and makes no request to any host."""
    charts: dict[str, Any] = {}
    body = "".join(_section(s, charts) for s in sections)
    scripts = (
        [_SOURCE_MAP.sub("\n", _asset("chart.umd.min.js")), _asset("report.js")] if charts else []
    )
    allowed = " ".join(_hash(script) for script in scripts) or "'none'"
    csp = (
        f"default-src 'none'; script-src {allowed}; style-src 'unsafe-inline'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    nav = "".join(f'<a href="#{_t(s.key)}">{_t(s.title)}</a>' for s in sections)
    lines = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_t(csp)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{_t(info.title)}</title>",
        f"<style>{_asset('report.css')}</style>",
        "</head><body><header>",
        f"<h1>{_t(info.title)}</h1>",
        f'<p class="meta">Period: {_d(info.period)}. Database: <code>{_d(info.database)}</code>; '
        f"spool: <code>{_d(info.spool)}</code>. Generated {_t(info.generated)}.</p>",
        f'<p class="meta">{_t(info.hint)}</p>' if info.hint else "",
        f"<nav>{nav}</nav></header><main>",
        f'<p class="empty">{_t(info.empty)}</p>' if info.empty else "",
        body,
        "</main>",
        f"<footer>duckspool report. Charts drawn with Chart.js {CHART_JS_VERSION} (MIT licence), "
        "inlined; this file makes no network requests. All times UTC.</footer>",
    ]
    if charts:
        lines.append(
            f'<script type="application/json" id="duckspool-charts">{script_json(charts)}</script>'
        )
        lines += [f"<script>{s}</script>" for s in scripts]
    lines.append("</body></html>")
    return "\n".join(line for line in lines if line) + "\n"
