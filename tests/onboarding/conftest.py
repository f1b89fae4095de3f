"""Hand-written exports of hospitals the generator does not imitate (fixtures/cNN_*/: the export,
the source.yaml that onboards it, expected.yaml with the values a person checked by hand)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import openpyxl
import yaml

FIXTURES = Path(__file__).parent / "fixtures"
REGISTRY = FIXTURES / "registry"
CASES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir() and p.name[:1] == "c")


def write_notes_workbook(path: Path) -> None:
    """c09: data sheet 号源 (title row, export-time row, header on row 3) + notes sheet 填表说明."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "号源"
    ws.append(["胶州市人民医院 2024年7月 号源下沉排班表"])
    ws.merge_cells("A1:G1")
    ws.append(["导出时间：2024-07-01 07:30"])
    ws.append(["号源池编号", "医院编码", "科室", "出诊日期", "号源总数", "预留基层号源数", "放号时间"])
    ws.append(["HY0701", "H02", "心内科", dt.datetime(2024, 7, 15), 40, 10, dt.datetime(2024, 7, 1, 8, 0)])
    ws.append(["HY0702", "H02", "心内科", dt.datetime(2024, 7, 16), 40, 6, dt.datetime(2024, 7, 2, 8, 0)])
    ws.append(["HY0703", "H02", "神经内科", dt.datetime(2024, 7, 16), 8, 12, dt.datetime(2024, 7, 2, 8, 0)])
    ws.append(["HY0704", "H02", "内分泌科", dt.datetime(2024, 7, 17), 30, 6, dt.datetime(2024, 7, 3, 8, 0)])
    notes = wb.create_sheet("填表说明")
    notes.append(["说明"])
    notes.append(["1. 预留基层号源数不得超过号源总数。"])
    notes.append(["2. 放号时间为向基层开放预约的时间，应提前两周。"])
    wb.save(path)


def expected(case: str) -> dict:
    return yaml.safe_load((FIXTURES / case / "expected.yaml").read_text(encoding="utf-8"))


def export_file(case: str, dest_dir: Path) -> Path:
    """The case's export, copied (or, for a workbook, built) into dest_dir."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    if case.startswith("c09"):
        out = dest_dir / "slot_pools_202407.xlsx"
        write_notes_workbook(out)
        return out
    [src] = [p for p in (FIXTURES / case).iterdir() if p.name not in ("source.yaml", "expected.yaml")]
    out = dest_dir / src.name
    shutil.copy2(src, out)
    return out
