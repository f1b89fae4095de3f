"""End to end on the generator's tiny region: two deliveries, two quality runs, exact counts vs the truth."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from pipelines.generate.core import generate
from pipelines.ingest import land_inbox, load_registry, load_sources
from pipelines.quality import run_quality, violating_rows
from pipelines.standardize.engine import standardize_all

pytestmark = pytest.mark.slow

# dirt kind in the truth -> the raw-stage check that must count exactly those rows
DIRT_CHECKS = {
    "id_check_digit": "raw_visits_id_checksum",
    "future_date": "raw_visits_future_date",
    "discharge_before_admission": "raw_visits_discharge_before_admission",
}


def _truth_dirty(con: duckdb.DuckDBPyConnection, out, kind: str) -> set[tuple[str, int]]:
    """(file_id, row_number) of landed visit rows the generator dirtied with ``kind``."""
    rows = con.execute(
        f"""
        WITH landed AS (
            SELECT f.file_id, t.delivery, t.source_id, t.file_name
            FROM raw.files f JOIN read_csv('{out}/truth/files.csv', all_varchar = true) t ON t.sha256 = f.sha256
            WHERE f.status = 'landed' AND f.entity = 'visits')
        SELECT l.file_id, r.row_number
        FROM read_parquet('{out}/truth/records/visits.parquet') r
        JOIN landed l USING (delivery, source_id, file_name)
        WHERE list_contains(string_split(r.dirt, ';'), ?)
        """,
        [kind],
    ).fetchall()
    return {(f, int(n)) for f, n in rows}


def _pipeline(con, out, sources) -> None:
    """Land two of the dialects (Chinese-header GB18030 CSV and an English-header one) and standardize visits:
    enough for the visit checks, and it keeps the test quick."""
    load_registry(con, out / "registry")
    land_inbox(con, out / "inbox", sources, source_ids=["his_a", "his_b"], log=lambda _m: None)
    standardize_all(con, sources, b"q" * 32, entities=["visits"], log=lambda _m: None, diagnosis=False)


def test_two_deliveries_give_a_history_with_exact_deltas(tmp_path):
    out = tmp_path / "region"
    generate(out, scale="tiny", seed=7)
    sources = load_sources()
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    _pipeline(con, out, sources)
    first = run_quality(con, "run1", log=lambda _m: None)
    expected1 = {kind: _truth_dirty(con, out, kind) for kind in DIRT_CHECKS}
    for kind, check_id in DIRT_CHECKS.items():
        assert first.overall(check_id).violating_rows == len(expected1[kind]), check_id
    assert (
        len(expected1["id_check_digit"]) > 10 and len(expected1["future_date"]) > 0
    )  # the tiny region has dirt
    # the drill-down lists exactly the rows the generator dirtied
    listed = violating_rows(con, "raw_visits_id_checksum", limit=1000)
    assert (
        set(zip(listed["file_id"], listed["row_number"].astype(int), strict=True))
        == expected1["id_check_digit"]
    )
    # standardization quarantined them: the std tables are clean of these defects
    for check_id in (
        "std_visits_visit_not_future",
        "std_visits_discharge_after_admission",
        "std_visits_institution_known",
    ):
        r = first.overall(check_id)
        assert (r.violating_rows, r.status) == (0, "pass") and r.denominator > 20, check_id
    assert first.passed

    # the second delivery: corrected re-sends and the next day's files
    for src in (out / "later").iterdir():
        shutil.copytree(src, out / "inbox" / src.name, dirs_exist_ok=True)
    _pipeline(con, out, sources)
    second = run_quality(con, "run2", log=lambda _m: None, use_gx=False)  # GX ran in run1
    expected2 = {kind: _truth_dirty(con, out, kind) for kind in DIRT_CHECKS}
    for kind, check_id in DIRT_CHECKS.items():
        assert second.overall(check_id).violating_rows == len(expected2[kind]), check_id
    changes = {
        r[0]: r[1:]
        for r in con.execute(
            """SELECT check_id, previous_run_id, previous_violating_rows, violating_rows, violating_rows_delta
               FROM quality.check_changes WHERE source_id = 'ALL'"""
        ).fetchall()
    }
    for kind, check_id in DIRT_CHECKS.items():
        n1, n2 = len(expected1[kind]), len(expected2[kind])
        assert changes[check_id] == ("run1", n1, n2, n2 - n1), check_id
    assert any(row[3] != 0 for row in changes.values())  # the history shows a delta
    runs = con.execute("SELECT run_id FROM quality.runs ORDER BY run_at, run_id").fetchall()
    assert runs == [("run1",), ("run2",)]
    con.close()
