"""What happened to each value and row: std.value_outcomes and std.row_outcomes.

Value outcomes: per (entity, element, source, distinct raw value) the normalized value, outcome
(valid / corrected / invalid / unmapped / missing), rule and reason code, with row counts; valid
values of high-cardinality types and every outcome of personal data are aggregated (raw_value NULL).
Row outcomes: corrections that act on a row after the value outcomes (sex and birth date taken from
a valid resident ID, ID type inferred, county derived from the ID's area code, FUTURE_DATE); the
flags are computed by :mod:`pipelines.standardize.row_resolution`.
"""

from __future__ import annotations

from pipelines.contracts.sql import quote_identifier as qi
from pipelines.contracts.sql import quote_literal as ql
from pipelines.contracts.standard import DataElement
from pipelines.standardize import scrub
from pipelines.standardize.element_types import ELEMENT_TYPES, RECEIVED
from pipelines.standardize.run_context import VALID_SENTINEL, StandardizeRun

VALUE_OUTCOMES_DDL = """
CREATE TABLE IF NOT EXISTS std.value_outcomes (
    entity VARCHAR, element VARCHAR, source_id VARCHAR, raw_value VARCHAR, normalized_value VARCHAR,
    outcome VARCHAR, rule VARCHAR, reason_code VARCHAR, n_rows BIGINT,
    first_seen TIMESTAMP, last_seen TIMESTAMP
)"""
ROW_OUTCOMES_DDL = """
CREATE TABLE IF NOT EXISTS std.row_outcomes (
    entity VARCHAR, element VARCHAR, source_id VARCHAR, outcome VARCHAR, rule VARCHAR, reason_code VARCHAR,
    n_rows BIGINT, first_seen TIMESTAMP, last_seen TIMESTAMP
)"""
# row flag of the stage (row_resolution) -> (element, outcome, rule, reason code) in std.row_outcomes
ROW_CORRECTIONS = (
    ("_sex_mismatch", "sex_code", "corrected", "sex_from_id", "ID_SEX_MISMATCH"),
    ("_sex_from_id", "sex_code", "corrected", "sex_from_id", None),
    ("_birth_mismatch", "birth_date", "corrected", "birth_date_from_id", "ID_BIRTHDATE_MISMATCH"),
    ("_birth_from_id", "birth_date", "corrected", "birth_date_from_id", None),
    ("_type_inferred", "patient_id_type", "corrected", "id_type_inferred", None),
    ("_county_from_id", "residence_county_code", "derived", "county_from_id_area_code", None),
)


def is_high_cardinality(e: DataElement) -> bool:
    kind = ELEMENT_TYPES.get(e.normalizer)
    return bool(kind and kind.high_cardinality)


def record_value_outcomes(
    run: StandardizeRun, entity: str, source_id: str, e: DataElement, dist: str, m: str
) -> None:
    sentinel = ql(VALID_SENTINEL)
    raw = scrub.outcome_raw_sql("d.raw") if scrub.applies(e) else "d.raw"
    base = (
        f"SELECT {ql(entity)} AS entity, {ql(e.element)} AS element, {ql(source_id)} AS source_id, "
        f"CASE WHEN d.raw = {sentinel} THEN NULL ELSE {raw} END AS raw, m.value, "
        f"CASE WHEN d.raw = {sentinel} THEN 'valid' ELSE coalesce(m.outcome, 'missing') END AS outcome, "
        f"m.rule, m.reason_code, d.n, d.first_seen, d.last_seen FROM {dist} d LEFT JOIN {m} m ON d.raw = m.raw"
    )
    if e.pii or e.normalizer == "id_number":
        sql = (
            "SELECT entity, element, source_id, NULL, NULL, outcome, rule, reason_code, sum(n), "
            f"min(first_seen), max(last_seen) FROM ({base}) GROUP BY ALL"
        )
    elif is_high_cardinality(e):
        sql = (
            f"SELECT entity, element, source_id, CASE WHEN outcome = 'valid' THEN NULL ELSE raw END, "
            "CASE WHEN outcome = 'valid' THEN NULL ELSE value END, outcome, rule, reason_code, sum(n), "
            f"min(first_seen), max(last_seen) FROM ({base}) GROUP BY ALL"
        )
    else:
        sql = base
    run.con.execute(f"INSERT INTO {run.value_outcomes} {sql}")


def record_row_outcomes(run: StandardizeRun, entity: str, stage: str, elements: list[DataElement]) -> None:
    """Row-level corrections (sex/birth date from the ID, inferred ID type, future dates) into
    std.row_outcomes: they act after the value-level outcomes of std.value_outcomes."""
    con = run.con
    cols = run.stage_columns(stage)
    for flag, element, outcome, rule, reason in ROW_CORRECTIONS:
        if flag not in cols:
            continue
        con.execute(
            f"INSERT INTO {run.row_outcomes} SELECT ?, ?, source_id, ?, ?, ?, count(*), "
            f"min(_received_at), max(_received_at) FROM {stage} WHERE {flag} GROUP BY source_id",
            [entity, element, outcome, rule, reason],
        )
    for e in elements:
        if e.max == RECEIVED:
            con.execute(
                f"INSERT INTO {run.row_outcomes} SELECT ?, ?, source_id, 'invalid', NULL, "
                f"'FUTURE_DATE', count(*), min(_received_at), max(_received_at) FROM {stage} "
                f"WHERE {qi(e.element + '__rc')} = 'FUTURE_DATE' GROUP BY source_id",
                [entity, e.element],
            )


def reaggregate_outcomes(con, entity: str) -> None:
    """One row per outcome key in std.value_outcomes / std.row_outcomes (counts summed, first/last seen
    widened): the same table whether the rows came in one full run or in several incremental ones."""
    for table, keys in (
        (
            "std.value_outcomes",
            "entity, element, source_id, raw_value, normalized_value, outcome, rule, reason_code",
        ),
        ("std.row_outcomes", "entity, element, source_id, outcome, rule, reason_code"),
    ):
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _std_agg AS SELECT {keys}, CAST(sum(n_rows) AS BIGINT) AS n_rows, "
            f"min(first_seen) AS first_seen, max(last_seen) AS last_seen FROM {table} WHERE entity = ? "
            f"GROUP BY {keys}",
            [entity],
        )
        con.execute(f"DELETE FROM {table} WHERE entity = ?", [entity])
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _std_agg")
        con.execute("DROP TABLE _std_agg")
