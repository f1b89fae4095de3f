"""Dagster definitions, one module per area: ingest, standardize, warehouse (dbt), quality, publish,
automation (jobs, sensor, schedule). Pure helpers live in the library packages beside ``defs``."""

from __future__ import annotations

import dagster as dg


def build_definitions() -> dg.Definitions:
    from pipelines.defs import automation, ingest, publish, quality, standardize, warehouse
    from pipelines.defs.engine import default_engine
    from pipelines.defs.resources import default_warehouse

    return dg.Definitions(
        assets=[
            ingest.raw_landing,
            ingest.institution_registry,
            standardize.standardized_tables,
            warehouse.warehouse_dbt_models,
            quality.quality_results,
            publish.published_snapshot,
        ],
        asset_checks=quality.asset_checks(),
        jobs=[automation.warehouse_job],
        schedules=[automation.nightly_build],
        sensors=[automation.inbox_sensor],
        resources={
            "warehouse": default_warehouse(),
            "dbt": warehouse.dbt_resource(),
            "engine": default_engine(),
        },
    )
