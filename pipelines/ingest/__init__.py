"""Raw landing: where a file is read (docs/design.md, docs/ingestion.md).

Public API::

    land_inbox(con, inbox, sources, source_ids=None, months=None, log=print) -> LandingReport
    load_registry(con, registry_dir) -> dict[str, int]
    ensure_schema(con)
"""

from pipelines.ingest.landing import (
    FileResult,
    LandingReport,
    canonical_columns,
    ensure_schema,
    land_inbox,
    period_of,
    raw_table,
)
from pipelines.ingest.refdata import RegistryError, load_registry
from pipelines.ingest.registry import SourceConfig, SourceConfigError, load_sources

__all__ = [
    "FileResult",
    "LandingReport",
    "RegistryError",
    "SourceConfig",
    "SourceConfigError",
    "canonical_columns",
    "ensure_schema",
    "land_inbox",
    "load_registry",
    "load_sources",
    "period_of",
    "raw_table",
]
