"""The engine resource: which engine builds the warehouse (pipelines.engines), and Spark's settings."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipelines.settings import Settings, SparkSettings, resolve_engine


class EngineResource(dg.ConfigurableResource):
    """``duckdb`` (default) or ``spark``, with the Spark engine's settings (empty = defaults)."""

    name: str = ""
    spark_master: str = SparkSettings.master
    spark_driver_memory: str = SparkSettings.driver_memory
    spark_shuffle_partitions: str = SparkSettings.shuffle_partitions
    lake_dir: str = ""
    spark_warehouse_dir: str = ""
    spark_dbt_target: str = SparkSettings.dbt_target
    spark_export_marts: list[str] = []

    @classmethod
    def from_settings(cls, settings: Settings) -> EngineResource:
        spark = settings.spark
        return cls(
            name=settings.engine,
            spark_master=spark.master,
            spark_driver_memory=spark.driver_memory,
            spark_shuffle_partitions=spark.shuffle_partitions,
            lake_dir=str(spark.lake_dir or ""),
            spark_warehouse_dir=str(spark.warehouse_dir or ""),
            spark_dbt_target=spark.dbt_target,
            spark_export_marts=list(spark.export_marts),
        )

    @property
    def resolved(self) -> str:
        return resolve_engine(self.name or None)

    @property
    def spark_settings(self) -> SparkSettings:
        return SparkSettings(
            master=self.spark_master,
            driver_memory=self.spark_driver_memory,
            shuffle_partitions=self.spark_shuffle_partitions,
            lake_dir=Path(self.lake_dir) if self.lake_dir else None,
            warehouse_dir=Path(self.spark_warehouse_dir) if self.spark_warehouse_dir else None,
            dbt_target=self.spark_dbt_target,
            export_marts=tuple(self.spark_export_marts),
        )
