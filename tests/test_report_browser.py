"""The report in a real browser: Debian's headless Chromium, network off, opened from file://.

Skipped when no Chromium is installed (a plain dev machine); fails instead when
``DUCKSPOOL_REQUIRE_BROWSER=1`` (set by .ci/run, which installs it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from duckspool.demo import run_demo
from duckspool.report import write_report
from tests.chromium import REQUIRE_ENV, Browser, find_chromium, png_colours
from tests.report_data import HOSTILE, NOW, build_known

pytestmark = pytest.mark.browser

# Every chart drawn: a Chart.js instance on each canvas, and ink on it.
CHARTS = """(() => {
  const canvases = [...document.querySelectorAll("canvas")];
  const inked = canvases.filter(c => {
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true;
    return false;
  });
  return {canvases: canvases.length,
          charts: canvases.filter(c => window.Chart && Chart.getChart(c)).length,
          inked: inked.length,
          rendered: document.documentElement.getAttribute("data-charts-rendered"),
          pwned: window.__pwned === undefined ? null : String(window.__pwned),
          injected: document.querySelectorAll("img, svg, iframe, object, embed").length,
          scripts: document.scripts.length,
          text: document.body.innerText};
})()"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = find_chromium()
    if executable is None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but no chromium on PATH (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    b = Browser(executable)
    yield b
    b.close()


def open_report(browser: Browser, page: Path) -> tuple[str, dict]:  # type: ignore[type-arg]
    browser.events.clear()
    session = browser.open(page.resolve().as_uri())
    return session, browser.evaluate(session, CHARTS)


def assert_clean(browser: Browser, page: Path, state: dict) -> None:  # type: ignore[type-arg]
    assert state["canvases"] > 0
    assert state["charts"] == state["inked"] == state["canvases"] == int(state["rendered"])
    assert browser.console_errors() == []
    assert all(u.startswith("file://") for u in browser.requested_urls()), browser.requested_urls()
    assert page.resolve().as_uri() in browser.requested_urls()


def test_hostile_report_renders_every_chart_and_runs_nothing(browser: Browser, tmp_path: Path) -> None:
    hostile = "".join(HOSTILE)
    root = tmp_path / HOSTILE[0]  # the paths shown in the header are hostile too
    spool, db = root / "spool", root / "t.duckdb"
    build_known(spool, db, hostile=hostile)
    result = write_report(db, root / "report.html", spool=spool, now=NOW)
    session, state = open_report(browser, result.path)
    assert_clean(browser, result.path, state)
    assert state["canvases"] == result.charts == 13
    assert state["pwned"] is None and state["injected"] == 0 and state["scripts"] == 3
    # Markup, quotes and comment openers show as the text they are, in tables and titles.
    assert "bad_password" + "".join(HOSTILE[:4]) in state["text"]
    assert f"Funnel of trade{''.join(HOSTILE[:4])}" in state["text"]
    assert f"Database: {db}" in state["text"]
    width, height, colours = png_colours(browser.screenshot(session))
    assert width == 1280 and height > 500 and colours > 20


def test_demo_report_renders_in_the_browser(browser: Browser, tmp_path: Path) -> None:
    spool, db = tmp_path / "spool", tmp_path / "telemetry.duckdb"
    with (tmp_path / "demo.log").open("w") as log:
        run_demo(spool, db, events=3_000, workers=1, out=log)
    result = write_report(db, tmp_path / "report.html", spool=spool)
    session, state = open_report(browser, result.path)
    assert_clean(browser, result.path, state)
    assert "Pipeline health" in state["text"] and "No events" not in state["text"]
    width, height, colours = png_colours(browser.screenshot(session))
    assert colours > 20


def test_empty_period_page_opens_without_errors(browser: Browser, tmp_path: Path) -> None:
    spool, db = tmp_path / "spool", tmp_path / "t.duckdb"
    build_known(spool, db)
    result = write_report(db, tmp_path / "r.html", spool=spool, now=NOW, since=NOW)
    session, state = open_report(browser, result.path)
    assert state["canvases"] == 1  # only the load history; nothing in the period
    assert "No events between" in state["text"]
    assert browser.console_errors() == []
