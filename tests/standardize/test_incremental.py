"""Standardize per file (issue 16): a second delivery stages only its new files; a re-sent file replaces
its rows; a new standard or terminology version rebuilds in full; each run is recorded."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

from pipelines.standardize import standardize_all
from pipelines.standardize.standard import default_standard

from .conftest import CANON_COLUMNS, SECRET, SOURCES, FakeDiagnosisStandardizer

QUIET = {"log": lambda m: None}
# a daily file of the canonical source: a new patient visit, and a visit of 张三 with a payment
# type sent in words (居民医保, already mapped in file fa)
NEW_DAY = [
    ("V20", "H001", "01", "360426199101010071", "张三", "1", "1991-01-01", None, "1",
     "2025-04-02 09:00:00", None, None, "糖尿病", None, "居民医保", "35"),
    ("V21", "C001", "01", "120103198806018241", "李四", "2", "1988-06-01", None, "1",
     "2025-04-02 10:00:00", None, None, "高血压", "I10", "01", "20"),
]  # fmt: skip


def deliver(con, file_id: str, rows: list[tuple], received: str, replaces: str | None = None) -> None:
    """What landing does: rows into raw.canon__visits, the file into raw.files (a re-send's old rows
    leave raw and its old record becomes 'replaced')."""
    if replaces:
        con.execute("DELETE FROM raw.canon__visits WHERE _file_id = ?", [replaces])
        con.execute("UPDATE raw.files SET status = 'replaced' WHERE file_id = ?", [replaces])
    con.execute(
        "INSERT INTO raw.files (file_id, source_id, entity, file_name, received_at, status, replaces_file_id) "
        "VALUES (?, 'canon', 'visits', ?, CAST(? AS TIMESTAMP), 'landed', ?)",
        [file_id, f"visits_{file_id}.csv", received, replaces],
    )
    for i, r in enumerate(rows, start=1):
        con.execute(
            f"INSERT INTO raw.canon__visits VALUES ({', '.join('?' for _ in CANON_COLUMNS)}, ?, ?, NULL)",
            [*r, file_id, i],
        )


def last_run(con) -> tuple:
    return con.execute(
        "SELECT mode, reason, files_new, files_removed, detail FROM std.standardize_runs ORDER BY run_id DESC LIMIT 1"
    ).fetchone()


def snapshot(con) -> dict[str, list[tuple]]:
    out = {}
    for table in (
        "visits",
        "visit_diagnoses",
        "quarantine",
        "value_outcomes",
        "row_outcomes",
        "unmapped_terms",
    ):
        out[table] = sorted(con.execute(f"SELECT * FROM std.{table}").fetchall(), key=repr)
    return out


def test_second_delivery_stages_only_its_new_file_and_equals_a_full_rebuild(raw_con):
    dx = FakeDiagnosisStandardizer()
    first = standardize_all(raw_con, SOURCES, SECRET, diagnosis=dx, **QUIET)
    assert (first.mode, first.mode_reason) == ("full", "first run")
    assert first.entities["visits"].std_rows == 5

    deliver(raw_con, "fc", NEW_DAY, "2025-04-03 00:00:00")
    dx.calls.clear()
    second = standardize_all(raw_con, SOURCES, SECRET, diagnosis=dx, **QUIET)
    mode, reason, files_new, files_removed, detail = last_run(raw_con)
    assert (mode, reason, files_new, files_removed) == (
        "incremental", "same standard, terminology and engine versions", 1, 0,
    )  # fmt: skip
    assert "visits: +1 files" in detail and "referrals: unchanged" in detail
    # only the new file's two (diagnosis name, code) pairs went to the diagnosis standardizer
    assert [sorted(c, key=repr) for c in dx.calls] == [[("糖尿病", None), ("高血压", "I10")]]
    assert second.entities["visits"].std_rows == 7 and second.entities["visits"].reconciles
    assert raw_con.execute(
        "SELECT file_id, count(*) FROM std.visits GROUP BY 1 ORDER BY 1"
    ).fetchall() == [("fa", 3), ("fb", 2), ("fc", 2)]  # fmt: skip
    assert raw_con.execute(
        "SELECT visit_id, payment_type_code, diagnosis_code_std FROM std.visits WHERE file_id = 'fc' ORDER BY 1"
    ).fetchall() == [("V20", "02", "E11.900"), ("V21", "01", "I10xx01")]  # fmt: skip

    incremental = snapshot(raw_con)
    standardize_all(raw_con, SOURCES, SECRET, diagnosis=dx, full=True, **QUIET)
    assert last_run(raw_con)[:2] == ("full", "full rebuild requested")
    assert snapshot(raw_con) == incremental


def test_a_resent_file_replaces_its_rows(raw_con):
    dx = FakeDiagnosisStandardizer()
    standardize_all(raw_con, SOURCES, SECRET, diagnosis=dx, **QUIET)
    deliver(raw_con, "fc", NEW_DAY, "2025-04-03 00:00:00")
    standardize_all(raw_con, SOURCES, SECRET, diagnosis=dx, **QUIET)
    corrected = [NEW_DAY[0][:15] + ("45",)]  # V21 withdrawn, V20's fee corrected
    deliver(raw_con, "fc2", corrected, "2025-04-04 00:00:00", replaces="fc")
    report = standardize_all(raw_con, SOURCES, SECRET, diagnosis=dx, **QUIET)
    mode, _, files_new, files_removed, detail = last_run(raw_con)
    assert (mode, files_new, files_removed) == ("incremental", 1, 1)
    assert "visits: full (1 replaced or withdrawn files)" in detail
    assert report.entities["visits"].std_rows == 6
    assert raw_con.execute(
        "SELECT visit_id, file_id, total_fee FROM std.visits WHERE visit_id IN ('V20', 'V21')"
    ).fetchall() == [("V20", "fc2", 45)]  # fmt: skip


def test_a_new_standard_or_terminology_version_rebuilds_in_full(raw_con):
    dx = FakeDiagnosisStandardizer()
    standardize_all(raw_con, SOURCES, SECRET, diagnosis=dx, **QUIET)
    std = default_standard()
    bumped = dataclasses.replace(std, version=std.version + "-test")
    standardize_all(raw_con, SOURCES, SECRET, diagnosis=dx, standard=bumped, **QUIET)
    assert last_run(raw_con)[:2] == ("full", f"standard version {std.version} -> {std.version}-test")
    dx.pack = SimpleNamespace(pack_id="beijing_v601", version="2026.2", names={}, code_system="beijing_v601")
    standardize_all(raw_con, SOURCES, SECRET, diagnosis=dx, standard=bumped, **QUIET)
    assert last_run(raw_con)[:2] == ("full", "terminology version None@None -> beijing_v601@2026.2")
    dx.calls.clear()
    standardize_all(raw_con, SOURCES, SECRET, diagnosis=dx, standard=bumped, **QUIET)
    assert last_run(raw_con)[0] == "incremental" and dx.calls == []  # nothing new: nothing mapped
    assert [r[0] for r in raw_con.execute("SELECT mode FROM std.standardize_runs ORDER BY run_id").fetchall()] == [
        "full", "full", "full", "incremental",
    ]  # fmt: skip


def test_values_mapped_before_are_taken_from_the_cache(raw_con):
    dx = FakeDiagnosisStandardizer()
    standardize_all(raw_con, SOURCES, SECRET, diagnosis=dx, **QUIET)
    cached = raw_con.execute(
        "SELECT value FROM std.normalizer_cache WHERE raw = '居民医保' AND cache_key LIKE '%domain%'"
    ).fetchall()
    assert cached == [("02",)]
    # a marker in the cache shows the next run read it instead of normalizing 居民医保 again
    raw_con.execute("UPDATE std.normalizer_cache SET value = '99' WHERE raw = '居民医保'")
    deliver(raw_con, "fc", NEW_DAY, "2025-04-03 00:00:00")
    standardize_all(raw_con, SOURCES, SECRET, diagnosis=dx, **QUIET)
    assert raw_con.execute("SELECT payment_type_code FROM std.visits WHERE visit_id = 'V20'").fetchall() == [
        ("99",)
    ]
    # personal data never enters the cache
    assert raw_con.execute(
        "SELECT count(*) FROM std.normalizer_cache WHERE raw LIKE '%360426%' OR raw LIKE '%张三%'"
    ).fetchone() == (0,)


def test_a_reviewed_mapping_or_new_matching_rules_re_map_the_rows_already_standardized(raw_con):
    """What a diagnosis result depends on beyond the pack (reviewed_mappings.csv, the curated files,
    the matching logic: the standardizer's version()) is part of the terminology version: when the
    quality team adds a reviewed mapping, the next run re-maps every file, not only the new ones."""
    dx = FakeDiagnosisStandardizer()
    dx.pack = SimpleNamespace(pack_id="beijing_v601", version="2026.2", names={}, code_system="beijing_v601")
    dx.version = lambda: "logic-1|reviewed:aaaa"
    standardize_all(raw_con, SOURCES, SECRET, diagnosis=dx, **QUIET)
    standardize_all(raw_con, SOURCES, SECRET, diagnosis=dx, **QUIET)
    assert last_run(raw_con)[0] == "incremental"  # nothing changed
    dx.version = lambda: "logic-1|reviewed:bbbb"  # a row appended to reviewed_mappings.csv
    dx.calls.clear()
    standardize_all(raw_con, SOURCES, SECRET, diagnosis=dx, **QUIET)
    mode, reason, *_ = last_run(raw_con)
    assert mode == "full" and reason.startswith("terminology version beijing_v601@2026.2+"), reason
    assert dx.calls, "the rows already standardized were mapped again"
