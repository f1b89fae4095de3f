"""The dbt step on Spark: lake in, dbt-spark build, marts back into the DuckDB warehouse.

1. ``prepare``: the landing tables are mirrored to the lake (Parquet partitioned by source and
   period) and the dbt sources (std.*, ref.*) written next to them; the Spark warehouse directory
   of the previous build is cleared.
2. dbt builds with target ``spark`` (the caller runs it: Dagster streams it as asset events); the
   on-run-start hook registers the lake's source tables in Spark.
3. ``finish``: the marts dbt-spark built are imported into the DuckDB warehouse's ``marts``
   schema, where the quality suites, publish (the dashboards' snapshot) and ``indicators`` read them.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import duckdb

from pipelines.engines.spark import lake as lk
from pipelines.engines.spark.session import dbt_env, lake_dir, spark_warehouse_dir
from pipelines.settings import DUCKDB_MEMORY_LIMIT, Paths


def export_marts_setting() -> list[str] | None:
    """Which marts come back into DuckDB: all (default), or the comma-separated list in
    ``RW_SPARK_EXPORT_MARTS`` (at province scale: the aggregates the dashboards read)."""
    value = os.environ.get("RW_SPARK_EXPORT_MARTS", "").strip()
    return [t.strip() for t in value.split(",") if t.strip()] or None


def prepare(p: Paths, log: Callable[[str], None] = print) -> dict[str, str]:
    """Write the lake and return the environment for the dbt build on Spark."""
    lake = lake_dir(p)
    con = duckdb.connect(str(p.warehouse), read_only=True, config={"memory_limit": DUCKDB_MEMORY_LIMIT})
    try:
        lk.write_landing(con, lake, log=log)
        lk.write_sources(con, lake, log=log)
    finally:
        con.close()
    lk.reset_dbt_schemas(spark_warehouse_dir(p))
    return dbt_env(p)


def finish(p: Paths, log: Callable[[str], None] = print) -> dict[str, int]:
    """Import the marts and the reporting aggregates dbt-spark built into the DuckDB warehouse."""
    con = duckdb.connect(str(p.warehouse), config={"memory_limit": DUCKDB_MEMORY_LIMIT})
    try:
        counts = lk.import_tables(con, spark_warehouse_dir(p), "marts", export_marts_setting(), log=log)
        counts.update(lk.import_tables(con, spark_warehouse_dir(p), "reporting", log=log))
        return counts
    finally:
        con.close()
