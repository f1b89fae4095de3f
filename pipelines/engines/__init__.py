"""Execution engines: where the warehouse is built.

- ``duckdb`` (default): everything in one embedded DuckDB file (``data/warehouse/warehouse.duckdb``).
- ``spark``: landing is mirrored to a Parquet lake partitioned by source and period, the dbt
  project builds on Apache Spark through dbt-spark, and the marts come back into the DuckDB
  warehouse file so the quality suites, publish, the dashboards and ``indicators`` run unchanged.
  See ``docs/scale-out.md``.

Chosen by ``referral-warehouse run --engine``, else ``RW_ENGINE``, else ``duckdb``.
"""

from __future__ import annotations

import os

ENGINES = ("duckdb", "spark")
DEFAULT_ENGINE = "duckdb"


class UnknownEngine(ValueError):
    pass


def resolve_engine(name: str | None = None) -> str:
    """The engine to use: an explicit name, else $RW_ENGINE, else duckdb."""
    engine = (name or os.environ.get("RW_ENGINE") or DEFAULT_ENGINE).strip().lower()
    if engine not in ENGINES:
        raise UnknownEngine(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
    return engine
