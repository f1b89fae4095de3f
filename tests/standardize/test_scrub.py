"""Free-text scrubbing in the standardizer: IDs, phones and the record's own name typed into free-text
elements never reach std.*, and the scrubs are counted in std.value_outcomes."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.standardize import standardize_all
from pipelines.standardize.scrub import scrub_counts

from .conftest import SECRET, SOURCES, FakeDiagnosisStandardizer, make_raw

PLANTED = ["120103198806018241", "139-0571-2345", "13905712345", "0571-87654321", "李四"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    con = duckdb.connect(str(tmp_path_factory.mktemp("scrub") / "w.duckdb"))
    make_raw(con)
    con.execute("ALTER TABLE raw.canon__visits ADD COLUMN department_name VARCHAR")
    # what a clinician types: the patient's ID, phone and name in the diagnosis text and the department
    con.execute(
        "UPDATE raw.canon__visits SET diagnosis_name = '糖尿病 患者李四 身份证120103198806018241 电话 139-0571-2345', "
        "department_name = '内 科 李四 0571-87654321' WHERE visit_id = 'V2'"
    )
    con.execute("UPDATE raw.hisb__visits SET \"诊断\" = '糖尿病 联系13905712345' WHERE \"就诊流水号\" = 'B1'")
    report = standardize_all(
        con, SOURCES, SECRET, entities=["visits"], diagnosis=FakeDiagnosisStandardizer(), log=lambda m: None
    )
    yield con, report
    con.close()


def test_free_text_is_scrubbed_in_std(run):
    con, _ = run
    got = con.execute(
        "SELECT visit_id, department_name, diagnosis_name FROM std.visits WHERE visit_id IN ('V2', 'B1') ORDER BY 1"
    ).fetchall()
    assert got == [
        ("B1", None, "糖尿病联系[电话]"),  # cjk_space: the text normalizer joins 病 联
        ("V2", "内科 [姓名] [电话]", "糖尿病患者[姓名] 身份证[身份证号] 电话 [电话]"),
    ]


def test_no_planted_string_in_any_std_or_ref_column(run):
    con, _ = run
    hits = []
    for schema, table, column in con.execute(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "WHERE table_schema IN ('std', 'ref') AND data_type = 'VARCHAR'"
    ).fetchall():
        for s in PLANTED:
            if s == "李四" and (table, column) == ("quarantine", "raw_value"):
                continue  # names are masked there (checked below)
            n = con.execute(
                f'SELECT count(*) FROM {schema}."{table}" WHERE contains("{column}", ?)', [s]
            ).fetchone()[0]
            if n:
                hits.append((schema, table, column, s, n))
    assert hits == []


def test_scrub_counts_are_value_outcomes(run):
    con, _ = run
    assert scrub_counts(con) == [
        ("visits", "department_name", "canon", "name", 1),
        ("visits", "department_name", "canon", "phone", 1),
        ("visits", "diagnosis_name", "canon", "id_number", 1),
        ("visits", "diagnosis_name", "canon", "name", 1),
        ("visits", "diagnosis_name", "canon", "phone", 1),
        ("visits", "diagnosis_name", "hisb", "phone", 1),
    ]
    # the scrubbed department value is one 'corrected' outcome with its rules and its scrubbed raw value
    assert con.execute(
        "SELECT raw_value, normalized_value, outcome, rule, n_rows FROM std.value_outcomes "
        "WHERE element = 'department_name' AND outcome = 'corrected'"
    ).fetchall() == [
        ("内 科 [姓名] [电话]", "内科 [姓名] [电话]", "corrected", "scrub_phone+scrub_name+cjk_space", 1)
    ]


def test_outcomes_still_cover_every_landed_row_once_per_element(run):
    con, _ = run
    landed = {"canon": 10, "hisb": 2}
    for source, element, n in con.execute(
        "SELECT source_id, element, sum(n_rows) FROM std.value_outcomes WHERE entity = 'visits' GROUP BY ALL"
    ).fetchall():
        assert n == landed[source], (source, element, n)
