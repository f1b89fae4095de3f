"""Accuracy against the generator's truth, per source, entity and element, before and after
standardization (``referral-warehouse standardize accuracy``; table std.accuracy_by_field).

- before: the raw value as received, trimmed, compared as text to the truth's clean value.
- after: the standardized value (rendered in the canonical format) compared to the truth; a record
  that is not in std.<entity> (quarantined) is not correct after. patient_id_number is compared
  through the person key (HMAC of the truth ID == std.person_key), since std holds no ID numbers.
- recoverable: the truth can be derived from what was received: the record carries none of the
  record-fatal dirt kinds (wrong ID check digit, missing required value, future date, discharge
  before admission, or it is the later copy of a duplicated record), and the field is not empty
  when the truth has a value.
- derived diagnosis elements: diagnosis_code_std and icd10_category are compared with the sent
  diagnosis_code before (the code as sent vs the Beijing v601 code / its 3-character category),
  hypertension_grade is correct before only when the truth has no grade (no export carries one).
- not measured: patient_name and phone (they never leave the raw landing) and the as-sent
  diagnosis_name/diagnosis_code (their meaning is measured through the derived elements).
One extra row per source and entity with element '(record)': all measured elements correct.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from pipelines.contracts.bindings import raw_table_bindings
from pipelines.contracts.sql import quote_identifier as qi
from pipelines.contracts.sql import quote_literal as ql
from pipelines.contracts.standard import Standard, default_standard, record_keys
from pipelines.ingest.registry import SourceConfig
from pipelines.standardize.secret import person_keys

FATAL_DIRT = ("id_check_digit", "missing_required", "future_date", "discharge_before_admission")
SKIP_ELEMENTS = {"patient_name", "phone", "diagnosis_name", "diagnosis_code"}
DERIVED_DX = ("diagnosis_code_std", "icd10_category", "hypertension_grade")
ACCURACY_COLUMNS = [
    "source_id",
    "entity",
    "element",
    "records",
    "correct_before",
    "correct_after",
    "recoverable",
    "correct_after_recoverable",
    "accuracy_before",
    "accuracy_after",
    "accuracy_after_recoverable",
]


def _after_sql(data_type: str, s: str, t: str) -> str:
    if data_type == "date":
        return f"coalesce(strftime({s}, '%Y-%m-%d'), '') = coalesce({t}, '')"
    if data_type == "datetime":
        return f"coalesce(strftime({s}, '%Y-%m-%d %H:%M:%S'), '') = coalesce({t}, '')"
    if data_type in ("integer", "decimal"):
        return (
            f"(({s} IS NULL AND nullif(trim({t}), '') IS NULL) OR abs({s} - TRY_CAST({t} AS DOUBLE)) < 0.005)"
        )
    return f"coalesce(CAST({s} AS VARCHAR), '') = coalesce({t}, '')"


def accuracy_by_field(
    con,
    truth_dir: Path,
    sources: dict[str, SourceConfig],
    secret: bytes,
    standard: Standard | None = None,
    entities: list[str] | None = None,
):
    """Compute and (re)write std.accuracy_by_field; returns it as a pandas DataFrame."""
    std = standard or default_standard()
    records_dir = Path(truth_dir) / "records"
    selects: list[str] = []
    files_csv = Path(truth_dir) / "files.csv"
    has_files = files_csv.exists()
    if has_files:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _acc_truth_files AS SELECT delivery, source_id, file_name, sha256 "
            f"FROM read_csv({ql(str(files_csv))}, all_varchar = true, header = true)"
        )
    for entity in entities or list(record_keys()):
        truth_file = records_dir / f"{entity}.parquet"
        if not truth_file.exists() or not _exists(con, "std", entity):
            continue
        tname = f"_acc_truth_{entity}"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {tname} AS SELECT * FROM read_parquet({ql(str(truth_file))})"
        )
        truth_cols = {r[0] for r in con.execute(f"DESCRIBE {tname}").fetchall()}
        elements = [e for e in std.entity_elements(entity, ("canonical",)) if e.element not in SKIP_ELEMENTS]
        elements = [e for e in elements if e.element in truth_cols]
        if "patient_id_number" in truth_cols:
            ids = [
                r[0]
                for r in con.execute(
                    f"SELECT DISTINCT upper(patient_id_number) FROM {tname} WHERE patient_id_number IS NOT NULL"
                ).fetchall()
            ]
            con.register("_acc_pk_rows", pa.table({"id": ids, "pk": person_keys(secret, ids)}))
            con.execute(f"CREATE OR REPLACE TEMP TABLE _acc_pk_{entity} AS SELECT * FROM _acc_pk_rows")
            con.unregister("_acc_pk_rows")
        std_cols = {r[0] for r in con.execute(f"DESCRIBE std.{qi(entity)}").fetchall()}
        for source_id, cfg in sorted(sources.items()):
            raw_plain = f"{source_id}__{entity}"
            if not _exists(con, "raw", raw_plain):
                continue
            bind = raw_table_bindings(
                con, cfg, source_id, entity, std.entity_elements(entity, ("canonical",))
            )
            fatal = (
                " OR ".join(f"contains(coalesce(t.dirt, ''), {ql(k)})" for k in FATAL_DIRT)
                if "dirt" in truth_cols
                else "false"
            )
            key_col = "record_key" if "record_key" in truth_cols else None
            dup = (
                f"(row_number() OVER (PARTITION BY t.source_id, t.file_name, t.{key_col} ORDER BY t.row_number) > 1)"
                if key_col
                else "false"
            )
            per_element: list[tuple[str, str, str, str]] = []  # (element, before, after, recoverable)
            for e in elements:
                n = e.element
                b = bind.get(n)
                raw = b.raw_sql if b else "NULL"
                tv = f"t.{qi(n)}"
                before = f"coalesce(trim({raw}), '') = coalesce(CAST({tv} AS VARCHAR), '')"
                if e.normalizer == "id_number":
                    if "person_key" not in std_cols:
                        continue
                    after = "(s.row_number IS NOT NULL AND s.person_key IS NOT DISTINCT FROM t._truth_pk)"
                elif n in std_cols:
                    after = f"(s.row_number IS NOT NULL AND {_after_sql(e.data_type, 's.' + qi(n), 'CAST(' + tv + ' AS VARCHAR)')})"
                else:
                    continue
                rec = f"(NOT fatal AND NOT (nullif(trim({raw}), '') IS NULL AND nullif(CAST({tv} AS VARCHAR), '') IS NOT NULL))"
                per_element.append((n, before, after, rec))
            if {"diagnosis_code_std", "icd10_category"} <= truth_cols and "diagnosis_code_std" in std_cols:
                code_raw = bind["diagnosis_code"].raw_sql if "diagnosis_code" in bind else "NULL"
                name_raw = bind["diagnosis_name"].raw_sql if "diagnosis_name" in bind else "NULL"
                dx_rec = f"(NOT fatal AND coalesce(nullif(trim({name_raw}), ''), nullif(trim({code_raw}), '')) IS NOT NULL)"
                per_element.append(
                    (
                        "diagnosis_code_std",
                        f"coalesce(trim({code_raw}), '') = coalesce(t.diagnosis_code_std, '')",
                        "(s.row_number IS NOT NULL AND coalesce(s.diagnosis_code_std, '') = coalesce(t.diagnosis_code_std, ''))",
                        dx_rec,
                    )
                )
                per_element.append(
                    (
                        "icd10_category",
                        f"coalesce(left(trim({code_raw}), 3), '') = coalesce(t.icd10_category, '')",
                        "(s.row_number IS NOT NULL AND coalesce(s.icd10_category, '') = coalesce(t.icd10_category, ''))",
                        dx_rec,
                    )
                )
                if "hypertension_grade" in truth_cols:
                    per_element.append(
                        (
                            "hypertension_grade",
                            "nullif(CAST(t.hypertension_grade AS VARCHAR), '') IS NULL",
                            "(s.row_number IS NOT NULL AND coalesce(CAST(s.hypertension_grade AS VARCHAR), '') = "
                            "coalesce(CAST(t.hypertension_grade AS VARCHAR), ''))",
                            dx_rec,
                        )
                    )
            if not per_element:
                continue
            flags = ", ".join(
                f"({bf}) AS b{i}, ({af}) AS a{i}, ({rf}) AS r{i}"
                for i, (_, bf, af, rf) in enumerate(per_element)
            )
            if has_files and "delivery" in truth_cols:  # the truth of exactly the bytes that were landed
                file_join = (
                    "JOIN _acc_truth_files tf ON tf.delivery = t.delivery AND tf.source_id = t.source_id "
                    "AND tf.file_name = t.file_name "
                    f"JOIN raw.files f ON f.sha256 = tf.sha256 AND f.file_name = t.file_name AND f.source_id = t.source_id "
                    f"AND f.entity = {ql(entity)} "
                    "AND f.status = 'landed'"
                )
            else:
                file_join = (
                    "JOIN raw.files f ON f.source_id = t.source_id AND f.file_name = t.file_name "
                    f"AND f.entity = {ql(entity)} AND f.status = 'landed'"
                )
            has_pk = "patient_id_number" in truth_cols
            pk_col = "pk.pk" if has_pk else "NULL::VARCHAR"
            pk_join = f"LEFT JOIN _acc_pk_{entity} pk ON pk.id = upper(t.patient_id_number)" if has_pk else ""
            base = f"_acc_base_{entity}_{source_id}"
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE {qi(base)} AS
                WITH tt AS (
                    SELECT t.*, {pk_col} AS _truth_pk, ({fatal}) OR {dup} AS fatal
                    FROM {tname} t {pk_join} WHERE t.source_id = {ql(source_id)}
                )
                SELECT {flags}
                FROM tt t
                {file_join}
                LEFT JOIN raw.{qi(raw_plain)} r ON r._file_id = f.file_id AND r._row_number = t.row_number
                LEFT JOIN std.{qi(entity)} s ON s.source_id = {ql(source_id)} AND s.file_id = f.file_id
                     AND s.row_number = t.row_number"""
            )
            for i, (n, *_rest) in enumerate(per_element):
                selects.append(
                    f"SELECT {ql(source_id)} AS source_id, {ql(entity)} AS entity, {ql(n)} AS element, "
                    f"count(*) AS records, count(*) FILTER (WHERE b{i}) AS correct_before, "
                    f"count(*) FILTER (WHERE a{i}) AS correct_after, count(*) FILTER (WHERE r{i}) AS recoverable, "
                    f"count(*) FILTER (WHERE r{i} AND a{i}) AS correct_after_recoverable FROM {qi(base)}"
                )
            all_b = " AND ".join(f"b{i}" for i in range(len(per_element)))
            all_a = " AND ".join(f"a{i}" for i in range(len(per_element)))
            all_r = " AND ".join(f"r{i}" for i in range(len(per_element)))
            selects.append(
                f"SELECT {ql(source_id)}, {ql(entity)}, '(record)', count(*), count(*) FILTER (WHERE {all_b}), "
                f"count(*) FILTER (WHERE {all_a}), count(*) FILTER (WHERE {all_r}), "
                f"count(*) FILTER (WHERE ({all_r}) AND ({all_a})) FROM {qi(base)}"
            )
    con.execute("CREATE SCHEMA IF NOT EXISTS std")
    body = (
        " UNION ALL ".join(selects)
        if selects
        else (
            "SELECT NULL::VARCHAR AS source_id, NULL::VARCHAR AS entity, NULL::VARCHAR AS element, 0::BIGINT AS records, "
            "0::BIGINT AS correct_before, 0::BIGINT AS correct_after, 0::BIGINT AS recoverable, "
            "0::BIGINT AS correct_after_recoverable WHERE false"
        )
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE std.accuracy_by_field AS
        SELECT source_id, entity, element, CAST(records AS BIGINT) AS records,
               CAST(correct_before AS BIGINT) AS correct_before, CAST(correct_after AS BIGINT) AS correct_after,
               CAST(recoverable AS BIGINT) AS recoverable,
               CAST(correct_after_recoverable AS BIGINT) AS correct_after_recoverable,
               round(correct_before / nullif(records, 0), 4) AS accuracy_before,
               round(correct_after / nullif(records, 0), 4) AS accuracy_after,
               round(correct_after_recoverable / nullif(recoverable, 0), 4) AS accuracy_after_recoverable
        FROM ({body}) ORDER BY entity, source_id, element"""
    )
    for (t,) in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_name LIKE '\\_acc\\_%' ESCAPE '\\' "
        "AND table_type = 'LOCAL TEMPORARY'"
    ).fetchall():
        con.execute(f"DROP TABLE IF EXISTS {qi(t)}")
    return con.execute("SELECT * FROM std.accuracy_by_field").df()


def summary(con) -> dict[str, float]:
    """Overall value-level numbers (excluding '(record)' rows) and record-level numbers."""
    v = con.execute(
        "SELECT sum(records), sum(correct_before), sum(correct_after), sum(recoverable), "
        "sum(correct_after_recoverable) FROM std.accuracy_by_field WHERE element <> '(record)'"
    ).fetchall()[0]
    r = con.execute(
        "SELECT sum(records), sum(correct_before), sum(correct_after), sum(recoverable), "
        "sum(correct_after_recoverable) FROM std.accuracy_by_field WHERE element = '(record)'"
    ).fetchall()[0]

    def ratio(a, b):
        return round(float(a) / float(b), 4) if a is not None and b else 0.0

    return {
        "values": int(v[0] or 0),
        "value_accuracy_before": ratio(v[1], v[0]),
        "value_accuracy_after": ratio(v[2], v[0]),
        "recoverable_values": int(v[3] or 0),
        "recoverable_accuracy_after": ratio(v[4], v[3]),
        "records": int(r[0] or 0),
        "record_accuracy_before": ratio(r[1], r[0]),
        "record_accuracy_after": ratio(r[2], r[0]),
        "recoverable_records": int(r[3] or 0),
        "recoverable_record_accuracy_after": ratio(r[4], r[3]),
    }


def _exists(con, schema: str, name: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, name],
        ).fetchall()[0][0]
    )
