"""std.<entity> and std.visit_diagnoses from the stage: the rows without a problem, typed, without
direct identifiers, with the derived elements of standard/derived_elements.csv (person_key as
HMAC-SHA256 of the ID number, age, length of stay, residence county basis, the principal mapped
diagnosis) and lineage (source_id, file_id, row_number)."""

from __future__ import annotations

from pipelines.contracts.sql import quote_identifier as qi
from pipelines.contracts.standard import DataElement
from pipelines.standardize.coded_diagnoses import DX_FIELDS, visit_diagnosis_columns
from pipelines.standardize.run_context import StandardizeRun
from pipelines.standardize.secret import hmac_pads


def _completed_years(start: str, end: str, **_) -> str:
    return (
        f"year({end}) - year({start}) - CASE WHEN strftime({end}, '%m%d') < strftime({start}, '%m%d') "
        "THEN 1 ELSE 0 END"
    )


def _calendar_days(start: str, end: str, **_) -> str:
    return f"date_diff('day', CAST({start} AS DATE), CAST({end} AS DATE))"


def _reported_or_from_id(value: str, stage_columns: set[str] | list[str], **_) -> str:
    # _county_from_id: the stage's flag that row_resolution took the value from the resident ID
    from_id = "WHEN s._county_from_id THEN 'id_area_code' " if "_county_from_id" in stage_columns else ""
    return f"CASE {from_id}WHEN {value} IS NOT NULL THEN 'reported' END"


# standard/derivations.csv ``method`` -> the SQL over its input columns (DERIVATION_METHODS in contracts)
DERIVATIONS = {
    "completed_years": _completed_years,
    "calendar_days": _calendar_days,
    "reported_or_from_id": _reported_or_from_id,
}


def write_std(
    run: StandardizeRun, entity: str, stage: str, elements: list[DataElement], dx: str | None
) -> None:
    con = run.con
    out = [f"s.{qi(e.element)}" for e in elements if not e.pii]
    joins = []
    derived = {e.element: e for e in run.std.elements if e.entity == entity and e.layer == "derived"}
    if "person_key" in derived:
        pk = f"_std_pk_{entity}"
        # HMAC-SHA256 in SQL over the distinct IDs; the pads travel as parameters, never as SQL text
        con.execute("CREATE OR REPLACE TEMP TABLE _std_pads (ipad BLOB, opad BLOB)")
        con.execute("INSERT INTO _std_pads VALUES (?, ?)", list(hmac_pads(run.secret)))
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {pk} AS SELECT d.id, "
            "sha256(p.opad || unhex(sha256(p.ipad || encode(d.id)))) AS person_key "
            f"FROM (SELECT DISTINCT patient_id_number AS id FROM {stage} WHERE patient_id_number IS NOT NULL) d "
            "CROSS JOIN _std_pads p"
        )
        con.execute("DROP TABLE _std_pads")
        joins.append(f"LEFT JOIN {pk} pk ON pk.id = s.patient_id_number")
        out.append("pk.person_key")
    stage_columns = run.stage_columns(stage)
    for dv in run.std.derivations:
        if dv.entity == entity:
            expr = DERIVATIONS[dv.method](*(f"s.{qi(c)}" for c in dv.inputs), stage_columns=stage_columns)
            out.append(f"CAST({expr} AS {derived[dv.element].sql_type}) AS {qi(dv.element)}")
    dx_cols = [c for c in DX_FIELDS if c in derived]
    if dx_cols:
        if dx is not None:
            joins.append(
                f"LEFT JOIN (SELECT * FROM {dx} WHERE is_principal) dx ON dx._dx_name IS NOT DISTINCT FROM s.diagnosis_name "
                "AND dx._dx_code IS NOT DISTINCT FROM s.diagnosis_code"
            )
            out += [
                f"CAST(dx.{qi(src)} AS {derived[c].sql_type}) AS {qi(c)}"
                for c, src in DX_FIELDS.items()
                if c in derived
            ]
        else:
            out += [f"CAST(NULL AS {derived[c].sql_type}) AS {qi(c)}" for c in DX_FIELDS if c in derived]
    out += ["s.source_id", "s.file_id", "s.row_number"]
    problems = f"_std_problems_{entity}"
    verb = (
        f"INSERT INTO std.{qi(entity)} BY NAME"
        if run.scope
        else f"CREATE OR REPLACE TABLE std.{qi(entity)} AS"
    )
    con.execute(
        f"{verb} SELECT {', '.join(out)} FROM {stage} s "
        + " ".join(joins)
        + f" ANTI JOIN {problems} p ON s.source_id = p.source_id AND s.file_id = p.file_id "
        "AND s.row_number = p.row_number"
    )
    if entity == "visits":
        cols = ", ".join(f"CAST(NULL AS {t}) AS {qi(c)}" for c, t in visit_diagnosis_columns(run.std))
        body = (
            "SELECT v.visit_id, v.institution_code, CAST(d.seq AS INTEGER) AS seq, "
            + ", ".join(f"CAST(d.{qi(c)} AS {t}) AS {qi(c)}" for c, t in visit_diagnosis_columns(run.std))
            + f" FROM std.visits v JOIN {dx} d ON d._dx_name IS NOT DISTINCT FROM v.diagnosis_name "
            "AND d._dx_code IS NOT DISTINCT FROM v.diagnosis_code"
            if dx is not None
            else f"SELECT NULL::VARCHAR AS visit_id, NULL::VARCHAR AS institution_code, NULL::INTEGER AS seq, "
            f"{cols} WHERE false"
        )
        if run.scope and dx is not None:
            # the new visits' diagnoses (no clash with earlier rows' keys: checked in quarantine())
            con.execute(
                f"INSERT INTO std.visit_diagnoses BY NAME {body} "
                f"WHERE v.file_id IN (SELECT file_id FROM {run.scope})"
            )
        elif not run.scope:
            con.execute(f"CREATE OR REPLACE TABLE std.visit_diagnoses AS {body}")
