"""A hand-made adversarial corpus of export files (not from the generator): the byte-level shapes
real HIS exports take — every line-ending mixture, BOMs, NUL padding, Ctrl-Z, quoted line breaks,
truncation, binary files under a text name, workbooks with several sheets and formulas, a legacy
.xls. Each file carries the number of data records a person counts in it by hand.

``write_corpus(inbox)`` writes the files under ``inbox/<source_id>/``; the sources are in
``corpus/sources/``. ``CORPUS`` maps (source_id, file name) -> Expect.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
SOURCES = HERE / "sources"

H = "门诊号,姓名,就诊时间,诊断"


def rows(n: int, start: int = 1) -> list[str]:
    return [f"V{i:03d},患者{i},2024-01-{i:02d} 08:30,高血压" for i in range(start, start + n)]


@dataclass(frozen=True)
class Expect:
    records: int  # data records counted by hand (totals rows included)
    status: str  # landed | rejected
    landed: int = 0
    quarantined: int = 0
    footer: int = 0
    code: str | None = None  # the file-level reason code of a rejected file


def _join(lines: list[str], ends: list[str]) -> bytes:
    return "".join(line + end for line, end in zip(lines, ends, strict=True)).encode("utf-8")


# ---------------------------------------------------------------------------------------- adv (csv)
ADV: dict[str, tuple[bytes, Expect]] = {
    # the case: LF header, CRLF data rows
    "visits_lf_header_crlf_rows_202401.csv": (
        _join([H, *rows(10)], ["\n"] + ["\r\n"] * 10),
        Expect(10, "landed", 10),
    ),
    # CRLF header, LF rows (was: rows_read = 1)
    "visits_crlf_header_lf_rows_202401.csv": (
        _join([H, *rows(53)], ["\r\n"] + ["\n"] * 53),
        Expect(53, "landed", 53),
    ),
    # classic Mac: CR only
    "visits_cr_only_202401.csv": (_join([H, *rows(4)], ["\r"] * 5), Expect(4, "landed", 4)),
    # every kind of line end in one file, the last record without one
    "visits_mixed_endings_202401.csv": (
        _join([H, *rows(6)], ["\r\n", "\n", "\r", "\r\n", "\r", "\n", ""]),
        Expect(6, "landed", 6),
    ),
    # UTF-8 BOM + CRLF (Excel's "CSV UTF-8")
    "visits_bom_crlf_202401.csv": (
        b"\xef\xbb\xbf" + _join([H, *rows(3)], ["\r\n"] * 4),
        Expect(3, "landed", 3),
    ),
    # quoted fields holding CRLF, LF and a lone CR, and a doubled quote; blank lines between records
    "visits_quoted_breaks_202401.csv": (
        (
            H + "\r\n"
            'V001,"张\r\n三",2024-01-01 08:30,"高血压\n2级"\r\n'
            "\r\n"
            'V002,李四,2024-01-02 09:00,"糖尿病\r(待查)"\r\n'
            'V003,"王""五""",2024-01-03 10:00,冠心病\r\n'
            "\r\n"
        ).encode("utf-8"),
        Expect(3, "landed", 3),
    ),
    # NUL bytes inside a value and as padding at the end (some exporters pad to a block size)
    "visits_nul_bytes_202401.csv": (
        _join([H, *rows(3)], ["\n"] * 4).replace("患者2".encode(), "患者\x002".encode()) + b"\x00" * 37,
        Expect(3, "landed", 3),
    ),
    # DOS end-of-file mark (Ctrl-Z) after the last record
    "visits_ctrl_z_202401.csv": (_join([H, *rows(3)], ["\r\n"] * 4) + b"\x1a", Expect(3, "landed", 3)),
    # trailing garbage: a line that is not a record of the layout -> counted and quarantined
    "visits_trailing_garbage_202401.csv": (
        _join([H, *rows(3), "--- 导出结束 ---"], ["\n"] * 5),
        Expect(4, "landed", 3, 1),
    ),
    # a quote inside an unquoted value is a literal character
    "visits_inner_quote_202401.csv": (
        _join([H, 'V001,张"三,2024-01-01 08:30,高血压', *rows(2, 2)], ["\n"] * 4),
        Expect(3, "landed", 3),
    ),
    # an opening quote that is never closed swallows the rest of the file into one bad record
    "visits_unclosed_quote_202401.csv": (
        _join([H, *rows(1), 'V002,"李四,2024-01-02 09:00,糖尿病', *rows(2, 3)], ["\n"] * 5),
        Expect(2, "landed", 1, 1),
    ),
    # cut off in the middle of the last record (an interrupted transfer)
    "visits_truncated_202401.csv": (
        _join([H, *rows(3)], ["\r\n"] * 4) + 'V004,"患者'.encode(),
        Expect(4, "landed", 3, 1),
    ),
    "visits_header_only_202401.csv": ((H + "\r\n").encode("utf-8"), Expect(0, "rejected", code="no_records")),
    "visits_zero_bytes_202401.csv": (b"", Expect(0, "rejected", code="empty_file")),
    # a workbook saved under a .csv name
    "visits_binary_202401.csv": (
        b"PK\x03\x04\x14\x00\x06\x00\x08\x00" + bytes(range(256)) * 4,
        Expect(0, "rejected", code="binary_file"),
    ),
    # Excel "Unicode text": UTF-16 LE with a BOM
    "visits_utf16_202401.csv": (
        "\ufeff".encode("utf-16-le")
        + "\r\n".join([H, *rows(2)]).encode("utf-16-le")
        + "\r\n".encode("utf-16-le"),
        Expect(2, "landed", 2),
    ),
}

