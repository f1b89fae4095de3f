"""Per-file check counts (issue 16): a run counts only the files no earlier run counted, and its
region-wide figures equal a recount of every row — after a new file, a corrected re-send, and a
change of the reference the rules look codes up in (which recounts everything)."""

from __future__ import annotations

from tests_quality_helpers import AS_OF, ID_M, SOURCES

from pipelines.quality import run_quality


def _run(con, run_id, **kw):
    return run_quality(con, run_id, as_of=AS_OF, sources=SOURCES, log=lambda _m: None, **kw)


def _recount(con):
    """Every row counted again, the per-file counts neither read nor written."""
    return _run(con, "recount", persist=False, incremental=False, drill_samples=0, use_gx=False)


def _overall(report, check_id: str) -> tuple[int, int]:
    row = report.overall(check_id)
    return row.violating_rows, row.denominator


def _counted_by(con, suite: str) -> dict[str, str]:
    return dict(
        con.execute(
            "SELECT file_id, counted_by_run FROM quality.counted_files WHERE suite = ?", [suite]
        ).fetchall()
    )


def _deliver_f3(con) -> None:
    """A new his_t file with one visit at an institution the registry does not know."""
    con.execute(
        "INSERT INTO raw.files (file_id, source_id, entity, file_name, period, rows_landed, status) "
        "VALUES ('F3', 'his_t', 'visits', 'visits_202407.csv', '202407', 1, 'landed')"
    )
    con.execute(
        "INSERT INTO raw.his_t__visits (就诊流水号, 机构编码, 证件类型, 身份证号, 性别, 就诊日期, _file_id, _row_number) "
        f"VALUES ('V9', 'Q001', '01', '{ID_M}', '男', '2024/07/01', 'F3', 1)"
    )
    con.execute(
        "INSERT INTO std.visits (visit_id, institution_code, patient_id_type, sex_code, visit_type_code, "
        "visit_datetime, person_key, source_id, file_id, row_number) VALUES "
        "('V9', 'Q001', '01', '1', '1', TIMESTAMP '2024-07-01 08:00:00', repeat('e', 64), 'his_t', 'F3', 1)"
    )


def test_a_rerun_counts_no_file_again_and_reports_the_same(bad_warehouse):
    con = bad_warehouse
    first = _run(con, "r1", use_gx=False)
    second = _run(con, "r2", use_gx=False)
    assert second.figures() == first.figures() == _recount(con).figures()
    assert second.institution_figures() == first.institution_figures()
    # std.visits holds the rows of F1 and F2; both were counted by the first run only
    assert _counted_by(con, "std.visits") == {"F1": "r1", "F2": "r1"}


def test_a_new_file_is_counted_alone_and_the_totals_add_it(bad_warehouse):
    con = bad_warehouse
    first = _run(con, "r1", use_gx=False)
    assert _overall(first, "std_visits_institution_known") == (1, 5)  # Z999 in F1
    _deliver_f3(con)
    second = _run(con, "r2", use_gx=False)
    assert _counted_by(con, "std.visits") == {"F1": "r1", "F2": "r1", "F3": "r2"}
    assert _overall(second, "std_visits_institution_known") == (2, 6)  # + Q001 in F3
    assert second.figures() == _recount(con).figures()
    assert second.institution_figures() == _recount(con).institution_figures()


def test_a_corrected_resend_replaces_the_counts_of_the_file_it_replaces(bad_warehouse):
    con = bad_warehouse
    _run(con, "r1", use_gx=False)
    # his_t re-sends F1 as F4 with the unknown institution Z999 corrected to B001
    con.execute("UPDATE raw.files SET status = 'replaced' WHERE file_id = 'F1'")
    con.execute(
        "INSERT INTO raw.files (file_id, source_id, entity, file_name, period, rows_landed, status) "
        "VALUES ('F4', 'his_t', 'visits', 'visits_202406.csv', '202406', 5, 'landed')"
    )
    con.execute(
        "INSERT INTO raw.his_t__visits SELECT * REPLACE ('F4' AS _file_id) FROM raw.his_t__visits WHERE _file_id = 'F1'"
    )
    con.execute(
        "UPDATE std.visits SET file_id = 'F4', institution_code = replace(institution_code, 'Z999', 'B001')"
    )
    con.execute("UPDATE std.visits SET file_id = 'F2' WHERE source_id = 'canon'")
    second = _run(con, "r2", use_gx=False)
    assert _counted_by(con, "std.visits") == {"F2": "r1", "F4": "r2"}  # F1's counts are gone
    assert _overall(second, "std_visits_institution_known") == (0, 5)
    assert second.figures() == _recount(con).figures()


def test_a_changed_registry_recounts_every_file(bad_warehouse):
    con = bad_warehouse
    _run(con, "r1", use_gx=False)
    con.execute("INSERT INTO ref.institutions VALUES ('Z999', '1')")  # the registry learns Z999
    second = _run(con, "r2", use_gx=False)
    assert _counted_by(con, "std.visits") == {"F1": "r2", "F2": "r2"}
    assert _overall(second, "std_visits_institution_known") == (0, 5)
    assert second.figures() == _recount(con).figures()
