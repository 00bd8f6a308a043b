"""``duckspool report``: one self-contained HTML page: what the product did, how the pipeline is.

Every figure is a DuckDB aggregate over the database opened read-only; the spool
is only looked at. The page inlines its scripts (Chart.js, vendored from npm) and
styles, escapes every value, and makes no network request (docs/report.md).
"""

from duckspool.report._build import ReportResult, write_report
from duckspool.report._period import parse_instant

__all__ = ["ReportResult", "parse_instant", "write_report"]
