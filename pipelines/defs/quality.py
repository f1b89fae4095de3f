"""Data quality: the GX suites (expectations/) run once per run, then reported as asset checks.

Order: standardize → dbt build → ``quality/check_results`` (runs every suite, persists results)
→ asset checks (one per catalogue entry, shown on the asset it is about) and ``published/snapshot``
(refused when a blocking check failed). Blocking is enforced by the publish step rather than by
Dagster's ``blocking=True``: the checks target std.* assets upstream of dbt, and a Dagster-blocking
check there would have to run before dbt, while the mart checks must run after it.
"""

import dagster as dg

from pipelines.defs.publish import PUBLISHED_MARTS
from pipelines.defs.resources import WarehouseResource
from pipelines.defs.standardize import STD_TABLES

QUALITY_KEY = dg.AssetKey(["quality", "check_results"])


def asset_key_for_table(table: str) -> dg.AssetKey:
    schema, _, name = table.partition(".")
    if schema == "raw":
        return dg.AssetKey(["raw", "landing"])
    return dg.AssetKey([schema, name])


@dg.asset(
    key=QUALITY_KEY,
    group_name="quality",
    deps=[dg.AssetKey(["std", t]) for t in STD_TABLES] + PUBLISHED_MARTS,
    kinds={"python", "duckdb"},
    description="Runs every Great Expectations suite in expectations/ and persists the results "
    "(quality.check_results history, quality.scorecards, quality.mart_fitness).",
)
def quality_results(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from pipelines.ingest.registry import load_sources
    from pipelines.quality import build_data_docs, run_quality

    sources = load_sources(warehouse.source_folder)
    with warehouse.connect() as con:
        report = run_quality(con, context.run_id, log=context.log.info, sources=sources)
    docs = build_data_docs(warehouse.paths.data_dir / "quality_docs")
    failed = [r for r in report.results if r.status == "fail"]
    blocking = report.blocking_failures
    return dg.MaterializeResult(
        metadata={
            "checks": len(report.results),
            "failed": len(failed),
            "blocking_failed": len(blocking),
            "data_docs": dg.MetadataValue.path(str(docs)),
            "failures": dg.MetadataValue.md(
                "\n".join(
                    f"- **{r.check_id}** ({r.severity}, {r.category}): {r.violating_rows}/{r.denominator} "
                    f"> threshold {r.threshold} — {r.reason}"
                    for r in failed
                )
                or "none"
            ),
        }
    )


def asset_checks() -> list:
    from pipelines.quality import all_checks

    specs = all_checks()
    if not specs:
        return []
    by_name = {s.check_id: s for s in specs}

    @dg.multi_asset_check(
        specs=[
            dg.AssetCheckSpec(
                name=s.check_id,
                asset=asset_key_for_table(s.table),
                description=f"[{s.category}/{s.severity}] {s.description} — threshold {s.threshold}: {s.reason}",
                additional_deps=[QUALITY_KEY],
            )
            for s in specs
        ],
        can_subset=False,
        name="gx_checks",
    )
    def gx_checks(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
        with warehouse.connect(read_only=True) as con:
            rows = con.execute(
                "select check_id, status, violating_rows, denominator, rate, threshold, severity "
                "from quality.check_results where run_id = ?",
                [context.run.run_id],
            ).fetchall()
        seen = {}
        for check_id, status, bad, denom, rate, threshold, severity in rows:
            seen.setdefault(check_id, []).append((status, bad, denom, rate, threshold, severity))
        for name, spec in by_name.items():
            results = seen.get(name, [])
            failed = [r for r in results if r[0] == "fail"]
            yield dg.AssetCheckResult(
                asset_key=asset_key_for_table(spec.table),
                check_name=name,
                passed=bool(results) and not failed,
                severity=dg.AssetCheckSeverity.ERROR
                if spec.severity == "blocking"
                else dg.AssetCheckSeverity.WARN,
                metadata={
                    "violating_rows": int(sum(r[1] or 0 for r in results)),
                    "denominator": int(sum(r[2] or 0 for r in results)),
                    "threshold": float(spec.threshold),
                    "severity": spec.severity,
                    "category": spec.category,
                    "evaluated": len(results),
                },
            )

    return [gx_checks]
