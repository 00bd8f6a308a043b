"""The report's charts drawn two ways, measured side by side: Chart.js (chosen) and Altair.

    pip install altair vl-convert-python   # only for this comparison
    python bench/report_libs.py --db var/telemetry.duckdb [--spool var/spool] [--out DIR]

Writes the duckspool report (Chart.js 4, vendored and inlined) and a page with the
same charts, from the same chart data, as Vega-Lite specs built with Altair and
saved with ``inline=True`` (vl-convert-python inlines Vega, Vega-Lite and
vega-embed). Reports both files' sizes, the inlined libraries' sizes, and, when
Debian's chromium is installed, each page's time from navigation to charts drawn
with the network off (median of ``--rounds`` loads) and its console errors.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from _common import git_revision, machine, median, publish  # noqa: E402
from duckspool.report import write_report  # noqa: E402

WAIT_DRAWN = """new Promise(done => {
  const check = () => {
    const n = document.querySelectorAll("canvas, .vega-embed svg.marks").length;
    if (n >= %d) done(performance.now()); else requestAnimationFrame(check);
  };
  check();
})"""


def chart_specs(page: str) -> list[dict[str, Any]]:
    import json

    match = re.search(r'id="duckspool-charts">(.*?)</script>', page, re.S)
    return list(json.loads(match[1]).values()) if match else []


def to_altair(spec: dict[str, Any]) -> Any:
    """The same chart as a Vega-Lite spec (tooltips, zoom/pan via ``interactive()``)."""
    import altair as alt

    labels = spec["data"]["labels"]
    rows = [
        {"category": str(label), "series": d["label"], "value": v, "order": i}
        for d in spec["data"]["datasets"]
        for i, (label, v) in enumerate(zip(labels, d["data"], strict=True))
    ]
    meta = spec["meta"]
    fmt = {"count": ",.0f", "percent": ".1%", "ms": ",.0f"}[meta["format"]]
    horizontal = spec["options"]["indexAxis"] == "y"
    stacked = bool(spec["options"]["scales"]["x"].get("stacked"))
    base = alt.Chart(alt.Data(values=rows)).properties(
        title=meta["title"], width=640, height=meta["height"] - 60
    )
    category = alt.Y if horizontal else alt.X
    value = alt.X if horizontal else alt.Y
    tooltip = ["category:N", "series:N", alt.Tooltip("value:Q", format=fmt)]
    if spec["type"] == "line":
        mark = base.mark_line(point=True)
        enc = {"strokeDash": "series:N", "shape": "series:N"}
    else:
        mark = base.mark_bar()
        offset = alt.YOffset if horizontal else alt.XOffset
        enc = {} if stacked or len(spec["data"]["datasets"]) == 1 else {
            ("yOffset" if horizontal else "xOffset"): offset("series:N")}
    return mark.encode(
        category("category:N", sort=alt.SortField("order"), title=None),
        value("value:Q", stack=stacked or None, axis=alt.Axis(format=fmt), title=None),
        color="series:N",
        tooltip=tooltip,
        **enc,
    ).interactive()


def draw_time(path: Path, charts: int, rounds: int) -> dict[str, Any] | None:
    try:
        from tests.chromium import Browser, find_chromium
    except ImportError:
        return None
    executable = find_chromium()
    if executable is None:
        return None
    times, errors = [], []
    for _ in range(rounds):
        browser = Browser(executable)
        try:
            session = browser.open(path.resolve().as_uri())
            times.append(browser.evaluate(session, WAIT_DRAWN % charts))
            errors = browser.console_errors()
        finally:
            browser.close()
    return {"ms_to_drawn_median": round(median(times)), "console_errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--spool", type=Path)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="duckspool-report-libs-"))
    out.mkdir(parents=True, exist_ok=True)
    chartjs = write_report(args.db, out / "report-chartjs.html", spool=args.spool)
    page = chartjs.path.read_text()
    specs = chart_specs(page)
    result: dict[str, Any] = {
        "benchmark": "report_libs",
        "charts": len(specs),
        "chartjs": {
            "page_bytes": chartjs.bytes,
            "library_bytes": (ROOT / "src/duckspool/report/assets/chart.umd.min.js").stat().st_size,
            "drawn": draw_time(chartjs.path, len(specs), args.rounds),
        },
    }
    try:
        import altair as alt
        import vl_convert as vlc
    except ImportError:
        result["altair"] = "not installed (pip install altair vl-convert-python)"
    else:
        started = time.perf_counter()
        chart = alt.vconcat(*(to_altair(s) for s in specs)).resolve_scale(color="independent")
        target = out / "report-altair.html"
        chart.save(target, format="html", inline=True)
        result["altair"] = {
            "page_bytes": target.stat().st_size,
            "library_bytes": len(vlc.javascript_bundle().encode()),
            "build_seconds": round(time.perf_counter() - started, 2),
            "versions": {"altair": alt.__version__, "vl_convert": vlc.__version__},
            # vconcat draws every chart into one SVG.
            "drawn": draw_time(target, 1, args.rounds),
        }
    result.update({"out": str(out), "machine": machine(), "revision": git_revision()})
    publish(result, args.json)


if __name__ == "__main__":
    main()