# ---------------------------------------------------------- adv_gb (GB18030, tab, a title line)
GB_HEADER = "门诊号\t姓名\t就诊时间\t诊断"


def _gb(lines: list[str], ends: list[str]) -> bytes:
    return "".join(line + end for line, end in zip(lines, ends, strict=True)).encode("gb18030")


GB_ROWS = [r.replace(",", "\t") for r in rows(7)]
ADV_GB: dict[str, tuple[bytes, Expect]] = {
    # the case: title line ends in LF, data lines in CRLF (was: 0 rows, landed)
    "visits_title_lf_rows_crlf_202401.txt": (
        _gb(["2024年1月门诊明细", GB_HEADER, *GB_ROWS], ["\n"] + ["\r\n"] * 8),
        Expect(7, "landed", 7),
    ),
    "visits_cr_only_202401.txt": (
        _gb(["2024年1月门诊明细", GB_HEADER, *GB_ROWS[:2], "合计\t2\t\t"], ["\r"] * 5),
        Expect(3, "landed", 2, footer=1),
    ),
    # a quoted title spanning two lines is one record above the header
    "visits_two_line_title_202401.txt": (
        _gb(['"2024年1月\r\n门诊明细"', GB_HEADER, *GB_ROWS[:3]], ["\r\n"] * 5),
        Expect(3, "landed", 3),
    ),
    # a rare character that only GB18030 has (䶮), with a BOM in GB18030 form
    "visits_gb_bom_202401.txt": (
        "\ufeff".encode("gb18030") + _gb(["标题", GB_HEADER, "V001\t刘䶮\t2024-01-01\t高血压"], ["\r\n"] * 3),
        Expect(1, "landed", 1),
    ),
}

# -------------------------------------------------------------------------- adv_j (jsonl)
ADV_J: dict[str, tuple[bytes, Expect]] = {
    "referrals_crlf_bom_202401.jsonl": (
        b"\xef\xbb\xbf" + b'{"referral_no": "R1", "patient": {"id_no": "1"}}\r\n'
        b'{"referral_no": "R2", "patient": {"id_no": "2"}}\r\n'
        b"\r\n"
        b'{"referral_no": "R3", "patient": {"id_no": "3"}}\r'
        b'{"referral_no": "R4", "pat',
        Expect(4, "landed", 3, 1),
    ),
}

TEXT_CORPUS = {"adv": ADV, "adv_gb": ADV_GB, "adv_j": ADV_J}


