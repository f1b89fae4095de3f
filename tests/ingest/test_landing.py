"""Landing the hand-made fixture inbox (tests/ingest/fixtures): exact counts, row numbers, reasons."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipelines.ingest import land_inbox, load_sources
from pipelines.ingest.reasons import codes

A01_ID = "d655b1834140fe4b"  # sha256 prefix of fixtures/inbox/his_a/visits_202401.csv

# (source_id, file name) -> (status, reason_code, rows_read, rows_landed, rows_quarantined, rows_footer)
EXPECTED = {
    ("canon", "referrals_202401.csv"): ("landed", None, 2, 2, 0, 0),
    ("his_a", "readme.txt"): ("rejected", "no_matching_pattern", 0, 0, 0, 0),
    ("his_a", "visits_202401.csv"): ("landed", None, 5, 4, 1, 0),
    ("his_a", "visits_202401_copy.csv"): ("duplicate", "duplicate", 0, 0, 0, 0),
    ("his_a", "visits_202402.csv"): ("landed", None, 4, 3, 1, 0),
    ("his_a", "visits_202403.csv"): ("rejected", "missing_required_columns", 0, 0, 0, 0),
    ("his_a", "visits_202404.csv"): ("landed", "extra_columns", 2, 2, 0, 0),
    ("his_b", "visits_202401.csv"): ("landed", None, 3, 3, 0, 1),
    ("his_b", "visits_202402.csv"): ("rejected", "undecodable_bytes", 0, 0, 0, 0),
    ("his_c", "visits_202401.xlsx"): ("landed", None, 4, 3, 1, 1),
    ("his_c", "visits_202402.xlsx"): ("rejected", "unreadable_workbook", 0, 0, 0, 0),
    ("his_d", "referrals_202401.jsonl"): ("landed", "extra_columns", 4, 2, 2, 0),
    ("his_zz", "visits_202401.csv"): ("rejected", "unknown_source", 0, 0, 0, 0),
}


def _summary(report):
    return {
        (f.source_id, f.path.name): (
            f.status,
            f.reason_code,
            f.rows_read,
            f.rows_landed,
            f.rows_quarantined,
            f.rows_footer,
        )
        for f in report.files
    }


def test_every_fixture_file_is_recorded_with_exact_counts(con, inbox, sources):
    logged: list[str] = []
    report = land_inbox(con, inbox, sources, log=logged.append)
    assert _summary(report) == EXPECTED
    assert report.totals == {
        "files": 13,
        "unchanged": 0,
        "rows_read": 24,
        "rows_landed": 19,
        "rows_quarantined": 5,
        "rows_footer": 2,
        "landed": 7,
        "duplicate": 1,
        "rejected": 5,
        "replacements": 0,
    }
    assert logged[-1] == (
        "landing: 7 landed, 1 duplicate, 5 rejected, 0 unchanged; rows read 24, landed 19, quarantined 5, footer 2"
    )
    # the warehouse agrees with the report, file by file: rows_read = landed + quarantined
    rows = con.execute(
        "SELECT source_id, file_name, status, rows_read, rows_landed, rows_quarantined, rows_footer FROM raw.files"
    ).fetchall()
    assert {(s, n): (st, r, la, q, ft) for s, n, st, r, la, q, ft in rows} == {
        k: (v[0], *v[2:]) for k, v in EXPECTED.items()
    }
    for source_id, table in [
        ("his_a", "his_a__visits"),
        ("his_b", "his_b__visits"),
        ("his_c", "his_c__visits"),
    ]:
        per_file = con.execute(
            f'SELECT f.file_name, f.rows_landed, (SELECT count(*) FROM raw."{table}" t WHERE t._file_id = f.file_id), '
            "f.rows_quarantined, (SELECT count(*) FROM raw.quarantine q WHERE q.file_id = f.file_id) "
            "FROM raw.files f WHERE f.source_id = ? AND f.status = 'landed'",
            [source_id],
        ).fetchall()
        for name, landed, in_table, quarantined, in_quarantine in per_file:
            assert (landed, quarantined) == (in_table, in_quarantine), name
    # every reason is a documented code followed by the Chinese and English sentences naming the file
    for reason, path in con.execute("SELECT reason, path FROM raw.files WHERE reason IS NOT NULL").fetchall():
        code = reason.split(":", 1)[0]
        assert code in codes("file") + codes("note"), reason
        assert reason.count(path) == 2, reason  # once in Chinese, once in English


def test_rejection_reasons_name_the_file_and_what_to_do(con, inbox, sources):
    report = land_inbox(con, inbox, sources, log=lambda _: None)
    by_name = {(f.source_id, f.path.name): f for f in report.files}
    gbk_bad = by_name[("his_b", "visits_202402.csv")].reason
    head = "\r\n".join(
        [
            "就诊流水号,机构编码,身份证号,姓名,性别,就诊日期",
            "B001,H11,360426199101010071,张三,男,2024年01月05日",
            "B002,H11,120103198806018241,李四,女,2024年01月06日",
        ]
    ).encode("gbk")
    offset = len(head) + 2 + len(b"B009,H11,")
    assert offset == 162
    yaml = sources["his_b"].path  # reasons name the YAML file that was read
    assert gbk_bad == (
        "undecodable_bytes: 文件 his_b/visits_202402.csv 不是 GBK 编码：第 4 行（字节偏移 162）出现无法解码的字节 ff。"
        f"请让机构按约定编码重新导出，或修改 {yaml} 的 encoding。 / File his_b/visits_202402.csv is not "
        "valid GBK: undecodable bytes ff on line 4 (byte offset 162). Ask the institution to re-export it, or fix "
        f"'encoding' in {yaml}."
    )
    missing = by_name[("his_a", "visits_202403.csv")].reason
    assert "缺少必需列：IdNo（表头为：VisitNo, OrgCode, Sex, VisitDate）" in missing
    assert "lacks required columns: IdNo (header: VisitNo, OrgCode, Sex, VisitDate)" in missing
    unknown = by_name[("his_zz", "visits_202401.csv")].reason
    assert "没有来源配置：来源配置文件夹 " in unknown and "Add one (docs/ingestion.md;" in unknown
    assert f"no YAML with source_id his_zz in {sources.sources_dir}." in unknown  # the folder searched
    assert "invalid Zip archive" in by_name[("his_c", "visits_202402.xlsx")].reason
    assert "(visits_*.csv)" in by_name[("his_a", "readme.txt")].reason
    dup = by_name[("his_a", "visits_202401_copy.csv")]
    assert dup.file_id == A01_ID
    assert f"his_a/visits_202401.csv（文件号 {A01_ID}）" in dup.reason


def test_rows_are_kept_as_received_with_file_id_and_row_number(con, inbox, sources):
    land_inbox(con, inbox, sources, log=lambda _: None)
    a = con.execute(
        'SELECT _file_id, _row_number, "VisitNo", "IdNo", "DiagName" FROM raw.his_a__visits '
        "WHERE _file_id = ? ORDER BY _row_number",
        [A01_ID],
    ).fetchall()
    assert a == [
        (A01_ID, 1, "V001", "360426199101010071", "高血压, 3级"),
        (A01_ID, 2, "V002", "120103198806018241", "2型糖尿病"),
        (A01_ID, 4, "V004", None, None),
        (A01_ID, 5, "V005", "110101200001011234", "慢阻肺"),
    ]
    # GBK labelled file with a GB18030-only character (䶮), transcoded in a stream
    b = con.execute(
        'SELECT "就诊流水号", "姓名", "就诊日期", _row_number FROM raw.his_b__visits ORDER BY 4'
    ).fetchall()
    assert b == [
        ("B001", "张三", "2024年01月05日", 1),
        ("B002", "李四", "2024年01月06日", 2),
        ("B003", "王䶮", "2024年01月07日", 3),
    ]
    # xlsx: title row skipped, header on row 2, cells as text, blank row and 合计 row not landed
    c = con.execute(
        'SELECT "门诊号", "证件号码", "就诊时间", "费用", "收缩压", _row_number FROM raw.his_c__visits ORDER BY 6'
    ).fetchall()
    assert c == [
        ("C001", "360426199101010071", "2024-01-05 08:30:00", "125.5", "150", 1),
        ("C002", "120103198806018241", "2024-01-06", "80", None, 2),
        ("C003", None, "2024/01/07", "12", "128", 3),
    ]
    # jsonl: columns are the YAML's JSON paths, unknown keys kept in _extra
    d = con.execute(
        'SELECT "referral_no", "patient.id_no", "patient.name", "events[type=request].time", '
        '"events[type=accept].time", _row_number, _extra FROM raw.his_d__referrals ORDER BY _row_number'
    ).fetchall()
    assert d == [
        (
            "R001",
            "360426199101010071",
            "张三",
            "2024-01-03 09:00:00",
            "2024-01-03 15:30:00",
            1,
            '{"channel":null}',
        ),
        ("R003", "110101200001011234", "王五", "2024-01-05 10:00:00", None, 3, '{"channel":"green"}'),
    ]
    extra = con.execute(
        'SELECT "VisitNo", _extra FROM raw.his_a__visits WHERE "VisitNo" LIKE \'V30%\' ORDER BY 1'
    ).fetchall()
    assert extra == [("V301", '{"Remark":"复诊"}'), ("V302", '{"Remark":null}')]
    # canonical export: columns = the standard's elements for the entity
    canon = con.execute(
        "SELECT referral_id, status_code, discharge_plan FROM raw.canon__referrals ORDER BY 1"
    ).fetchall()
    assert canon == [("R900", "4", None), ("R901", "2", "社区随访，每周测血压")]


def test_quarantine_holds_each_malformed_row_with_file_and_line(con, inbox, sources):
    land_inbox(con, inbox, sources, log=lambda _: None)
    q = con.execute(
        "SELECT f.file_name, q.source_id, q.entity, q.row_number, q.stage, q.reason_code, q.raw_record "
        "FROM raw.quarantine q JOIN raw.files f ON f.file_id = q.file_id AND f.status = 'landed' ORDER BY 1, 4"
    ).fetchall()
    assert q == [
        ("referrals_202401.jsonl", "his_d", "referrals", 2, "land", "malformed_json",
         '{"referral_no":"R002","patient":{"id_no":"120103198806018241"'),
        ("referrals_202401.jsonl", "his_d", "referrals", 4, "land", "truncated_row",
         '{"referral_no":"R004","patient":{"id_no":"3604'),
        ("visits_202401.csv", "his_a", "visits", 3, "land", "wrong_field_count",
         "V003,H01,360426199101010071,M,2024/01/07 10:00,感冒,多余"),
        ("visits_202401.xlsx", "his_c", "visits", 4, "land", "wrong_field_count",
         '["C004", "110101200001011234", "2024-01-08 14:00:05", "0.1", "135", "溢出"]'),
        ("visits_202402.csv", "his_a", "visits", 4, "land", "truncated_row", "V104,H02,1101012000"),
    ]  # fmt: skip
    reason = con.execute(
        "SELECT reason FROM raw.quarantine WHERE reason_code = 'truncated_row' AND entity = 'visits'"
    ).fetchone()[0]
    assert reason.startswith(
        "truncated_row: 文件 his_a/visits_202402.csv 第 4 条记录（第 5 行）在文件末尾被截断"
    )


def test_second_run_lands_nothing_again_and_retries_only_rejected_files(con, inbox, sources):
    land_inbox(con, inbox, sources, log=lambda _: None)
    again = land_inbox(con, inbox, sources, log=lambda _: None)
    assert again.unchanged == 8
    assert sorted((f.source_id, f.path.name, f.status) for f in again.files) == [
        ("his_a", "readme.txt", "rejected"),
        ("his_a", "visits_202403.csv", "rejected"),
        ("his_b", "visits_202402.csv", "rejected"),
        ("his_c", "visits_202402.xlsx", "rejected"),
        ("his_zz", "visits_202401.csv", "rejected"),
    ]
    assert con.execute("SELECT count(*) FROM raw.files").fetchone()[0] == 13
    assert con.execute("SELECT count(*) FROM raw.his_a__visits").fetchone()[0] == 9
    assert con.execute("SELECT count(*) FROM raw.quarantine").fetchone()[0] == 5


def test_corrected_resend_replaces_the_old_rows_and_is_recorded(con, inbox, sources):
    land_inbox(con, inbox, sources, log=lambda _: None)
    corrected = (
        "VisitNo,OrgCode,IdNo,Sex,VisitDate,DiagName\n"
        "V001,H01,360426199101010071,M,2024/01/05 08:30,高血压3级\n"
        "V002,H01,120103198806018241,F,2024/01/06 09:00,2型糖尿病\n"
        "V003,H01,360426199101010071,M,2024/01/07 10:00,感冒\n"
        "V004,H02,110101200001011234,F,2024/01/08 11:15,\n"
        "V005,H02,110101200001011234,M,2024/01/09 12:00,慢阻肺\n"
        "V006,H02,110101200001011234,M,2024/01/10 12:00,慢阻肺\n"
    )
    (inbox / "his_a" / "visits_202401.csv").write_text(corrected, encoding="utf-8")
    report = land_inbox(con, inbox, sources, source_ids=["his_a"], log=lambda _: None)
    landed = report.by_status("landed")
    assert len(landed) == 1
    new = landed[0]
    assert (new.path.name, new.rows_read, new.rows_landed, new.rows_quarantined) == (
        "visits_202401.csv",
        6,
        6,
        0,
    )
    assert new.replaces_file_id == A01_ID and new.reason_code == "replaces"
    files = con.execute(
        "SELECT file_id, status, replaces_file_id, split_part(reason, ':', 1) FROM raw.files "
        "WHERE path = 'his_a/visits_202401.csv' ORDER BY status"
    ).fetchall()
    assert files == [(new.file_id, "landed", A01_ID, "replaces"), (A01_ID, "replaced", None, "replaced_by")]
    assert (
        con.execute("SELECT count(*) FROM raw.his_a__visits WHERE _file_id = ?", [A01_ID]).fetchone()[0] == 0
    )
    assert con.execute("SELECT count(*) FROM raw.quarantine WHERE file_id = ?", [A01_ID]).fetchone()[0] == 0
    rows = con.execute(
        'SELECT "VisitNo", "DiagName" FROM raw.his_a__visits WHERE _file_id = ? ORDER BY _row_number',
        [new.file_id],
    ).fetchall()
    assert rows == [
        ("V001", "高血压3级"),
        ("V002", "2型糖尿病"),
        ("V003", "感冒"),
        ("V004", None),
        ("V005", "慢阻肺"),
        ("V006", "慢阻肺"),
    ]
    assert con.execute("SELECT count(*) FROM raw.his_a__visits").fetchone()[0] == 6 + 3 + 2


def test_a_failed_replacement_leaves_the_old_rows_untouched(con, inbox, sources):
    land_inbox(con, inbox, sources, log=lambda _: None)
    # a re-send with a column the landing table cannot take: the raw table was altered by hand to make the
    # INSERT fail inside the replacement transaction (stands in for any failure: disk full, crash ...)
    con.execute(
        'ALTER TABLE raw.his_a__visits ALTER COLUMN "DiagName" SET DATA TYPE INTEGER USING length("DiagName")'
    )
    (inbox / "his_a" / "visits_202401.csv").write_text(
        "VisitNo,OrgCode,IdNo,Sex,VisitDate,DiagName\nV001,H01,360426199101010071,M,2024/01/05 08:30,高血压\n",
        encoding="utf-8",
    )
    report = land_inbox(con, inbox, sources, source_ids=["his_a"], log=lambda _: None)
    [failed] = [f for f in report.files if f.path.name == "visits_202401.csv"]
    assert (failed.status, failed.reason_code) == ("rejected", "unreadable_file")
    assert con.execute("SELECT status FROM raw.files WHERE file_id = ?", [A01_ID]).fetchall() == [
        ("landed",),
        ("duplicate",),
    ]
    assert (
        con.execute("SELECT count(*) FROM raw.his_a__visits WHERE _file_id = ?", [A01_ID]).fetchone()[0] == 4
    )
    assert con.execute("SELECT count(*) FROM raw.quarantine WHERE file_id = ?", [A01_ID]).fetchone()[0] == 1


def test_filters_by_source_and_month_and_skips_unknown_folders(con, inbox, sources):
    report = land_inbox(
        con, inbox, sources, source_ids=["his_a", "his_b"], months=["2024-02"], log=lambda _: None
    )
    assert sorted((f.source_id, f.path.name, f.status) for f in report.files) == [
        ("his_a", "visits_202402.csv", "landed"),
        ("his_b", "visits_202402.csv", "rejected"),
    ]
    assert con.execute("SELECT count(*) FROM raw.files").fetchone()[0] == 2


def test_row_numbers_skip_quarantined_records(con, tmp_path, sources):
    inbox = tmp_path / "inbox2"
    (inbox / "his_a").mkdir(parents=True)
    good = "V{n},H01,{n},M,2024/05/01 08:00,x"
    lines = ["VisitNo,OrgCode,IdNo,Sex,VisitDate,DiagName"]
    kinds = ["good", "bad", "bad", "good", "bad", "good", "good", "bad"]
    for n, kind in enumerate(kinds, start=1):
        lines.append(good.format(n=n) if kind == "good" else f"V{n},H01,{n}")
    (inbox / "his_a" / "visits_202405.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = land_inbox(con, inbox, sources, log=lambda _: None)
    [f] = report.files
    assert (f.rows_read, f.rows_landed, f.rows_quarantined) == (8, 4, 4)
    landed = con.execute('SELECT _row_number, "VisitNo" FROM raw.his_a__visits ORDER BY 1').fetchall()
    assert landed == [(1, "V1"), (4, "V4"), (6, "V6"), (7, "V7")]
    q = con.execute("SELECT row_number, reason_code, raw_record FROM raw.quarantine ORDER BY 1").fetchall()
    assert q == [
        (2, "wrong_field_count", "V2,H01,2"),
        (3, "wrong_field_count", "V3,H01,3"),
        (5, "wrong_field_count", "V5,H01,5"),
        (8, "wrong_field_count", "V8,H01,8"),  # ends with a newline: complete, just short
    ]


def test_a_new_source_is_onboarded_by_adding_only_a_yaml(con, inbox, sources_dir):
    first = land_inbox(con, inbox, load_sources(sources_dir), source_ids=None, log=lambda _: None)
    [unknown] = [f for f in first.files if f.source_id == "his_zz"]
    assert (unknown.status, unknown.reason_code) == ("rejected", "unknown_source")
    (sources_dir / "his_zz.yaml").write_text(
        "source_id: his_zz\n"
        "name: 新接入社区卫生服务中心\n"
        "format: csv\n"
        "encoding: auto\n"
        "files:\n"
        "  - entity: visits\n"
        '    pattern: "visits_*.csv"\n'
        "    required_columns: [VisitNo]\n"
        "    columns:\n"
        "      VisitNo: {element: visit_id}\n"
        "      IdNo: {element: patient_id_number}\n",
        encoding="utf-8",
    )
    second = land_inbox(con, inbox, load_sources(sources_dir), log=lambda _: None)
    [onboarded] = [f for f in second.files if f.source_id == "his_zz"]
    assert (onboarded.status, onboarded.rows_landed, onboarded.rows_quarantined) == ("landed", 1, 0)
    assert con.execute('SELECT "VisitNo", "IdNo", _row_number FROM raw.his_zz__visits').fetchall() == [
        ("V1", "1", 1)
    ]
    # the rejection is superseded: one record for the file, now landed
    assert con.execute("SELECT status FROM raw.files WHERE path = 'his_zz/visits_202401.csv'").fetchall() == [
        ("landed",)
    ]


def test_auto_encoding_reads_utf8_and_gb18030_and_rejects_neither(con, tmp_path, sources_dir):
    (sources_dir / "his_auto.yaml").write_text(
        "source_id: his_auto\nformat: csv\nencoding: auto\nfiles:\n  - entity: visits\n    pattern: 'visits_*.csv'\n"
        "    columns:\n      姓名: {element: patient_name}\n",
        encoding="utf-8",
    )
    inbox = tmp_path / "inbox3"
    (inbox / "his_auto").mkdir(parents=True)
    (inbox / "his_auto" / "visits_202401.csv").write_bytes("姓名\n张三\n".encode())
    (inbox / "his_auto" / "visits_202402.csv").write_bytes("姓名\n李四\n".encode("gb18030"))
    (inbox / "his_auto" / "visits_202403.csv").write_bytes("姓名\n".encode() + b"\x81\x30\xff\n")
    report = land_inbox(con, inbox, load_sources(sources_dir), log=lambda _: None)
    assert [(f.path.name, f.status, f.reason_code) for f in report.files] == [
        ("visits_202401.csv", "landed", None),
        ("visits_202402.csv", "landed", None),
        ("visits_202403.csv", "rejected", "undecodable_bytes"),
    ]
    assert "UTF-8 或 GB18030 (auto)" in report.files[2].reason
    assert sorted(r[0] for r in con.execute('SELECT "姓名" FROM raw.his_auto__visits').fetchall()) == [
        "张三",
        "李四",
    ]


@pytest.mark.parametrize("content", [b"", b"\n"])
def test_empty_files_are_rejected(con, tmp_path, sources, content):
    inbox = tmp_path / "inbox4"
    (inbox / "his_a").mkdir(parents=True)
    (inbox / "his_a" / "visits_202401.csv").write_bytes(content)
    report = land_inbox(con, inbox, sources, log=lambda _: None)
    assert [(f.status, f.reason_code) for f in report.files] == [("rejected", "empty_file")]


def test_ignores_lock_files_and_partial_uploads(con, inbox, sources):
    shutil.copy(inbox / "his_a" / "visits_202402.csv", inbox / "his_a" / "visits_202405.csv.part")
    (inbox / "his_c" / "~$visits_202401.xlsx").write_bytes(b"lock")
    (inbox / "his_a" / ".DS_Store").write_bytes(b"x")
    report = land_inbox(con, inbox, sources, log=lambda _: None)
    assert len(report.files) == 13
    assert not any(
        Path(f.path).name.startswith(("~$", ".")) or f.path.suffix == ".part" for f in report.files
    )


def test_row_numbers_with_many_quarantined_records_use_the_join_path(con, tmp_path, sources):
    # 100 rejects in 300 records: more gaps than CASE_LIMIT, so numbering goes through the ASOF join
    inbox = tmp_path / "inbox5"
    (inbox / "his_a").mkdir(parents=True)
    lines = ["VisitNo,OrgCode,IdNo,Sex,VisitDate,DiagName"]
    for n in range(1, 301):
        lines.append(f"V{n},H01,{n}" if n % 3 == 0 else f"V{n},H01,{n},F,2024/05/01 08:00,x")
    (inbox / "his_a" / "visits_202405.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    [f] = land_inbox(con, inbox, sources, log=lambda _: None).files
    assert (f.rows_read, f.rows_landed, f.rows_quarantined) == (300, 200, 100)
    landed = con.execute('SELECT _row_number, "VisitNo" FROM raw.his_a__visits ORDER BY 1').fetchall()
    assert landed == [(n, f"V{n}") for n in range(1, 301) if n % 3]
    assert [r[0] for r in con.execute("SELECT row_number FROM raw.quarantine ORDER BY 1").fetchall()] == list(
        range(3, 301, 3)
    )


def test_a_resend_back_to_the_first_version_lands_it_again(con, tmp_path, sources):
    inbox = tmp_path / "inbox6"
    (inbox / "his_a").mkdir(parents=True)
    target = inbox / "his_a" / "visits_202406.csv"
    v1 = "VisitNo,OrgCode,IdNo,Sex,VisitDate,DiagName\nV1,H01,1,M,2024/06/01 08:00,a\n"
    v2 = v1 + "V2,H01,2,F,2024/06/02 08:00,b\n"
    ids = []
    for content in (v1, v2, v1):
        target.write_text(content, encoding="utf-8")
        [f] = land_inbox(con, inbox, sources, log=lambda _: None).files
        ids.append((f.file_id, f.replaces_file_id, f.rows_landed))
    (a, _, _), (b, _, _) = ids[0], ids[1]
    assert ids == [(a, None, 1), (b, a, 2), (a, b, 1)]
    assert con.execute('SELECT _file_id, "VisitNo" FROM raw.his_a__visits').fetchall() == [(a, "V1")]
    # one record per file_id: the stale "replaced" record of A is superseded by A landing again
    assert con.execute(
        "SELECT file_id, status, replaces_file_id FROM raw.files ORDER BY status"
    ).fetchall() == [
        (a, "landed", b),
        (b, "replaced", a),
    ]


def test_the_onboarding_example_of_the_docs_lands(con, tmp_path, sources_dir):
    # docs/ingestion.md: GBK csv, a title line above the header, a 合计 line at the bottom
    (sources_dir / "cd_chc.yaml").write_text(
        """source_id: cd_chc
