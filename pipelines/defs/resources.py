"""The one resource every asset shares: where the warehouse and its inputs are.

It is built from the run's :class:`~pipelines.settings.Settings` (``WarehouseResource.from_settings``),
resolved once by the entry point (``referral-warehouse run``, ``pipelines/definitions.py``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.settings import DUCKDB_MEMORY_LIMIT, SOURCES_DIR, Paths, Settings, paths


class WarehouseResource(dg.ConfigurableResource):
    """Locations under one data directory (empty = the project's ``data/``), the locations moved
    out of it, the source YAML folder and DuckDB's memory cap.

    Assets open the warehouse only for the duration of their work and close it before the next
    step (dbt runs as a separate process and needs the file to itself).
    """

    data_dir: str = ""
    moved: dict[str, str] = {}
    sources_dir: str = ""
    duckdb_memory_limit: str = DUCKDB_MEMORY_LIMIT

    @classmethod
    def from_settings(cls, settings: Settings) -> WarehouseResource:
        return cls(
            data_dir=str(settings.paths.data_dir),
            moved={name: str(path) for name, path in settings.paths.moved.items()},
            sources_dir=str(settings.sources_dir),
            duckdb_memory_limit=settings.duckdb_memory_limit,
        )

    @property
    def paths(self) -> Paths:
        base = paths(self.data_dir or None)
        return Paths(base.data_dir, {name: Path(p) for name, p in self.moved.items()})

    @property
    def source_folder(self) -> Path:
        return Path(self.sources_dir) if self.sources_dir else SOURCES_DIR

    def settings(self, engine: dg.ConfigurableResource | None = None) -> Settings:
        """The run's settings again (engine and Spark from the ``engine`` resource when given)."""
        extra = {"engine": engine.resolved, "spark": engine.spark_settings} if engine is not None else {}
        return Settings(
            paths=self.paths,
            sources_dir=self.source_folder,
            duckdb_memory_limit=self.duckdb_memory_limit,
            **extra,
        )

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        p = self.paths.ensure()
        con = duckdb.connect(
            str(p.warehouse), read_only=read_only, config={"memory_limit": self.duckdb_memory_limit}
        )
        try:
            yield con
        finally:
            con.close()
