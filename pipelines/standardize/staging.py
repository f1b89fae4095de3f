"""The stage of one entity: one SELECT per source over its raw landing table, unioned by name.

Per element: its raw value (source bindings, pipelines.contracts.bindings), reduced to DISTINCT
values that are mapped once (pipelines.standardize.value_maps) and joined back, giving the columns
``<element>`` (typed), ``<element>__oc`` (outcome), ``__rc`` (reason code), ``__raw`` (kept for
required, key and row-rule elements) and, for ID numbers, the other-document mapping (``__ovalue``,
``__ooc``, ``__orc``). Then the row-level resolution (pipelines.standardize.row_resolution).
"""

from __future__ import annotations

from pipelines.contracts.bindings import Binding, raw_table_bindings
from pipelines.contracts.sql import quote_identifier as qi
from pipelines.contracts.sql import quote_literal as ql
from pipelines.contracts.standard import DataElement
from pipelines.standardize import scrub
from pipelines.standardize.outcomes import record_value_outcomes
from pipelines.standardize.quarantine import rule_elements
from pipelines.standardize.row_resolution import resolve_sql
from pipelines.standardize.run_context import VALID_SENTINEL, StandardizeRun
from pipelines.standardize.value_maps import build_value_map, valid_predicate


def source_select(
    run: StandardizeRun, entity: str, source_id: str, raw_name: str, bindings: dict[str, Binding]
) -> str:
    """One SELECT over a raw table producing the stage columns for every element of the entity."""
    elements = run.std.entity_elements(entity, ("canonical",))
    keep_raw_of = rule_elements(run.std, entity)  # a row rule's quarantine row shows the raw value
    joins = []
    preds: list[str] = []
    cols = [
        f"{ql(source_id)} AS source_id",
        "r._file_id AS file_id",
        "CAST(r._row_number AS BIGINT) AS row_number",
        "r._std_received_at AS _received_at",
    ]
    for e in elements:
        name = e.element
        b = bindings.get(name)
        if b is None:
            cols += [
                f"CAST(NULL AS {e.sql_type}) AS {qi(name)}",
                f"'missing' AS {qi(name + '__oc')}",
                f"CAST(NULL AS VARCHAR) AS {qi(name + '__rc')}",
                f"CAST(NULL AS VARCHAR) AS {qi(name + '__raw')}",
            ]
            if e.normalizer == "id_number":
                cols += [
                    f"CAST(NULL AS VARCHAR) AS {qi(name + '__ovalue')}",
                    f"'missing' AS {qi(name + '__ooc')}",
                    f"CAST(NULL AS VARCHAR) AS {qi(name + '__orc')}",
                ]
            continue
        x = b.raw_sql
        if scrub.applies(e):  # free text: the row's own patient name replaced before DISTINCT
            nb = bindings.get("patient_name")
            x = scrub.row_sql(x, nb.raw_sql if nb else None)
        pred_sql = valid_predicate(b, x)
        dist = run.tmp("dist")
        # values the predicate proves canonical are counted in one sentinel group, never mapped
        key = f"CASE WHEN {pred_sql} THEN {ql(VALID_SENTINEL)} ELSE {x} END" if pred_sql else x
        pred = None
        if pred_sql:  # evaluated once per row in the inner select, used by several stage columns
            pred = f"r._std_p{len(preds)}"
            preds.append(f"{pred_sql} AS _std_p{len(preds)}")
        run.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {dist} AS SELECT {key} AS raw, count(*) AS n, "
            f"min(r._std_received_at) AS first_seen, max(r._std_received_at) AS last_seen "
            f"FROM {run.with_files(raw_name)} r GROUP BY ALL"
        )
        m = build_value_map(run, dist, b)
        if not (e.element == "diagnosis_name" and run.diagnosis is not None):  # recorded per (name, code)
            record_value_outcomes(run, entity, source_id, e, dist, m)
        alias = f"m{len(joins)}"
        joins.append(f"LEFT JOIN {m} {alias} ON {x} = {alias}.raw")
        keep_raw = e.required or name in keep_raw_of or name in run.std.record_keys[entity]
        if pred:
            cols += [
                f"CASE WHEN {pred} THEN TRY_CAST({x} AS {e.sql_type}) ELSE TRY_CAST({alias}.value AS {e.sql_type}) "
                f"END AS {qi(name)}",
                f"CASE WHEN {x} IS NULL THEN 'missing' WHEN {pred} THEN 'valid' ELSE {alias}.outcome END "
                f"AS {qi(name + '__oc')}",
            ]
        else:
            cols += [
                f"TRY_CAST({alias}.value AS {e.sql_type}) AS {qi(name)}",
                f"CASE WHEN {x} IS NULL THEN 'missing' ELSE {alias}.outcome END AS {qi(name + '__oc')}",
            ]
        cols += [
            f"{alias}.reason_code AS {qi(name + '__rc')}",
            f"{x if keep_raw else 'CAST(NULL AS VARCHAR)'} AS {qi(name + '__raw')}",
        ]
        if e.normalizer == "id_number":
            o = f"m{len(joins)}"
            joins.append(f"LEFT JOIN {m}_other {o} ON {x} = {o}.raw")
            if pred:
                ovalue = f"CASE WHEN {pred} THEN {x} ELSE {o}.value END"
                ooc = f"CASE WHEN {x} IS NULL THEN 'missing' WHEN {pred} THEN 'valid' ELSE {o}.outcome END"
            else:
                ovalue = f"{o}.value"
                ooc = f"CASE WHEN {x} IS NULL THEN 'missing' ELSE {o}.outcome END"
            cols += [
                f"{ovalue} AS {qi(name + '__ovalue')}",
                f"{ooc} AS {qi(name + '__ooc')}",
                f"{o}.reason_code AS {qi(name + '__orc')}",
            ]
    return (
        f"SELECT {', '.join(cols)} FROM (SELECT r.*"
        + "".join(", " + p for p in preds)
        + f" FROM {run.with_files(raw_name)} r) r "
        + " ".join(joins)
    )


