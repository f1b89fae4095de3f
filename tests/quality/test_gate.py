"""A blocking failure keeps the previously published warehouse in place (through the real Dagster assets)."""

from __future__ import annotations

import os

import dagster as dg
import duckdb

from pipelines.defs.publish import published_snapshot
from pipelines.defs.quality import quality_results
from pipelines.defs.resources import WarehouseResource
from pipelines.settings import paths


def _good_warehouse(db) -> None:
    con = duckdb.connect(str(db))
    try:
        con.execute("CREATE SCHEMA ref; CREATE SCHEMA std; CREATE SCHEMA marts")
        con.execute("CREATE TABLE ref.institutions AS SELECT 'A001' AS institution_code, '3' AS level_code")
        con.execute(
            """CREATE TABLE std.visits AS SELECT 'V1' AS visit_id, 'A001' AS institution_code, '01' AS patient_id_type,
               '1' AS sex_code, DATE '1991-01-01' AS birth_date, '1' AS visit_type_code,
               TIMESTAMP '2024-06-01 08:00:00' AS visit_datetime, CAST(NULL AS TIMESTAMP) AS admission_datetime,
               CAST(NULL AS TIMESTAMP) AS discharge_datetime, repeat('a', 64) AS person_key, 'his_t' AS source_id,
               'F1' AS file_id, 1::BIGINT AS row_number"""
        )
        con.execute("CREATE TABLE marts.indicator_registry AS SELECT 'primary_share' AS indicator_id")
        con.execute(
            "CREATE TABLE marts.indicator_values AS SELECT 'primary_share' AS indicator_id, 61.5 AS value"
        )
    finally:
        con.close()


def _materialize(data_dir) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [quality_results, published_snapshot],
        resources={"warehouse": WarehouseResource(data_dir=str(data_dir))},
        raise_on_error=False,
    )


def test_blocking_failure_keeps_the_published_snapshot(tmp_path):
    p = paths(tmp_path).ensure()
    _good_warehouse(p.warehouse)
    first = _materialize(tmp_path)
    assert first.success
    current = os.readlink(p.published)
    assert current == f"snapshots/{first.run_id}.duckdb"

    # a new delivery brings a visit at an institution the registry does not know (blocking check)
    con = duckdb.connect(str(p.warehouse))
    con.execute(
        "INSERT INTO std.visits (visit_id, institution_code, visit_datetime, person_key, source_id, file_id, row_number) "
        "VALUES ('V2', 'Z999', TIMESTAMP '2024-06-02 08:00:00', repeat('b', 64), 'his_t', 'F1', 2)"
    )
    con.execute("UPDATE marts.indicator_values SET value = 0.0")
    con.close()
    second = _materialize(tmp_path)
    assert not second.success
    failure = second.failure_data_for_node("published__snapshot")
    assert "blocking data-quality check(s) failed" in failure.error.message
    assert "std_visits_institution_known" in failure.error.message
    # the dashboards still read the first snapshot, with its values
    assert os.readlink(p.published) == current
    snap = duckdb.connect(str(p.published), read_only=True)
    try:
        assert snap.execute("SELECT value FROM marts.indicator_values").fetchall() == [(61.5,)]
        assert snap.execute("SELECT run_id FROM meta.publish_info").fetchall() == [(first.run_id,)]
    finally:
        snap.close()
    # and the warehouse recorded why: the second run's blocking failure, with its count
    con = duckdb.connect(str(p.warehouse), read_only=True)
    rows = con.execute(
        "SELECT check_id, violating_rows, denominator, status FROM quality.check_results "
        "WHERE run_id = ? AND severity = 'blocking' AND status = 'fail' AND source_id = 'ALL'",
        [second.run_id],
    ).fetchall()
    con.close()
    assert rows == [("std_visits_institution_known", 1, 2, "fail")]
