"""The engine resource: which engine builds the warehouse (pipelines.engines)."""

from __future__ import annotations

import dagster as dg

from pipelines.engines import resolve_engine


class EngineResource(dg.ConfigurableResource):
    """``duckdb`` (default) or ``spark``. Empty = resolved when used: $RW_ENGINE, else duckdb,
    so one loaded Definitions object serves ``referral-warehouse run --engine ...``."""

    name: str = ""

    @property
    def resolved(self) -> str:
        return resolve_engine(self.name or None)


def default_engine() -> EngineResource:
    return EngineResource(name="")
