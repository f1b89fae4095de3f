"""SQL for the checks: the rows each suite looks at (relations) and each rule's row predicate.

Every check compiles to one boolean column of a *computed frame*: TRUE = the row passes, FALSE =
it violates, NULL = the rule does not apply to the row. DuckDB computes that frame over the whole
table, so the counts (violating rows, denominator) are exact at any scale; GX validates the same
frame (or a deterministic sample of it), and drill-down filters it to the FALSE rows.

Columns every relation exposes: ``_source_id``, ``_institution`` (for the per-source and
per-institution breakdowns) and ``_order`` (a stable row key used for sampling and listing).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from pipelines.contracts.bindings import bindings_for
from pipelines.contracts.resident_id import CHECK_CHARACTERS, check_sum_sql
from pipelines.contracts.sql import quote_identifier as q
from pipelines.contracts.sql import quote_literal as lit
from pipelines.contracts.standard import default_standard
from pipelines.ingest.registry import SourceConfig
from pipelines.privacy import personal_data
from pipelines.quality.catalogue import Catalogue, CheckSpec, SuiteSpec

# Never shown in a drill-down: personal identifiers stay in the raw landing (the one declaration:
# pii_class in the standard's element registry, read through pipelines.privacy).
PII_ELEMENTS = tuple(sorted(personal_data().direct_identifiers))
ID_RULES = ("id_checksum", "id_sex_parity", "id_birth_date")


def _text(col: str) -> str:
    return f"NULLIF(trim(CAST({q(col)} AS VARCHAR)), '')"


def _text_sql(expr: str) -> str:
    return f"NULLIF(trim(CAST({expr} AS VARCHAR)), '')"


@dataclass(frozen=True)
class Relation:
    """The rows of one suite for one table (one per source for raw suites)."""

    suite: SuiteSpec
    table: str  # concrete table name, e.g. raw.his_b__visits
    sql: str  # SELECT ... exposing _source_id, _institution, _order and the element columns
    context_columns: tuple[str, ...]  # shown first in a drill-down
    source_id: str | None = None  # set for raw relations (one source per table)
    notes: tuple[str, ...] = field(default_factory=tuple)


# ------------------------------------------------------------------------------------------ helpers


def table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, _, name = qualified.partition(".")
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, name],
    ).fetchall()
    return bool(row and row[0][0])


def table_columns(con: duckdb.DuckDBPyConnection, qualified: str) -> list[str]:
    schema, _, name = qualified.partition(".")
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
        "ORDER BY ordinal_position",
        [schema, name],
    ).fetchall()
    return [r[0] for r in rows]


def _qualified(table: str) -> str:
    schema, _, name = table.partition(".")
    return f"{q(schema)}.{q(name)}"


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


# ---------------------------------------------------------------------------------------- relations


def _landed_filter(con: duckdb.DuckDBPyConnection) -> str:
    if table_exists(con, "raw.files"):
        return " WHERE _file_id IN (SELECT file_id FROM raw.files WHERE status = 'landed')"
    return ""


def _raw_element_columns(cfg: SourceConfig | None, entity: str, columns: list[str]) -> dict[str, str]:
    """element -> SQL of its value as received in one source's raw table (the standardizer's source
    bindings, pipelines.contracts.bindings; several columns of one element joined with a space)."""
    elements = default_standard().entity_elements(entity, ("canonical",))
    bound = bindings_for(cfg, entity, columns, elements)
    return {el: b.received_sql("r") for el, b in bound.items() if b.columns}


def raw_tables(
    con: duckdb.DuckDBPyConnection, entity: str, sources: dict[str, SourceConfig]
) -> list[tuple[str, str]]:
    """(source_id, table) for every landed raw table of ``entity`` whose source is registered."""
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw' AND ends_with(table_name, ?) "
        "ORDER BY table_name",
        [f"__{entity}"],
    ).fetchall()
    out = []
    for (name,) in rows:
        sid, sep, ent = name.rpartition("__")
        if sep and ent == entity and sid in sources:
            out.append((sid, f"raw.{name}"))
    return out


def raw_entity_relations(
    con: duckdb.DuckDBPyConnection, cat: Catalogue, suite: SuiteSpec, sources: dict[str, SourceConfig]
) -> list[Relation]:
    ent = cat.entities[suite.entity]
    out = []
    where = _landed_filter(con)
    has_quarantine = table_exists(con, "std.quarantine")
    for sid, table in raw_tables(con, suite.entity, sources):
        cols = table_columns(con, table)
        mapping = _raw_element_columns(sources.get(sid), suite.entity, cols)
        select = [
            f"{lit(sid)} AS _source_id",
            f"{_text_sql(mapping[ent['institution']])} AS _institution"
            if ent["institution"] in mapping
            else "CAST(NULL AS VARCHAR) AS _institution",
            "_file_id AS file_id",
            "_row_number AS row_number",
            "CAST(_file_id AS VARCHAR) || ':' || lpad(CAST(_row_number AS VARCHAR), 12, '0') AS _order",
        ]
        select += [
            f"{_text_sql(expr)} AS {q(el)}"
            for el, expr in mapping.items()
            if el not in ("file_id", "row_number")
        ]
        if has_quarantine:
            select.append("qr.reasons AS _std_reasons")
            join = (
                " r LEFT JOIN (SELECT CAST(file_id AS VARCHAR) AS q_file_id, CAST(row_number AS BIGINT) AS q_row, "
                "list(DISTINCT reason_code ORDER BY reason_code) AS reasons FROM std.quarantine "
                f"WHERE entity = {lit(suite.entity)} GROUP BY ALL) qr "
                "ON qr.q_file_id = CAST(r._file_id AS VARCHAR) AND qr.q_row = CAST(r._row_number AS BIGINT)"
            )
        else:
            select.append("CAST(NULL AS VARCHAR[]) AS _std_reasons")
            join = " r"
        sql = f"SELECT {', '.join(select)} FROM {_qualified(table)}{join}{where}"
        out.append(
            Relation(
                suite=suite,
                table=table,
                sql=sql,
                context_columns=("_source_id", "file_id", "row_number", "_institution", ent["key"]),
                source_id=sid,
            )
        )
    return out


def _raw_id_union(
    con: duckdb.DuckDBPyConnection, entity: str, sources: dict[str, SourceConfig]
) -> str | None:
    parts = []
    for sid, table in raw_tables(con, entity, sources):
        mapping = _raw_element_columns(sources.get(sid), entity, table_columns(con, table))
        if "patient_id_number" not in mapping:
            continue
        parts.append(
            f"SELECT _file_id AS file_id, _row_number AS row_number, "
            f"{_text_sql(mapping['patient_id_number'])} AS patient_id_number FROM {_qualified(table)} r"
        )
    return " UNION ALL ".join(parts) if parts else None


def std_relations(
    con: duckdb.DuckDBPyConnection, cat: Catalogue, suite: SuiteSpec, sources: dict[str, SourceConfig]
) -> list[Relation]:
    ent = cat.entities[suite.entity]
    table = f"std.{suite.entity}"
    if not table_exists(con, table):
        return []
    cols = table_columns(con, table)
    inst = (
        f"CAST(s.{q(ent['institution'])} AS VARCHAR)"
        if ent["institution"] in cols
        else "CAST(NULL AS VARCHAR)"
    )
    src = "s.source_id" if "source_id" in cols else "CAST(NULL AS VARCHAR)"
    if "file_id" in cols and "row_number" in cols:
        order = "CAST(s.file_id AS VARCHAR) || ':' || lpad(CAST(s.row_number AS VARCHAR), 12, '0')"
    else:
        order = f"CAST(s.{q(ent['key'])} AS VARCHAR)"
    context = tuple(
        c
        for c in ("_source_id", "file_id", "row_number", "_institution", ent["key"])
        if c in cols or c.startswith("_")
    )
    if "person_key" in cols:
        context += ("person_key",)
    if suite.relation == "std_entity":
        sql = f"SELECT s.*, {src} AS _source_id, {inst} AS _institution, {order} AS _order FROM {_qualified(table)} s"
        return [Relation(suite, table, sql, context)]
    # std_identity: the resident ID number is not in std (privacy); join it back from raw for the check only
    union = _raw_id_union(con, suite.entity, sources)
    notes: tuple[str, ...] = ()
    if union is None or "file_id" not in cols or "row_number" not in cols:
        union = "SELECT CAST(NULL AS VARCHAR) AS file_id, CAST(NULL AS BIGINT) AS row_number, CAST(NULL AS VARCHAR) AS patient_id_number WHERE false"
        notes = ("no raw table with a mapped patient_id_number: identity checks have no applicable rows",)
    exclude = " EXCLUDE (patient_id_number)" if "patient_id_number" in cols else ""
    on = (
        "CAST(r.file_id AS VARCHAR) = CAST(s.file_id AS VARCHAR) "
        "AND CAST(r.row_number AS BIGINT) = CAST(s.row_number AS BIGINT)"
        if "file_id" in cols and "row_number" in cols
        else "false"
    )
    sql = (
        f"SELECT s.*{exclude}, r.patient_id_number, {src} AS _source_id, {inst} AS _institution, "
        f"{order} AS _order FROM {_qualified(table)} s LEFT JOIN ({union}) r ON {on}"
    )
    return [Relation(suite, table, sql, context, notes=notes)]


def daily_volume_relations(
    con: duckdb.DuckDBPyConnection, cat: Catalogue, suite: SuiteSpec, sources: dict[str, SourceConfig]
) -> list[Relation]:
    table = f"std.{suite.entity}"
    if not table_exists(con, table):
        return []
    date_el = suite.params["date_element"]
    weeks = max(int(c.params.get("baseline_weeks", 4)) for c in cat.checks_in_suite(suite.name))
    sql = f"""
        WITH d AS (
            SELECT source_id, CAST({q(date_el)} AS DATE) AS day, count(*) AS n
            FROM {_qualified(table)} WHERE {q(date_el)} IS NOT NULL GROUP BY ALL),
        b AS (SELECT source_id, min(day) AS lo, max(day) AS hi FROM d GROUP BY source_id),
        spine AS (
            SELECT source_id,
                   CAST(unnest(generate_series(CAST(lo AS TIMESTAMP), CAST(hi AS TIMESTAMP), INTERVAL 1 DAY)) AS DATE) AS day
            FROM b),
        c AS (SELECT s.source_id, s.day, coalesce(d.n, 0) AS n_rows FROM spine s LEFT JOIN d USING (source_id, day))
        SELECT source_id AS _source_id, CAST(NULL AS VARCHAR) AS _institution, day, n_rows,
               median(n_rows) OVER w AS baseline, count(*) OVER w AS baseline_weeks,
               day AS _order
        FROM c
        WINDOW w AS (PARTITION BY source_id, dayofweek(day) ORDER BY day
                     ROWS BETWEEN {weeks} PRECEDING AND 1 PRECEDING)
    """
    return [Relation(suite, table, sql, ("_source_id", "day", "n_rows", "baseline", "baseline_weeks"))]


def std_diagnoses_relations(
    con: duckdb.DuckDBPyConnection, cat: Catalogue, suite: SuiteSpec, sources: dict[str, SourceConfig]
) -> list[Relation]:
    """One row per visit that sent a diagnosis (text or code): its principal diagnosis, else its first
    (a field naming only a history has no principal but was mapped). A field the standardizer could
    not place writes no std.visit_diagnoses row: it is here with an empty code, so it counts as
    unmapped instead of vanishing from the check."""
    if not table_exists(con, "std.visit_diagnoses"):
        return []
    dx = (
        "SELECT * FROM std.visit_diagnoses QUALIFY row_number() OVER "
        "(PARTITION BY visit_id, institution_code ORDER BY is_principal DESC, seq) = 1"
    )
    if table_exists(con, "std.visits") and {"diagnosis_name", "diagnosis_code"} <= set(
        table_columns(con, "std.visits")
    ):
        sql = (
            "SELECT v.visit_id, v.institution_code, "
            "d.* EXCLUDE (visit_id, institution_code, source_text, source_code), "
            "coalesce(d.source_text, CAST(v.diagnosis_name AS VARCHAR)) AS source_text, "
            "coalesce(d.source_code, CAST(v.diagnosis_code AS VARCHAR)) AS source_code, "
            "v.source_id AS _source_id, CAST(v.institution_code AS VARCHAR) AS _institution, "
            "v.visit_id AS _order "
            f"FROM std.visits v LEFT JOIN ({dx}) d "
            "ON d.visit_id IS NOT DISTINCT FROM v.visit_id AND d.institution_code = v.institution_code "
            "WHERE v.diagnosis_name IS NOT NULL OR v.diagnosis_code IS NOT NULL"
        )
    else:
        sql = (
            "SELECT d.*, CAST(NULL AS VARCHAR) AS _source_id, CAST(d.institution_code AS VARCHAR) AS _institution, "
            f"d.visit_id AS _order FROM ({dx}) d"
        )
    return [
        Relation(
            suite,
            "std.visit_diagnoses",
            sql,
            (
                "_source_id",
                "visit_id",
                "institution_code",
                "source_text",
                "source_code",
                "code_system",
                "mapping_method",
            ),
        )
    ]


def landed_files_relations(
    con: duckdb.DuckDBPyConnection, cat: Catalogue, suite: SuiteSpec, sources: dict[str, SourceConfig]
) -> list[Relation]:
    """One row per landed file: rows landed and rows standardization quarantined."""
    if not table_exists(con, "raw.files") or "rows_landed" not in table_columns(con, "raw.files"):
        return []
    quarantined = (
        "SELECT CAST(file_id AS VARCHAR) AS file_id, count(DISTINCT row_number) AS n FROM std.quarantine GROUP BY 1"
        if table_exists(con, "std.quarantine")
        else "SELECT CAST(NULL AS VARCHAR) AS file_id, 0 AS n WHERE false"
    )
    sql = (
        "SELECT f.source_id AS _source_id, CAST(NULL AS VARCHAR) AS _institution, f.file_id, f.file_name, f.entity, "
        "f.period, f.rows_landed, coalesce(q.n, 0) AS rows_quarantined, CAST(f.file_id AS VARCHAR) AS _order "
        f"FROM raw.files f LEFT JOIN ({quarantined}) q ON q.file_id = CAST(f.file_id AS VARCHAR) "
        "WHERE f.status = 'landed'"
    )
    return [
        Relation(
            suite,
            "raw.files",
            sql,
            ("_source_id", "file_id", "file_name", "entity", "period", "rows_landed", "rows_quarantined"),
        )
    ]


RELATION_BUILDERS = {
    "raw_entity": raw_entity_relations,
    "std_entity": std_relations,
    "std_identity": std_relations,
    "daily_volume": daily_volume_relations,
    "std_diagnoses": std_diagnoses_relations,
    "landed_files": landed_files_relations,
}


def relations_for_suite(
    con: duckdb.DuckDBPyConnection, cat: Catalogue, suite: SuiteSpec, sources: dict[str, SourceConfig]
) -> list[Relation]:
    return RELATION_BUILDERS[suite.relation](con, cat, suite, sources)


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
            f"{_text(check.element)} NOT IN (SELECT DISTINCT trim(CAST({q(col)} AS VARCHAR)) FROM {_qualified(ref)} "
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


def counts_sql(frame: str, checks: list[CheckSpec]) -> str:
    """Exact per (source, institution) counts for every check of a frame."""
    aggs = []
    for i, c in enumerate(checks):
        col = q(c.flag_column)
        aggs.append(f"count({col}) AS den_{i}, count(*) FILTER (WHERE {col} = false) AS bad_{i}")
    return f"SELECT _source_id, _institution, {', '.join(aggs)} FROM ({frame}) GROUP BY ALL"
