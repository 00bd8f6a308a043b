"""``write_report``: read the database (read-only) and the spool, write one HTML file."""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from duckspool.exceptions import RepositoryError
from duckspool.report._exchanges import exchange_figures
from duckspool.report._html import PageInfo, render_page
from duckspool.report._model import Section
from duckspool.report._period import Period
from duckspool.report._pipeline import load_figures, spool_figures
from duckspool.report._pipeline_section import pipeline_section
from duckspool.report._queries import auth_figures, job_figures, overview_figures, span
from duckspool.report._sections import auth_section, overview_section
from duckspool.report._work_sections import exchanges_section, jobs_section
from duckspool.repository import DuckDBTelemetryRepository

__all__ = ["ReportResult", "write_report"]

log = logging.getLogger(__name__)

GET_EVENTS = (
    "To get some: emit events from your service (duckspool.track or an Emitter), then run "
    "`duckspool load`; or try `duckspool demo`, which writes a sample database and its report."
)


@dataclass(frozen=True, slots=True)
class ReportResult:
    """Where the report went, how big it is, and how many events it covers."""

    path: Path
    bytes: int
    events: int
    charts: int


def _empty_text(total: int, period: Period, db: Path) -> str | None:
    if total:
        return None
    if period.since is None and period.until is None:
        return f"No events: {db} holds no telemetry events yet. {GET_EVENTS}"
    return f"No events between {period.describe()}. Widen --since/--until, or drop them."


def _write(path: Path, text: str) -> int:
    """Write atomically (temporary file + rename), so a reader never sees half a page.

    Owner-only (0600) like the spool, the database and the export: the page is
    product data; sharing it is the owner's decision (``chmod``), not a default.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o600)  # mkstemp's mode already; said here so nobody widens it
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(data)


def write_report(
    db: str | Path,
    out: str | Path,
    *,
    spool: str | Path | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> ReportResult:
    """Write the HTML report of ``db`` (opened read-only) to ``out``; returns what was written.

    ``spool`` adds its backlog and quarantine to the pipeline section. ``now`` is the
    clock for ages and the "generated" stamp (default: the current time). Raises
    :class:`~duckspool.exceptions.RepositoryError` when ``db`` does not exist (it is
    never created), :class:`~duckspool.exceptions.DatabaseLocked` when a writer holds
    it or a query fails, :class:`~duckspool.exceptions.ConfigurationError` when ``since`` is not
    before ``until``, and OSError when ``out`` cannot be written.
    """
    db_path, out_path = Path(db), Path(out)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    requested = Period(since, until)
    if not db_path.is_file():
        where = db_path if db_path.is_absolute() else f"{db_path} (in {Path.cwd()})"
        raise RepositoryError(
            f"no database at {where}: create it with `duckspool migrate`, then `duckspool load`; "
            "or try `duckspool demo`"
        )
    with DuckDBTelemetryRepository(db_path, read_only=True) as repo:
        con = repo.cursor()  # one cursor: the sections share its temporary tables
        try:
            total, first, last = span(con, requested)
            period = Period(since, until, first, last)
            sections: list[Section] = []
            if total:
                sections.append(overview_section(overview_figures(con, period), period))
                sections.append(auth_section(auth_figures(con, period), period))
                sections.append(exchanges_section(exchange_figures(con, period), period))
                sections.append(jobs_section(job_figures(con, period), period))
            loads = load_figures(con, requested)
        except duckdb.Error as exc:  # e.g. a view dropped or changed by hand
            raise RepositoryError(
                f"report query failed on {db_path}: {str(exc).splitlines()[0]}"
            ) from None
        finally:
            con.close()
    spool_path = Path(spool) if spool is not None else None
    spool_fig = spool_figures(spool_path, now) if spool_path is not None else None
    sections.append(pipeline_section(loads, spool_fig, requested))
    info = PageInfo(
        title="duckspool telemetry report",
        database=str(db_path),
        spool=str(spool_path) if spool_path is not None else "(not given)",
        period=period.describe(),
        generated=f"{now:%Y-%m-%d %H:%M} UTC",
        empty=_empty_text(int(total), period, db_path),
    )
    page = render_page(info, sections)
    size = _write(out_path, page)
    charts = page.count('role="img"')
    log.info("report of %d events written to %s (%d bytes)", total, out_path, size)
    return ReportResult(out_path, size, int(total), charts)
