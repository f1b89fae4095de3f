"""The one resource every asset shares: where the warehouse and its inputs are."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.settings import DUCKDB_MEMORY_LIMIT, Paths, paths


class WarehouseResource(dg.ConfigurableResource):
    """Locations under one data directory (default ``data/``, or ``RW_DATA_DIR``).

    Assets open the warehouse only for the duration of their work and close it before the next
    step (dbt runs as a separate process and needs the file to itself).
    """

    data_dir: str = ""

    @property
    def paths(self) -> Paths:
        return paths(self.data_dir or None)

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        p = self.paths.ensure()
        con = duckdb.connect(
            str(p.warehouse), read_only=read_only, config={"memory_limit": DUCKDB_MEMORY_LIMIT}
        )
        try:
            yield con
        finally:
            con.close()


def default_warehouse() -> WarehouseResource:
    """Empty data_dir = resolved when used ($RW_DATA_DIR or ./data), so one loaded Definitions
    object serves whichever data directory the run was started for."""
    return WarehouseResource(data_dir="")


def dbt_env(warehouse: Path) -> dict[str, str]:
    """Environment for the dbt subprocess: it writes the same DuckDB file."""
    return {**os.environ, "RW_WAREHOUSE": str(warehouse)}
