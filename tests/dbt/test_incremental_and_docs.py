"""fct_visits is incremental by month (its input int_visits__attributed by file);
`dbt docs generate` works on the built project."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from dbt_harness import run_dbt

# fct_visits with the incremental tables it reads (the attributed visits, by file) and the touched
# scope they consult ('*' = re-derive everything), as a pipeline build refreshes them
FCT_VISITS_AND_INPUTS = [
    "int_referrals__file_persons",
    "int_referrals__touched_persons",
    "int_visits__attributed",
    "fct_visits",
]


def test_new_and_corrected_files_rebuild_only_their_months(warehouse_copy: Path, tmp_path: Path):
    con = duckdb.connect(str(warehouse_copy))
    try:
        # Mark every built row: a rebuilt month loses the mark, an untouched month keeps it.
        con.execute("update marts.fct_visits set department_name = 'MARK'")
        # a new daily file for March: k3's I63 visit 26 days after the admission V05 (not first)
        con.execute(
            "insert into std.visits (visit_id, institution_code, person_key, residence_county_code, "
            "visit_type_code, visit_datetime, department_name, diagnosis_code, file_id) values "
            "('V14', 'P03', 'k3', 'C2', '1', '2024-03-01 09:00:00', '全科', 'I63.900', 'f_p03_20240301')"
        )
        # a corrected re-send of P02's January file: V04 is withdrawn, V03 comes with a new file id
        con.execute("delete from std.visits where file_id = 'f_p02_202401' and visit_id = 'V04'")
        con.execute("update std.visits set file_id = 'f_p02_202401_v2' where file_id = 'f_p02_202401'")
    finally:
        con.close()

    run = run_dbt(["run", "--select", *FCT_VISITS_AND_INPUTS], warehouse_copy, tmp_path)
    assert run.success

    con = duckdb.connect(str(warehouse_copy), read_only=True)
    try:
        rows = con.execute(
            "select period, count(*), count(*) filter (where department_name = 'MARK') "
            "from marts.fct_visits group by period order by period"
        ).fetchall()
        v14 = con.execute(
            "select first_visit_of_episode, alliance_id from marts.fct_visits where visit_id = 'V14'"
        ).fetchall()
        v04 = con.execute("select count(*) from marts.fct_visits where visit_id = 'V04'").fetchone()
    finally:
        con.close()
    # 2023-12 untouched (still marked); 2024-01 (re-send), 2024-02 (month after), 2024-03 (new file)
    # rebuilt from std
    assert rows == [("2023-12", 1, 1), ("2024-01", 6, 0), ("2024-02", 5, 0), ("2024-03", 1, 0)]
    assert v14 == [(False, "A2")]
    assert v04 == (0,)


def test_a_withdrawn_file_rebuilds_its_month(warehouse_copy: Path, tmp_path: Path):
    """A file whose rows left std.visits (withdrawn, or replaced by a re-send whose rows moved to other
    months) takes its rows out of fct_visits although no new file arrived for that month."""
    con = duckdb.connect(str(warehouse_copy))
    try:
        con.execute("update marts.fct_visits set department_name = 'MARK'")
        con.execute("delete from std.visits where file_id = 'f_p03_202312'")  # V11, December 2023
    finally:
        con.close()

    run = run_dbt(["run", "--select", *FCT_VISITS_AND_INPUTS], warehouse_copy, tmp_path)
    assert run.success

    con = duckdb.connect(str(warehouse_copy), read_only=True)
    try:
        rows = con.execute(
            "select period, count(*), count(*) filter (where department_name = 'MARK') "
            "from marts.fct_visits group by period order by period"
        ).fetchall()
    finally:
        con.close()
    # December emptied; January (the month after) re-derived; February untouched
    assert rows == [("2024-01", 7, 0), ("2024-02", 5, 5)]


def test_dbt_docs_generate_writes_the_catalog(built_warehouse, dbt_work: Path):
    db, _ = built_warehouse
    run = run_dbt(["docs", "generate", "--no-compile"], db, dbt_work)  # reuses the session's parse
    assert run.success
    catalog = json.loads((dbt_work / "target" / "catalog.json").read_text(encoding="utf-8"))
    assert "model.referral_warehouse.fct_referrals" in catalog["nodes"]
    columns = catalog["nodes"]["model.referral_warehouse.indicator_values"]["columns"]
    assert list(columns) == [
        "value_key", "indicator_id", "period", "geo_level", "geo_id", "geo_name", "breakdown",
        "numerator", "denominator", "value", "null_reason", "null_reason_zh",
    ]  # fmt: skip