# ------------------------------------------------------------------- adv_x (xlsx) and adv_xls (.xls)
def _two_sheets(path: Path) -> None:
    """Two sheets of the layout (columns in another order on the second) and a notes sheet."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "1月上半月"
    ws.append(["门诊号", "姓名", "就诊时间", "诊断"])
    for i in range(1, 4):
        ws.append([f"W{i:03d}", f"患者{i}", dt.datetime(2024, 1, i, 8, 30), "高血压"])
    ws2 = wb.create_sheet("1月下半月")
    ws2.append(["姓名", "门诊号", "诊断", "就诊时间"])
    ws2.append(["患者4", "W004", "糖尿病", dt.datetime(2024, 1, 20, 9, 0)])
    ws2.append([])
    ws2.append(["患者5", "W005", "冠心病", dt.datetime(2024, 1, 21, 10, 0)])
    ws3 = wb.create_sheet("填表说明")
    ws3.append(["本表由 HIS 导出，请勿修改"])
    ws3.append(["联系人：信息科"])
    wb.save(path)


def _formulas(path: Path) -> None:
    """A formula with a cached value (as Excel saves it) and one without (as a script writes it)."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "明细"
    ws.append(["门诊号", "姓名", "就诊时间", "诊断"])
    ws.append(["F001", "患者1", "2024-01-01 08:30", "高血压"])
    ws.append(["F002", '=CONCATENATE("患者","2")', "2024-01-02 08:30", "糖尿病"])
    ws.append(["F003", '=CONCATENATE("患者","3")', "2024-01-03 08:30", "冠心病"])
    wb.save(path)
    # give F002's formula the cached value Excel would have stored; F003's stays without one
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode("utf-8")
    sheet = re.sub(
        r'(<c r="B3"[^>]*)><f>([^<]*)</f><v\s*/>',
        r'\1 t="str"><f>\2</f><v>患者2</v>',
        sheet,
    )
    assert "<v>患者2</v>" in sheet
    parts["xl/worksheets/sheet1.xml"] = sheet.encode("utf-8")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for n, b in parts.items():
            z.writestr(n, b)


def _header_only(path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["门诊号", "姓名", "就诊时间", "诊断"])
    wb.save(path)


WORKBOOKS: dict[tuple[str, str], tuple[object, Expect]] = {
    ("adv_x", "visits_two_sheets_202401.xlsx"): (_two_sheets, Expect(5, "landed", 5)),
    ("adv_x", "visits_formulas_202401.xlsx"): (_formulas, Expect(3, "landed", 2, 1)),
    ("adv_x", "visits_header_only_202401.xlsx"): (_header_only, Expect(0, "rejected", code="no_records")),
    ("adv_x", "visits_not_a_zip_202401.xlsx"): (
        lambda p: p.write_bytes(H.encode() + b"\r\n" + rows(1)[0].encode()),
        Expect(0, "rejected", code="unreadable_workbook"),
    ),
    # made once with xlwt 1.3.0 (BIFF8): a title row, header on row 2, 3 records, a blank row, a 合计
    # row, and a second sheet of notes
    ("adv_xls", "visits_legacy_202401.xls"): (
        lambda p: shutil.copy(HERE / "files" / "visits_legacy_202401.xls", p),
        Expect(4, "landed", 3, footer=1),
    ),
}


def write_corpus(inbox: Path) -> dict[tuple[str, str], Expect]:
    """Write every corpus file under ``inbox``; returns the expectations."""
    expected: dict[tuple[str, str], Expect] = {}
    for source_id, files in TEXT_CORPUS.items():
        (inbox / source_id).mkdir(parents=True, exist_ok=True)
        for name, (data, exp) in files.items():
            (inbox / source_id / name).write_bytes(data)
            expected[(source_id, name)] = exp
    for (source_id, name), (make, exp) in WORKBOOKS.items():
        (inbox / source_id).mkdir(parents=True, exist_ok=True)
        make(inbox / source_id / name)
        expected[(source_id, name)] = exp
    return expected


def copy_sources(dest: Path) -> Path:
    shutil.copytree(SOURCES, dest)
    return dest
