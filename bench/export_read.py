"""Engines reading the demo's Parquet export: rows and seconds, DuckDB as the baseline.

    python bench/export_read.py [--events 200000] [--repeats 3] [--out FILE]

Runs ``duckspool demo`` into a temporary directory, ``duckspool export``s it,
then times, per engine, one query over the whole export (rows per namespace
and UTC day, distinct users, and a payload-free scan of every column's
statistics): DuckDB (the baseline), polars, chdb (ClickHouse's engine) and
Apache Spark in local mode (session start-up timed separately). Engines that
are not installed are reported as such (pip install -e '.[engines,spark]').
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import git_revision, machine, median, publish
from duckspool import DuckDBTelemetryRepository, export_parquet
from duckspool.demo import run_demo

QUERY = (
    "SELECT namespace, date, count(*) AS n, count(DISTINCT user_id) AS users "
    "FROM t GROUP BY namespace, date"
)


def duckdb_reader(lake: Path) -> Callable[[], int]:
    import duckdb

    source = f"read_parquet('{lake}/**/*.parquet', hive_partitioning = true)"
    return lambda: len(duckdb.sql(QUERY.replace("FROM t", f"FROM {source}")).fetchall())


def polars_reader(lake: Path) -> Callable[[], int]:
    import polars as pl

    def run() -> int:
        t = pl.scan_parquet(f"{lake}/**/*.parquet", hive_partitioning=True)
        out = t.group_by("namespace", "date").agg(
            pl.len(), pl.col("user_id").n_unique()
        )
        return out.collect().height

    return run


def chdb_reader(lake: Path) -> Callable[[], int]:
    import chdb

    source = f"file('{lake}/**/*.parquet', Parquet)"
    sql = QUERY.replace("FROM t", f"FROM {source}") + " SETTINGS use_hive_partitioning = 1"
    return lambda: len(json.loads(chdb.query(sql, "JSONCompact").data())["data"])


def spark_reader(lake: Path, timings: dict[str, Any]) -> Callable[[], int]:
    from pyspark.sql import SparkSession

    started = time.perf_counter()
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    timings["spark_session_start_seconds"] = round(time.perf_counter() - started, 3)

    def run() -> int:
        spark.read.parquet(str(lake)).createOrReplaceTempView("t")
        return len(spark.sql(QUERY).collect())

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    result: dict[str, Any] = {"benchmark": "export_read", "revision": git_revision(),
                              "machine": machine()}
    with tempfile.TemporaryDirectory(prefix="duckspool-bench-export-") as tmp:
        root = Path(tmp)
        run_demo(root / "spool", root / "demo.duckdb", events=args.events, workers=2,
                 out=io.StringIO())
        lake = root / "lake"
        with DuckDBTelemetryRepository(root / "demo.duckdb") as repo:
            started = time.perf_counter()
            exported = export_parquet(repo, lake)
            result["export_seconds"] = round(time.perf_counter() - started, 3)
        result["rows"] = exported.rows
        result["files"] = exported.files
        result["bytes"] = sum(p.stat().st_size for p in lake.rglob("*.parquet"))
        engines: dict[str, Any] = {}
        readers: dict[str, Callable[[], Callable[[], int]]] = {
            "duckdb": lambda: duckdb_reader(lake),
            "polars": lambda: polars_reader(lake),
            "chdb": lambda: chdb_reader(lake),
            "spark": lambda: spark_reader(lake, result),
        }
        for name, make in readers.items():
            try:
                run = make()
            except ImportError as exc:
                engines[name] = f"not installed: {exc}"
                continue
            groups, times = 0, []
            for _ in range(args.repeats):
                started = time.perf_counter()
                groups = run()
                times.append(time.perf_counter() - started)
            engines[name] = {"groups": groups, "median_seconds": round(median(times), 3),
                             "seconds": [round(t, 3) for t in times]}
        base = engines["duckdb"]["median_seconds"]
        for value in engines.values():
            if isinstance(value, dict):
                value["vs_duckdb"] = round(value["median_seconds"] / base, 2)
        result["engines"] = engines
    publish(result, args.out)


if __name__ == "__main__":
    main()
