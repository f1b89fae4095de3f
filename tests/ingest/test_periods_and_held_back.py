"""Periods taken from the rows (no YYYYMM in the name, or rows spanning months), and the held-back
rule: a refused file holds back its source's landed files of its period, nothing else."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines.ingest import land_inbox, load_sources
from pipelines.ingest.periods import period_config
from tests.ingest.corpus import SOURCES

H = "门诊号,姓名,就诊时间,诊断\n"


@pytest.mark.parametrize(
    ("value", "period"),
    [
        ("2025-03-01", "202503"),
        ("2025/3/1 8:00", "202503"),
        ("2025年3月1日", "202503"),
        ("20250301", "202503"),
        ("2025.10.05 08:00", "202510"),
        ("2025-10-05", "202510"),
        ("20251231", "202512"),
        (" 2025-1-5", "202501"),
        ("2025-13-01", None),
        ("202503", "202503"),
        ("2025-03", "202503"),
        ("03/01/2025", None),
        ("", None),
    ],
)
def test_the_period_of_a_date_as_received(value, period):
    pat = period_config()["period_pattern"]
    with duckdb.connect() as con:
        got = con.execute(
            "SELECT CASE WHEN regexp_matches($v, $p) THEN regexp_extract($v, $p, 1) || "
            "lpad(regexp_extract($v, $p, 2) || regexp_extract($v, $p, 3), 2, '0') END",
            {"v": value, "p": pat},
        ).fetchone()[0]
    assert got == period


def _land(tmp_path: Path, files: dict[str, str], months=None):
    inbox = tmp_path / "inbox"
    (inbox / "adv").mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (inbox / "adv" / name).write_text(text, encoding="utf-8")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    report = land_inbox(con, inbox, load_sources(SOURCES), months=months, log=lambda _m: None)
    return con, report


def test_a_file_without_yyyymm_takes_its_periods_from_its_rows(tmp_path):
    text = H + "V1,甲,2024-01-30 08:00,x\nV2,乙,2024/1/31,x\nV3,丙,2024年2月1日,x\nV4,丁,不详,x\n"
    con, report = _land(tmp_path, {"visits_export.csv": text}, months=["202402"])
    [f] = report.files
    assert (f.status, f.period, f.rows_landed) == ("landed", "202401", 4)  # seen by a --month 202402 run
    split = con.execute("SELECT period, n_rows FROM raw.file_periods ORDER BY period NULLS LAST").fetchall()
    assert split == [("202401", 2), ("202402", 1), (None, 1)]
    assert "periods_from_rows" in f.reason and "202401: 2, 202402: 1, ?: 1" in f.reason
    assert con.execute("SELECT period FROM raw.files").fetchall() == [("202401",)]


def test_a_named_single_month_file_gets_no_note(tmp_path):
    con, report = _land(tmp_path, {"visits_202401.csv": H + "V1,甲,2024-01-30,x\n"})
    [f] = report.files
    assert (f.period, f.reason) == ("202401", None)


def test_a_refused_file_holds_back_only_its_source_period(tmp_path):
    files = {
        "visits_202401.csv": H + "V1,甲,2024-01-05,x\n",
        "visits_202402.csv": H + "V2,乙,2024-02-05,x\n",
        "visits_202402_b.csv": H,  # header only: refused (no_records)
        "visits_export.csv": H + "V3,丙,2024-02-28,x\nV4,丁,2024-03-01,x\n",  # spans 202402-202403
        "visits_202403.csv": H + "V5,戊,2024-03-05,x\n",
    }
    con, report = _land(tmp_path, files)
    status = {f.path.name: f.status for f in report.files}
    assert status["visits_202402_b.csv"] == "rejected"
    held = con.execute(
        "SELECT source_id, period, file_name, reason_code, files_withheld, rows_withheld FROM raw.held_back"
    ).fetchall()
    assert held == [("adv", "202402", "visits_202402_b.csv", "no_records", 2, 3)]
    withheld = {
        r[0]
        for r in con.execute(
            "SELECT f.file_name FROM raw.held_back_files h JOIN raw.files f USING (file_id) WHERE f.status = 'landed'"
        ).fetchall()
    }
    assert withheld == {"visits_202402.csv", "visits_export.csv"}
    # a good file sent under the refused name releases the period
    (tmp_path / "inbox" / "adv" / "visits_202402_b.csv").write_text(
        H + "V6,己,2024-02-06,x\n", encoding="utf-8"
    )
    land_inbox(con, tmp_path / "inbox", load_sources(SOURCES), log=lambda _m: None)
    assert con.execute("SELECT count(*) FROM raw.held_back").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM raw.held_back_files").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM raw.files WHERE status = 'rejected'").fetchone()[0] == 0
