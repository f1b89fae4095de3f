"""The rows each suite looks at (relations): raw landing per source, std tables, daily volumes,
principal diagnoses, landed files; optionally restricted to the files in scope (file_counts).

Columns every relation exposes: ``_source_id``, ``_institution`` (for the per-source and
per-institution breakdowns), ``_order`` (a stable row key used for sampling and listing) and, for
file rows, ``_file_id``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from pipelines.contracts.bindings import bindings_for
from pipelines.contracts.sql import quote_identifier as q
from pipelines.contracts.sql import quote_literal as lit
from pipelines.contracts.standard import default_standard
from pipelines.ingest.registry import SourceConfig
from pipelines.quality.catalogue import Catalogue, SuiteSpec

Con = duckdb.DuckDBPyConnection
Sources = dict[str, SourceConfig]  # source id -> its registry entry (sources/*.yaml)


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
    # SQL of the files whose rows the relation holds (``file_id``, ``fingerprint``: see _files_sql);
    # None when its rows are not file rows (daily volumes): such a relation is always computed whole
    files_sql: str | None = None


# The file ids a scoped relation is restricted to (the runner fills it per relation: the files
# whose counts are not yet in quality.file_check_counts).
SCOPE_TABLE = "_quality_scope"


def _files_sql(table: str, column: str, where: str = "", rows_hashed: bool = True) -> str:
    """The files of ``table`` with a fingerprint of their rows: the row count and, for std tables
    (rewritten by standardize), a hash of every row's values, so that a file whose rows changed is
    counted again. Raw tables are written once per file by landing: their row count suffices."""
    digest = " || ':' || CAST(sum(hash(t)) AS VARCHAR)" if rows_hashed else ""
    return (
        f"SELECT CAST({q(column)} AS VARCHAR) AS file_id, CAST(count(*) AS VARCHAR){digest} AS fingerprint "
        f"FROM {qualified_name(table)} t{where} GROUP BY 1"
    )


def file_scope(table: str, column: str) -> str:
    """SQL predicate: ``column`` is one of the files in scope for the relation of ``table``."""
    return f"CAST({column} AS VARCHAR) IN (SELECT file_id FROM {SCOPE_TABLE} WHERE relation = {lit(table)})"


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


def qualified_name(table: str) -> str:
    schema, _, name = table.partition(".")
    return f"{q(schema)}.{q(name)}"


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


def _and(where: str, condition: str) -> str:
    return f"{where} AND {condition}" if where else f" WHERE {condition}"


def raw_entity_relations(
    con: Con, cat: Catalogue, suite: SuiteSpec, sources: Sources, scoped: bool = False
) -> list[Relation]:
    ent = cat.entities[suite.entity]
    out = []
    landed = _landed_filter(con)
    has_quarantine = table_exists(con, "std.quarantine")
    for sid, table in raw_tables(con, suite.entity, sources):
        where = _and(landed, file_scope(table, "r._file_id")) if scoped else landed
        cols = table_columns(con, table)
        mapping = _raw_element_columns(sources.get(sid), suite.entity, cols)
        select = [
            f"{lit(sid)} AS _source_id",
            f"{_text_sql(mapping[ent['institution']])} AS _institution"
            if ent["institution"] in mapping
            else "CAST(NULL AS VARCHAR) AS _institution",
            "_file_id AS file_id",
            "CAST(_file_id AS VARCHAR) AS _file_id",
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
            in_scope = f" AND {file_scope(table, 'file_id')}" if scoped else ""
            join = (
                " r LEFT JOIN (SELECT CAST(file_id AS VARCHAR) AS q_file_id, CAST(row_number AS BIGINT) AS q_row, "
                "list(DISTINCT reason_code ORDER BY reason_code) AS reasons FROM std.quarantine "
                f"WHERE entity = {lit(suite.entity)}{in_scope} GROUP BY ALL) qr "
                "ON qr.q_file_id = CAST(r._file_id AS VARCHAR) AND qr.q_row = CAST(r._row_number AS BIGINT)"
            )
        else:
            select.append("CAST(NULL AS VARCHAR[]) AS _std_reasons")
            join = " r"
        sql = f"SELECT {', '.join(select)} FROM {qualified_name(table)}{join}{where}"
        out.append(
            Relation(
                suite=suite,
                table=table,
                sql=sql,
                context_columns=("_source_id", "file_id", "row_number", "_institution", ent["key"]),
                source_id=sid,
                files_sql=_files_sql(table, "_file_id", landed, rows_hashed=False),
            )
        )
    return out


def _raw_id_union(
    con: duckdb.DuckDBPyConnection, entity: str, sources: dict[str, SourceConfig], scope: str = ""
) -> str | None:
    parts = []
    for sid, table in raw_tables(con, entity, sources):
        mapping = _raw_element_columns(sources.get(sid), entity, table_columns(con, table))
        if "patient_id_number" not in mapping:
            continue
        parts.append(
            f"SELECT _file_id AS file_id, _row_number AS row_number, "
            f"{_text_sql(mapping['patient_id_number'])} AS patient_id_number FROM {qualified_name(table)} r{scope}"
        )
    return " UNION ALL ".join(parts) if parts else None


def std_relations(
    con: Con, cat: Catalogue, suite: SuiteSpec, sources: Sources, scoped: bool = False
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
    has_files = "file_id" in cols
    file_col = "CAST(s.file_id AS VARCHAR)" if has_files else "CAST(NULL AS VARCHAR)"
    files_sql = _files_sql(table, "file_id") if has_files else None
    where = f" WHERE {file_scope(table, 's.file_id')}" if scoped and has_files else ""
    if suite.relation == "std_entity":
        sql = (
            f"SELECT s.*, {src} AS _source_id, {inst} AS _institution, {order} AS _order, {file_col} AS _file_id "
            f"FROM {qualified_name(table)} s{where}"
        )
        return [Relation(suite, table, sql, context, files_sql=files_sql)]
    # std_identity: the resident ID number is not in std (privacy); join it back from raw for the check only
    raw_scope = ""
    if scoped and has_files:
        # the file ids of std rows are those of the raw rows they were standardized from
        raw_scope = f" WHERE {file_scope(table, 'r._file_id')}"
    union = _raw_id_union(con, suite.entity, sources, raw_scope)
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
        f"{order} AS _order, {file_col} AS _file_id FROM {qualified_name(table)} s LEFT JOIN ({union}) r ON {on}{where}"
    )
    return [Relation(suite, table, sql, context, notes=notes, files_sql=files_sql)]


def daily_volume_relations(
    con: Con, cat: Catalogue, suite: SuiteSpec, sources: Sources, scoped: bool = False
) -> list[Relation]:
    """Rows per source and day against a baseline of earlier weeks: not file rows, always whole."""
    table = f"std.{suite.entity}"
    if not table_exists(con, table):
        return []
    date_el = suite.params["date_element"]
    weeks = max(int(c.params.get("baseline_weeks", 4)) for c in cat.checks_in_suite(suite.name))
    sql = f"""
        WITH d AS (
            SELECT source_id, CAST({q(date_el)} AS DATE) AS day, count(*) AS n
            FROM {qualified_name(table)} WHERE {q(date_el)} IS NOT NULL GROUP BY ALL),
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
    con: Con, cat: Catalogue, suite: SuiteSpec, sources: Sources, scoped: bool = False
) -> list[Relation]:
    """One row per visit that sent a diagnosis (text or code): its principal diagnosis, else its first
    (a field naming only a history has no principal but was mapped). A field the standardizer could
    not place writes no std.visit_diagnoses row: it is here with an empty code, so it counts as
    unmapped instead of vanishing from the check."""
    if not table_exists(con, "std.visit_diagnoses"):
        return []
    visit_cols = set(table_columns(con, "std.visits")) if table_exists(con, "std.visits") else set()
    scope_visits = scoped and {"diagnosis_name", "diagnosis_code", "file_id"} <= visit_cols
    dx_rows = "std.visit_diagnoses"
    if scope_visits:
        # only the diagnoses of the visits in scope (by the visits' file ids)
        dx_rows = (
            "(SELECT vd.* FROM std.visit_diagnoses vd SEMI JOIN (SELECT visit_id, institution_code FROM std.visits s "
            f"WHERE {file_scope('std.visit_diagnoses', 's.file_id')}) k "
            "ON vd.visit_id IS NOT DISTINCT FROM k.visit_id AND vd.institution_code = k.institution_code)"
        )
    dx = (
        f"SELECT * FROM {dx_rows} QUALIFY row_number() OVER "
        "(PARTITION BY visit_id, institution_code ORDER BY is_principal DESC, seq) = 1"
    )
    files_sql = None
    if {"diagnosis_name", "diagnosis_code"} <= visit_cols:
        in_scope = f" AND {file_scope('std.visit_diagnoses', 'v.file_id')}" if scope_visits else ""
        file_col = "CAST(v.file_id AS VARCHAR)" if "file_id" in visit_cols else "CAST(NULL AS VARCHAR)"
        if "file_id" in visit_cols:
            files_sql = _files_sql("std.visits", "file_id")
        sql = (
            "SELECT v.visit_id, v.institution_code, "
            "d.* EXCLUDE (visit_id, institution_code, source_text, source_code), "
            "coalesce(d.source_text, CAST(v.diagnosis_name AS VARCHAR)) AS source_text, "
            "coalesce(d.source_code, CAST(v.diagnosis_code AS VARCHAR)) AS source_code, "
            "v.source_id AS _source_id, CAST(v.institution_code AS VARCHAR) AS _institution, "
            f"v.visit_id AS _order, {file_col} AS _file_id "
            f"FROM std.visits v LEFT JOIN ({dx}) d "
            "ON d.visit_id IS NOT DISTINCT FROM v.visit_id AND d.institution_code = v.institution_code "
            f"WHERE (v.diagnosis_name IS NOT NULL OR v.diagnosis_code IS NOT NULL){in_scope}"
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
            files_sql=files_sql,
        )
    ]


def landed_files_relations(
    con: Con, cat: Catalogue, suite: SuiteSpec, sources: Sources, scoped: bool = False
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
        "f.period, f.rows_landed, coalesce(q.n, 0) AS rows_quarantined, CAST(f.file_id AS VARCHAR) AS _order, "
        "CAST(f.file_id AS VARCHAR) AS _file_id "
        f"FROM raw.files f LEFT JOIN ({quarantined}) q ON q.file_id = CAST(f.file_id AS VARCHAR) "
        "WHERE f.status = 'landed'" + (f" AND {file_scope('raw.files', 'f.file_id')}" if scoped else "")
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
    con: Con, cat: Catalogue, suite: SuiteSpec, sources: Sources, scoped: bool = False
) -> list[Relation]:
    """The suite's relations; ``scoped``: restricted to the files listed in ``SCOPE_TABLE`` for each
    relation's table (same relations, same order, fewer rows)."""
    return RELATION_BUILDERS[suite.relation](con, cat, suite, sources, scoped)
