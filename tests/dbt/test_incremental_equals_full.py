"""An incremental build after a second delivery equals a full rebuild on the same data, every mart
row for row (issue 16). Day 1: the fixture without four February files. Day 2: those files arrive,
P02's January file is re-sent corrected under a new file id (V04 withdrawn), P03's December file is
withdrawn. The incremental `dbt run` re-links only the persons those files touch."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
from dbt_harness import run_dbt

HELD_BACK = {
    "visits": ["f_h03_202402", "f_p03_202402"],
    "referrals": ["f_ref_202402"],
    "followups": ["f_fu_202402"],
}
LINK_TABLES = [
    "int_referrals__linked_to_visits",
    "int_referrals__linked_to_down_referrals",
    "int_referrals__linked_to_followups",
    "int_referrals__linked_to_exams",
]
# incremental by touched person outside linking: the referrals, the criteria, the monthly panel
PERSON_TABLES = [
    "int_visits__attributed",  # by file, not by person; '*' re-derives it whole
    "int_referrals__unioned",
    "int_visits__up_referral_criteria",
    "int_chronic_care__management_monthly",
]


def _tables(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = ? "
            "and table_catalog = current_database() order by 1",
            [schema],
        ).fetchall()
    ]


def _difference(con: duckdb.DuckDBPyConnection, table: str) -> tuple[int, int, int]:
    """(rows, rows only in the incremental build, rows only in the full rebuild)."""
    rows = con.execute(f"select count(*) from {table}").fetchone()[0]
    only_inc = con.execute(
        f"select count(*) from (select * from {table} except all select * from full_db.{table})"
    ).fetchone()[0]
    only_full = con.execute(
        f"select count(*) from (select * from full_db.{table} except all select * from {table})"
    ).fetchone()[0]
    return rows, only_inc, only_full


def test_incremental_build_equals_full_rebuild(built_warehouse, tmp_path: Path):
    db, _ = built_warehouse
    inc = tmp_path / "incremental.duckdb"
    shutil.copyfile(db, inc)
    work = tmp_path / "work"

    # day 1: the held-back files are not delivered yet
    con = duckdb.connect(str(inc))
    try:
        for table, files in HELD_BACK.items():
            con.execute(f"create table main.held_{table} as select * from std.{table} where 1 = 0")
            for file_id in files:
                con.execute(
                    f"insert into main.held_{table} select * from std.{table} where file_id = ?", [file_id]
                )
                con.execute(f"delete from std.{table} where file_id = ?", [file_id])
    finally:
        con.close()
    assert run_dbt(["run", "--full-refresh"], inc, work).success

    # day 2: the held-back files arrive, one file is re-sent corrected, one is withdrawn
    con = duckdb.connect(str(inc))
    try:
        for table in HELD_BACK:
            con.execute(f"insert into std.{table} select * from main.held_{table}")
            con.execute(f"drop table main.held_{table}")
        con.execute("delete from std.visits where file_id = 'f_p02_202401' and visit_id = 'V04'")
        con.execute("update std.visits set file_id = 'f_p02_202401_v2' where file_id = 'f_p02_202401'")
        con.execute("delete from std.visits where file_id = 'f_p03_202312'")
    finally:
        con.close()
    full = tmp_path / "full.duckdb"
    shutil.copyfile(inc, full)

    assert run_dbt(["run"], inc, work).success
    assert run_dbt(["run", "--full-refresh"], full, tmp_path / "work_full").success

    con = duckdb.connect(str(inc))
    try:
        touched = [r[0] for r in con.execute(
            "select person_scope from intermediate.int_referrals__touched_persons order by 1"
        ).fetchall()]  # fmt: skip
        # new files: k3 k5 (f_h03_202402), k3 (f_p03_202402), k1 k3 k6 (f_ref_202402),
        # k1 k3 (f_fu_202402), k2 (f_p02_202401_v2); removed: k2 (f_p02_202401), k8 (f_p03_202312).
        # k4 and k7 (referrals R07, R08) are not touched: their links are kept, not re-derived.
        assert touched == ["k1", "k2", "k3", "k5", "k6", "k8"]

        con.execute(f"attach '{full}' as full_db (read_only)")
        marts = _tables(con, "marts")
        assert "fct_referrals" in marts and "indicator_values" in marts
        compared = {}
        for name in marts:
            compared[f"marts.{name}"] = _difference(con, f"marts.{name}")
        for name in LINK_TABLES + PERSON_TABLES:
            compared[f"intermediate.{name}"] = _difference(con, f"intermediate.{name}")
    finally:
        con.close()
    mismatched = {t: d for t, d in compared.items() if d[1] or d[2]}
    assert mismatched == {}
    assert compared["marts.fct_referrals"][0] == 9 + 2  # nine platform referrals, two from dispositions
    assert all(compared[f"intermediate.{name}"][0] > 0 for name in LINK_TABLES + PERSON_TABLES)


def test_a_reference_change_rebuilds_everyone(built_warehouse, tmp_path: Path):
    """The terminology moves the hypertension codes to the diabetes category (a visit whose principal
    diagnosis carries no category of its own takes the terminology's): no file changed, yet any
    person's rows may, so the touched scope is '*' (everyone) and the incremental build equals a full
    rebuild again."""
    db, _ = built_warehouse
    inc = tmp_path / "incremental.duckdb"
    shutil.copyfile(db, inc)
    assert run_dbt(["run", "--full-refresh"], inc, tmp_path / "work").success
    con = duckdb.connect(str(inc))
    try:
        moved = con.execute(
            "update ref.terminology set icd10_category = 'E11' where icd10_category = 'I10'"
        ).fetchone()[0]
    finally:
        con.close()
    assert moved > 0
    full = tmp_path / "full.duckdb"
    shutil.copyfile(inc, full)
    assert run_dbt(["run"], inc, tmp_path / "work").success
    assert run_dbt(["run", "--full-refresh"], full, tmp_path / "work_full").success

    con = duckdb.connect(str(inc))
    try:
        touched = con.execute(
            "select person_scope from intermediate.int_referrals__touched_persons"
        ).fetchall()
        assert touched == [("*",)]
        con.execute(f"attach '{full}' as full_db (read_only)")
        compared = {f"marts.{name}": _difference(con, f"marts.{name}") for name in _tables(con, "marts")}
        for name in LINK_TABLES + PERSON_TABLES:
            compared[f"intermediate.{name}"] = _difference(con, f"intermediate.{name}")
    finally:
        con.close()
    assert {t: d for t, d in compared.items() if d[1] or d[2]} == {}


def test_a_full_standardize_touches_everyone(built_warehouse, tmp_path: Path):
    """A full standardize (new standard or terminology version) rewrites std rows in place under the
    same file ids, so no file is new, yet every row may differ: the touched scope is '*'. An
    incremental standardize run touches only its files' persons (here none)."""
    db, _ = built_warehouse
    wh = tmp_path / "warehouse.duckdb"
    shutil.copyfile(db, wh)
    scope = ["run", "--select", "int_referrals__file_persons", "int_referrals__touched_persons",
             "int_referrals__file_ledger"]  # fmt: skip

    def touched_after(run_id: int, mode: str) -> list[str]:
        con = duckdb.connect(str(wh))
        try:
            con.execute("create table if not exists std.standardize_runs (run_id bigint, mode varchar)")
            con.execute("insert into std.standardize_runs values (?, ?)", [run_id, mode])
        finally:
            con.close()
        assert run_dbt(scope, wh, tmp_path / "work").success
        con = duckdb.connect(str(wh), read_only=True)
        try:
            return [r[0] for r in con.execute(
                "select person_scope from intermediate.int_referrals__touched_persons order by 1"
            ).fetchall()]  # fmt: skip
        finally:
            con.close()

    assert touched_after(1, "full") == ["*"]  # the run log appears: a new fingerprint
    assert touched_after(2, "incremental") == []
    assert touched_after(3, "full") == ["*"]
