"""Issue 14 in the warehouse: the real diagnosis standardizer through standardize_all on a hand-made
landing. Expected values are written from the rules (docs/diagnosis.md), not copied from a run:

* every diagnosis of a field is a row of std.visit_diagnoses with its qualifier, confidence, mapping
  method and a tumour's morphology code; an ICD-O M-code is never a code, let alone the principal;
* the principal diagnosis is the first that is not a history (a field naming only a history has none);
  a suspected diagnosis may be principal, flagged in std.visits.diagnosis_qualifier;
* a national clinical 2.0 code keeps the grade and risk tier it carries.
"""

from __future__ import annotations

from types import SimpleNamespace

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.standardize import standardize_all
from pipelines.standardize.diagnosis import DiagnosisStandardizer
from pipelines.standardize.terminology.pack import is_morphology
from pipelines.standardize.terminology.structure import principal_index

from .conftest import CANON_COLUMNS, SECRET, SOURCES, _q

ID = "360426199101010071"
# (visit_id, diagnosis_name, diagnosis_code) as clinicians and HIS exports write them
DIAGNOSES = [
    ("D1", "肺癌", None),
    ("D2", "右肺腺癌(M81400/3)", None),
    ("D3", "高血压病史", None),
    ("D4", "糖尿病待查", None),
    ("D5", "2型糖尿病,高血压3级", None),
    ("D6", None, "I10.x00x032"),
    ("D7", "冠心病史;高血压?", None),
    ("D8", "既往脑梗死,2型糖尿病", None),
    ("D9", "否认糖尿病", None),
]


def _visit(i: int, visit_id: str, text: str | None, code: str | None) -> tuple:
    values = {
        "visit_id": visit_id,
        "institution_code": "H001",
        "patient_id_type": "01",
        "patient_id_number": ID,
        "sex_code": "1",
        "birth_date": "1991-01-01",
        "visit_type_code": "1",
        "visit_datetime": f"2025-03-{i:02d} 09:00:00",
        "diagnosis_name": text,
        "diagnosis_code": code,
        "payment_type_code": "01",
        "total_fee": "10",
    }
    return tuple(values.get(c) for c in CANON_COLUMNS)


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    con = duckdb.connect(str(tmp_path_factory.mktemp("dx") / "w.duckdb"))
    con.execute("CREATE SCHEMA raw; CREATE SCHEMA ref")
    con.execute(
        "CREATE TABLE raw.files (file_id VARCHAR, source_id VARCHAR, entity VARCHAR, path VARCHAR, file_name VARCHAR, "
        "period VARCHAR, sha256 VARCHAR, size_bytes BIGINT, received_at TIMESTAMP, rows_read BIGINT, "
        "rows_landed BIGINT, rows_quarantined BIGINT, rows_footer BIGINT, status VARCHAR, reason VARCHAR, "
        "replaces_file_id VARCHAR)"
    )
    con.execute(
        "INSERT INTO raw.files VALUES ('fa', 'canon', 'visits', 'canon/visits_202503.csv', 'visits_202503.csv', "
        f"'202503', 'x', 1, TIMESTAMP '2025-04-01 00:00:00', {len(DIAGNOSES)}, {len(DIAGNOSES)}, 0, 0, 'landed', "
        "NULL, NULL)"
    )
    con.execute(
        "CREATE TABLE ref.institutions (institution_code VARCHAR, institution_name VARCHAR, level_code VARCHAR, "
        "type_code VARCHAR, county_code VARCHAR, county_name VARCHAR)"
    )
    con.execute(
        "INSERT INTO ref.institutions VALUES ('H001', '市第一人民医院', '3', 'tertiary_hospital', '370202', '市南区')"
    )
    con.execute(
        f"CREATE TABLE raw.canon__visits ({', '.join(_q(c) + ' VARCHAR' for c in CANON_COLUMNS)}, "
        "_file_id VARCHAR, _row_number BIGINT, _extra VARCHAR)"
    )
    for i, (vid, text, code) in enumerate(DIAGNOSES, start=1):
        con.execute(
            f"INSERT INTO raw.canon__visits VALUES ({', '.join('?' for _ in CANON_COLUMNS)}, 'fa', ?, NULL)",
            [*_visit(i, vid, text, code), i],
        )
    report = standardize_all(
        con,
        {"canon": SOURCES["canon"]},
        SECRET,
        entities=["visits"],
        diagnosis=DiagnosisStandardizer.default(),
        log=lambda m: None,
    )
    assert report.reconciles
    yield con
    con.close()


