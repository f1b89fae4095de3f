"""Spark settings for one machine (local mode) or a cluster, read from the environment.

Local defaults fit the 2-core, 24 GiB machine this project is developed on: ``local[2]``, 4 shuffle
partitions (Spark's 200 would make every tiny stage 200 tasks), a 3 GiB driver. On a cluster set
``RW_SPARK_MASTER`` (or use a thrift/http dbt profile, docs/scale-out.md).
"""

from __future__ import annotations

import os
from pathlib import Path

from pipelines.settings import Paths


def lake_dir(p: Paths) -> Path:
    value = os.environ.get("RW_LAKE")
    return Path(value).expanduser().resolve() if value else p.data_dir / "lake"


def spark_warehouse_dir(p: Paths) -> Path:
    value = os.environ.get("RW_SPARK_WAREHOUSE")
    return Path(value).expanduser().resolve() if value else lake_dir(p) / "spark-warehouse"


def local_conf(p: Paths) -> dict[str, str]:
    """Spark configuration of the local session (the same as dbt_project/profiles.yml's spark target)."""
    warehouse = spark_warehouse_dir(p)
    return {
        "spark.master": os.environ.get("RW_SPARK_MASTER", "local[2]"),
        "spark.driver.memory": os.environ.get("RW_SPARK_DRIVER_MEMORY", "3g"),
        "spark.sql.shuffle.partitions": os.environ.get("RW_SPARK_SHUFFLE_PARTITIONS", "4"),
        "spark.sql.warehouse.dir": str(warehouse),
        "spark.sql.catalogImplementation": "in-memory",
        "spark.sql.legacy.createHiveTableByDefault": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.driver.extraJavaOptions": f"-Duser.timezone=UTC -Dderby.system.home={warehouse}",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.ansi.enabled": "false",
    }


def dbt_env(p: Paths) -> dict[str, str]:
    """Environment for a dbt build on Spark (profiles.yml target ``spark`` reads these)."""
    lake = lake_dir(p)
    warehouse = spark_warehouse_dir(p)
    return {
        "RW_DBT_TARGET": os.environ.get("RW_DBT_TARGET_SPARK", "spark"),
        "RW_LAKE": str(lake),
        "RW_SPARK_WAREHOUSE": str(warehouse),
    }


def get_session(p: Paths):
    """A local SparkSession with ``local_conf`` (created once per process)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("referral-warehouse")
    for key, value in local_conf(p).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
