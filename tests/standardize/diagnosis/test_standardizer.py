"""Hand-checked chronic-condition variants, codes, reviewed mappings and the no-wrong-answer rule."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.standardize.diagnosis import DiagnosisStandardizer, load_reviewed_mappings
from pipelines.standardize.terminology.pack import icd10_category

CASES = Path(__file__).with_name("chronic_cases.csv")


def _cases():
    with CASES.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("case", _cases(), ids=lambda c: f"{c['text']}|{c['code']}")
def test_chronic_condition_table(std, case):
    result = std.standardize(case["text"] or None, case["code"] or None)
    assert result.status == case["status"]
    assert [d.code for d in result.diagnoses] == (case["codes"].split(";") if case["codes"] else [])
    if result.diagnoses:
        principal = result.diagnoses[0]
        assert principal.hypertension_grade == (
            int(case["hypertension_grade"]) if case["hypertension_grade"] else None
        )
        assert principal.risk_tier == (case["risk_tier"] or None)
        assert principal.diabetes_type == (case["diabetes_type"] or None)
        assert principal.copd_grade == (int(case["copd_grade"]) if case["copd_grade"] else None)
        assert principal.mapping_method == case["method"]
        assert principal.icd10_category == principal.code[:3]
        assert 0.0 < principal.confidence <= 1.0
    else:
        out = result.to_json()
        assert (out["status"], out["diagnoses"]) == ("unmapped", [])
        assert len(out["suggestions"]) <= 3
        assert all(not s["code"].startswith("M") or "/" not in s["code"] for s in out["suggestions"])


def test_code_and_system_kept_beside_result(std):
    result = std.standardize("高血压3级", "I10.x00x032")
    d = result.diagnoses[0]
    assert (d.code, d.name, d.source_code, d.code_system) == (
        "I10xx05",
        "高血压3级",
        "I10.x00x032",
        "national_clinical_2.0",
    )
    d = std.standardize(None, "e11.900").diagnoses[0]
    assert (d.code, d.mapping_method, d.code_system, d.source_code) == (
        "E11.901",
        "code_crosswalk",
        "insurance_2.0",
        "e11.900",
    )
    d = std.standardize(None, "I10xx05").diagnoses[0]
    assert (d.code_system, d.mapping_method) == ("beijing_v601", "exact_code")


def test_to_json_shape(std):
    out = std.standardize("高血压病3级(极高危)").to_json()
    confidence = out["diagnoses"][0].pop("confidence")
    assert 0.5 <= confidence <= 1.0  # calibrated per method; a rule placement is confident
    assert out == {
        "input": "高血压病3级(极高危)",
        "status": "mapped",
        "diagnoses": [
            {
                "code": "I10xx05",
                "name": "高血压3级",
                "icd10_category": "I10",
                "grade": 3,
                "hypertension_grade": 3,
                "risk_tier": "很高危",
                "diabetes_type": None,
                "copd_grade": None,
                "mapping_method": "synonym",
                "source_text": "高血压病3级(极高危)",
                "source_code": None,
                "code_system": None,
                "morphology_code": None,
                "morphology_name": None,
                "qualifier": None,
            }
        ],
    }
    assert std.standardize("慢性阻塞性肺疾病(GOLD 3级)").to_json()["diagnoses"][0]["grade"] == 3


def test_stated_grade_or_type_never_contradicted(std):
    """Learned/fuzzy matches must agree with numbers in the text: these are left unmapped, not guessed."""
    for text in ["高血压4级", "高血压病5级", "3型糖尿病"]:
        result = std.standardize(text)
        assert all(d.hypertension_grade in (None,) for d in result.diagnoses if d.icd10_category == "I10"), (
            text
        )
        assert [d.code for d in result.diagnoses if d.icd10_category in {"I10", "E10", "E11", "E14"}] == [], (
            text
        )


def test_unmapped_on_garbage_and_empty(std):
    for text in ["asdfgh", "", "   ", "？？？", "12345", "qwertyuiop"]:
        result = std.standardize(text)
        assert (result.status, result.diagnoses) == ("unmapped", []), text
    assert std.standardize(None, None).status == "unmapped"


def test_partially_mapped_field_lists_unmapped_parts(std):
    result = std.standardize("高血压3级,asdfgh")
    assert [d.code for d in result.diagnoses] == ["I10xx05"]
    assert result.unmapped_parts == ("asdfgh",)


def test_standardize_many_keeps_order_and_caches(std):
    pairs = [("房颤", None), (None, "I10xx05"), ("房颤", None), ("asdfgh", None)]
    results = std.standardize_many(pairs)
    assert [r.status for r in results] == ["mapped", "mapped", "mapped", "unmapped"]
    assert [r.diagnoses[0].code for r in results[:3]] == ["I48xx04", "I10xx05", "I48xx04"]
    assert results[0] is results[2]  # cached per (text, code)


def test_reviewed_mapping_applied_as_manual_with_who_and_when(pack, tmp_path):
    path = tmp_path / "reviewed.csv"
    path.write_text(
        "source_text,source_code,target_code,reviewed_by,reviewed_at,note\n"
        "老慢支急发,,J20.904,王质控,2026-11-20,reviewed from the unmapped worklist\n"
        "血压高,X99,I10xx02,李质控,2026-11-21,text + code pair\n",
        encoding="utf-8",
    )
    before = DiagnosisStandardizer(pack, reviewed_mappings=None).standardize("老慢支急发")
    assert before.status == "unmapped"
    std = DiagnosisStandardizer(pack, reviewed_mappings=path)
    d = std.standardize("老慢支急发").diagnoses[0]
    assert (d.code, d.mapping_method, d.reviewed_by, d.reviewed_at) == (
        "J20.904",
        "manual",
        "王质控",
        "2026-11-20",
    )
    assert std.standardize("老慢支急发").to_json()["diagnoses"][0]["reviewed_by"] == "王质控"
    d = std.standardize("血压高", "X99").diagnoses[0]
    assert (d.code, d.mapping_method, d.source_code, d.reviewed_at) == (
        "I10xx02",
        "manual",
        "X99",
        "2026-11-21",
    )


def test_reviewed_mapping_with_unknown_target_is_an_error(pack, tmp_path):
    path = tmp_path / "reviewed.csv"
    path.write_text(
        "source_text,source_code,target_code,reviewed_by,reviewed_at,note\n老慢支,,NOPE1,王,2026-11-20,\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"reviewed.csv:2: target_code 'NOPE1'"):
        load_reviewed_mappings(path, pack)


def test_committed_reviewed_mappings_load(pack):
    from pipelines.standardize.diagnosis import DEFAULT_REVIEWED_MAPPINGS

    mappings = load_reviewed_mappings(DEFAULT_REVIEWED_MAPPINGS, pack)
    assert all(m.reviewed_by and m.reviewed_at for m in mappings.values())


def test_pack_facts(pack):
    # 40,474 rows in the file; the stray row `N,N` is not code-shaped (pack.yaml term_code_pattern)
    assert len(pack.names) == 40473
    assert pack.skipped_terms == ("N",)
    assert "N" not in pack.names
    assert pack.version == "v601"
    assert pack.names["I10xx05"] == "高血压3级"
    assert pack.find_code("i10XX05") == "I10xx05"
    assert pack.find_code("E10.211") == "E10.211+N08.3*"
    assert icd10_category("M801000/3") is None
    assert icd10_category("J44.101") == "J44"
    assert pack.code_system_of("I10.x00x002") == "national_clinical_2.0"
    assert pack.code_system_of("E11.900") == "insurance_2.0"
    assert pack.code_system_of("??") == "unknown"


def test_committed_example_row_applies(std):
    d = std.standardize("II型呼衰").diagnoses[0]
    assert (d.code, d.name, d.mapping_method, d.reviewed_by) == (
        "J96.903",
        "Ⅱ型呼吸衰竭",
        "manual",
        "质控科-示例",
    )


def test_missing_values_from_dataframes_are_unmapped(std):
    assert std.standardize(float("nan"), None).status == "unmapped"
    assert std.standardize(float("nan"), "I10xx05").diagnoses[0].code == "I10xx05"


_FIELD_ALPHABET = st.sampled_from(list("高血压病糖尿型慢阻肺冠心房颤脑梗死级伴并及危一二三ⅡⅢ0123 ,;、()xyz"))


@settings(max_examples=60, deadline=None)
@given(st.text(_FIELD_ALPHABET, max_size=20))
def test_any_text_gives_a_well_formed_result(std, text):
    result = std.standardize(text)
    assert result.status == ("mapped" if result.diagnoses else "unmapped")
    assert len({d.code for d in result.diagnoses}) == len(result.diagnoses)
    for d in result.diagnoses:
        assert std.pack.names[d.code] == d.name
        assert d.icd10_category == d.code[:3]
        assert d.hypertension_grade in (None, 1, 2, 3)
        if d.hypertension_grade is not None:
            # a grade is only ever read from the text, in one of its numeral styles
            assert any(ch in text for ch in {1: "1一", 2: "2二Ⅱ", 3: "3三Ⅲ"}[d.hypertension_grade])


@pytest.mark.parametrize(
    ("text", "code", "expected"),
    [
        # v601 I25.103 is 冠状动脉狭窄; a foreign I25.103 may mean CHD: what the doctor wrote wins
        ("冠心病", "I25.103", [("I25.105", "synonym", None, "I25.103")]),
        # the code is more specific than the text: the code stays, the text adds nothing new
        ("高血压", "I10xx05", [("I10xx05", "exact_code", 3, "I10xx05")]),
        # the text is more specific than the code
        ("高血压3级", "I10xx02", [("I10xx05", "exact_name", 3, "I10xx02")]),
        # a different category in the text is a second diagnosis
        (
            "2型糖尿病",
            "I10xx05",
            [("I10xx05", "exact_code", 3, "I10xx05"), ("E11.901", "exact_name", None, None)],
        ),
    ],
)
def test_code_and_text_together(std, text, code, expected):
    result = std.standardize(text, code)
    assert [
        (d.code, d.mapping_method, d.hypertension_grade, d.source_code) for d in result.diagnoses
    ] == expected


def test_teammate_variants_of_chronic_conditions(std):
    """Variants the generator writes (pipelines/generate/data/dx_variants.csv), checked by hand."""
    expected = {
        "HBP1级": "I10xx03",
        "高血压2": "I10xx04",
        "Ⅰ级高血压": "I10xx03",
        "慢性阻塞性肺气肿": "J44.901",
        "慢性阻塞性肺疾病急性发作": "J44.101",
        "AECOPD": "J44.101",
        "缺血性脑卒中": "I63.902",
        "不稳定型心绞痛": "I20.001",
        "慢性心功能不全": "I50.905",
        "STEMI": "I21.304",
        "脑溢血": "I61.902",
        "糖尿病": "E14.901",  # type not stated: E14, never a guessed E11
        "CI": "I63.902",  # cerebral infarction: in the curated English list (issue 14)
    }
    got = {
        text: (r.diagnoses[0].code if r.diagnoses else None)
        for text, r in ((t, std.standardize(t)) for t in expected)
    }
    assert got == expected


def test_curated_data_leads_into_the_pack(pack):
    """Every synonym/abbreviation ends on a pack name; every crosswalk target is a pack code."""
    kinds = {kind for _, _, kind in pack.synonym_rows}
    assert kinds <= {"abbreviation", "synonym", "expansion", "protect"}
    dangling = [
        (v, c) for v, c, kind in pack.synonym_rows if kind != "expansion" and pack.find_name(c) is None
    ]
    assert dangling == []
    assert all(row.target_code in pack.names for row in pack.crosswalk.values())
    assert len(pack.crosswalk) >= 8
    assert all(row.source for row in pack.crosswalk.values())  # every crosswalk row names its source