def dx_rows(con, visit_id: str) -> list[dict]:
    cur = con.execute(
        "SELECT seq, code, icd10_category, qualifier, morphology_code, is_principal, confidence, mapping_method, "
        "hypertension_grade, risk_tier, diabetes_type, code_system FROM std.visit_diagnoses WHERE visit_id = ? "
        "ORDER BY seq",
        [visit_id],
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def principal(con, visit_id: str) -> dict:
    cur = con.execute(
        "SELECT diagnosis_code_std, icd10_category, diagnosis_qualifier, diagnosis_confidence, "
        "diagnosis_morphology_code, diagnosis_mapping_method, hypertension_grade FROM std.visits WHERE visit_id = ?",
        [visit_id],
    )
    names = [d[0] for d in cur.description]
    (row,) = cur.fetchall()
    return dict(zip(names, row, strict=True))


def test_every_visit_is_standardized(con):
    assert con.execute("SELECT count(*) FROM std.visits").fetchone() == (len(DIAGNOSES),)


def test_lung_cancer_on_the_site_code_with_carcinoma_morphology(con):
    (d,) = dx_rows(con, "D1")
    assert d["icd10_category"] == "C34"  # malignant neoplasm of bronchus and lung
    assert d["code"].startswith("C34")
    assert d["morphology_code"].startswith("M8010") and d["morphology_code"].endswith("/3")  # carcinoma NOS
    assert d["qualifier"] is None and d["is_principal"] is True
    p = principal(con, "D1")
    assert p["diagnosis_code_std"] == d["code"] and p["diagnosis_morphology_code"] == d["morphology_code"]


def test_adenocarcinoma_with_sender_morphology_keeps_it_beside_the_site(con):
    (d,) = dx_rows(con, "D2")
    assert d["icd10_category"] == "C34"
    assert d["morphology_code"].startswith("M8140") and d["morphology_code"].endswith("/3")  # adenocarcinoma
    assert principal(con, "D2")["icd10_category"] == "C34"


def test_history_only_field_has_no_principal(con):
    (d,) = dx_rows(con, "D3")
    assert (d["icd10_category"], d["qualifier"], d["is_principal"]) == ("I10", "history", False)
    p = principal(con, "D3")
    assert (p["diagnosis_code_std"], p["icd10_category"], p["diagnosis_qualifier"]) == (None, None, None)


def test_suspected_only_field_is_principal_flagged(con):
    (d,) = dx_rows(con, "D4")
    assert d["code"].startswith("E1") and d["qualifier"] == "suspected" and d["is_principal"] is True
    p = principal(con, "D4")
    assert p["diagnosis_code_std"] == d["code"] and p["diagnosis_qualifier"] == "suspected"


def test_two_diagnoses_in_one_field_first_is_principal(con):
    got = dx_rows(con, "D5")
    assert [(d["seq"], d["icd10_category"], d["is_principal"]) for d in got] == [
        (1, "E11", True),
        (2, "I10", False),
    ]
    assert got[0]["diabetes_type"] == "2"
    assert got[1]["hypertension_grade"] == 3
    p = principal(con, "D5")
    assert (p["icd10_category"], p["diagnosis_qualifier"], p["hypertension_grade"]) == ("E11", None, None)


def test_national_clinical_code_keeps_grade_and_risk(con):
    (d,) = dx_rows(con, "D6")
    assert (d["icd10_category"], d["hypertension_grade"], d["risk_tier"]) == ("I10", 3, "很高危")
    assert d["code_system"] == "national_clinical_2.0"
    assert d["qualifier"] is None and d["is_principal"] is True
    assert principal(con, "D6")["hypertension_grade"] == 3


def test_history_is_passed_over_for_a_suspected_diagnosis(con):
    got = dx_rows(con, "D7")
    by_cat = {d["icd10_category"]: d for d in got}
    assert by_cat["I25"]["qualifier"] == "history" and by_cat["I25"]["is_principal"] is False
    assert by_cat["I10"]["qualifier"] == "suspected" and by_cat["I10"]["is_principal"] is True
    p = principal(con, "D7")
    assert (p["icd10_category"], p["diagnosis_qualifier"]) == ("I10", "suspected")


def test_history_written_first_is_not_the_principal(con):
    got = dx_rows(con, "D8")
    assert [d["is_principal"] for d in got if d["qualifier"] == "history"] == [False]
    assert principal(con, "D8")["icd10_category"] == "E11"


def test_denied_condition_is_no_diagnosis(con):
    assert dx_rows(con, "D9") == []
    assert principal(con, "D9")["diagnosis_code_std"] is None


def test_confidence_and_method_on_every_row(con):
    bad = con.execute(
        "SELECT visit_id, seq FROM std.visit_diagnoses WHERE confidence IS NULL OR confidence < 0 "
        "OR confidence > 1 OR mapping_method IS NULL"
    ).fetchall()
    assert bad == []
    # the principal's confidence and method are those of its visit_diagnoses row
    assert con.execute(
        "SELECT count(*) FROM std.visits v JOIN std.visit_diagnoses d ON d.visit_id = v.visit_id AND d.is_principal "
        "WHERE v.diagnosis_confidence IS DISTINCT FROM d.confidence "
        "OR v.diagnosis_mapping_method IS DISTINCT FROM d.mapping_method"
    ).fetchone() == (0,)


def test_at_most_one_principal_and_never_a_morphology_code(con):
    assert con.execute(
        "SELECT count(*) FROM (SELECT visit_id FROM std.visit_diagnoses WHERE is_principal GROUP BY visit_id "
        "HAVING count(*) > 1)"
    ).fetchone() == (0,)
    codes = [r[0] for r in con.execute("SELECT code FROM std.visit_diagnoses").fetchall()]
    principals = [r[0] for r in con.execute("SELECT diagnosis_code_std FROM std.visits").fetchall()]
    assert codes and not any(is_morphology(c) for c in codes)
    assert not any(c and is_morphology(c) for c in principals)
    assert con.execute("SELECT count(*) FROM std.visit_diagnoses WHERE icd10_category = ''").fetchone() == (
        0,
    )


_QUALIFIERS = st.sampled_from([None, "suspected", "history", "post_operative"])
_CODES = st.sampled_from(["I10xx02", "E11.900", "C34.901", "M814000/3", "M801000/3", ""])


@given(st.lists(st.tuples(_CODES, _QUALIFIERS), max_size=6))
def test_principal_is_never_a_history_nor_a_morphology_code(items):
    diagnoses = [SimpleNamespace(code=c, qualifier=q) for c, q in items]
    i = principal_index(diagnoses)
    eligible = [d.qualifier != "history" and d.code != "" and not d.code.startswith("M") for d in diagnoses]
    if i is None:
        assert not any(eligible)
    else:
        assert eligible[i] and not any(eligible[:i])
        assert diagnoses[i].qualifier != "history" and not is_morphology(diagnoses[i].code)
