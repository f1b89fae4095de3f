"""Dagster entry point: ``dagster dev -m pipelines.definitions`` (or ``make dagster``).

The one place the Dagster code location reads its environment (RW_DATA_DIR, RW_SOURCES_DIR,
RW_ENGINE ...: pipelines/settings.py); everything below receives the resolved settings."""

import os

from pipelines.defs import build_definitions
from pipelines.settings import Settings

defs = build_definitions(
    Settings.from_environ(os.environ), reparse_dbt=bool(os.environ.get("DAGSTER_IS_DEV_CLI"))
)
