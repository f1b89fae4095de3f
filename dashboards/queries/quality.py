"""Queries of the 数据质量 page: quality.* results, the quarantine summary (ingest) and the masked
row-level quarantine (``restricted``, this page only), unmapped terms."""

from __future__ import annotations

import pandas as pd

from data import Missing, query, table_columns

SCORECARD_GRAINS = ("source_element", "source", "element", "institution")


def _latest_run(table: str) -> str:
    return f"run_id = (select run_id from {table} order by run_at desc, run_id desc limit 1)"


def scorecards(grain: str = "source_element") -> pd.DataFrame | Missing:
    """Latest run's scorecards at one grain: conformance before vs after standardization (in %)."""
    cols = table_columns("quality.scorecards")
    if not cols:
        return Missing("quality.scorecards")
    if not {"grain", "conformance_before", "conformance_after"} <= cols:  # an older/other shape: show as is
        return query("select * from quality.scorecards order by all")
    return query(
        f"""
        select source_id, institution_code, entity, element, values_total,
               round(100 * conformance_before, 1) as valid_before_pct,
               round(100 * conformance_after, 1) as valid_after_pct,
               round(100 * (conformance_after - conformance_before), 1) as improvement_pct,
               checks_evaluated, checks_failed, blocking_failed,
               round(100 * check_pass_rate, 2) as check_pass_pct
        from quality.scorecards
        where grain = ? and {_latest_run("quality.scorecards")}
        order by source_id nulls first, institution_code nulls first, entity nulls first, element nulls first
        """,
        (grain,),
    )


def _overall_rows() -> str:
    """quality.check_results has per-source rows plus one ``ALL`` row per check: use the ALL rows."""
    return "(source_id = 'ALL' or not exists (select 1 from quality.check_results where source_id = 'ALL'))"


def accuracy_headline() -> pd.DataFrame | Missing:
    """Before -> after standardization per source plus one region-wide row (source_id ``ALL``), in %.

    Accuracy against the truth (``ingest.accuracy_by_field``, sample regions) when the snapshot has it,
    else conformance (``quality.scorecards`` at grain ``source``). Column ``measure`` says which."""
    if "records" in table_columns("ingest.accuracy_by_field"):
        return query(
            """
            with a as (select * from ingest.accuracy_by_field where element <> '(record)'),
            per as (
                select source_id, sum(records) as n, sum(correct_before) as b, sum(correct_after) as c
                from a group by source_id
                union all
                select 'ALL', sum(records), sum(correct_before), sum(correct_after) from a
            )
            select 'accuracy' as measure, source_id, n as values_total,
                   round(100.0 * b / nullif(n, 0), 1) as before_pct, round(100.0 * c / nullif(n, 0), 1) as after_pct
            from per order by source_id = 'ALL' desc, source_id
            """
        )
    cols = table_columns("quality.scorecards")
    if not {"grain", "conformance_before", "conformance_after", "values_total"} <= cols:
        return Missing("ingest.accuracy_by_field / quality.scorecards")
    return query(
        f"""
        with s as (
            select * from quality.scorecards where grain = 'source' and {_latest_run("quality.scorecards")}
        )
        select 'conformance' as measure, source_id, values_total,
               round(100 * conformance_before, 1) as before_pct, round(100 * conformance_after, 1) as after_pct
        from s
        union all
        select 'conformance', 'ALL', sum(values_total),
               round(100 * sum(conformance_before * values_total) / nullif(sum(values_total), 0), 1),
               round(100 * sum(conformance_after * values_total) / nullif(sum(values_total), 0), 1)
        from s
        order by source_id = 'ALL' desc, source_id
        """
    )


def kahn_heatmap() -> pd.DataFrame | Missing:
    """Latest run: per Kahn category (conformance / completeness / plausibility) x source, the share of
    evaluated values that pass (100 * (1 - violating / denominator)) and the failed checks."""
    return query(
        f"""
        select category, source_id,
               round(100 * (1 - sum(violating_rows) / nullif(sum(denominator), 0)), 2) as pass_pct,
               count(*) filter (where status = 'fail') as checks_failed,
               count(*) filter (where status <> 'skipped') as checks_evaluated
        from quality.check_results
        where {_latest_run("quality.check_results")} and source_id <> 'ALL' and source_id is not null
        group by category, source_id
        order by category, source_id
        """
    )


def check_runs() -> pd.DataFrame | Missing:
    return query(
        f"""
        select run_id, max(run_at) as run_at,
               count(distinct check_id) filter (where status <> 'skipped') as n_checks,
               count(distinct check_id) filter (where status = 'fail') as n_failed,
               count(distinct check_id) filter (where status = 'fail' and severity = 'blocking') as n_blocking_failed,
               coalesce(sum(violating_rows), 0)::bigint as violating_rows
        from quality.check_results
        where {_overall_rows()}
        group by run_id order by max(run_at), run_id
        """
    )


def check_results_latest() -> pd.DataFrame | Missing:
    return query(
        f"""
        select check_id, category, severity, source_id, entity, element, violating_rows, denominator,
               rate, threshold, status, reason
        from quality.check_results
        where {_latest_run("quality.check_results")} and {_overall_rows()}
        order by status, check_id
        """
    )


def check_changes() -> pd.DataFrame | Missing:
    """Per check (and source): this run's status vs the previous run's, with the change in violating rows."""
    cols = table_columns("quality.check_changes")
    if not cols:
        return Missing("quality.check_changes")
    if "violating_rows_delta" in cols:
        delta = "violating_rows_delta as delta"
    elif {"violating_rows", "previous_violating_rows"} <= cols:
        delta = "violating_rows - coalesce(previous_violating_rows, 0) as delta"
    else:
        delta = "null as delta"
    wanted = [
        "check_id", "source_id", "category", "severity", "previous_run_id", "run_id", "previous_status",
        "status", "change", "previous_violating_rows", "violating_rows",
    ]  # fmt: skip
    select = ", ".join(c for c in wanted if c in cols)
    order = (
        "case change when 'new' then 0 when 'still_failing' then 1 when 'resolved' then 2 else 3 end, "
        if ("change" in cols)
        else ""
    )
    source_first = "source_id <> 'ALL', " if "source_id" in cols else ""
    return query(
        f"select {select}, {delta} from quality.check_changes order by {order}{source_first}check_id"
    )


def mart_fitness() -> pd.DataFrame | Missing:
    cols = table_columns("quality.mart_fitness")
    if not cols:
        return Missing("quality.mart_fitness")
    wanted = ["mart", "verdict", "blocking_failed", "warnings_failed", "failing_checks", "reason"]
    select = ", ".join(c for c in wanted if c in cols) or "*"
    run_filter = f"where {_latest_run('quality.mart_fitness')}" if {"run_id", "run_at"} <= cols else ""
    return query(f"select {select} from quality.mart_fitness {run_filter} order by mart")


def quarantine_summary() -> pd.DataFrame | Missing:
    return query(
        """
        select source_id, entity, element, reason_code, reason, n_rows
        from ingest.quarantine_summary order by n_rows desc, source_id, element, reason_code
        """
    )


def quarantine_rows(limit: int = 500) -> pd.DataFrame | Missing:
    return query(
        """
        select q.source_id, q.entity, f.file_name, q.row_number, q.stage, q.element, q.raw_value,
               q.reason_code, q.reason
        from restricted.quarantine q left join ingest.files f using (file_id)
        order by q.source_id, f.file_name, q.row_number limit ?
        """,
        (limit,),
    )


def unmapped_terms() -> pd.DataFrame | Missing:
    return query("select * from ingest.unmapped_terms order by frequency desc, element, raw_value")
