"""A telemetry data set, its answers from DuckDB, and the same questions for other engines.

Shared by tests/test_export_engines.py (polars, chdb) and tests/spark/ (Spark):
every engine reads the Parquet export and must give DuckDB's answers.
"""

from __future__ import annotations

import importlib
import os
import random
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest

from duckspool import DuckDBTelemetryRepository, TelemetryEvent, make_event

DAY0 = datetime(2026, 3, 1, tzinfo=UTC)
LOGIN, ORDER = "action.auth.login", "exchange.order.placed"
_TYPES = (LOGIN, ORDER, "job.report.finished", "review.item.rated", "launch.app.opened")


def events(seed: int, count: int, days: int, start: datetime = DAY0) -> list[TelemetryEvent]:
    """``count`` events over ``days`` days from ``start``, plus some on the UTC day boundary."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        event_type = rng.choice(_TYPES)
        at = start + timedelta(microseconds=rng.randrange(days * 86_400_000_000))
        if i % 97 == 0:  # right before and at midnight UTC: the date partition must be UTC's
            at = start + timedelta(days=rng.randrange(days)) - timedelta(microseconds=i % 2)
        payload: dict[str, Any] = {"method": rng.choice(["password", "sso"]), "n": i}
        if event_type == ORDER:
            payload["amount"] = rng.randrange(1, 10_000)
            payload["note"] = "caf\u00e9 \"quoted\" \\ {json}"
        out.append(
            make_event(
                event_type,
                payload,
                session_id=f"s-{seed}-{i % 40}",
                user_id=f"u-{rng.randrange(30)}",
                correlation_id=f"c-{seed}-{i}",
                product_id=None if i % 5 == 0 else f"p-{i % 3}",
                timestamp=at,
            )
        )
    return out


# The questions, in SQL that DuckDB, ClickHouse and Spark SQL all accept over a table
# ``t`` with the export's columns plus ``day`` (the partition's date as 'YYYY-MM-DD').
FUNNEL = (
    "SELECT sum(CASE WHEN a IS NOT NULL THEN 1 ELSE 0 END), "
    "sum(CASE WHEN b > a THEN 1 ELSE 0 END) FROM ("
    f"  SELECT user_id, min(CASE WHEN event_type = '{LOGIN}' THEN occurred_at END) AS a, "
    f"  min(CASE WHEN event_type = '{ORDER}' THEN occurred_at END) AS b "
    "  FROM t GROUP BY user_id) f"
)
BY_NAMESPACE_DAY = (
    "SELECT namespace, day, count(*) FROM t GROUP BY namespace, day ORDER BY namespace, day"
)
DISTINCT_USERS = "SELECT count(DISTINCT user_id) FROM t"


def answers(repo: DuckDBTelemetryRepository) -> dict[str, Any]:
    """DuckDB's answers from the table itself: what every engine must reproduce."""
    source = (
        "(SELECT *, strftime(DATE '1970-01-01' + CAST(floor(epoch_us(occurred_at) / 86400000000) "
        "AS INTEGER), '%Y-%m-%d') AS day FROM telemetry_events) t"
    )

    def q(sql: str) -> list[tuple[Any, ...]]:
        return repo.fetch(sql.replace("FROM t", f"FROM {source}"))[1]

    return {
        "by_namespace_day": [(n, d, int(c)) for n, d, c in q(BY_NAMESPACE_DAY)],
        "distinct_users": int(q(DISTINCT_USERS)[0][0]),
        "funnel": tuple(int(v) for v in q(FUNNEL)[0]),
        "min_max_us": tuple(
            int(v) for v in q("SELECT epoch_us(min(occurred_at)), epoch_us(max(occurred_at)) FROM t")[0]
        ),
        "amount_sum": int(
            q(f"SELECT sum(CAST(json_extract_string(payload, '$.amount') AS BIGINT)) FROM t "
              f"WHERE event_type = '{ORDER}'")[0][0]
        ),
        "note_chars": int(
            q(f"SELECT sum(length(json_extract_string(payload, '$.note'))) FROM t "
              f"WHERE event_type = '{ORDER}'")[0][0]
        ),
        "rows": int(q("SELECT count(*) FROM t")[0][0]),
        "distinct_ids": int(q("SELECT count(DISTINCT id) FROM t")[0][0]),
    }


def require(module: str, env: str) -> ModuleType:
    """Import an optional engine; skip without it unless ``env`` says CI requires it (then fail)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if os.environ.get(env) == "1":
            pytest.fail(f"{module} is required here ({env}=1) but cannot be imported: {exc}")
        pytest.skip(f"{module} is not installed (pip install -e '.[engines]'; CI sets {env}=1)")
