"""The published snapshot: atomic swap, masking, and a failed publish leaves the old one in place."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.publish.snapshot import PublishError, publish


def make_warehouse(path, with_marts=True):
    con = duckdb.connect(str(path))
    con.execute("create schema marts; create schema quality; create schema raw; create schema std")
    if with_marts:
        con.execute("create table marts.indicator_registry as select 'primary_care_share' as indicator_id")
        con.execute(
            "create table marts.indicator_values as select 'primary_care_share' as indicator_id, "
            "'2025-06' as period, 'county' as geo_level, '360426' as geo_id, 61.2::double as value"
        )
    con.execute("create table quality.check_results as select 'r1' as run_id, 'id_check_digit' as check_id")
    con.execute(
        "create table raw.files as select 'f1' as file_id, '/secret/server/path/visits_202501.csv' as path, "
        "'visits_202501.csv' as file_name, 'landed' as status"
    )
    con.execute(
        "create table raw.quarantine as select * from (values "
        "('f1', 'his_a', 'visits', 7, 'land', 'patient_id_number', '360426199101010072', 'id_check_digit', 'bad'),"
        "('f1', 'his_a', 'visits', 9, 'land', 'visit_datetime', '2025-13-40', 'impossible_date', 'bad')"
        ") t(file_id, source_id, entity, row_number, stage, element, raw_value, reason_code, reason)"
    )
    con.close()


def test_publish_swaps_current_and_masks_personal_data(tmp_path):
    wh = tmp_path / "warehouse.duckdb"
    make_warehouse(wh)
    out = tmp_path / "published"
    snap = publish(wh, out, "run1", log=lambda _: None)
    current = out / "current.duckdb"
    assert current.is_symlink() and current.resolve() == snap.resolve()
    con = duckdb.connect(str(current), read_only=True)
    assert con.execute("select value from marts.indicator_values").fetchone()[0] == pytest.approx(61.2)
    assert con.execute("select run_id from meta.publish_info").fetchone()[0] == "run1"
    cols = [r[0] for r in con.execute("describe ingest.files").fetchall()]
    assert "path" not in cols and "file_name" in cols
    # quarantined rows (with their file row numbers) only in restricted, masked; a summary outside
    values = dict(con.execute("select element, raw_value from restricted.quarantine").fetchall())
    assert values["patient_id_number"] == "999999999999999999"  # shape only: pipelines.privacy.mask
    assert values["visit_datetime"] == "2025-13-40"
    summary = con.execute(
        "select element, reason_code, n_rows from ingest.quarantine_summary order by 1"
    ).fetchall()
    assert summary == [("patient_id_number", "id_check_digit", 1), ("visit_datetime", "impossible_date", 1)]
    # the raw tables themselves never reach the snapshot
    schemas = {
        r[0] for r in con.execute("select distinct table_schema from information_schema.tables").fetchall()
    }
    assert schemas == {"marts", "quality", "ingest", "meta", "restricted"}
    con.close()


def test_a_fact_table_is_published_only_in_restricted_and_aggregates_in_reporting(tmp_path):
    wh = tmp_path / "warehouse.duckdb"
    make_warehouse(wh)
    with duckdb.connect(str(wh)) as con:
        con.execute(
            "create table marts.fct_slot_pools as select 'P1' as pool_id, 'H3001' as institution_code, 250 as reserved_slots"
        )
        con.execute("create schema reporting")
        con.execute(
            "create table reporting.slot_pools_by_institution as select 'ALL' as period, 250 as reserved_slots"
        )
    snap = publish(wh, tmp_path / "published", "run1", log=lambda _: None)
    with duckdb.connect(str(snap), read_only=True) as con:
        tables = {
            r[0]
            for r in con.execute(
                "select table_schema || '.' || table_name from information_schema.tables"
            ).fetchall()
        }
    # no person key in fct_slot_pools, still row-level: restricted only
    assert "restricted.fct_slot_pools" in tables and "marts.fct_slot_pools" not in tables
    assert "reporting.slot_pools_by_institution" in tables


def test_a_reporting_table_with_a_person_key_stops_the_publish(tmp_path):
    wh = tmp_path / "warehouse.duckdb"
    make_warehouse(wh)
    with duckdb.connect(str(wh)) as con:
        con.execute("create schema reporting")
        con.execute("create table reporting.bad as select 'abc' as person_key, 3 as n")
    with pytest.raises(PublishError, match="reporting.bad has person-linking columns: person_key"):
        publish(wh, tmp_path / "published", "run1", log=lambda _: None)
    assert not (tmp_path / "published" / "current.duckdb").exists()


def test_failed_publish_keeps_previous_snapshot(tmp_path):
    out = tmp_path / "published"
    good = tmp_path / "good.duckdb"
    make_warehouse(good)
    first = publish(good, out, "run1", log=lambda _: None)
    bad = tmp_path / "bad.duckdb"
    make_warehouse(bad, with_marts=False)
    with pytest.raises(PublishError, match="marts.indicator_values"):
        publish(bad, out, "run2", log=lambda _: None)
    assert (out / "current.duckdb").resolve() == first.resolve()
    con = duckdb.connect(str(out / "current.duckdb"), read_only=True)
    assert con.execute("select run_id from meta.publish_info").fetchone()[0] == "run1"
    con.close()


def test_reader_keeps_old_snapshot_open_across_swap(tmp_path):
    wh = tmp_path / "warehouse.duckdb"
    make_warehouse(wh)
    out = tmp_path / "published"
    publish(wh, out, "run1", log=lambda _: None)
    reader = duckdb.connect(str(out / "current.duckdb"), read_only=True)
    publish(wh, out, "run2", log=lambda _: None)  # a pipeline publishing while a dashboard reads
    assert reader.execute("select run_id from meta.publish_info").fetchone()[0] == "run1"
    reader.close()
    fresh = duckdb.connect(str(out / "current.duckdb"), read_only=True)
    assert fresh.execute("select run_id from meta.publish_info").fetchone()[0] == "run2"
    fresh.close()


def test_unchanged_tables_are_not_copied_again(tmp_path):
    wh = tmp_path / "warehouse.duckdb"
    make_warehouse(wh)
    out = tmp_path / "published"
    publish(wh, out, "run1", log=lambda _: None)
    con = duckdb.connect(str(wh))
    con.execute("update marts.indicator_values set value = 62.5")  # a new month's recomputation
    con.execute("create table quality.file_results as select 'f1' as file_id")
    con.execute("drop table quality.check_results")
    con.close()
    snap = publish(wh, out, "run2", log=lambda _: None)
    con = duckdb.connect(str(snap), read_only=True)
    try:
        copied = con.execute("select table_name, copied from meta.table_fingerprints order by 1").fetchall()
        value = con.execute("select value from marts.indicator_values").fetchall()
        quality = con.execute(
            "select table_name from information_schema.tables where table_schema = 'quality' order by 1"
        ).fetchall()
        files = con.execute("select count(*) from ingest.files").fetchone()
    finally:
        con.close()
    assert copied == [
        ("marts.indicator_registry", False),
        ("marts.indicator_values", True),
        ("quality.file_results", True),
    ]
    assert value == [(62.5,)]
    assert quality == [("file_results",)]  # the dropped table left the snapshot too
    assert files == (1,)


def test_a_growing_table_is_copied_without_hashing_its_rows(tmp_path):
    """Day 2: marts.indicator_values gains a row (its row count differs from the recorded one), so it
    is copied without reading its rows for a hash (fingerprint ends in '|'). Day 3: same rows again,
    hashed now but the recorded fingerprint has no hash, so copied once more. Day 4: kept."""
    wh = tmp_path / "warehouse.duckdb"
    make_warehouse(wh)
    out = tmp_path / "published"
    publish(wh, out, "day1", log=lambda _: None)
    con = duckdb.connect(str(wh))
    con.execute(
        "insert into marts.indicator_values values ('primary_care_share', '2025-07', 'county', '360426', 63.0)"
    )
    con.close()

    def fingerprint_and_copied(snap):
        con = duckdb.connect(str(snap), read_only=True)
        try:
            return con.execute(
                "select fingerprint, copied from meta.table_fingerprints where table_name = 'marts.indicator_values'"
            ).fetchone()
        finally:
            con.close()

    day2 = fingerprint_and_copied(publish(wh, out, "day2", log=lambda _: None))
    day3 = fingerprint_and_copied(publish(wh, out, "day3", log=lambda _: None))
    day4 = fingerprint_and_copied(publish(wh, out, "day4", log=lambda _: None))
    assert day2[0].endswith("|2|") and day2[1] is True
    assert day3[0].startswith(day2[0]) and day3[0] != day2[0] and day3[1] is True
    assert day4 == (day3[0], False)
    con = duckdb.connect(str(out / "current.duckdb"), read_only=True)
    assert con.execute("select count(*) from marts.indicator_values").fetchone()[0] == 2
    con.close()
