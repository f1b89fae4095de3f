"""Known-bad hand-made warehouse -> exactly these checks fail, with exactly these counts."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests_quality_helpers import AS_OF, ID_F, ID_M, SOURCES, make_id

from pipelines.quality import checks_for_table, load_catalogue, run_quality, violating_rows
from pipelines.quality.rules import id_valid_sql


def _run(con, run_id="r1", **kw):
    return run_quality(con, run_id, as_of=AS_OF, sources=SOURCES, log=lambda _m: None, **kw)


# (check_id, source_id) -> (violating_rows, denominator), for every failing result row of the fixture.
EXPECTED_FAILURES = {
    ("raw_visits_quarantined", "ALL"): (2, 7),  # his_t row 3 and canon row 2 are in std.quarantine
    ("raw_visits_quarantined", "canon"): (1, 2),  # his_t: 1/5 = 20% is not above the 20% threshold
    ("raw_visits_id_checksum", "ALL"): (2, 5),  # V3 bad check char, C2 17 chars; 2 valid his_t + C1
    ("raw_visits_id_checksum", "his_t"): (1, 3),
    ("raw_visits_id_checksum", "canon"): (1, 2),
    ("raw_visits_id_present", "ALL"): (1, 7),  # his_t row 4 (blank); the replaced file F0 is not counted
    ("raw_visits_id_present", "his_t"): (1, 5),
    ("raw_visits_visit_id_present", "ALL"): (1, 7),
    ("raw_visits_visit_id_present", "his_t"): (1, 5),
    ("std_visits_visit_id_present", "ALL"): (1, 5),
    ("std_visits_visit_id_present", "his_t"): (1, 4),
    ("std_visits_person_key_present", "ALL"): (1, 5),
    ("std_visits_person_key_present", "his_t"): (1, 4),
    ("std_visits_visit_type_present", "ALL"): (1, 5),
    ("std_visits_visit_type_present", "his_t"): (1, 4),
    ("std_visits_institution_known", "ALL"): (1, 5),  # Z999
    ("std_visits_institution_known", "his_t"): (1, 4),
    ("std_visits_visit_not_future", "ALL"): (1, 5),  # 2099-01-01
    ("std_visits_visit_not_future", "his_t"): (1, 4),
    ("std_visits_discharge_after_admission", "ALL"): (1, 2),  # V1; only V1 and C1 have both dates
    ("std_visits_discharge_after_admission", "his_t"): (1, 1),
    ("std_visits_sex_matches_id", "ALL"): (1, 3),  # V2; V1, V2, C1 have valid resident IDs
    ("std_visits_sex_matches_id", "his_t"): (1, 2),
    ("std_visits_birth_matches_id", "ALL"): (1, 3),  # V1 born 1991-01-02, ID says 1991-01-01
    ("std_visits_birth_matches_id", "his_t"): (1, 2),
    # V2 头疼待查 (a row without a code) and the no-id visit's text, placed nowhere (no row at all);
    # one row per visit that sent a diagnosis: C1's second, non-principal diagnosis not counted
    ("std_visits_diagnosis_mapped", "ALL"): (2, 5),
    ("std_visits_diagnosis_mapped", "his_t"): (2, 4),
    ("std_referrals_events_in_order", "ALL"): (1, 2),  # R2 accepted before its request
    ("std_referrals_events_in_order", "his_t"): (1, 2),
}
EXPECTED_BLOCKING = {
    "raw_visits_quarantined",
    "std_visits_visit_id_present",
    "std_visits_person_key_present",
    "std_visits_institution_known",
    "std_visits_visit_not_future",
    "std_visits_discharge_after_admission",
    "std_referrals_events_in_order",
}


def test_known_bad_data_fails_exactly_the_expected_checks(bad_run):
    _con, report = bad_run
    failing = {
        (r.check_id, r.source_id): (r.violating_rows, r.denominator)
        for r in report.results
        if r.status == "fail"
    }
    assert failing == EXPECTED_FAILURES
    assert {r.check_id for r in report.blocking_failures} == EXPECTED_BLOCKING
    assert not report.passed
    # tables the fixture does not have are reported as skipped, not as passing
    skipped = sorted(r.check_id for r in report.results if r.status == "skipped")
    assert skipped == sorted(
        ["raw_followups_id_checksum", "raw_contracts_id_checksum", "raw_slot_bookings_id_checksum",
         "raw_followups_quarantined", "raw_contracts_quarantined", "raw_slot_pools_quarantined",
         "raw_slot_bookings_quarantined",
         "std_followups_followup_datetime_present", "std_followups_institution_known", "std_followups_not_future",
         "std_contracts_institution_known", "std_contracts_end_after_sign", "std_slot_pools_institution_known",
         "std_slot_pools_reserved_within_total", "std_slot_bookings_institution_known"]
    )  # fmt: skip
    # passing checks with rows: exact denominators too
    ok = {
        (r.check_id, r.source_id): (r.violating_rows, r.denominator)
        for r in report.results
        if r.status == "pass"
    }
    assert ok[("std_referrals_sex_matches_id", "ALL")] == (0, 2)
    assert ok[("raw_referrals_id_checksum", "his_t")] == (0, 2)
    assert ok[("std_visits_daily_volume", "ALL")] == (0, 0)  # 5 days of data: no baseline yet


def test_gx_counts_equal_sql_counts_when_unsampled(bad_run):
    _con, report = bad_run
    rows = [r for r in report.results if r.source_id == "ALL" and r.status != "skipped" and r.denominator]
    assert len(rows) == 31  # 48 checks - 15 skipped - 2 volume checks without a baseline
    for r in rows:
        assert (r.gx_evaluated_rows, r.gx_unexpected_rows) == (r.denominator, r.violating_rows), r.check_id
        assert r.gx_success == (r.status == "pass"), r.check_id


def test_gx_sample_is_bounded_and_counts_stay_exact(bad_warehouse):
    report = _run(bad_warehouse, sample_rows=2)
    r = report.overall("raw_visits_id_present")
    assert (r.violating_rows, r.denominator) == (1, 7)  # exact, from DuckDB
    assert r.gx_evaluated_rows == 4  # GX saw 2 rows of each of the 2 raw tables


def test_results_persisted_with_the_contract_columns(bad_warehouse):
    con = bad_warehouse
    _run(con, use_gx=False)  # GX is covered by the tests above; this one is about persistence
    row = con.execute(
        """SELECT run_id, check_id, category, source_id, entity, element, violating_rows, denominator, rate,
                  threshold, severity, status
           FROM quality.check_results WHERE check_id = 'std_visits_institution_known' AND source_id = 'ALL'"""
    ).fetchall()
    assert row == [("r1", "std_visits_institution_known", "conformance", "ALL", "visits", "institution_code",
                    1, 5, 0.2, 0.0, "blocking", "fail")]  # fmt: skip
    # re-running the same run id replaces, another run id appends (GX is not the point here: skip it)
    _run(con, "r1", use_gx=False)
    _run(con, "r2", use_gx=False)
    assert con.execute(
        "SELECT run_id, count(*) FROM quality.check_results GROUP BY 1 ORDER BY 1"
    ).fetchall() == [
        ("r1", 101),
        ("r2", 101),
    ]  # 48 ALL rows + 53 per-source rows (checks x sources present in their tables)


def test_history_shows_new_resolved_and_still_failing(bad_warehouse):
    con = bad_warehouse
    _run(con, "r1", use_gx=False)
    # the hospital fixes the unknown institution code; a new referral arrives from an unknown hospital
    con.execute("UPDATE std.visits SET institution_code = 'B001' WHERE institution_code = 'Z999'")
    con.execute(
        """INSERT INTO std.referrals (referral_id, from_institution_code, to_institution_code, direction_code,
           request_datetime, source_id, file_id, row_number)
           VALUES ('R3', 'Q777', 'A001', '1', TIMESTAMP '2024-06-03 08:00:00', 'his_t', 'R1', 3)"""
    )
    _run(con, "r2", use_gx=False)
    changes = dict(
        con.execute(
            "SELECT check_id, change FROM quality.check_changes WHERE source_id = 'ALL' AND change <> 'still_passing'"
        ).fetchall()
    )
    assert changes == {
        "raw_visits_quarantined": "still_failing",
        "raw_visits_id_checksum": "still_failing",
        "raw_visits_id_present": "still_failing",
        "raw_visits_visit_id_present": "still_failing",
        "std_visits_visit_id_present": "still_failing",
        "std_visits_person_key_present": "still_failing",
        "std_visits_visit_type_present": "still_failing",
        "std_visits_institution_known": "resolved",
        "std_visits_visit_not_future": "still_failing",
        "std_visits_discharge_after_admission": "still_failing",
        "std_visits_sex_matches_id": "still_failing",
        "std_visits_birth_matches_id": "still_failing",
        "std_visits_diagnosis_mapped": "still_failing",
        "std_referrals_events_in_order": "still_failing",
        "std_referrals_from_institution_known": "new",
    }
    delta = con.execute(
        """SELECT previous_run_id, run_id, previous_violating_rows, violating_rows, violating_rows_delta
           FROM quality.check_changes WHERE check_id = 'std_visits_institution_known' AND source_id = 'ALL'"""
    ).fetchall()
    assert delta == [("r1", "r2", 1, 0, -1)]
    runs = con.execute("SELECT run_id, blocking_failed FROM quality.runs ORDER BY run_at, run_id").fetchall()
    assert runs == [("r1", 7), ("r2", 7)]  # institution_known resolved, from_institution_known new


def test_drill_down_lists_the_violating_rows_masked(bad_run):
    bad_warehouse, _report = bad_run
    df = violating_rows(bad_warehouse, "raw_visits_id_checksum", sources=SOURCES)
    assert df[
        ["source_id", "file_id", "row_number", "visit_id", "id_shape", "id_length"]
    ].values.tolist() == [
        ["canon", "F2", 2, "C2", "9" * 17, 17],
        ["his_t", "F1", 3, "V3", "9" * 18, 18],
    ]
    assert "patient_id_number" not in df.columns
    text = df.astype(str).to_string()
    for secret in ("360426199101010072", "11010119500315004", ID_M, ID_F):
        assert secret not in text
    df = violating_rows(bad_warehouse, "std_visits_sex_matches_id", sources=SOURCES)
    assert df[["visit_id", "sex_code", "id_sex", "person_key"]].values.tolist() == [
        ["V2", "1", "2", "bbbbbbbb…"]
    ]
    df = violating_rows(bad_warehouse, "std_visits_birth_matches_id", sources=SOURCES)
    assert df[["visit_id", "birth_month", "id_birth_month"]].values.tolist() == [["V1", "1991-01", "1991-01"]]
    df = violating_rows(bad_warehouse, "std_visits_discharge_after_admission", sources=SOURCES)
    assert df["visit_id"].tolist() == ["V1"]
    assert (
        len(violating_rows(bad_warehouse, "std_visits_institution_known", sources=SOURCES, source_id="canon"))
        == 0
    )


def test_scorecards_before_and_after_standardization(bad_run):
    bad_warehouse, _report = bad_run
    rows = bad_warehouse.execute(
        """SELECT grain, source_id, element, values_total, values_valid_as_received, values_valid_after,
                  conformance_before, conformance_after
           FROM quality.scorecards WHERE run_id = 'r1' AND values_total IS NOT NULL
           ORDER BY grain, source_id NULLS FIRST, element"""
    ).fetchall()
    assert rows == [
        ("element", None, "sex_code", 6, 3, 6, 0.5, 1.0),
        ("element", None, "visit_datetime", 5, 0, 4, 0.0, 0.8),
        ("source", "canon", None, 2, 2, 2, 1.0, 1.0),
        ("source", "his_t", None, 9, 1, 8, 1 / 9, 8 / 9),
        ("source_element", "canon", "sex_code", 2, 2, 2, 1.0, 1.0),
        ("source_element", "his_t", "sex_code", 4, 1, 4, 0.25, 1.0),
        ("source_element", "his_t", "visit_datetime", 5, 0, 4, 0.0, 0.8),
    ]
    inst = bad_warehouse.execute(
        """SELECT institution_code, blocking_failed FROM quality.scorecards
           WHERE run_id = 'r1' AND grain = 'institution' ORDER BY institution_code"""
    ).fetchall()
    # A001: V1 discharge < admission, R2 (from A001) out of order; B001: 1 of its 3 raw rows quarantined
    # (33% > 20%); C001: 1 of 2; Z999's row fails visit id, person key, institution known, not-future
    assert inst == [("A001", 2), ("B001", 1), ("C001", 1), ("Z999", 4)]


def test_mart_fitness_verdicts(bad_run):
    bad_warehouse, _report = bad_run
    verdicts = dict(
        bad_warehouse.execute("SELECT mart, verdict FROM quality.mart_fitness WHERE run_id = 'r1'").fetchall()
    )
    assert verdicts == {
        "fct_visits": "unfit",
        "fct_referrals": "unfit",
        "fct_slot_bookings": "not_checked",
        "fct_slot_pools": "not_checked",
        "fct_undertreated_cases": "unfit",
        "dim_institutions": "fit",
        "indicator_values": "unfit",
    }


def test_warnings_do_not_block(bad_warehouse):
    con = bad_warehouse
    # repair every blocking defect; the warnings (ID checks, visit type, diagnosis) stay
    con.execute("DELETE FROM std.visits WHERE visit_id IS NULL")
    con.execute(
        "DELETE FROM raw.canon__visits WHERE _row_number = 2"
    )  # the quarantined canon row re-sent fixed
    con.execute("DELETE FROM std.quarantine WHERE file_id = 'F2'")
    con.execute(
        "UPDATE std.visits SET discharge_datetime = TIMESTAMP '2024-06-03 10:00:00' WHERE visit_id = 'V1'"
    )
    con.execute(
        "UPDATE std.referrals SET accept_datetime = TIMESTAMP '2024-06-02 09:00:00' WHERE referral_id = 'R2'"
    )
    report = _run(con)
    assert report.passed and report.blocking_failures == []
    assert sorted({r.check_id for r in report.warnings}) == [
        "raw_visits_id_checksum", "raw_visits_id_present", "raw_visits_visit_id_present",
        "std_visits_birth_matches_id", "std_visits_diagnosis_mapped", "std_visits_sex_matches_id",
        "std_visits_visit_type_present",
    ]  # fmt: skip
    verdicts = dict(con.execute("SELECT mart, verdict FROM quality.mart_fitness").fetchall())
    assert verdicts["fct_visits"] == "fit_with_warnings"


def test_stage_filter_runs_only_that_stage(bad_warehouse):
    raw = _run(bad_warehouse, "raw-only", stage="raw")
    assert {r.check_id.split("_")[0] for r in raw.results} == {"raw"}
    # only the quarantine-share check blocks at the raw stage; row-level raw errors are warnings
    assert {r.check_id for r in raw.blocking_failures} == {"raw_visits_quarantined"}


def test_catalogue_and_checks_for_table():
    cat = load_catalogue()
    assert len(cat.checks) == 48
    assert all(c.reason and c.description for c in cat.checks)
    assert {c.category for c in cat.checks} == {"conformance", "completeness", "plausibility"}
    assert [c.check_id for c in checks_for_table("raw.his_b__visits")] == [
        "raw_visits_id_checksum", "raw_visits_id_present", "raw_visits_visit_id_present", "raw_visits_quarantined",
        "raw_visits_future_date", "raw_visits_discharge_before_admission", "raw_visits_missing_required",
    ]  # fmt: skip
    assert [c.check_id for c in checks_for_table("std.referrals")][:2] == [
        "std_referrals_referral_id_present",
        "std_referrals_direction_present",
    ]
    assert len(checks_for_table("std.visits")) == 11  # 8 row checks, 2 identity, 1 volume
    assert [c.check_id for c in checks_for_table("std.visit_diagnoses")] == ["std_visits_diagnosis_mapped"]
    assert checks_for_table("std.nothing") == []


@pytest.fixture(scope="module")
def mem():
    con = duckdb.connect()
    yield con
    con.close()


@settings(max_examples=60, deadline=None)
@given(
    area=st.from_regex(r"[1-8][0-9]{5}", fullmatch=True),
    birth=st.dates().map(lambda d: d.strftime("%Y%m%d")).filter(lambda s: len(s) == 8),
    seq=st.from_regex(r"[0-9]{3}", fullmatch=True),
    wrong=st.sampled_from("0123456789X"),
)
def test_id_check_character_sql_agrees_with_gb11643(mem, area, birth, seq, wrong):
    good = make_id(area, birth, seq)
    bad = good[:17] + wrong
    sql = f"SELECT {id_valid_sql('?1')}, {id_valid_sql('?2')}, {id_valid_sql('lower(?1)')}".replace(
        "?1", "$1"
    ).replace("?2", "$2")
    valid_good, valid_bad, lower = mem.execute(sql, [good, bad]).fetchall()[0]
    assert valid_good is True
    assert valid_bad is (bad == good)
    assert lower is (
        not good.endswith("X")
    )  # the rule expects the upper-case X (the frame upper-cases first)


def test_id_check_character_documented_examples(mem):
    assert make_id("360426", "19910101", "007") == ID_M
    assert make_id("120103", "19880601", "824") == ID_F
    got = mem.execute(
        f"SELECT {id_valid_sql('$1')}, {id_valid_sql('$2')}", [ID_M, ID_F[:17] + "X"]
    ).fetchall()
    assert got == [(True, False)]


def test_violation_samples_are_persisted_masked(bad_run):
    con, _report = bad_run
    expected = sum(v for (_c, src), (v, _d) in EXPECTED_FAILURES.items() if src != "ALL")
    assert expected == 16
    assert con.execute("SELECT count(*) FROM quality.violation_samples WHERE run_id = 'r1'").fetchall() == [
        (16,)
    ]
    rows = con.execute(
        """SELECT source_id, file_id, row_number, record->>'visit_id', record->>'person_key'
           FROM quality.violation_samples WHERE check_id = 'std_visits_sex_matches_id'"""
    ).fetchall()
    assert rows == [("his_t", "F1", 2, "V2", "bbbbbbbb…")]
    text = " ".join(r[0] for r in con.execute("SELECT record FROM quality.violation_samples").fetchall())
    for secret in ("360426199101010072", "11010119500315004", ID_M, ID_F, "b" * 9):
        assert secret not in text
