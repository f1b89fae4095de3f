"""standardize_all on a hand-made raw landing: every outcome checked by hand."""

from __future__ import annotations

import hashlib
import hmac

import duckdb
import pytest

from pipelines.standardize import standardize_all
from pipelines.standardize.engine import ENTITIES

from .conftest import SECRET, SOURCES, FakeDiagnosisStandardizer, make_raw


def pk(id_number: str) -> str:
    return hmac.new(SECRET, id_number.encode(), hashlib.sha256).hexdigest()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One standardization of the hand-made landing, shared by the read-only tests below."""
    con = duckdb.connect(str(tmp_path_factory.mktemp("std") / "w.duckdb"))
    make_raw(con)
    dx = FakeDiagnosisStandardizer()
    report = standardize_all(con, SOURCES, SECRET, entities=["visits"], diagnosis=dx, log=lambda m: None)
    yield con, report, dx
    con.close()


def rows(con, sql, params=None):
    return con.execute(sql, params or []).fetchall()


def test_counts_reconcile(run):
    con, report, _ = run
    v = report.entities["visits"]
    assert (v.landed, v.std_rows, v.quarantined_rows, v.problems) == (12, 5, 7, 7)
    assert v.sources == ["canon", "hisb"]
    assert report.reconciles


def test_quarantine_one_row_per_problem_with_reason(run):
    con, _, _ = run
    got = rows(
        con,
        "SELECT source_id, file_id, row_number, stage, element, raw_value, reason_code FROM std.quarantine "
        "ORDER BY row_number",
    )
    assert got == [
        ("canon", "fa", 3, "standardize", "patient_id_number", "999999999999999999", "ID_BAD_CHECKSUM"),
        ("canon", "fa", 4, "standardize", "visit_datetime", "2025-02-30 10:00:00", "DATE_IMPOSSIBLE"),
        ("canon", "fa", 5, "standardize", "institution_code", "X999", "INSTITUTION_UNKNOWN"),
        ("canon", "fa", 6, "standardize", "visit_id", "V1", "DUPLICATE_KEY"),
        (
            "canon",
            "fa",
            7,
            "standardize",
            "discharge_datetime",
            "2025-03-04 10:00:00",
            "DISCHARGE_BEFORE_ADMISSION",
        ),
        ("canon", "fa", 8, "standardize", "visit_datetime", "2099-01-01 00:00:00", "FUTURE_DATE"),
        ("canon", "fa", 9, "standardize", "patient_id_number", None, "MISSING_REQUIRED"),
    ]
    assert rows(con, "SELECT reason FROM std.quarantine WHERE row_number = 3") == [
        ("Resident ID check digit wrong (证件号校验位错误)",)
    ]


def test_std_visits_values(run):
    con, _, _ = run
    got = rows(
        con,
        "SELECT visit_id, institution_code, patient_id_type, sex_code, birth_date::VARCHAR, visit_type_code, "
        "visit_datetime::VARCHAR, payment_type_code, total_fee, diagnosis_code_std, icd10_category, person_key, "
        "source_id, row_number FROM std.visits ORDER BY source_id, row_number",
    )
    a, b = "360426199101010071", "120103198806018241"
    assert got == [
        (
            "V1",
            "H001",
            "01",
            "1",
            "1991-01-01",
            "1",
            "2025-03-01 09:00:00",
            "01",
            120.5,
            "I10xx01",
            "I10",
            pk(a),
            "canon",
            1,
        ),
        # h001 -> H001; type inferred 01; 男 contradicts the (female) ID; birth date from the ID; 居民医保 -> 02
        (
            "V2",
            "H001",
            "01",
            "2",
            "1988-06-01",
            "1",
            "2025-03-02 00:00:00",
            "02",
            1200.0,
            "E11.900",
            "E11",
            pk(b),
            "canon",
            2,
        ),
        # unmapped sex replaced by the ID's; stated birth date 06-02 contradicts the ID; Z9/abc become NULL
        (
            "V10",
            "H001",
            "01",
            "2",
            "1988-06-01",
            "2",
            "2025-03-07 10:00:00",
            None,
            None,
            None,
            None,
            pk(b),
            "canon",
            10,
        ),
        # 15-digit ID -> same person as V1; hint format with 时/分
        (
            "B1",
            "C001",
            "01",
            "1",
            "1991-01-01",
            "1",
            "2025-03-03 08:30:00",
            None,
            None,
            "E11.900",
            "E11",
            pk(a),
            "hisb",
            1,
        ),
        (
            "B2",
            "C001",
            "01",
            "2",
            "1988-06-01",
            "1",
            "2025-03-04 00:00:00",
            None,
            None,
            "I10xx01",
            "I10",
            pk(b),
            "hisb",
            2,
        ),
    ]


def test_no_pii_leaves_the_raw_landing(run):
    con, _, _ = run
    cols = {
        r[0] for r in rows(con, "SELECT column_name FROM information_schema.columns WHERE table_schema='std'")
    }
    assert not cols & {"patient_id_number", "patient_name", "phone"}
    needles = ["360426199101010071", "120103198806018241", "360426910101007", "张三", "李四", "13800138000"]
    for (table,) in rows(con, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'std'"):
        varchar_cols = [
            r[0]
            for r in rows(
                con,
                "SELECT column_name FROM information_schema.columns WHERE table_schema='std' AND table_name=? "
                "AND data_type='VARCHAR'",
                [table],
            )
        ]
        for c in varchar_cols:
            for n in needles:
                hits = rows(con, f'SELECT count(*) FROM std."{table}" WHERE contains("{c}", ?)', [n])[0][0]
                assert hits == 0, (table, c, n)


def test_diagnoses_mapped_once_per_distinct_pair(run):
    con, _, dx = run
    assert len(dx.calls) == 1
    assert sorted(dx.calls[0], key=str) == sorted(
        [("高血压", "I10"), ("糖尿病", None), ("高血压", None), ("头痛待查", None), ("高血压;糖尿病", None)],
        key=str,
    )
    assert rows(
        con, "SELECT visit_id, seq, code, source_text FROM std.visit_diagnoses ORDER BY visit_id, seq"
    ) == [
        ("B1", 1, "E11.900", "糖尿病"),
        ("B2", 1, "I10xx01", "高血压"),
        ("B2", 2, "E11.900", "糖尿病"),
        ("V1", 1, "I10xx01", "高血压"),
        ("V2", 1, "E11.900", "糖尿病"),
    ]


def test_unmapped_worklist(run):
    con, _, _ = run
    assert rows(
        con,
        "SELECT element, raw_value, frequency, sources, first_seen::VARCHAR FROM std.unmapped_terms "
        "ORDER BY element",
    ) == [
        ("diagnosis_name", "头痛待查", 1, "canon", "2025-04-01 00:00:00"),
        ("payment_type_code", "Z9", 1, "canon", "2025-04-01 00:00:00"),
        ("sex_code", "未知性别?", 1, "canon", "2025-04-01 00:00:00"),
    ]


def test_value_outcomes(run):
    con, _, _ = run

    def outcome(element, source, outcome, rule=None, reason=None, table="value_outcomes"):
        return rows(
            con,
            f"SELECT sum(n_rows) FROM std.{table} WHERE element=? AND source_id=? AND outcome=? "
            "AND rule IS NOT DISTINCT FROM ? AND reason_code IS NOT DISTINCT FROM ?",
            [element, source, outcome, rule, reason],
        )[0][0]

    def row_outcome(element, source, result, rule=None, reason=None):
        return outcome(element, source, result, rule, reason, table="row_outcomes")

    assert row_outcome("sex_code", "canon", "corrected", "sex_from_id", "ID_SEX_MISMATCH") == 1
    assert row_outcome("sex_code", "canon", "corrected", "sex_from_id") == 1  # V10: unmapped spelling
    assert row_outcome("patient_id_type", "canon", "corrected", "id_type_inferred") == 1
    assert row_outcome("patient_id_type", "hisb", "corrected", "id_type_inferred") == 2
    assert outcome("sex_code", "canon", "unmapped", None, "CODE_NOT_IN_DOMAIN") == 1
    assert outcome("sex_code", "hisb", "corrected", "source_value_map") == 2
    assert row_outcome("birth_date", "canon", "corrected", "birth_date_from_id", "ID_BIRTHDATE_MISMATCH") == 1
    assert outcome("patient_id_number", "hisb", "corrected", "id_15_to_18") == 1
    assert outcome("patient_id_number", "hisb", "corrected", "trim") == 1
    assert outcome("patient_id_number", "canon", "invalid", None, "ID_BAD_CHECKSUM") == 1
    assert outcome("visit_datetime", "hisb", "corrected", "date_format:%Y年%m月%d日 %H时%M分") == 1
    assert row_outcome("visit_datetime", "canon", "invalid", None, "FUTURE_DATE") == 1
    assert outcome("phone", "canon", "invalid", None, "PHONE_INVALID") == 1
    assert outcome("total_fee", "canon", "invalid", None, "INVALID_FORMAT") == 1
    assert outcome("diagnosis_name", "canon", "unmapped", None, "DIAGNOSIS_UNMAPPED") == 1
    # value-level outcomes of every element cover every landed row of its source exactly once
    assert rows(
        con,
        "SELECT source_id, min(total), max(total), count(*) FROM (SELECT source_id, element, sum(n_rows) AS total "
        "FROM std.value_outcomes GROUP BY ALL) GROUP BY 1 ORDER BY 1",
    ) == [("canon", 10, 10, 16), ("hisb", 2, 2, 7)]
    # PII: no raw values, aggregated counts only
    assert rows(
        con,
        "SELECT count(*) FROM std.value_outcomes WHERE element IN ('patient_name', 'phone', "
        "'patient_id_number') AND raw_value IS NOT NULL",
    ) == [(0,)]


def test_rerun_is_idempotent_and_other_entities_are_empty_but_typed(raw_con):
    dx = FakeDiagnosisStandardizer()
    standardize_all(raw_con, SOURCES, SECRET, diagnosis=dx, log=lambda m: None)
    report = standardize_all(raw_con, SOURCES, SECRET, diagnosis=dx, log=lambda m: None)
    assert set(report.entities) == set(ENTITIES)
    assert report.entities["visits"].std_rows == 5
    assert rows(raw_con, "SELECT count(*) FROM std.quarantine") == [(7,)]
    assert rows(raw_con, "SELECT count(*) FROM std.referrals") == [(0,)]
    types = dict(
        rows(
            raw_con,
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema='std' "
            "AND table_name='referrals'",
        )
    )
    assert types["request_datetime"] == "TIMESTAMP"
    assert types["person_key"] == "VARCHAR"
    assert types["hypertension_grade"] == "INTEGER"
    assert "patient_id_number" not in types
    assert rows(raw_con, "SELECT count(*) FROM ref.data_elements") == [(143,)]
    assert rows(raw_con, "SELECT DISTINCT version FROM ref.data_elements") == [("2026.3.0",)]
    assert rows(raw_con, "SELECT count(*) FROM ref.terminology") == [(0,)]  # the double carries no pack
    assert rows(raw_con, "SELECT count(*) FROM ref.reason_codes") == [(21,)]


def test_row_rules_of_contracts_and_slot_pools(raw_con):
    raw_con.execute(
        "CREATE TABLE raw.canon__contracts (contract_id VARCHAR, patient_id_number VARCHAR, institution_code VARCHAR, "
        "sign_date VARCHAR, end_date VARCHAR, _file_id VARCHAR, _row_number BIGINT, _extra VARCHAR)"
    )
    raw_con.execute(
        "INSERT INTO raw.canon__contracts VALUES ('K1', '360426199101010071', 'C001', '2025-01-01', '2025-12-31', "
        "'fa', 1, NULL), ('K2', '360426199101010071', 'C001', '2025-03-01', '2025-01-01', 'fa', 2, NULL)"
    )
    raw_con.execute(
        "CREATE TABLE raw.canon__slot_pools (pool_id VARCHAR, institution_code VARCHAR, clinic_date VARCHAR, "
        "total_slots VARCHAR, reserved_slots VARCHAR, _file_id VARCHAR, _row_number BIGINT, _extra VARCHAR)"
    )
    raw_con.execute(
        "INSERT INTO raw.canon__slot_pools VALUES ('P1', 'H001', '2025-03-10', '40', '8', 'fa', 1, NULL), "
        "('P2', 'H001', '2025-03-10', '40', '41', 'fa', 2, NULL)"
    )
    sources = {
        "canon": SOURCES["canon"].__class__(
            source_id="canon",
            name="canon",
            format="canonical",
            files=SOURCES["canon"].files
            + tuple(
                SOURCES["canon"].files[0].__class__(entity=e, pattern=f"{e}_*.csv")
                for e in ("contracts", "slot_pools")
            ),
        )
    }
    report = standardize_all(
        raw_con, sources, SECRET, entities=["contracts", "slot_pools"], diagnosis=False, log=lambda m: None
    )
    assert (report.entities["contracts"].std_rows, report.entities["contracts"].quarantined_rows) == (1, 1)
    assert (report.entities["slot_pools"].std_rows, report.entities["slot_pools"].quarantined_rows) == (1, 1)
    assert rows(
        raw_con, "SELECT entity, row_number, element, raw_value, reason_code FROM std.quarantine ORDER BY 1"
    ) == [
        ("contracts", 2, "end_date", "2025-01-01", "END_BEFORE_START"),
        ("slot_pools", 2, "reserved_slots", "41", "RESERVED_EXCEEDS_TOTAL"),
    ]
    assert rows(raw_con, "SELECT contract_id, sign_date::VARCHAR, person_key FROM std.contracts") == [
        ("K1", "2025-01-01", pk("360426199101010071"))
    ]
