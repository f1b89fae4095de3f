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


def test_canonical_columns_come_from_the_standard_or_fall_back_to_the_primary_key(tmp_path):
    from pipelines.ingest import canonical_columns

    assert canonical_columns("visits", tmp_path) == (None, ["visit_id"])  # no standard yet
    (tmp_path / "data_elements.csv").write_text(
        "element,entity,layer,required\n"
        "visit_id,visits,canonical,Y\n"
        "patient_name,visits,canonical,N\n"
        "person_key,visits,derived,Y\n"
        "institution_code,institutions,registry,Y\n",
        encoding="utf-8",
    )
    assert canonical_columns("visits", tmp_path) == (["visit_id", "patient_name"], ["visit_id"])
    assert canonical_columns("referrals", tmp_path) == (None, ["referral_id"])
