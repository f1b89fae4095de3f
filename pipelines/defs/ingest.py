"""Raw landing assets: every file in the inbox recorded once, rows kept as received."""

import warnings

import dagster as dg

from pipelines.defs.resources import WarehouseResource
from pipelines.ingest.registry import load_sources

LANDING_KEY = dg.AssetKey(["raw", "landing"])


class LandingConfig(dg.Config):
    """Restrict a (re-)run to some months of the file periods, e.g. ["202503"]. Empty = all."""

    months: list[str] = []


def build_raw_landing(source_ids: list[str]) -> dg.AssetsDefinition:
    """The landing asset, one partition per source YAML (``source_ids``, from the run's folder)."""
    # The single-run backfill policy (one run lands every selected source) is flagged beta in Dagster
    # 1.13; it is what lets the nightly job and `referral-warehouse run` land the whole inbox in one run.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*backfill_policy.*", category=dg.BetaWarning)
        return _raw_landing(source_ids)


def _raw_landing(source_ids: list[str]) -> dg.AssetsDefinition:
    @dg.asset(
        key=LANDING_KEY,
        group_name="ingest",
        partitions_def=dg.StaticPartitionsDefinition(source_ids),
        backfill_policy=dg.BackfillPolicy.single_run(),
        retry_policy=dg.RetryPolicy(max_retries=2, delay=5),
        kinds={"duckdb", "python"},
        description=(
            "Lands every new export file of the selected sources (one partition per source YAML in "
            "sources/): file registry raw.files, rows as text in raw.<source>__<entity>, malformed rows "
            "in raw.quarantine. Same file twice lands once; a corrected re-send replaces atomically."
        ),
    )
    def raw_landing(
        context: dg.AssetExecutionContext, config: LandingConfig, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        from pipelines.ingest import land_inbox
        from pipelines.runlock import RunLockHeld, hold_for_process

        try:  # runs Dagster launches itself (sensor, schedule, UI) hold the data dir from here on
            hold_for_process(warehouse.paths.data_dir, context.run_id, "dagster run", log=context.log.info)
        except RunLockHeld as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from None
        selected = list(context.partition_keys)
        sources = load_sources(warehouse.source_folder)
        all_selected = set(selected) == set(source_ids)
        with warehouse.connect() as con:
            report = land_inbox(
                con,
                warehouse.paths.inbox,
                sources,
                source_ids=None if all_selected else selected,
                months=config.months or None,
                log=context.log.info,
            )
        files = report.files
        table = (
            "| file | status | read | landed | quarantined | sha256 | reason |\n|---|---|---|---|---|---|---|\n"
            + "\n".join(
                f"| {f.source_id}/{f.path.name if hasattr(f.path, 'name') else f.path} | {f.status} | {f.rows_read} | "
                f"{f.rows_landed} | {f.rows_quarantined} | {(f.sha256 or '')[:12]} | {f.reason or ''} |"
                for f in files
            )
        )
        return dg.MaterializeResult(
            metadata={
                "files_seen": len(files),
                "files_landed": sum(f.status == "landed" for f in files),
                "files_rejected": sum(f.status == "rejected" for f in files),
                "files_duplicate": sum(f.status == "duplicate" for f in files),
                "rows_read": sum(f.rows_read or 0 for f in files),
                "rows_landed": sum(f.rows_landed or 0 for f in files),
                "rows_quarantined": sum(f.rows_quarantined or 0 for f in files),
                "files": dg.MetadataValue.md(table if files else "no new files"),
            }
        )

    return raw_landing


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["ref", "institutions"], description="Institution registry: level, type, county."),
        dg.AssetSpec(
            ["ref", "alliance_memberships"], description="Alliance (医共体/医联体) memberships over time."
        ),
    ],
    group_name="ingest",
    can_subset=False,
)
def institution_registry(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """The commission's institution and alliance registry (data/registry/*.csv) loaded into ref.*."""
    from pipelines.ingest import load_registry
    from pipelines.runlock import RunLockHeld, hold_for_process

    try:  # it may run before raw/landing: it takes the data dir too (a no-op once this run holds it)
        hold_for_process(warehouse.paths.data_dir, context.run_id, "dagster run", log=context.log.info)
    except RunLockHeld as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    with warehouse.connect() as con:
        counts = load_registry(con, warehouse.paths.registry)
    for key in ("institutions", "alliance_memberships"):
        yield dg.MaterializeResult(asset_key=["ref", key], metadata={"rows": int(counts.get(key, 0))})
