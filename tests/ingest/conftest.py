"""Fixtures of the landing tests: a copy of the hand-made inbox under tmp_path, plus an xlsx with a
title row and a totals row built with openpyxl (binary files are made here, not committed)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import openpyxl
import pytest

from pipelines.ingest.registry import load_sources

FIXTURES = Path(__file__).parent / "fixtures"


def write_title_row_workbook(path: Path) -> None:
    """his_c export: row 1 title, row 2 header, 4 records, a blank row, a 合计 totals row."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "门诊明细"
    ws.append(["2024年1月门诊就诊明细（创业HIS导出）"])
    ws.merge_cells("A1:E1")
    ws.append(["门诊号", "证件号码", "就诊时间", "费用", "收缩压"])
    ws.append(["C001", "360426199101010071", dt.datetime(2024, 1, 5, 8, 30), 125.5, 150])
    ws.append(["C002", "120103198806018241", dt.datetime(2024, 1, 6), 80.0, None])
    ws.append(["C003", None, "2024/01/07", 12, 128])
    ws.append(["C004", "110101200001011234", dt.datetime(2024, 1, 8, 14, 0, 5), 0.1, 135, "溢出"])
    ws.append([])
    ws.append(["合计", None, None, 217.6, None])
    wb.save(path)


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    dest = tmp_path / "inbox"
    shutil.copytree(FIXTURES / "inbox", dest)
    write_title_row_workbook(dest / "his_c" / "visits_202401.xlsx")
    return dest


@pytest.fixture
def sources_dir(tmp_path: Path) -> Path:
    dest = tmp_path / "sources"
    shutil.copytree(FIXTURES / "sources", dest)
    return dest


@pytest.fixture
def sources(sources_dir: Path):
    return load_sources(sources_dir)


@pytest.fixture
def con(tmp_path: Path):
    c = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield c
    c.close()
