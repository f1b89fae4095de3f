"""The Dagster definitions load (as `dagster dev` loads them) with the expected shape."""

from __future__ import annotations

import dagster as dg


def test_definitions_load_with_groups_sensor_schedule():
    from pipelines.definitions import defs

    repo = defs.get_repository_def()
    groups = {node.group_name for node in repo.asset_graph.asset_nodes if node.is_materializable}
    assert {"ingest", "standardize", "quality", "publish", "warehouse_staging", "warehouse_marts"} <= groups
    assert [s.name for s in defs.sensors] == ["inbox_sensor"]
    assert [s.name for s in defs.schedules] == ["nightly_build"]
    assert defs.resolve_job_def("warehouse_job").name == "warehouse_job"
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert {"raw/landing", "std/visits", "marts/indicator_values", "published/snapshot"} <= keys
    landing = repo.asset_graph.get(dg.AssetKey(["raw", "landing"]))
    assert set(landing.partitions_def.get_partition_keys()) == {
        "his_a",
        "his_b",
        "his_c",
        "referral_platform",
        "std_export",
    }
    # every GX catalogue check is declared as an asset check on the table it is about
    check_keys = {k.name for k in repo.asset_graph.asset_check_keys}
    assert "gx_checks" not in check_keys and len(check_keys) >= 10
