"""Dagster entry point: ``dagster dev -m pipelines.definitions`` (or ``make dagster``)."""

from pipelines.defs import build_definitions

defs = build_definitions()