name: 城东社区卫生服务中心 (GBK, 中文表头, 标题行 + 合计行)
version: 1
institutions: [C07]
format: csv
encoding: gbk
delimiter: ","
header_row: 2
footer_regex: "^(合计|总计)"
files:
  - entity: visits
    pattern: "visits_*.csv"
    required_columns: [门诊号, 身份证号, 就诊时间]
    columns:
      门诊号: {element: visit_id}
      身份证号: {element: patient_id_number}
      性别: {element: sex_code, value_map: {男: "1", 女: "2"}}
      就诊时间: {element: visit_datetime, date_formats: ["%Y年%m月%d日 %H时%M分"]}
""",
        encoding="utf-8",
    )
    inbox = tmp_path / "inbox7"
    (inbox / "cd_chc").mkdir(parents=True)
    text = (
        "城东社区卫生服务中心2025年3月门诊日志\r\n"
        "门诊号,身份证号,性别,就诊时间\r\n"
        "M1,360426199101010071,男,2025年03月01日 08时15分\r\n"
        "M2,120103198806018241,女,2025年03月02日 09时00分\r\n"
        "合计,2\r\n"
    )
    (inbox / "cd_chc" / "visits_202503.csv").write_bytes(text.encode("gbk"))
    [f] = land_inbox(con, inbox, load_sources(sources_dir), log=lambda _: None).files
    assert (f.status, f.period, f.rows_read, f.rows_landed, f.rows_quarantined, f.rows_footer) == (
        "landed",
        "202503",
        2,
        2,
        0,
        1,
    )
    assert con.execute(
        'SELECT "门诊号", "性别", "就诊时间", _row_number FROM raw.cd_chc__visits ORDER BY 4'
    ).fetchall() == [
        ("M1", "男", "2025年03月01日 08时15分", 1),
        ("M2", "女", "2025年03月02日 09时00分", 2),
    ]


def test_a_file_that_vanishes_while_landing_is_skipped_and_the_run_goes_on(con, tmp_path, sources):
    inbox = tmp_path / "inbox8"
    (inbox / "his_a").mkdir(parents=True)
    (inbox / "his_a" / "visits_202401.csv").write_text("VisitNo,IdNo\nV1,1\n", encoding="utf-8")
    (inbox / "his_a" / "visits_202402.csv").write_text("VisitNo,IdNo\nV2,2\n", encoding="utf-8")
    logged: list[str] = []

    def log(line: str) -> None:  # the first file is moved away by its sender right after it landed
        logged.append(line)
        gone = inbox / "his_a" / "visits_202402.csv"
        if line.startswith("landed his_a/visits_202401.csv") and gone.exists():
            gone.rename(tmp_path / "moved.csv")

    report = land_inbox(con, inbox, sources, log=log)
    assert [(f.path.name, f.status) for f in report.files] == [("visits_202401.csv", "landed")]
    assert logged[1] == "skipped his_a/visits_202402.csv: gone while landing (FileNotFoundError)"


def test_no_staging_table_outlives_the_run(con, inbox, sources):
    land_inbox(con, inbox, sources, log=lambda _: None)
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchone()[0] == 0


def test_empty_lines_are_not_records_and_do_not_shift_row_numbers(con, tmp_path, sources):
    inbox = tmp_path / "inbox9"
    (inbox / "his_a").mkdir(parents=True)
    body = (
        "VisitNo,OrgCode,IdNo,Sex,VisitDate,DiagName\r\n"
        "V1,H01,1,M,2024/07/01 08:00,a\r\n"
        "\r\n"
        "V2,H01,2\r\n"
        "V3,H01,3,M,2024/07/03 08:00,c\r\n"
        "\r\n"
        "\r\n"
        "V4,H01,4,M,2024/07/04 08:00,d\r\n"
        "V5,H01,5,M,2024/07/05 08:00,e,extra\r\n"
        "V6,H01,6,M,2024/07/06 08:00,f\r\n"
    )
    (inbox / "his_a" / "visits_202407.csv").write_text(body, encoding="utf-8", newline="")
    [f] = land_inbox(con, inbox, sources, log=lambda _: None).files
    assert (f.rows_read, f.rows_landed, f.rows_quarantined) == (6, 4, 2)
    assert con.execute('SELECT _row_number, "VisitNo" FROM raw.his_a__visits ORDER BY 1').fetchall() == [
        (1, "V1"),
        (3, "V3"),
        (4, "V4"),
        (6, "V6"),
    ]
    assert con.execute("SELECT row_number, reason_code FROM raw.quarantine ORDER BY 1").fetchall() == [
        (2, "wrong_field_count"),
        (5, "wrong_field_count"),
    ]


def test_a_cut_off_workbook_is_rejected_as_unreadable(con, tmp_path, inbox, sources):
    cut = tmp_path / "inbox10"
    (cut / "his_c").mkdir(parents=True)
    data = (inbox / "his_c" / "visits_202401.xlsx").read_bytes()  # the title-row workbook of the fixture
    (cut / "his_c" / "visits_202403.xlsx").write_bytes(data[: len(data) // 2])
    [f] = land_inbox(con, cut, sources, log=lambda _: None).files
    assert (f.status, f.reason_code) == ("rejected", "unreadable_workbook")
    assert "工作簿 his_c/visits_202403.xlsx 无法打开（ZipError" in f.reason


def test_jsonl_in_gb18030_is_transcoded_before_reading(con, tmp_path, sources_dir):
    yaml_text = (
        (sources_dir / "his_d.yaml")
        .read_text(encoding="utf-8")
        .replace("encoding: utf-8", "encoding: gb18030")
    )
    (sources_dir / "his_d.yaml").write_text(yaml_text, encoding="utf-8")
    inbox = tmp_path / "inbox11"
    (inbox / "his_d").mkdir(parents=True)
    line = '{"referral_no":"R7","patient":{"id_no":"360426199101010071","name":"王䶮"},"events":[]}\n'
    (inbox / "his_d" / "referrals_202402.jsonl").write_bytes(line.encode("gb18030"))
    [f] = land_inbox(con, inbox, load_sources(sources_dir), log=lambda _: None).files
    assert (f.status, f.rows_landed) == ("landed", 1)
    assert con.execute('SELECT "referral_no", "patient.name" FROM raw.his_d__referrals').fetchall() == [
        ("R7", "王䶮")
    ]
