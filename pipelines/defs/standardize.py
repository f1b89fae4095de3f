"""Standardization: raw landing → std.* tables on the data-element standard."""

import dagster as dg

from pipelines.defs.ingest import LANDING_KEY, institution_registry
from pipelines.defs.resources import WarehouseResource

STD_TABLES = {
    "visits": "门急诊与住院就诊 (one row per visit)",
    "referrals": "转诊单 with lifecycle timestamps",
    "followups": "随访 and family-doctor contacts",
    "contracts": "家庭医生签约",
    "slot_pools": "号源池 reserved for primary care",
    "slot_bookings": "号源预约",
    "visit_diagnoses": "all diagnoses of a visit, mapped to the terminology pack",
    "quarantine": "rows rejected during standardization, with reasons",
    "value_outcomes": "per distinct raw value: valid / corrected / invalid / unmapped",
    "unmapped_terms": "the unmapped-terms worklist for the quality team",
    "row_outcomes": "whole-row corrections (sex/birth date from a valid ID, inferred ID type, future dates)",
}
UPSTREAM = [LANDING_KEY, *institution_registry.keys]
REF_TABLES = {
    "data_elements": "the data-element standard (standard/data_elements.csv)",
    "value_domains": "value domains (standard/value_domains.csv)",
    "terminology": "diagnosis terminology pack",
    "reason_codes": "documented reason codes for invalid values and quarantined rows",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec([schema, name], description=desc, deps=UPSTREAM)
        for schema, tables in (("std", STD_TABLES), ("ref", REF_TABLES))
        for name, desc in tables.items()
    ],
    group_name="standardize",
    can_subset=False,
)
def standardized_tables(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Maps every landed value to the standard: distinct values normalized once in Python and joined
    back in DuckDB; persons become HMAC keys; rejects go to std.quarantine with a reason."""
    from pipelines.ingest.registry import load_sources
    from pipelines.standardize import load_or_create_secret, standardize_all

    secret = load_or_create_secret(warehouse.paths.secrets_dir)
    with warehouse.connect() as con:
        report = standardize_all(
            con,
            load_sources(warehouse.source_folder),
            secret,
            log=context.log.info,
            cache_dir=warehouse.paths.data_dir / "cache",  # diagnosis results kept across runs
        )
        counts = {}
        for schema, names in (("std", STD_TABLES), ("ref", REF_TABLES)):
            for name in names:
                exists = con.execute(
                    "select count(*) from information_schema.tables where table_schema=? and table_name=?",
                    [schema, name],
                ).fetchone()[0]
                counts[(schema, name)] = (
                    con.execute(f'select count(*) from {schema}."{name}"').fetchone()[0] if exists else 0
                )
    context.log.info(f"standardize: {report}")
    for (schema, name), n in counts.items():
        yield dg.MaterializeResult(asset_key=[schema, name], metadata={"rows": int(n)})
