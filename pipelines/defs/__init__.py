"""Dagster definitions, one module per area: ingest, standardize, warehouse (dbt), quality, publish,
automation (jobs, sensor, schedule). Pure helpers live in the library packages beside ``defs``.

``build_definitions(settings)`` is called by the two entry points, ``pipelines/definitions.py``
(``dagster dev``) and ``referral-warehouse run``, with the settings they resolved."""

from __future__ import annotations

import dagster as dg

from pipelines.settings import Settings


def build_definitions(settings: Settings, reparse_dbt: bool = False) -> dg.Definitions:
    """Assets, checks, job, schedule and sensor for the data dir and source folder of ``settings``
    (one landing partition per source YAML). ``reparse_dbt``: parse the dbt project first
    (``dagster dev``); else only when it has no manifest yet."""
    from pipelines.defs import automation, ingest, publish, quality, standardize, warehouse
    from pipelines.defs.engine import EngineResource
    from pipelines.defs.resources import WarehouseResource
    from pipelines.ingest.registry import load_sources

    source_ids = sorted(load_sources(settings.sources_dir))
    nightly_build, inbox_sensor = automation.build_automation(settings, source_ids)
    return dg.Definitions(
        assets=[
            ingest.build_raw_landing(source_ids),
            ingest.institution_registry,
            standardize.standardized_tables,
            warehouse.build_warehouse_assets(reparse=reparse_dbt),
            quality.quality_results,
            publish.published_snapshot,
        ],
        asset_checks=quality.asset_checks(),
        jobs=[automation.warehouse_job],
        schedules=[nightly_build],
        sensors=[inbox_sensor],
        resources={
            "warehouse": WarehouseResource.from_settings(settings),
            "engine": EngineResource.from_settings(settings),
        },
    )
