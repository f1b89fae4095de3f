"""SQL of each rule's row predicate and the computed frame over a relation (pipelines.quality.relations).

Every check compiles to one boolean column of a *computed frame*: TRUE = the row passes, FALSE =
it violates, NULL = the rule does not apply to the row. DuckDB computes that frame over the whole
table, so the counts (violating rows, denominator) are exact at any scale; GX validates the same
frame (or a deterministic sample of it), and drill-down filters it to the FALSE rows.
"""

from __future__ import annotations

import duckdb

from pipelines.contracts.resident_id import CHECK_CHARACTERS, check_sum_sql
from pipelines.contracts.sql import quote_identifier as q
from pipelines.contracts.sql import quote_literal as lit
from pipelines.privacy import personal_data
from pipelines.quality.catalogue import Catalogue, CheckSpec
from pipelines.quality.relations import Relation, qualified_name, table_exists

# Never shown in a drill-down: personal identifiers stay in the raw landing (the one declaration:
# pii_class in the standard's element registry, read through pipelines.privacy).
PII_ELEMENTS = tuple(sorted(personal_data().direct_identifiers))
ID_RULES = ("id_checksum", "id_sex_parity", "id_birth_date")


def _text(col: str) -> str:
    return f"NULLIF(trim(CAST({q(col)} AS VARCHAR)), '')"


def referenced_elements(check: CheckSpec) -> list[str]:
    """The element columns a check's predicate reads (missing ones are supplied as NULL)."""
    if check.rule == "ordered":
        out: list[str] = []
        for a, b in check.params["pairs"]:
            out += [a, b]
        return list(dict.fromkeys(out))
    if check.rule in ("id_checksum",):
        return ["patient_id_number", "patient_id_type"]
    if check.rule == "id_sex_parity":
        return ["patient_id_number", "patient_id_type", "sex_code"]
    if check.rule == "id_birth_date":
        return ["patient_id_number", "patient_id_type", "birth_date"]
    if check.rule == "mapped":
        return ["source_text", "source_code", "code"]
    if check.rule == "volume_band":
        return ["n_rows", "baseline", "baseline_weeks"]
    if check.rule == "quarantined":
        return ["_std_reasons"]
    if check.rule == "file_quarantine_share":
        return ["rows_landed", "rows_quarantined"]
    return [check.element]


# ------------------------------------------------------------------------------------ rule predicates


def derived_columns(checks: list[CheckSpec], cat: Catalogue) -> list[str]:
    """Helper columns computed once per row before the predicates (the normalized ID and its validity)."""
    if not any(c.rule in ID_RULES for c in checks):
        return []
    types = ", ".join(lit(v) for v in cat.resident_id_type_values)
    return [
        "upper(trim(CAST(patient_id_number AS VARCHAR))) AS _id",
        f"(NULLIF(trim(CAST(patient_id_type AS VARCHAR)), '') IS NULL "
        f"OR trim(CAST(patient_id_type AS VARCHAR)) IN ({types})) AS _id_resident",
    ]


def id_valid_sql(col: str = "_id") -> str:
    """SQL: ``col`` is an 18-character resident ID with the right GB 11643 check character."""
    return (
        f"(regexp_full_match({col}, '[0-9]{{17}}[0-9X]') AND "
        f"substr({lit(CHECK_CHARACTERS)}, 1 + (({check_sum_sql(col)}) % 11), 1) = substr({col}, 18, 1))"
    )


