"""The published snapshot: only after the blocking checks of this run passed."""

import dagster as dg

from pipelines.defs.resources import WarehouseResource

# The marts and reporting aggregates the snapshot publishes; publication waits for them (and dbt's tests).
PUBLISHED_MARTS = [
    dg.AssetKey(["marts", name])
    for name in (
        "indicator_registry",
        "indicator_values",
        "dim_institutions",
        "fct_referrals",
        "fct_visits",
        "fct_slot_bookings",
        "fct_undertreated_cases",
    )
] + [  # the aggregates the dashboards and the monthly report read (dbt models/reporting)
    dg.AssetKey(["reporting", name])
    for name in (
        "referral_summary",
        "referral_level_flows",
        "referral_institution_flows",
        "referral_county_flows",
        "referral_return_reasons",
        "referral_timeliness_bins",
        "referral_fd_contact_by_institution",
        "undertreated_by_institution",
        "undertreated_by_criterion",
        "slot_pools_by_institution",
        "slot_bookings_by_institution",
    )
]


def blocking_failures(con, run_id: str) -> list[tuple[str, str]]:
    """(check_id, reason) of blocking checks that failed in this run."""
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema='quality' and table_name='check_results'"
    ).fetchone()[0]
    if not exists:
        return []
    return con.execute(
        "select check_id, coalesce(reason, description, '') from quality.check_results "
        "where run_id = ? and severity = 'blocking' and status = 'fail' order by check_id",
        [run_id],
    ).fetchall()


def held_back(con) -> list[tuple]:
    """(source_id, period, file_name, reason, files_withheld, rows_withheld) of every refused file:
    the file and its source's rows of that period are not in this publication (docs/ingestion.md)."""
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema='raw' and table_name='held_back'"
    ).fetchone()[0]
    if not exists:
        return []
    return con.execute(
        "select source_id, period, file_name, reason, files_withheld, rows_withheld from raw.held_back "
        "order by source_id, period, file_name"
    ).fetchall()


@dg.asset(
    key=["published", "snapshot"],
    group_name="publish",
    deps=PUBLISHED_MARTS + [dg.AssetKey(["quality", "check_results"])],
    kinds={"duckdb"},
    description=(
        "Atomic read-only snapshot for the dashboards (data/published/current.duckdb). Refused when a "
        "blocking data-quality check failed in this run: the previous snapshot stays in place."
    ),
)
def published_snapshot(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    from pipelines.publish.snapshot import publish

    with warehouse.connect(read_only=True) as con:
        failures = blocking_failures(con, context.run_id)
        held = held_back(con)
    if failures:
        lines = "\n".join(f"- {cid}: {why}" for cid, why in failures)
        raise dg.Failure(
            description=f"Not published: {len(failures)} blocking data-quality check(s) failed. "
            f"The previous snapshot stays in place.\n{lines}",
            metadata={"blocking_failures": dg.MetadataValue.md(lines)},
        )
    from pipelines.settings import secure_tree

    path = publish(
        warehouse.paths.warehouse, warehouse.paths.published_dir, context.run_id, log=context.log.info
    )
    table = "| source | period | refused file | reason | landed files withheld | rows withheld |\n|---|---|---|---|---|---|\n"
    table += "\n".join(f"| {h[0]} | {h[1] or '?'} | {h[2]} | {h[3]} | {h[4]} | {h[5]} |" for h in held)
    if held:
        context.log.warning(
            f"published with {len(held)} refused file(s) holding back their source-period: "
            + "; ".join(f"{h[0]}/{h[2]} ({h[1] or '?'}): {h[3]}" for h in held)
        )
    # every run checks and fixes the modes of the private files (warehouse, landing, snapshots, secret)
    fixed = secure_tree(warehouse.paths)
    for line in fixed:
        context.log.warning(f"file mode fixed: {line}")
    return dg.MaterializeResult(
        metadata={
            "snapshot": str(path),
            "size_bytes": path.stat().st_size,
            "held_back_files": len(held),
            "held_back": dg.MetadataValue.md(table if held else "nothing held back"),
            "file_modes_fixed": len(fixed),
        }
    )
