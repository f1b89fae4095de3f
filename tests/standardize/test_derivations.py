"""Derived elements computed from their row, as standard/derivations.csv declares them: the method's
SQL (pipelines/standardize/writer.py) checked on hand-worked rows, and the loader's checks."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from pipelines.contracts.standard import DERIVATION_METHODS, StandardError, default_standard, load_standard
from pipelines.settings import STANDARD_DIR
from pipelines.standardize.writer import DERIVATIONS


def _eval(expr: str, rows: list[tuple], columns: str) -> list:
    con = duckdb.connect()
    con.execute(f"CREATE TABLE s ({columns})")
    con.executemany(f"INSERT INTO s VALUES ({', '.join('?' * len(rows[0]))})", rows)
    return [r[0] for r in con.execute(f"SELECT {expr} FROM s ORDER BY rowid").fetchall()]


def test_every_method_the_standard_allows_has_its_sql_and_the_standard_uses_them():
    assert set(DERIVATIONS) == set(DERIVATION_METHODS)
    got = {(d.entity, d.element): (d.method, d.inputs) for d in default_standard().derivations}
    assert got[("visits", "age_years")] == ("completed_years", ("birth_date", "visit_datetime"))
    assert got[("visits", "length_of_stay_days")][0] == "calendar_days"


def test_completed_years_counts_a_year_only_once_the_birthday_has_come():
    expr = DERIVATIONS["completed_years"]("s.b", "s.v", stage_columns=set())
    rows = [
        ("1990-06-15", "2025-06-14 23:59:00"),  # the day before the 35th birthday: 34
        ("1990-06-15", "2025-06-15 00:00:00"),  # the birthday: 35
        ("2000-02-29", "2025-02-28 12:00:00"),  # born on a leap day, not yet 25 on 28 Feb
        ("2000-02-29", "2025-03-01 08:00:00"),  # 25 on 1 March
        ("2025-01-01", "2025-12-31 10:00:00"),  # an infant: 0
        (None, "2025-01-01 10:00:00"),  # no birth date: unknown
    ]
    assert _eval(expr, rows, "b DATE, v TIMESTAMP") == [34, 35, 24, 25, 0, None]


def test_calendar_days_counts_midnights_not_hours():
    expr = DERIVATIONS["calendar_days"]("s.a", "s.d", stage_columns=set())
    rows = [
        ("2025-03-01 23:00:00", "2025-03-02 01:00:00"),  # 2 hours over midnight: 1 day
        ("2025-03-01 08:00:00", "2025-03-01 20:00:00"),  # same day: 0
        ("2024-02-28 10:00:00", "2024-03-01 10:00:00"),  # across a leap day: 2
        ("2025-03-01 08:00:00", None),
    ]
    assert _eval(expr, rows, "a TIMESTAMP, d TIMESTAMP") == [1, 0, 2, None]


def test_county_basis_says_where_the_county_came_from():
    expr = DERIVATIONS["reported_or_from_id"]("s.c", stage_columns={"c", "_county_from_id"})
    rows = [("130101", False), ("130102", True), (None, False)]
    assert _eval(expr, rows, "c VARCHAR, _county_from_id BOOLEAN") == ["reported", "id_area_code", None]
    without_flag = DERIVATIONS["reported_or_from_id"]("s.c", stage_columns={"c"})
    assert _eval(without_flag, [("130101",), (None,)], "c VARCHAR") == ["reported", None]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("visits,visit_id,calendar_days,admission_datetime|discharge_datetime,x", "not a derived element"),
        ("visits,age_years,decades,birth_date|visit_datetime,x", "method 'decades'"),
        ("visits,age_years,completed_years,birth_date,x", "takes 2 input"),
        ("visits,age_years,completed_years,birth_date|no_such_element,x", "input 'no_such_element'"),
    ],
)
def test_the_loader_refuses_a_derivation_it_cannot_compute(tmp_path, row, message):
    std = tmp_path / "standard"
    shutil.copytree(STANDARD_DIR, std, ignore=shutil.ignore_patterns("terminology", "mappings", "canonical"))
    (std / "derivations.csv").write_text("entity,element,method,inputs,description\n" + row + "\n")
    with pytest.raises(StandardError, match=message):
        load_standard(std)
