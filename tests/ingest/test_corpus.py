"""Every file of the hand-made adversarial corpus is read whole or refused with a reason — never a
short read: landed + quarantined + totals rows = the hand-counted records = the independent count."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines.ingest import land_inbox, load_sources
from pipelines.ingest.reasons import catalog
from tests.ingest.corpus import SOURCES, write_corpus


@pytest.fixture
def landed(tmp_path: Path):
    inbox = tmp_path / "inbox"
    expected = write_corpus(inbox)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    report = land_inbox(con, inbox, load_sources(SOURCES), log=lambda _m: None)
    yield con, report, expected
    con.close()


def test_every_corpus_file_is_read_whole_or_refused_with_a_reason(landed):
    con, report, expected = landed
    got = {(f.source_id, f.path.name): f for f in report.files}
    assert set(got) == set(expected)
    file_codes = set(catalog()["file"])
    for key, exp in expected.items():
        f = got[key]
        assert (f.status, f.reason_code if f.status == "rejected" else None) == (exp.status, exp.code), key
        if f.status == "landed":
            # read whole: what the reader accounted for is what a person counts in the file
            assert (f.rows_landed, f.rows_quarantined, f.rows_footer) == (
                exp.landed,
                exp.quarantined,
                exp.footer,
            ), key
            assert f.rows_read + f.rows_footer == exp.records, key
            assert f.rows_read > 0, key
            table = f'raw."{f.source_id}__{f.entity}"'
            n = con.execute(f"SELECT count(*) FROM {table} WHERE _file_id = ?", [f.file_id]).fetchone()[0]
            q = con.execute("SELECT count(*) FROM raw.quarantine WHERE file_id = ?", [f.file_id]).fetchone()[
                0
            ]
            assert (n, q) == (exp.landed, exp.quarantined), key
        else:
            # refused with a documented reason in Chinese and English, never with rows landed
            assert f.reason_code in file_codes, key
            assert f.reason.startswith(f.reason_code + ": ") and " / " in f.reason, key
            assert f.rows_landed == 0


def test_values_keep_their_line_breaks_and_lose_padding(landed):
    con, _, _ = landed
    rows = dict(
        con.execute(
            "SELECT 门诊号, 姓名 || '|' || 诊断 FROM raw.\"adv__visits\" v JOIN raw.files f ON f.file_id = v._file_id "
            "WHERE f.file_name = 'visits_quoted_breaks_202401.csv'"
        ).fetchall()
    )
    assert rows == {"V001": "张\n三|高血压\n2级", "V002": "李四|糖尿病\n(待查)", "V003": '王"五"|冠心病'}
    padded = con.execute(
        'SELECT 姓名 FROM raw."adv__visits" v JOIN raw.files f ON f.file_id = v._file_id '
        "WHERE f.file_name = 'visits_nul_bytes_202401.csv' ORDER BY _row_number"
    ).fetchall()
    assert [r[0] for r in padded] == ["患者1", "患者2", "患者3"]
    rare = con.execute(
        "SELECT 姓名 FROM raw.\"adv_gb__visits\" WHERE 门诊号 = 'V001' AND 姓名 LIKE '刘%'"
    ).fetchall()
    assert rare == [("刘䶮",)]


def test_normalization_is_noted_on_the_file(landed):
    _, report, _ = landed
    by_name = {f.path.name: f for f in report.files}
    assert "line_endings_normalized" in by_name["visits_mixed_endings_202401.csv"].reason
    assert "LF + CRLF + CR line endings" in by_name["visits_mixed_endings_202401.csv"].reason
    assert "control_bytes_removed" in by_name["visits_nul_bytes_202401.csv"].reason
    assert "decoded_utf16" in by_name["visits_utf16_202401.csv"].reason
    assert by_name["visits_bom_crlf_202401.csv"].reason is None  # one kind of line end: nothing to say


def test_a_short_read_is_refused_naming_both_numbers():
    from pipelines.ingest.file_lander import check_whole
    from pipelines.ingest.readers import RowReject, Staged
    from pipelines.ingest.reasons import FileRejected, sentence

    short = Staged(["a"], "SELECT 1", rows_staged=7, rejects=[RowReject(3, 4, "wrong_field_count", "", "")])
    short.expected_records = 10
    with pytest.raises(FileRejected) as exc:
        check_whole(short)
    assert exc.value.code == "record_count_mismatch"
    text = sentence("file", exc.value.code, file="x.csv", **exc.value.params)
    assert "10" in text and "8" in text
    empty = Staged(["a"], "SELECT 1", rows_staged=0, rows_footer=1)
    empty.expected_records = 1
    with pytest.raises(FileRejected) as exc:
        check_whole(empty)
    assert exc.value.code == "no_records"


def test_workbooks_read_every_matching_sheet_and_cached_formula_values(landed):
    con, report, _ = landed
    by_name = {f.path.name: f for f in report.files}
    two = by_name["visits_two_sheets_202401.xlsx"]
    assert "1月上半月 (3), 1月下半月 (2)" in two.reason and "填表说明" in two.reason
    got = con.execute(
        'SELECT 门诊号, 姓名, 就诊时间, _row_number FROM raw."adv_x__visits" WHERE _file_id = ? ORDER BY _row_number',
        [two.file_id],
    ).fetchall()
    assert got == [
        ("W001", "患者1", "2024-01-01 08:30:00", 1),
        ("W002", "患者2", "2024-01-02 08:30:00", 2),
        ("W003", "患者3", "2024-01-03 08:30:00", 3),
        ("W004", "患者4", "2024-01-20 09:00:00", 4),
        ("W005", "患者5", "2024-01-21 10:00:00", 5),
    ]
    formulas = by_name["visits_formulas_202401.xlsx"]
    names = con.execute(
        'SELECT 门诊号, 姓名 FROM raw."adv_x__visits" WHERE _file_id = ? ORDER BY 1', [formulas.file_id]
    ).fetchall()
    assert names == [("F001", "患者1"), ("F002", "患者2")]  # the cached value of the formula
    [(code, reason)] = con.execute(
        "SELECT reason_code, reason FROM raw.quarantine WHERE file_id = ?", [formulas.file_id]
    ).fetchall()
    assert code == "formula_without_value" and "B4" in reason and "CONCATENATE" in reason
    legacy = by_name["visits_legacy_202401.xls"]
    rows = con.execute(
        'SELECT 门诊号, 就诊时间 FROM raw."adv_xls__visits" WHERE _file_id = ? ORDER BY _row_number',
        [legacy.file_id],
    ).fetchall()
    assert rows == [("X001", "2024-01-02 08:30:00"), ("X002", "2024-01-03 09:00:00"), ("X003", "2024-01-04")]
