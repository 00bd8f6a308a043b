"""The report: the figures behind each chart, the chart specs, the page, and the command.

Known events (tests/report_data.py) go through a real Emitter and the real Loader
into a real DuckDB file; every expected figure below follows from those events.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from duckspool import report as report_pkg
from duckspool.exceptions import ConfigurationError, RepositoryError
from duckspool.loader import Loader
from duckspool.migrations import migrate
from duckspool.report import parse_instant, write_report
from duckspool.report._charts import bar_chart, line_chart
from duckspool.report._exchanges import exchange_figures, state_order
from duckspool.report._format import fmt_bytes, fmt_count, fmt_duration_ms, fmt_percent
from duckspool.report._html import script_json
from duckspool.report._period import Period
from duckspool.report._pipeline import load_figures, spool_figures
from duckspool.report._queries import auth_figures, job_figures, overview_figures
from duckspool.report._sections import auth_section, overview_section
from duckspool.report._work_sections import exchanges_section, jobs_section
from duckspool.repository import DuckDBTelemetryRepository, open_database
from duckspool.spool import SpoolLayout
from tests.report_data import HOSTILE, NOW, build_known
from tests.report_data import at as at_minute

H10 = datetime(2026, 3, 2, 10)
H11 = datetime(2026, 3, 2, 11)
FUNNEL = ["draft", "submitted", "under_review", "accepted", "settled"]


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("known")
    spool, db = root / "spool", root / "telemetry.duckdb"
    assert build_known(spool, db) == 27
    return spool, db


@pytest.fixture
def repo_period(known: tuple[Path, Path]):  # type: ignore[no-untyped-def]
    with DuckDBTelemetryRepository(known[1], read_only=True) as repo:
        con = repo.cursor()
        yield con, Period(None, None, at_minute(1), at_minute(90))
        con.close()


def page_charts(page: str) -> dict[str, dict]:  # type: ignore[type-arg]
    match = re.search(r'<script type="application/json" id="duckspool-charts">(.*?)</script>', page, re.S)
    assert match, "no chart data in the page"
    return json.loads(match[1])


# -- the figures behind each chart --------------------------------------------------------


def test_overview_counts_events_per_hour_and_namespace_types_and_users(repo_period) -> None:
    fig = overview_figures(*repo_period)
    assert fig.total == 27
    assert fig.by_bucket == [(H10, "action", 10), (H10, "exchange", 7), (H10, "job", 2),
                             (H11, "action", 2), (H11, "job", 6)]
    assert fig.top_types[:4] == [("action.auth.login", 8), ("exchange.state.transitioned", 7),
                                 ("job.run.started", 4), ("job.run.completed", 3)]
    assert fig.other_types == 0 and sum(n for _, n in fig.top_types) == 27
    # u1..u5 logged in, u6, u7, u70 failed to; the jobs' "system" user is not a person.
    assert fig.users_per_day == [(date(2026, 3, 2), 8)]


def test_auth_figures_follow_from_the_logins_logouts_and_expiry(repo_period) -> None:
    fig = auth_figures(*repo_period)
    assert fig.events == 11
    assert fig.logins == [(H10, "failure", 2), (H10, "success", 5), (H11, "failure", 1)]
    assert fig.failure_reasons == [("bad_password", 2), ("locked", 1)]
    assert fig.session_ends == [("logout", 2, 360.0, 576.0), ("expired: idle_timeout", 1, 3000.0, 3000.0)]
    assert fig.session_lengths == [(1, 1), (2, 1), (4, 1)]  # 2 min, 10 min, 50 min
    assert fig.still_open == 2  # s4 and s5


def test_exchange_funnel_is_in_state_order_with_time_in_state_from_event_timestamps(repo_period) -> None:
    [trade] = exchange_figures(*repo_period)
    assert (trade.machine, trade.exchanges, trade.transitions) == ("trade", 3, 7)
    assert trade.funnel == FUNNEL
    assert trade.other_states == ["cancelled"]
    assert trade.reached == {"draft": 3, "submitted": 2, "under_review": 1, "accepted": 1,
                             "settled": 1, "cancelled": 2}
    # submitted: A waited 1 min, B 5 min; the first state (draft) has no entry event.
    assert trade.dwell == {"submitted": (2, 180_000.0, 288_000.0),
                           "under_review": (1, 120_000.0, 120_000.0),
                           "accepted": (1, 240_000.0, 240_000.0)}


def test_jobs_runs_failures_and_durations_per_job_and_hour(repo_period) -> None:
    fig = job_figures(*repo_period)
    assert fig.per_job == [("reindex", 1, 0, 1500.0, 1500.0), ("sync", 3, 1, 200.0, 290.0)]
    assert fig.per_bucket == [(H10, "sync", 1, 0, 100.0, 100.0),
                              (H11, "reindex", 1, 0, 1500.0, 1500.0),
                              (H11, "sync", 2, 1, 250.0, 295.0)]
    assert fig.unfinished == 0


def test_a_period_selects_by_the_events_own_time(repo_period) -> None:
    repo, _ = repo_period
    period = Period(at_minute(60), at_minute(70))  # 11:00 <= t < 11:10: r2 and r3 of sync
    assert job_figures(repo, period).per_job == [("sync", 2, 1, 250.0, 295.0)]
    assert auth_figures(repo, period).events == 0  # the 11:10 failure is excluded (until is open)
    assert overview_figures(repo, Period(at_minute(70), None)).total == 4  # locked, reindex x2, page


def test_time_in_state_counts_entries_made_before_the_period(repo_period) -> None:
    repo, _ = repo_period
    [trade] = exchange_figures(repo, Period(at_minute(22), None))
    assert trade.dwell["accepted"] == (1, 240_000.0, 240_000.0)
    assert trade.dwell["under_review"] == (1, 120_000.0, 120_000.0)  # entered at 10:21
    # A was in under_review (entered before the period), accepted, settled; B and C as before.
    assert trade.reached == {"draft": 2, "submitted": 1, "under_review": 1, "accepted": 1,
                             "settled": 1, "cancelled": 2}


def test_pipeline_loads_quarantine_by_reason_and_the_oldest_sealed_segment(tmp_path: Path) -> None:
    spool, db = tmp_path / "spool", tmp_path / "t.duckdb"
    build_known(spool, db)
    layout = SpoolLayout(spool)
    (layout.sealed / "bad.jsonl").write_bytes(b'{"cut\n["not", "an", "object"]\n[1]\n')
    assert Loader(spool, db).run_once().ok
    waiting = layout.sealed / "20260302T120000000000Z_host_1_000001.jsonl"
    waiting.write_bytes(b"{}\n")
    with DuckDBTelemetryRepository(db, read_only=True) as repo:
        loads = load_figures(repo.cursor(), Period(None, None))
    assert loads.total_loads == 2
    assert [(r[3], r[4], r[5]) for r in loads.loads] == [(27, 0, 0), (0, 0, 3)]
    fig = spool_figures(spool, NOW)
    assert fig.quarantine == {"not_an_object": 2, "invalid_json": 1}
    assert fig.backlog["sealed"] == (1, 3)
    assert fig.oldest_sealed_age_s == 3600.0  # named 12:00, now 13:00


def test_a_missing_spool_is_reported_not_created(tmp_path: Path) -> None:
    fig = spool_figures(tmp_path / "nowhere", NOW)
    assert not fig.found and fig.backlog["sealed"] == (0, 0) and fig.quarantine == {}
    assert not (tmp_path / "nowhere").exists()


def test_state_order_follows_the_graph_not_the_counts() -> None:
    edges = [("b", "c", 1), ("a", "b", 1), ("a", "x", 50), ("b", "x", 40), ("c", "d", 1)]
    assert state_order(edges) == (["a", "b", "c", "d"], ["x"])
    cycle = [("new", "open", 5), ("open", "new", 2), ("open", "done", 3)]
    assert state_order(cycle) == (["new", "open", "done"], [])
    assert state_order([]) == ([], [])


# -- chart specs ----------------------------------------------------------------------------


def test_overview_chart_spec_holds_every_hour_and_namespace(repo_period) -> None:
    repo, period = repo_period
    section = overview_section(overview_figures(repo, period), period)
    spec = section.blocks[0].chart
    assert spec is not None and spec["type"] == "bar"
    assert spec["data"]["labels"] == ["03-02 10:00", "03-02 11:00"]
    assert [(d["label"], d["data"]) for d in spec["data"]["datasets"]] == [
        ("action", [10, 2]), ("exchange", [7, 0]), ("job", [2, 6])]
    assert spec["options"]["scales"]["x"]["stacked"] and spec["meta"]["patterns"]
    assert section.blocks[0].table is not None
    assert section.blocks[0].table.rows[0] == ["03-02 10:00", "10", "7", "2", "19"]


def test_funnel_and_dwell_specs_use_the_state_order_and_milliseconds(repo_period) -> None:
    repo, period = repo_period
    funnel, dwell = exchanges_section(exchange_figures(repo, period), period).blocks
    assert funnel.chart is not None and funnel.chart["data"]["labels"] == FUNNEL
    assert funnel.chart["data"]["datasets"][0]["data"] == [3, 2, 1, 1, 1]
    assert funnel.chart["options"]["indexAxis"] == "y"
    assert funnel.table is not None
    assert funnel.table.rows[1] == ["submitted", "2", "66.7%", "66.7%"]
    assert funnel.table.rows[-1] == ["cancelled (off the main path)", "2", "—", "66.7%"]
    assert dwell.chart is not None and dwell.chart["meta"]["format"] == "ms"
    assert dwell.chart["data"]["labels"] == ["submitted", "under_review", "accepted"]
    assert dwell.table is not None and dwell.table.rows[0] == ["submitted", "2", "3.0 min", "4.8 min"]


def test_job_failure_rate_line_leaves_gaps_where_a_job_did_not_run(repo_period) -> None:
    repo, period = repo_period
    blocks = jobs_section(job_figures(repo, period), period).blocks
    rate = next(b for b in blocks if b.title.startswith("Job failure rate"))
    assert rate.chart is not None and rate.chart["type"] == "line"
    assert {d["label"]: d["data"] for d in rate.chart["data"]["datasets"]} == {
        "reindex": [None, 0.0], "sync": [0.0, 0.5]}
    styles = {d["pointStyle"] for d in rate.chart["data"]["datasets"]}
    assert len(styles) == 2  # told apart by shape, not colour alone


def test_auth_section_charts_and_tables_agree(repo_period) -> None:
    repo, period = repo_period
    section = auth_section(auth_figures(repo, period), period)
    titles = [b.title.split(",")[0] for b in section.blocks]
    assert titles == ["Login attempts per hour by outcome", "Why logins failed",
                      "How sessions ended", "Session length of sessions that ended"]
    ended = section.blocks[2]
    assert ended.chart is not None
    assert ended.chart["data"]["labels"] == ["logout", "expired: idle_timeout", "no logout or expiry seen"]
    assert ended.table is not None and ended.table.rows[0] == ["logout", "2", "40.0%", "6.0 min", "9.6 min"]


def test_chart_specs_are_plain_json_with_named_formats() -> None:
    spec = bar_chart("t", ["a", "b"], [("n", [1, None])], horizontal=True)
    assert json.loads(json.dumps(spec)) == spec
    assert spec["meta"] == {"title": "t", "format": "count", "patterns": False, "height": 122}
    line = line_chart("t", ["a"], [("x", [0.5]), ("y", [None])], fmt="percent")
    assert [d["borderDash"] for d in line["data"]["datasets"]] == [[], [6, 3]]


def test_number_formats() -> None:
    assert fmt_count(1234567) == "1,234,567" and fmt_count(None) == "—"
    assert fmt_percent(0.1234) == "12.3%"
    assert [fmt_duration_ms(v) for v in (4.2, 850, 4_200, 750_000, 7_200_000, 3e8)] == [
        "4.2 ms", "850 ms", "4.2 s", "12.5 min", "2.0 h", "3.5 d"]
    assert fmt_bytes(512) == "512 B" and fmt_bytes(5 * 1024 * 1024) == "5.0 MiB"


def test_periods_parse_iso_in_utc_and_refuse_the_rest() -> None:
    assert parse_instant("2026-03-02") == datetime(2026, 3, 2, tzinfo=UTC)
    assert parse_instant("2026-03-02T12:00+02:00") == datetime(2026, 3, 2, 10, tzinfo=UTC)
    with pytest.raises(ConfigurationError, match="--since: 'soon' is not an ISO-8601"):
        parse_instant("soon", option="--since")
    with pytest.raises(ConfigurationError, match="is not before"):
        Period(at_minute(5), at_minute(5))
    days = Period(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC))
    assert days.bucket == "day" and len(days.buckets()) == 7
    assert Period(at_minute(0), at_minute(0) + timedelta(days=400)).bucket == "week"


# -- the page -------------------------------------------------------------------------------


def test_script_json_cannot_close_the_script_or_break_a_line() -> None:
    text = script_json({"k": "</script><!--\u2028\u2029&'\"", "n": float("nan")})
    assert not set(text) & set("<>&\u2028\u2029")
    assert json.loads(text) == {"k": "</script><!--\u2028\u2029&'\"", "n": None}


def test_report_of_known_events_has_every_section_and_chart(known, tmp_path: Path) -> None:
    spool, db = known
    result = write_report(db, tmp_path / "r.html", spool=spool, now=NOW)
    page = result.path.read_text()
    assert result.events == 27 and result.bytes == len(page.encode())
    for section in ("Overview", "Authentication", "Exchanges", "Jobs", "Pipeline health"):
        assert f"<h2>{section}</h2>" in page
    charts = page_charts(page)
    assert len(charts) == result.charts == page.count("<canvas ")
    assert "2026-03-02 10:01 to 2026-03-02 11:30 UTC" in page
    assert "Emitter drops are not shown" in page
    # Self-contained: nothing loaded by address; the only URLs are in the vendored licence headers.
    assert re.findall(r"(?:src|href)=\"(?!#)", page) == []
    vendored = (Path(report_pkg.__file__).parent / "assets" / "chart.umd.min.js").read_text()
    urls = set(re.findall(r"https?://[^\s\"')]+", page))
    assert urls and urls <= set(re.findall(r"https?://[^\s\"')]+", vendored))


def test_empty_database_page_says_no_events_and_how_to_get_some(tmp_path: Path) -> None:
    db = tmp_path / "empty.duckdb"
    con = open_database(db)
    migrate(con)
    con.close()
    page = write_report(db, tmp_path / "r.html", spool=tmp_path / "spool", now=NOW).path.read_text()
    assert "No events:" in page and "duckspool demo" in page and "duckspool load" in page
    assert "<canvas" not in page and "<script" not in page  # nothing to draw, nothing to run
    assert "No spool directory at" in page


def test_one_namespace_database_says_which_sections_are_absent(tmp_path: Path) -> None:
    from duckspool import make_event
    from duckspool.spool import Emitter

    spool, db = tmp_path / "spool", tmp_path / "t.duckdb"
    with Emitter(spool) as em:
        for i in range(5):
            em.emit(make_event("launch.feature.enabled", {"flag": "f"}, session_id="d", user_id="system",
                               timestamp=at_minute(i)))
    assert Loader(spool, db).run_once().ok
    result = write_report(db, tmp_path / "r.html", spool=spool, now=NOW)
    page = result.path.read_text()
    assert "No auth events" in page and "No exchange transitions" in page and "No job runs" in page
    overview = page_charts(page)["chart-1"]
    assert [d["label"] for d in overview["data"]["datasets"]] == ["launch"]


def test_since_until_selecting_nothing_says_so(known, tmp_path: Path) -> None:
    spool, db = known
    result = write_report(db, tmp_path / "r.html", spool=spool, now=NOW,
                          since=datetime(2020, 1, 1, tzinfo=UTC), until=datetime(2020, 1, 2, tzinfo=UTC))
    page = result.path.read_text()
    assert result.events == 0
    assert "No events between 2020-01-01 00:00 to 2020-01-02 00:00 UTC" in page


def test_missing_database_is_named_and_not_created(tmp_path: Path) -> None:
    with pytest.raises(RepositoryError, match="no database at"):
        write_report(tmp_path / "none.duckdb", tmp_path / "r.html")
    assert not (tmp_path / "none.duckdb").exists() and not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("hostile", [*HOSTILE, "".join(HOSTILE)], ids=range(len(HOSTILE) + 1))
def test_hostile_strings_are_escaped_in_every_shown_field(tmp_path: Path, hostile: str) -> None:
    spool, db = tmp_path / "spool", tmp_path / "t.duckdb"
    build_known(spool, db, hostile=hostile)
    page = write_report(db, tmp_path / "r.html", spool=spool, now=NOW).path.read_text()
    assert page.count("<script") == 3  # the chart data, Chart.js, the glue: nothing injected
    if any(c in hostile for c in "<>\"'"):
        assert "<img src=x" not in page and "<svg onload" not in page
        assert "</script><script>window" not in page and "<!--" not in page
    shown = html.escape(hostile, quote=True)
    # failure reason, expiry reason, job, machine and state names reach tables...
    for text in (f"bad_password{shown}", f"expired: idle_timeout{shown}", f"sync{shown}",
                 f"submitted{html.escape(hostile[:200], quote=True)}", f"trade{shown}"):
        assert text in page, text[:60]
    # ...and chart labels, where they arrive exactly as sent.
    labels = {label for spec in page_charts(page).values() for label in spec["data"]["labels"]}
    labels |= {d["label"] for spec in page_charts(page).values() for d in spec["data"]["datasets"]}
    assert {f"bad_password{hostile}", f"sync{hostile}", f"submitted{hostile[:200]}"} <= labels


# -- the command ------------------------------------------------------------------------------


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "duckspool", *args], check=False, cwd=cwd,
                          capture_output=True,
                          text=True, timeout=120)


def test_cli_writes_the_report_and_prints_its_path(known, tmp_path: Path) -> None:
    spool, db = known
    out = tmp_path / "sub" / "report.html"
    done = run_cli("report", "--db", str(db), "--spool", str(spool), "--out", str(out),
                   "--since", "2026-03-02T10:00:00Z", "--until", "2026-03-02T11:00", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out) and out.is_file()
    assert "2026-03-02 10:00 to 2026-03-02 11:00 UTC" in out.read_text()
    assert out.stat().st_mode & 0o777 == 0o600  # product data: owner-only, like the database


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--db", "missing.duckdb"], 1, "no database at missing.duckdb (in "),
    (["--since", "yesterday"], 2, "argument --since: 'yesterday' is not an ISO-8601"),
    (["--since", "2026-03-02", "--until", "2026-03-01"], 2, "is not before --until"),
])
def test_cli_errors_are_one_line_with_usage_or_failure_codes(
    tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    done = run_cli("report", *args, cwd=tmp_path)
    assert done.returncode == code
    assert message in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("duckspool report: error:")
    assert not (tmp_path / "missing.duckdb").exists() and not (tmp_path / "var").exists()


def test_a_failing_query_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    spool, db = tmp_path / "spool", tmp_path / "t.duckdb"
    build_known(spool, db)
    con = open_database(db)
    con.execute("DROP VIEW auth_events CASCADE")  # a view removed by hand
    con.close()
    done = run_cli("report", "--db", str(db), "--out", str(tmp_path / "r.html"), cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"duckspool report: error: report query failed on {db}: ")
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "r.html").exists()


def test_demo_ends_by_writing_its_report_next_to_the_database(tmp_path: Path) -> None:
    done = run_cli("demo", "--dir", str(tmp_path / "d"), "--events", "600", "--workers", "1",
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = tmp_path / "d" / "report.html"
    assert done.stdout.strip().splitlines()[-1] == f"report: {report}"
    page = report.read_text()
    assert len(page_charts(page)) >= 10 and "No events" not in page


@pytest.mark.parametrize(("bucket", "days"), [("hour", 1), ("day", 30), ("week", 400), ("month", 1000)])
def test_bucket_arithmetic_agrees_with_date_trunc(bucket: str, days: int) -> None:
    import duckdb

    start = datetime(2026, 1, 1, tzinfo=UTC)
    period = Period(start, start + timedelta(days=days))
    assert period.bucket == bucket
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # the reference cast below follows the session's zone
    differing = con.execute(
        "SELECT count(*) FROM (SELECT TIMESTAMPTZ '2019-12-30 23:30:00+00' + INTERVAL (i * 37) MINUTE "
        f"AS occurred_at FROM range(20000) r(i)) WHERE {period.bucket_sql()} <> "
        f"date_trunc('{bucket}', occurred_at::TIMESTAMP) "
        f"OR {period.day_sql()} <> occurred_at::TIMESTAMP::DATE"
    ).fetchall()
    assert differing == [(0,)]


def test_a_database_held_by_a_writer_is_busy_75(known, tmp_path: Path) -> None:
    import shutil

    from tests.conftest import spawn_python

    db = tmp_path / "held.duckdb"
    shutil.copy(known[1], db)
    holder = spawn_python("""
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("held", flush=True)
sys.stdin.readline()
""", str(db), stdin=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        done = run_cli("report", "--db", str(db), "--out", str(tmp_path / "r.html"), cwd=tmp_path)
    finally:
        holder.communicate("\n", timeout=30)
    assert done.returncode == 75, done.stderr
    assert done.stderr.startswith("duckspool report: busy: ") and f"PID {holder.pid}" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
