"""Apache Spark (local mode) reads the export and gives DuckDB's answers.

Needs pyspark and Java 17+: skipped without them on a dev machine, failing in CI,
where .ci/run installs pyspark and sets DUCKSPOOL_REQUIRE_SPARK=1. One
SparkSession serves every check (starting one takes seconds).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from duckspool import DuckDBTelemetryRepository
from duckspool.repository import export_parquet
from tests.export_data import (
    BY_NAMESPACE_DAY,
    DAY0,
    DISTINCT_USERS,
    FUNNEL,
    ORDER,
    answers,
    events,
    require,
)

pytestmark = pytest.mark.spark
REQUIRE = "DUCKSPOOL_REQUIRE_SPARK"


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    require("pyspark", REQUIRE)
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        if os.environ.get(REQUIRE) == "1":
            pytest.fail("Spark is required here but no java is on PATH and JAVA_HOME is unset")
        pytest.skip("no Java runtime for Spark")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("duckspool-export-test")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def spark_answers(spark: Any, lake: Path) -> dict[str, Any]:
    frame = spark.read.parquet(str(lake))
    types = dict(frame.dtypes)
    assert types["id"] == "string" and types["payload"] == "string"
    assert types["occurred_at"] == "timestamp" and types["loaded_at"] == "timestamp"
    assert types["date"] == "date" and types["namespace"] == "string"
    frame.withColumn("day", frame["date"].cast("string")).createOrReplaceTempView("t")

    def q(sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in spark.sql(sql).collect()]

    assert q("SELECT count(*) FROM t WHERE to_date(occurred_at) != date") == [(0,)]
    lo, hi = q("SELECT unix_micros(min(occurred_at)), unix_micros(max(occurred_at)) FROM t")[0]
    return {
        "by_namespace_day": [(n, d, int(c)) for n, d, c in q(BY_NAMESPACE_DAY)],
        "distinct_users": int(q(DISTINCT_USERS)[0][0]),
        "funnel": tuple(int(v) for v in q(FUNNEL)[0]),
        "min_max_us": (int(lo), int(hi)),
        "amount_sum": int(q(
            "SELECT sum(CAST(get_json_object(payload, '$.amount') AS BIGINT)) FROM t "
            f"WHERE event_type = '{ORDER}'")[0][0]),
        "note_chars": int(q(
            "SELECT sum(length(get_json_object(payload, '$.note'))) FROM t "
            f"WHERE event_type = '{ORDER}'")[0][0]),
        "rows": int(q("SELECT count(*) FROM t")[0][0]),
        "distinct_ids": int(q("SELECT count(DISTINCT id) FROM t")[0][0]),
    }


def test_spark_reads_the_export_with_duckdbs_answers_before_and_after_an_increment(
    spark: Any, db_path: Path, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    with DuckDBTelemetryRepository(db_path) as repo:
        repo.save_many(events(1, 1500, 4))
        export_parquet(repo, lake)
        assert spark_answers(spark, lake) == answers(repo)

        repo.save_many(events(2, 400, 3, start=DAY0.replace(day=4)) + events(3, 1, 1))
        assert export_parquet(repo, lake).rows == 401
        expected = answers(repo)
        assert expected["rows"] == 1901
        assert spark_answers(spark, lake) == expected
