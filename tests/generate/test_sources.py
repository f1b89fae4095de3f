"""The five sample sources load through the registry, map every column to a standard element,
and describe exactly the files the generator writes."""

from __future__ import annotations

import csv
import json

import openpyxl

from pipelines.generate.config import entities
from pipelines.ingest.registry import load_sources
from pipelines.settings import SOURCES_DIR, STANDARD_DIR


def test_load_sources_accepts_the_five_yamls():
    sources = load_sources(SOURCES_DIR)
    assert sorted(sources) == ["his_a", "his_b", "his_c", "referral_platform", "std_export"]
    assert {k: v.format for k, v in sources.items()} == {
        "his_a": "csv",
        "his_b": "csv",
        "his_c": "xlsx",
        "referral_platform": "jsonl",
        "std_export": "canonical",
    }
    assert sources["his_b"].encoding == "gb18030"
    assert sources["his_c"].header_row == 2 and sources["his_c"].footer_regex == "^(合计|总计)"


def test_every_mapping_is_complete_and_uses_known_elements():
    sources = load_sources(SOURCES_DIR)
    with (STANDARD_DIR / "data_elements.csv").open(encoding="utf-8") as fh:
        known = {(r["entity"], r["element"]) for r in csv.DictReader(fh)}
    for sid, src in sources.items():
        for f in src.files:
            if src.is_canonical:
                continue
            elements = [c.element for c in f.columns]
            # complete: every canonical element of the entity is mapped exactly once
            assert sorted(elements) == sorted(entities()[f.entity]["columns"]), (sid, f.entity)
            for e in elements:
                assert (f.entity, e) in known, (sid, f.entity, e)
            assert set(f.required_columns) <= {c.source_column for c in f.columns}
    # his_a headers are English snake_case but not all identical to the canonical names
    his_a = {c.source_column for c in sources["his_a"].files[0].columns}
    assert "visit_no" in his_a and "visit_id" not in his_a


def test_file_headers_match_the_yaml(tiny):
    out, _ = tiny
    sources = load_sources(SOURCES_DIR)
    cols = [c.source_column for c in sources["his_a"].files[0].columns]
    with (out / "inbox/his_a/visits_202501.csv").open(encoding="utf-8") as fh:
        assert next(csv.reader(fh)) == cols
    cols_b = [c.source_column for c in sources["his_b"].files[0].columns]
    with (out / "inbox/his_b/visits_202501.csv").open(encoding="gb18030") as fh:
        assert next(csv.reader(fh)) == cols_b
    with (out / "inbox/std_export/visits_202501.csv").open(encoding="utf-8") as fh:
        assert next(csv.reader(fh)) == entities()["visits"]["columns"]
    wb = openpyxl.load_workbook(out / "inbox/his_c/visits_202501.xlsx", read_only=True)
    rows = list(wb.active.iter_rows(values_only=True))
    assert rows[0][0] == "青澜市基层医疗卫生机构就诊明细表（2025年01月）"  # title row
    assert list(rows[1]) == [c.source_column for c in sources["his_c"].files[0].columns]
    assert rows[-1][0] == "合计" and rows[-1][1] == f"{len(rows) - 3}条"
    line = (
        (out / "inbox/referral_platform/referrals_202501.jsonl").read_text(encoding="utf-8").splitlines()[0]
    )
    obj = json.loads(line)
    assert set(obj["patient"]) == {"id_type", "id_no", "name", "gender", "birthday", "mobile"}
    assert obj["events"][0]["type"] in {"request", "accept", "return", "arrive"}
