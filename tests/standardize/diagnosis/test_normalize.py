"""Property and example tests for the diagnosis text normalizer."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.standardize.terminology.normalize import match_key, normalize_text, split_diagnoses

# text drawn from what diagnosis fields contain: CJK, ASCII, full-width forms, roman numerals, punctuation
_ALPHABET = st.sampled_from(
    list("高血压病糖尿型慢阻肺冠心房颤脑梗死级期度伴并及危极一二三四五")
    + list("abcdxivIVX0123456789 ,;.:()[]/+-")
    + list("ＡＢＣ０１２３（）［］，；：　")
    + list("ⅠⅡⅢⅣⅤⅰⅱⅲ壓腦併級")
)
TEXT = st.text(_ALPHABET, max_size=30)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_normalize_is_idempotent(text):
    once = normalize_text(text)
    assert normalize_text(once) == once


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_normalize_is_nfkc_stable(text):
    out = normalize_text(text)
    assert unicodedata.normalize("NFKC", out) == out
    assert normalize_text(unicodedata.normalize("NFKC", text)) == out


_NUMERALS = {
    1: ["1", "Ⅰ", "I", "一", "１", "i"],
    2: ["2", "Ⅱ", "II", "二", "２"],
    3: ["3", "Ⅲ", "III", "三", "３"],
}


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([1, 2, 3]),
    st.data(),
    st.sampled_from(["高血压", "高血压病", "高血壓"]),
    st.sampled_from(["", "(极高危)", " 高危", "（中危）"]),
)
def test_hypertension_grade_invariant_to_numeral_style(std, grade, data, stem, suffix):
    numeral = data.draw(st.sampled_from(_NUMERALS[grade]))
    text = f"{stem}{numeral}级{suffix}"
    assert std.hypertension_grade_in(normalize_text(text)) == grade
    result = std.standardize(text)
    assert result.status == "mapped"
    assert result.diagnoses[0].code == {1: "I10xx03", 2: "I10xx04", 3: "I10xx05"}[grade]
    assert result.diagnoses[0].hypertension_grade == grade


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("高血压Ⅲ级", "高血压3级"),
        ("高血壓三級", "高血压3级"),
        ("  ＣＯＰＤ　ＧＯＬＤ　Ⅳ级 ", "copd gold 4级"),
        ("Ⅱ型糖尿病", "2型糖尿病"),
        ("心功能IV级", "心功能4级"),
        ("高血压（２级，高危）", "高血压(2级,高危)"),
    ],
)
def test_normalize_examples(raw, expected):
    assert normalize_text(raw) == expected


def test_match_key_drops_punctuation_and_spaces():
    assert match_key("心房颤动[心房纤颤]") == "心房颤动心房纤颤"
    assert match_key("高血压 (3级)") == "高血压3级"


def test_split_respects_brackets_and_separators():
    assert split_diagnoses(normalize_text("高血压病2级，冠心病；慢阻肺、房颤")) == [
        "高血压病2级",
        "冠心病",
        "慢阻肺",
        "房颤",
    ]
    assert split_diagnoses("高血压3级(极高危,靶器官损害) 糖尿病") == [
        "高血压3级(极高危,靶器官损害)",
        "糖尿病",
    ]
    assert split_diagnoses("头痛.头晕.高血压") == ["头痛", "头晕", "高血压"]
    assert split_diagnoses("") == []