def predicate(check: CheckSpec, as_of: str, missing_tables: frozenset[str] = frozenset()) -> tuple[str, str]:
    """(applies, violates) SQL expressions over a relation row with the derived columns.

    A reference table in ``missing_tables`` (e.g. the institution registry not loaded) knows no
    code, so every applicable row violates.
    """
    r, p = check.rule, check.params
    if r == "present":
        return "TRUE", f"{_text(check.element)} IS NULL"
    if r == "id_checksum":
        return "_id IS NOT NULL AND _id <> '' AND _id_resident", f"NOT {id_valid_sql()}"
    if r == "id_sex_parity":
        return (
            f"_id_resident AND {id_valid_sql()} AND CAST(sex_code AS VARCHAR) IN ('1', '2')",
            "((CAST(substr(_id, 17, 1) AS INTEGER) % 2 = 1) <> (CAST(sex_code AS VARCHAR) = '1'))",
        )
    if r == "id_birth_date":
        return (
            f"_id_resident AND {id_valid_sql()} AND birth_date IS NOT NULL",
            "CAST(try_strptime(substr(_id, 7, 8), '%Y%m%d') AS DATE) IS DISTINCT FROM TRY_CAST(birth_date AS DATE)",
        )
    if r == "not_future":
        return (
            f"{q(check.element)} IS NOT NULL",
            f"TRY_CAST({q(check.element)} AS TIMESTAMP) > TIMESTAMP {lit(as_of)}",
        )
    if r == "ordered":
        pairs = p["pairs"]
        applies = " OR ".join(f"({q(a)} IS NOT NULL AND {q(b)} IS NOT NULL)" for a, b in pairs)
        violates = " OR ".join(f"coalesce({q(b)} < {q(a)}, false)" for a, b in pairs)
        return applies, violates
    if r == "in_reference":
        ref, col = p.get("reference", "ref.institutions"), p.get("reference_column", "institution_code")
        if ref in missing_tables:
            return f"{_text(check.element)} IS NOT NULL", "TRUE"
        return (
            f"{_text(check.element)} IS NOT NULL",
            f"{_text(check.element)} NOT IN (SELECT DISTINCT trim(CAST({q(col)} AS VARCHAR)) FROM {qualified_name(ref)} "
            f"WHERE {q(col)} IS NOT NULL)",
        )
    if r == "mapped":
        return (
            "coalesce(NULLIF(trim(CAST(source_text AS VARCHAR)), ''), NULLIF(trim(CAST(source_code AS VARCHAR)), '')) IS NOT NULL",
            "NULLIF(trim(CAST(code AS VARCHAR)), '') IS NULL",
        )
    if r == "file_quarantine_share":
        return "rows_landed > 0", f"rows_quarantined > {float(p.get('max_share', 0.5))} * rows_landed"
    if r == "quarantined":
        codes = p.get("reason_codes", "any")
        if codes == "any":
            return "TRUE", "coalesce(len(_std_reasons), 0) > 0"
        return "TRUE", f"coalesce(list_has_any(_std_reasons, [{', '.join(lit(c) for c in codes)}]), false)"
    if r == "volume_band":
        low, high = float(p.get("low", 0.5)), float(p.get("high", 2.0))
        return (
            f"baseline_weeks >= {int(p.get('min_baseline_weeks', 2))} AND baseline >= {float(p.get('min_baseline_rows', 5))}",
            f"(n_rows < {low} * baseline OR n_rows > {high} * baseline) "
            f"AND abs(n_rows - baseline) > {float(p.get('sigmas', 3))} * sqrt(baseline)",
        )
    raise ValueError(f"unknown rule {r!r}")  # pragma: no cover - the catalogue validates rules


def frame_sql(
    con: duckdb.DuckDBPyConnection, relation: Relation, checks: list[CheckSpec], cat: Catalogue, as_of: str
) -> str:
    """The computed frame: relation columns + one ``ok__<check_id>`` boolean per check."""
    have = set(con.sql(f"SELECT * FROM ({relation.sql}) LIMIT 0").columns)
    needed = [el for c in checks for el in referenced_elements(c)]
    missing = [el for el in dict.fromkeys(needed) if el not in have]
    fill = "".join(f", CAST(NULL AS VARCHAR) AS {q(el)}" for el in missing)
    missing_refs = frozenset(
        ref
        for c in checks
        if c.rule == "in_reference"
        for ref in [c.params.get("reference", "ref.institutions")]
        if not table_exists(con, ref)
    )
    derived = derived_columns(checks, cat)
    derived_sql = "".join(f", {d}" for d in derived)
    flags = []
    for c in checks:
        applies, violates = predicate(c, as_of, missing_refs)
        flags.append(
            f"CASE WHEN coalesce(({applies}), false) THEN NOT coalesce(({violates}), false) END AS {q(c.flag_column)}"
        )
    return (
        f"WITH base AS (SELECT *{fill} FROM ({relation.sql})), "
        f"d AS (SELECT *{derived_sql} FROM base) "
        f"SELECT *, {', '.join(flags)} FROM d"
    )


def counts_sql(
    frame: str, checks: list[CheckSpec], by: tuple[str, ...] = ("_source_id", "_institution")
) -> str:
    """Exact counts for every check of a frame, per ``by`` (default: source, institution)."""
    aggs = []
    for i, c in enumerate(checks):
        col = q(c.flag_column)
        aggs.append(f"count({col}) AS den_{i}, count(*) FILTER (WHERE {col} = false) AS bad_{i}")
    return f"SELECT {', '.join(by)}, {', '.join(aggs)} FROM ({frame}) GROUP BY ALL"
