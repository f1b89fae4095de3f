"""Where the Spark engine keeps its lake and tables, and the environment of its dbt build.

The values come from :class:`pipelines.settings.SparkSettings` (resolved once at the entry point:
``RW_SPARK_MASTER``, ``RW_LAKE`` ...). Local defaults fit the 2-core, 24 GiB machine this project is
developed on: ``local[2]``, 4 shuffle partitions (Spark's 200 would make every tiny stage 200 tasks),
a 3 GiB driver. On a cluster set ``RW_SPARK_MASTER`` (or use a thrift/http dbt profile,
docs/scale-out.md).
"""

from __future__ import annotations

from pathlib import Path

from pipelines.settings import Paths, SparkSettings


def lake_dir(p: Paths, spark: SparkSettings) -> Path:
    return spark.lake_dir or p.data_dir / "lake"


def spark_warehouse_dir(p: Paths, spark: SparkSettings) -> Path:
    return spark.warehouse_dir or lake_dir(p, spark) / "spark-warehouse"


def dbt_env(p: Paths, spark: SparkSettings) -> dict[str, str]:
    """Environment for a dbt build on Spark (profiles.yml target ``spark`` reads these)."""
    return {
        "RW_DBT_TARGET": spark.dbt_target,
        "RW_LAKE": str(lake_dir(p, spark)),
        "RW_SPARK_WAREHOUSE": str(spark_warehouse_dir(p, spark)),
        "RW_SPARK_MASTER": spark.master,
        "RW_SPARK_DRIVER_MEMORY": spark.driver_memory,
        "RW_SPARK_SHUFFLE_PARTITIONS": spark.shuffle_partitions,
    }
