"""Execution engines: where the warehouse is built.

- ``duckdb`` (default): everything in one embedded DuckDB file (``data/warehouse/warehouse.duckdb``).
- ``spark``: landing is mirrored to a Parquet lake partitioned by source and period, the dbt
  project builds on Apache Spark through dbt-spark, and the marts come back into the DuckDB
  warehouse file so the quality suites, publish, the dashboards and ``indicators`` run unchanged.
  See ``docs/scale-out.md``.

Chosen by ``referral-warehouse run --engine``, else ``RW_ENGINE``, else ``duckdb``, resolved once
into ``Settings.engine`` (pipelines/settings.py).
"""

from __future__ import annotations

from pipelines.settings import DEFAULT_ENGINE, ENGINES, UnknownEngine, resolve_engine

__all__ = ["DEFAULT_ENGINE", "ENGINES", "UnknownEngine", "resolve_engine"]
