"""Row-level resolution on the stage, after each value was mapped on its own.

- ID type: empty with a valid resident ID number -> 01 (inferred);
- ID number: a resident ID's mapping or, for another document type, the other-document mapping;
- sex and birth date: taken from a valid resident ID (GB 11643 digit 17 and digits 7-14), flagged
  when they contradicted it;
- residence county: where the export sent none, the ID's area code (digits 1-6) as a proxy, marked
  derived;
- date-times after the file arrived (max = received in the standard): invalid, FUTURE_DATE.

The flags (``_sex_mismatch`` ...) are counted into std.row_outcomes (pipelines.standardize.outcomes).
"""

from __future__ import annotations

from pipelines.contracts.sql import quote_identifier as qi
from pipelines.contracts.standard import DataElement
from pipelines.standardize.element_types import RECEIVED


def resolve_sql(stage0: str, elements: list[DataElement]) -> str:
    names = [e.element for e in elements]
    replace: list[str] = []
    extra: list[str] = []
    if "patient_id_number" in names:
        t = "patient_id_type"
        has_type = t in names
        type_expr = (
            f"coalesce({qi(t)}, CASE WHEN patient_id_number__oc IN ('valid', 'corrected') THEN '01' END)"
            if has_type
            else "CASE WHEN patient_id_number__oc IN ('valid', 'corrected') THEN '01' END"
        )
        resident = f"({type_expr} IS NULL OR {type_expr} = '01')"
        replace += [
            f"{type_expr} AS patient_id_type" if has_type else None,
            f"CASE WHEN {resident} THEN patient_id_number ELSE patient_id_number__ovalue END AS patient_id_number",
            f"CASE WHEN {resident} THEN patient_id_number__oc ELSE patient_id_number__ooc END "
            "AS patient_id_number__oc",
            f"CASE WHEN {resident} THEN patient_id_number__rc ELSE patient_id_number__orc END "
            "AS patient_id_number__rc",
        ]
        if has_type:
            extra.append(f"({qi(t)} IS NULL AND {type_expr} = '01') AS _type_inferred")
        id_ok = f"({resident} AND patient_id_number__oc IN ('valid', 'corrected'))"
        id_sex = f"CASE WHEN {id_ok} THEN CASE WHEN CAST(substr(patient_id_number, 17, 1) AS INTEGER) % 2 = 1 THEN '1' ELSE '2' END END"
        id_birth = (
            f"CASE WHEN {id_ok} THEN TRY_CAST(substr(patient_id_number, 7, 4) || '-' || "
            "substr(patient_id_number, 11, 2) || '-' || substr(patient_id_number, 13, 2) AS DATE) END"
        )
        if "sex_code" in names:
            replace.append(f"coalesce({id_sex}, sex_code) AS sex_code")
            extra += [
                f"(sex_code IS NOT NULL AND {id_sex} IS NOT NULL AND sex_code <> {id_sex}) AS _sex_mismatch",
                f"(sex_code IS NULL AND {id_sex} IS NOT NULL) AS _sex_from_id",
            ]
        if "birth_date" in names:
            replace.append(f"coalesce({id_birth}, birth_date) AS birth_date")
            extra += [
                f"(birth_date IS NOT NULL AND {id_birth} IS NOT NULL AND birth_date <> {id_birth}) AS _birth_mismatch",
                f"(birth_date IS NULL AND {id_birth} IS NOT NULL) AS _birth_from_id",
            ]
        if "residence_county_code" in names:
            # no county sent: GB 11643 digits 1-6 (the area where the ID was issued) as a proxy,
            # marked derived (std.<entity>.residence_county_basis, std.row_outcomes)
            id_area = f"CASE WHEN {id_ok} AND regexp_full_match(substr(patient_id_number, 1, 6), '[1-9][0-9]{{5}}') THEN substr(patient_id_number, 1, 6) END"
            derive = f"(residence_county_code__oc = 'missing' AND {id_area} IS NOT NULL)"
            replace.append(
                f"CASE WHEN {derive} THEN {id_area} ELSE residence_county_code END AS residence_county_code"
            )
            extra.append(f"{derive} AS _county_from_id")
    # date-times after the file arrived are impossible (max = received in the standard)
    for e in elements:
        if e.max == RECEIVED:
            n = e.element
            future = f"({qi(n)} > coalesce(_received_at, current_timestamp::TIMESTAMP))"
            replace += [
                f"CASE WHEN {future} THEN NULL ELSE {qi(n)} END AS {qi(n)}",
                f"CASE WHEN {future} THEN 'invalid' ELSE {qi(n + '__oc')} END AS {qi(n + '__oc')}",
                f"CASE WHEN {future} THEN 'FUTURE_DATE' ELSE {qi(n + '__rc')} END AS {qi(n + '__rc')}",
            ]
    replace = [r for r in replace if r]
    select = "* REPLACE (" + ", ".join(replace) + ")" if replace else "*"
    return f"SELECT {select}{''.join(', ' + x for x in extra)} FROM {stage0}"
