"""Every clean record of every file of every dialect reads back, through its sources/*.yaml
mapping alone, to exactly the truth's clean values (the truth is complete and the YAMLs are right)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from pipelines.generate.config import date_elements, entities
from pipelines.ingest.registry import SourceConfig, load_sources
from pipelines.settings import SOURCES_DIR

SOURCES = load_sources(SOURCES_DIR)


def _json_path(doc: dict, path: str):
    m = re.fullmatch(r"(\w+)\[type=(\w+)\]\.(\w+)", path)
    if m:
        for ev in doc.get(m.group(1)) or []:
            if ev.get("type") == m.group(2):
                return ev.get(m.group(3))
        return None
    cur = doc
    for k in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(k)
    return cur


def read_rows(src: SourceConfig, path: Path, columns: list[str]) -> list[dict]:
    if src.format == "jsonl":
        docs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        return [{c: _json_path(d, c) for c in columns} for d in docs]
    if src.format == "xlsx":
        rows = list(openpyxl.load_workbook(path, read_only=True).active.iter_rows(values_only=True))
        header = list(rows[src.header_row - 1])
        body = [r for r in rows[src.header_row :] if not re.match(src.footer_regex, str(r[0] or ""))]
        return [{h: (v if v not in ("",) else None) for h, v in zip(header, r, strict=False)} for r in body]
    text = path.read_text(encoding=src.encoding)
    return [{k: (v if v != "" else None) for k, v in r.items()} for r in csv.DictReader(io.StringIO(text))]


def to_clean(value, element: str, date_formats, value_map) -> str | None:
    if value is None:
        return None
    value = str(value)
    if value_map:
        return value_map.get(value, value)
    if date_formats:
        for fmt in date_formats:
            try:
                d = datetime.strptime(value, fmt)
            except ValueError:
                continue
            return d.strftime("%Y-%m-%d" if element in date_elements() else "%Y-%m-%d %H:%M:%S")
        raise AssertionError(f"{element}: {value!r} matches none of {date_formats}")
    return value


@pytest.mark.parametrize("source_id", sorted(SOURCES))
def test_clean_rows_read_back_to_the_truth(tiny, source_id):
    out, _ = tiny
    src = SOURCES[source_id]
    checked = 0
    for spec in src.files:
        entity = spec.entity
        if src.is_canonical:
            mapping = [(c, c, (), {}) for c in entities()[entity]["columns"]]
        else:
            mapping = [(c.source_column, c.element, c.date_formats, c.value_map) for c in spec.columns]
        truth = pd.read_parquet(out / "truth/records" / f"{entity}.parquet")
        truth = truth[(truth.delivery == "inbox") & (truth.source_id == source_id)]
        for path in sorted((out / "inbox" / source_id).glob(spec.pattern)):
            rows = read_rows(src, path, [m[0] for m in mapping])
            t = truth[truth.file_name == path.name].sort_values("row_number")
            assert len(rows) == len(t), path.name
            for row, (_, tr) in zip(rows, t.iterrows(), strict=True):
                if tr.dirt:
                    continue
                for col, element, fmts, vmap in mapping:
                    if src.is_canonical and element in date_elements() | {
                        e for e in entities()[entity]["columns"] if e.endswith("_datetime")
                    }:
                        fmts = ("%Y-%m-%d",) if element in date_elements() else ("%Y-%m-%d %H:%M:%S",)
                    got = to_clean(row[col], element, fmts, vmap)
                    exp = None if pd.isna(tr[element]) else tr[element]
                    assert got == exp, (path.name, int(tr.row_number), col, row[col], exp)
                checked += 1
    assert checked > 100, checked
