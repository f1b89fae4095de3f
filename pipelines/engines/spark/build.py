"""The dbt step on Spark: lake in, dbt-spark build, marts back into the DuckDB warehouse.

1. ``prepare``: the landing tables are mirrored to the lake (Parquet partitioned by source and
   period) and the dbt sources (std.*, ref.*) written next to them; the Spark warehouse directory
   of the previous build is cleared.
2. dbt builds with target ``spark`` (the caller runs it: Dagster streams it as asset events); the
   on-run-start hook registers the lake's source tables in Spark.
3. ``finish``: the marts and reporting aggregates dbt-spark built are imported into the DuckDB warehouse's ``marts``/``reporting``
   schema, where the quality suites, publish (the dashboards' snapshot) and ``indicators`` read them.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from pipelines.engines.spark import lake as lk
from pipelines.engines.spark.session import dbt_env, lake_dir, spark_warehouse_dir
from pipelines.settings import Settings


def prepare(settings: Settings, log: Callable[[str], None] = print) -> dict[str, str]:
    """Write the lake and return the environment for the dbt build on Spark."""
    p, spark = settings.paths, settings.spark
    lake = lake_dir(p, spark)
    con = duckdb.connect(
        str(p.warehouse), read_only=True, config={"memory_limit": settings.duckdb_memory_limit}
    )
    try:
        lk.write_landing(con, lake, log=log)
        lk.write_sources(con, lake, log=log)
    finally:
        con.close()
    lk.reset_dbt_schemas(spark_warehouse_dir(p, spark))
    return dbt_env(p, spark)


def finish(settings: Settings, log: Callable[[str], None] = print) -> dict[str, int]:
    """Import the marts dbt-spark built (all of them, or the ones in ``SparkSettings.export_marts``,
    ``RW_SPARK_EXPORT_MARTS``) and the reporting aggregates the dashboards read into the DuckDB warehouse."""
    p, spark = settings.paths, settings.spark
    con = duckdb.connect(str(p.warehouse), config={"memory_limit": settings.duckdb_memory_limit})
    try:
        marts = list(spark.export_marts) or None
        counts = lk.import_tables(con, spark_warehouse_dir(p, spark), "marts", marts, log=log)
        counts.update(lk.import_tables(con, spark_warehouse_dir(p, spark), "reporting", log=log))
        return counts
    finally:
        con.close()
