"""Reader helpers: xlsx cell text and header names (property tests), reason sentences."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.ingest.periods import period_of
from pipelines.ingest.readers import cell_text, unique_names
from pipelines.ingest.reasons import FileRejected, codes, sentence


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1)))
def test_datetime_cells_read_back_to_the_same_second(value):
    text = cell_text(value.replace(microsecond=0))
    if value.time().replace(microsecond=0) == dt.time(0, 0):
        assert text == value.date().isoformat()
    else:
        assert dt.datetime.fromisoformat(text) == value.replace(microsecond=0)


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12))
def test_number_cells_read_back_to_the_same_number(value):
    text = cell_text(value)
    assert float(text) == value
    if value.is_integer():
        assert "." not in text and "e" not in text


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.sampled_from(["", " ", "姓名", "姓名_2", "\ufeffid", "a"])), max_size=12)
)
def test_header_names_are_unique_and_never_blank(cells):
    names = unique_names(cells)
    assert len(names) == len(cells)
    assert len(set(names)) == len(names)
    assert all(n and n == n.strip() and "\ufeff" not in n for n in names)


def test_header_name_examples():
    assert unique_names(["\ufeff就诊流水号", " 姓名 ", "", "姓名", None]) == [
        "就诊流水号",
        "姓名",
        "column_3",
        "姓名_2",
        "column_5",
    ]
    assert (
        cell_text(True) == "TRUE"
        and cell_text(None) is None
        and cell_text(dt.date(2025, 1, 3)) == "2025-01-03"
    )


@pytest.mark.parametrize(
    ("name", "period"),
    [
        ("visits_202501.csv", "202501"),
        ("visits_20260101.csv", "202601"),
        ("visits_202502_resend.csv", "202502"),
        ("referrals_202513.jsonl", None),
        ("readme.txt", None),
        ("visits_1202501.csv", None),
    ],
)
def test_period_of_file_names(name, period):
    assert period_of(name) == period


def test_every_documented_code_has_both_sentences_and_fills_its_placeholders():
    for kind in ("file", "note", "row"):
        for code in codes(kind):
            text = sentence(kind, code, file="his_a/x.csv", source_id="his_a")
            assert text.startswith(f"{code}: ") and " / " in text
            assert "{" not in text
    with pytest.raises(KeyError):
        FileRejected("not_a_documented_code")


def test_canonical_columns_are_the_standards_canonical_layer(tmp_path):
    """A canonical export's columns and required columns are read from the one standard
    (pipelines.contracts): a column dropped from data_elements.csv is no longer declared, a column
    made optional is no longer required, derived elements are never columns."""
    import shutil

    from pipelines.ingest import canonical_columns
    from pipelines.settings import STANDARD_DIR

    columns, required = canonical_columns("visits")
    assert columns[0] == "visit_id"  # the standard's order
    assert {"visit_id", "institution_code"} <= set(required)
    assert "person_key" not in columns  # derived, not exchanged
    assert canonical_columns("no_such_entity") == (None, [])

    std = tmp_path / "standard"
    shutil.copytree(STANDARD_DIR, std, ignore=shutil.ignore_patterns("terminology", "mappings", "canonical"))
    lines = (std / "data_elements.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    ent, el, req = header.index("entity"), header.index("element"), header.index("required")
    kept = []
    for line in lines[1:]:
        cells = line.split(",")
        if cells[ent] == "visits" and cells[el] == "phone":
            continue  # dropped from the standard
        if cells[ent] == "visits" and cells[el] == "visit_id":
            cells[req] = "N"
        kept.append(",".join(cells))
    (std / "data_elements.csv").write_text(lines[0] + "".join(kept), encoding="utf-8")
    changed, changed_required = canonical_columns("visits", std)
    assert "phone" in columns and "phone" not in changed
    assert len(changed) == len(columns) - 1
    assert "visit_id" in changed and "visit_id" not in changed_required