def empty_stage_sql(elements: list[DataElement]) -> str:
    """An empty, correctly typed stage (no source has landed the entity yet)."""
    empty = ", ".join(
        [
            "NULL::VARCHAR AS source_id",
            "NULL::VARCHAR AS file_id",
            "NULL::BIGINT AS row_number",
            "NULL::TIMESTAMP AS _received_at",
        ]
        + [
            f"NULL::{e.sql_type} AS {qi(e.element)}, 'missing' AS {qi(e.element + '__oc')}, "
            f"NULL::VARCHAR AS {qi(e.element + '__rc')}, NULL::VARCHAR AS {qi(e.element + '__raw')}"
            + (
                f", NULL::VARCHAR AS {qi(e.element + '__ovalue')}, 'missing' AS {qi(e.element + '__ooc')}, "
                f"NULL::VARCHAR AS {qi(e.element + '__orc')}"
                if e.normalizer == "id_number"
                else ""
            )
            for e in elements
        ]
    )
    return f"SELECT {empty} WHERE false"


def build_stage(run: StandardizeRun, entity: str, report) -> str:
    """Create the temp table ``_std_stage_<entity>`` (every landed row of the entity in scope, mapped
    and resolved); adds landed rows and sources to ``report``. Returns the table name."""
    con = run.con
    rep = report
    elements = run.std.entity_elements(entity, ("canonical",))
    selects = []
    for source_id, cfg in sorted(run.sources.items()):
        raw_name_plain = f"{source_id}__{entity}"
        if not run.table_exists("raw", raw_name_plain):
            continue
        raw_name = f"raw.{qi(raw_name_plain)}"
        if run.table_exists("raw", "held_back_files"):  # refused files hold back their source-period
            raw_name = (
                f"(SELECT * FROM {raw_name} WHERE _file_id NOT IN (SELECT file_id FROM raw.held_back_files))"
            )
        bindings = raw_table_bindings(con, cfg, source_id, entity, elements)
        selects.append(source_select(run, entity, source_id, raw_name, bindings))
        rep.sources.append(source_id)
        rep.landed += con.execute(f"SELECT count(*) FROM {raw_name}").fetchall()[0][0]
    if not selects:  # no data yet: an empty, correctly typed stage
        selects.append(empty_stage_sql(elements))
    stage0 = f"_std_stage0_{entity}"
    con.execute(f"CREATE OR REPLACE TEMP VIEW {stage0} AS " + " UNION ALL BY NAME ".join(selects))
    stage = f"_std_stage_{entity}"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {stage} AS {resolve_sql(stage0, elements)}")
    con.execute(f"DROP VIEW {stage0}")
    return stage
