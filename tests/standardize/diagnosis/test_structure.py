"""Issue 14: structured parsing before matching, written from the rules.

* a hypertension grade / diabetes type is read in any order and numeral style;
* a tumour named by its site lands on the site's C code, its morphology (ICD-O M-code) beside it, and
  an M-code is never a diagnosis;
* English abbreviations come from the curated list;
* qualifiers (history, suspected, post-operative) are kept as an attribute; ruled-out and denied
  conditions are not diagnoses;
* national clinical 2.0 hypertension codes keep the grade and risk they carry.
"""

from __future__ import annotations

import csv
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.standardize.diagnosis import (
    DiagnosisResult,
    DiagnosisStandardizer,
    append_reviewed_mapping,
    load_reviewed_mappings,
)
from pipelines.standardize.terminology.pack import icd10_category, is_morphology

# grade -> how clinicians write the numeral (arabic, roman, full-width roman, Chinese)
NUMERALS = {1: ["1", "I", "Ⅰ", "一"], 2: ["2", "II", "Ⅱ", "二"], 3: ["3", "III", "Ⅲ", "三"]}
GRADED = {1: "I10xx03", 2: "I10xx04", 3: "I10xx05"}  # v601: 高血压1级 / 2级 / 3级


def _hypertension_forms(grade: int) -> list[str]:
    out = []
    for n in NUMERALS[grade]:
        out += [
            f"{n}级高血压",  # grade first (the form that came back unmapped)
            f"高血压{n}级",
            f"高血压病{n}级",
            f"{n}级高血压病",
            f"原发性高血压{n}级",
            f"高血压({n}级 极高危)",
            f"高血压（{n}级，高危）",
        ]
    return out


@pytest.mark.parametrize("grade", [1, 2, 3])
def test_hypertension_grade_any_order_any_numeral(std, grade):
    for text in _hypertension_forms(grade):
        result = std.standardize(text)
        assert result.status == "mapped", text
        d = result.diagnoses[0]
        assert (d.code, d.hypertension_grade, d.icd10_category) == (GRADED[grade], grade, "I10"), text


def test_risk_tier_read_with_the_grade(std):
    d = std.standardize("高血压(3级 极高危)").diagnoses[0]
    assert (d.hypertension_grade, d.risk_tier) == (3, "很高危")


@given(grade=st.sampled_from([1, 2, 3]), style=st.integers(0, 3), first=st.booleans(), disease=st.booleans())
@settings(max_examples=60, deadline=None)
def test_hypertension_grade_property(std, grade, style, first, disease):
    n = NUMERALS[grade][style]
    word = "高血压病" if disease else "高血压"
    text = f"{n}级{word}" if first else f"{word}{n}级"
    d = std.standardize(text).diagnoses[0]
    assert (d.code, d.hypertension_grade) == (GRADED[grade], grade)


@pytest.mark.parametrize(
    "text", ["2型糖尿病", "糖尿病2型", "Ⅱ型糖尿病", "二型糖尿病", "糖尿病（Ⅱ型）", "T2DM", "DM2", "2型DM"]
)
def test_type_2_diabetes_any_order(std, text):
    d = std.standardize(text).diagnoses[0]
    assert (d.icd10_category, d.diabetes_type) == ("E11", "2")


@pytest.mark.parametrize("text", ["1型糖尿病", "糖尿病1型", "Ⅰ型糖尿病", "T1DM"])
def test_type_1_diabetes_any_order(std, text):
    d = std.standardize(text).diagnoses[0]
    assert (d.icd10_category, d.diabetes_type) == ("E10", "1")


def test_no_grade_guessed_and_no_grade_four(std):
    assert std.standardize("4级高血压").status == "unmapped"
    d = std.standardize("高血压").diagnoses[0]
    assert d.hypertension_grade is None


# ----------------------------------------------------------------------------------- tumours
SITES = [  # (text, ICD-10 category of the site, morphology name or None)
    ("肺腺癌", "C34", "腺癌"),
    ("右肺鳞癌", "C34", "鳞状细胞癌"),
    ("乳腺癌", "C50", "癌"),  # 乳腺 is the site: the morphology is 癌, not 腺癌
    ("胃癌", "C16", "癌"),
    ("肝癌", "C22", "癌"),
    ("结肠癌", "C18", "癌"),
    ("直肠癌", "C20", "癌"),
    ("食管癌", "C15", "癌"),
    ("食道癌", "C15", "癌"),
    ("宫颈鳞癌", "C53", "鳞状细胞癌"),
    ("甲状腺乳头状癌", "C73", "乳头状癌"),
    ("胰腺癌", "C25", "癌"),
    ("鼻咽癌", "C11", "癌"),
    ("膀胱癌", "C67", "癌"),
    ("前列腺癌", "C61", "癌"),
    ("卵巢癌", "C56", "癌"),
    ("肾癌", "C64", "癌"),
    ("骨肉瘤", "C41", "肉瘤"),
    ("胃MT", "C16", None),  # MT = 恶性肿瘤: nothing beyond what the site code already says
]


@pytest.mark.parametrize("text,category,morphology", SITES)
def test_tumour_by_site_keeps_morphology(std, text, category, morphology):
    result = std.standardize(text)
    assert result.status == "mapped", text
    d = result.diagnoses[0]
    assert d.icd10_category == category
    assert not is_morphology(d.code)
    assert d.morphology_name == morphology
    if morphology:
        assert is_morphology(d.morphology_code)


@pytest.mark.parametrize("text", ["腺癌", "癌", "鳞状细胞癌", "恶性肿瘤"])
def test_morphology_without_site_is_unmapped_never_an_m_code(std, text):
    result = std.standardize(text)
    assert result.status == "unmapped"
    assert not any(is_morphology(s["code"]) for s in result.suggestions)


def test_morphology_code_as_input_code_goes_to_the_site(std):
    result = std.standardize("右肺腺癌", "M814000/3")
    d = result.diagnoses[0]
    assert (d.icd10_category, d.morphology_code) == ("C34", "M814000/3")
    assert std.standardize(None, "M814000/3").status == "unmapped"


def test_named_haematological_cancers_are_diagnosis_codes(std):
    for text, category in [("淋巴瘤", "C85"), ("白血病", "C95"), ("多发性骨髓瘤", "C90")]:
        d = std.standardize(text).diagnoses[0]
        assert d.icd10_category == category, text


def test_secondary_tumour_is_not_placed_on_the_primary_site(std):
    for d in std.standardize("肺癌脑转移").diagnoses:
        assert not is_morphology(d.code)
        assert d.mapping_method != "tumour_site"


TUMOUR_WORDS = [
    "肺",
    "胃",
    "乳腺",
    "肝",
    "结肠",
    "腺",
    "鳞",
    "小细胞",
    "癌",
    "恶性肿瘤",
    "肉瘤",
    "淋巴瘤",
    "?",
    "术后",
    "伴",
]


@given(st.lists(st.sampled_from(TUMOUR_WORDS), min_size=1, max_size=5))
@settings(max_examples=80, deadline=None)
def test_never_a_morphology_code_as_a_diagnosis(std, words):
    for best_guess in (False, True):
        result = std.standardize("".join(words), best_guess=best_guess)
        for d in result.diagnoses:
            assert not is_morphology(d.code)
            assert d.icd10_category == icd10_category(d.code) and d.icd10_category is not None
        assert not any(is_morphology(s["code"]) for s in result.suggestions)


def test_icd10_category_is_null_not_empty():
    assert icd10_category("M801000/3") is None
    assert icd10_category("") is None
    assert icd10_category("C34.901") == "C34"


# ----------------------------------------------------------------------------------- abbreviations
ABBREVIATIONS = {  # abbreviation -> ICD-10 category (checked against the ICD-10 chapters by hand)
    "TIA": "G45",
    "CVA": "I64",
    "ICH": "I61",
    "SAH": "I60",
    "AMI": "I21",
    "STEMI": "I21",
    "NSTEMI": "I21",
    "ACS": "I24",
    "CHD": "I25",
    "COPD": "J44",
    "AECOPD": "J44",
    "DM": "E14",
    "T2DM": "E11",
    "T1DM": "E10",
    "HTN": "I10",
    "CKD 5期": "N18",
    "AF": "I48",
    "CHF": "I50",
    "HF": "I50",
    "PE": "I26",
    "DVT": "I80",
    "URTI": "J06",
    "CAP": "J18",
}


@pytest.mark.parametrize("text,category", ABBREVIATIONS.items())
def test_english_abbreviations(std, text, category):
    for variant in (text, text.lower(), f" {text} "):
        d = std.standardize(variant).diagnoses[0]
        assert d.icd10_category == category, variant
        assert d.mapping_method == "synonym"


def test_abbreviation_only_as_a_word(std):
    # "pe" inside an English word is not pulmonary embolism, "af" inside a word not atrial fibrillation
    for text in ["pelvic", "after"]:
        assert all(d.icd10_category not in {"I26", "I48"} for d in std.standardize(text).diagnoses)


def test_every_synonym_has_a_source(pack):
    path = pack.directory / pack.manifest["synonyms"]
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and all(r["source"].strip() for r in rows)


# ----------------------------------------------------------------------------------- qualifiers
@pytest.mark.parametrize(
    "text,category,qualifier",
    [
        ("高血压病史", "I10", "history"),
        ("既往脑梗死", "I63", "history"),
        ("脑梗死待查", "I63", "suspected"),
        ("肺炎?", "J18", "suspected"),
        ("肺炎？", "J18", "suspected"),
        ("疑似肺炎", "J18", "suspected"),
        ("肺炎可能", "J18", "suspected"),
        ("肺炎不除外", "J18", "suspected"),
        ("乳腺癌术后", "C50", "post_operative"),
    ],
)
def test_qualifier_kept_as_attribute(std, text, category, qualifier):
    d = std.standardize(text).diagnoses[0]
    assert (d.icd10_category, d.qualifier) == (category, qualifier)


@pytest.mark.parametrize("text", ["除外肺癌", "排除脑梗死", "否认高血压", "否认糖尿病"])
def test_ruled_out_or_denied_is_not_a_diagnosis(std, text):
    assert std.standardize(text).diagnoses == []


def test_plain_diagnosis_is_principal_before_qualified_ones(std):
    result = std.standardize("高血压病史，冠心病；否认糖尿病")
    assert [(d.icd10_category, d.qualifier) for d in result.diagnoses] == [("I25", None), ("I10", "history")]


def test_several_diagnoses_with_each_separator(std):
    for sep in ["、", "，", ",", ";", "；", "/", "+", " "]:
        result = std.standardize(f"高血压3级{sep}2型糖尿病{sep}冠心病")
        assert [d.icd10_category for d in result.diagnoses] == ["I10", "E11", "I25"], sep
    from pipelines.standardize.terminology.normalize import split_diagnoses

    assert split_diagnoses("孕11+1周") == ["孕11+1周"]


# ----------------------------------------------------------------------------------- 2.0 crosswalk
@pytest.mark.parametrize(
    "code,grade,risk",
    [
        ("I10.x00x023", 1, "高危"),  # 国家临床版2.0 高血压病1级（高危）
        ("I10.x00x024", 1, "很高危"),  # 高血压病1级（极高危）
        ("I10.x00x027", 2, "高危"),
        ("I10.x00x028", 2, "很高危"),
        ("I10.x00x031", 3, "高危"),
        ("I10.x00x032", 3, "很高危"),
    ],
)
def test_national_clinical_hypertension_codes_keep_grade_and_risk(std, code, grade, risk):
    d = std.standardize(None, code).diagnoses[0]
    assert (d.code, d.hypertension_grade, d.risk_tier) == (GRADED[grade], grade, risk)
    assert (d.mapping_method, d.code_system, d.source_code) == (
        "code_crosswalk",
        "national_clinical_2.0",
        code,
    )


def test_crosswalk_rows_name_their_source(pack):
    assert all(row.source for row in pack.crosswalk.values())


# ----------------------------------------------------------------------------------- confidence etc.
def test_every_mapping_has_confidence_and_method(std):
    for text in ["高血压3级", "肺腺癌", "TIA", "急性STEMI"]:
        for d in std.standardize(text).diagnoses:
            assert 0.0 < d.confidence <= 1.0 and d.mapping_method


def test_unmapped_carries_ranked_suggestions(std):
    result = std.standardize("腺癌")
    scores = [s["score"] for s in result.suggestions]
    assert 1 <= len(scores) <= 3 and scores == sorted(scores, reverse=True)
    assert set(result.to_json()["suggestions"][0]) == {"code", "name", "score"}


def test_confirm_appends_a_reviewed_mapping(std, tmp_path):
    path = tmp_path / "reviewed_mappings.csv"
    path.write_text("source_text,source_code,target_code,reviewed_by,reviewed_at,note\n", encoding="utf-8")
    append_reviewed_mapping(path, std.pack, "老慢支急发", "J44.101", "质控科-张", reviewed_at="2026-11-29")
    with pytest.raises(ValueError):
        append_reviewed_mapping(path, std.pack, "腺癌", "M814000/3", "质控科-张")
    with pytest.raises(ValueError):
        append_reviewed_mapping(path, std.pack, "腺癌", "C34.901", "  ")
    rows = load_reviewed_mappings(path, std.pack)
    assert [(m.source_text, m.target_code) for m in rows.values()] == [("老慢支急发", "J44.101")]
    fresh = DiagnosisStandardizer(std.pack, reviewed_mappings=path, learned=std.learned)
    d = fresh.standardize("老慢支急发").diagnoses[0]
    assert (d.code, d.mapping_method, d.reviewed_by) == ("J44.101", "manual", "质控科-张")


def test_results_persist_across_runs(std, tmp_path):
    pairs = [("高血压3级", None), ("肺腺癌", None), (None, "I10.x00x032"), ("腺癌", None)]
    first = DiagnosisStandardizer(std.pack, reviewed_mappings=None, learned=std.learned)
    first.use_persistent_cache(tmp_path / "cache")
    a = first.standardize_many(pairs)
    assert (first.persistent.hits, first.persistent.misses) == (0, 4)
    second = DiagnosisStandardizer(std.pack, reviewed_mappings=None, learned=std.learned)
    second.use_persistent_cache(tmp_path / "cache")
    b = second.standardize_many(pairs + [("冠心病", None)])
    assert (second.persistent.hits, second.persistent.misses) == (4, 1)
    assert [r.to_json() for r in a] == [r.to_json() for r in b[:4]]
    assert (tmp_path / "cache" / "diagnosis_cache.sqlite").exists()


def test_default_keeps_results_only_where_the_caller_says(std, tmp_path):
    # configuration comes from the caller (the warehouse passes <data dir>/cache), not the environment
    assert std.persistent is None  # DiagnosisStandardizer.default() without cache_dir
    cached = DiagnosisStandardizer.default(cache_dir=tmp_path / "c")
    assert cached is not std and cached.persistent is not None
    assert cached.persistent.path == tmp_path / "c" / "diagnosis_cache.sqlite"
    assert DiagnosisStandardizer.default(cache_dir=tmp_path / "c") is cached


def test_result_json_round_trip(std):
    for text in ["肺腺癌", "高血压病史", "腺癌"]:
        r = std.standardize(text)
        back = DiagnosisResult.from_json(json.loads(json.dumps(r.to_json(internal=True))), std.pack, text)
        assert back.to_json() == r.to_json()


class _FakeLearned:
    """A learned matcher that scores only long queries (the whole field), with fixed probabilities."""

    production_threshold = 0.8
    method_confidence = {"exact_name": 0.75}

    def __init__(self, pack, scored, min_len=0):
        self.scored = scored
        self.min_len = min_len
        self.name_code = {n: pack.find_name(n) for n, _ in scored}

    def score(self, text):
        return list(self.scored) if len(text) >= self.min_len else []


def test_rule_name_refined_by_a_confident_learned_term_of_the_same_category(std):
    # 传染性单核细胞增多症 is the bare category name B27 (coded, by the rule, to the first leaf of its
    # unspecified subdivision, B27.901); a learned term of B27 more likely right than the exact-name
    # rule (p >= its measured precision 0.75) replaces it, a less likely one does not
    sure = _FakeLearned(std.pack, [("未特指的传染性单核细胞增多症", 0.9)])
    d = DiagnosisStandardizer(std.pack, reviewed_mappings=None, learned=sure).standardize(
        "传染性单核细胞增多症"
    )
    assert [(x.code, x.mapping_method) for x in d.diagnoses] == [("B27.9", "learned")]
    unsure = _FakeLearned(std.pack, [("未特指的传染性单核细胞增多症", 0.7)])
    d = DiagnosisStandardizer(std.pack, reviewed_mappings=None, learned=unsure).standardize(
        "传染性单核细胞增多症"
    )
    assert [(x.code, x.mapping_method) for x in d.diagnoses] == [("B27.901", "exact_name")]
    # a chronic condition keeps its curated rule, however sure the learned matcher is
    chronic = _FakeLearned(std.pack, [("2型糖尿病性肾病", 0.99)])
    d = DiagnosisStandardizer(std.pack, reviewed_mappings=None, learned=chronic).standardize("2型糖尿病")
    assert [x.code for x in d.diagnoses] == ["E11.901"]


def test_whole_field_learned_candidates_add_other_conditions_only(std):
    # whole-field candidates at p >= the safe threshold (0.8): 乏力 names the part 乏力明显待查 (suspected),
    # which no rule places;
    # 肺炎 names a ruled-out part; 继发性失眠 is the category G47 already placed by 失眠; 头晕 is below it
    fake = _FakeLearned(
        std.pack, [("乏力", 0.95), ("肺炎", 0.95), ("继发性失眠", 0.9), ("头晕", 0.5)], min_len=8
    )
    r = DiagnosisStandardizer(std.pack, reviewed_mappings=None, learned=fake).standardize(
        "失眠，乏力明显待查，除外肺炎"
    )
    got = [(d.code, d.mapping_method, d.qualifier, d.source_text) for d in r.diagnoses]
    assert got == [
        ("G47.001", "exact_name", None, "失眠"),
        ("R53xx02", "learned", "suspected", "乏力明显待查"),
    ]
    assert r.unmapped_parts == ()


def test_best_guess_puts_each_morphology_on_a_tumour_never_alone(std):
    pack = std.pack

    class Decision(_FakeLearned):
        benchmark_threshold = 0.5
        benchmark_fallback = 0.3

    # two morphologies in the decision: each onto the next tumour diagnosis without one
    fake = Decision(
        pack, [("乙状结肠恶性肿瘤", 0.9), ("肝继发恶性肿瘤", 0.9), ("癌", 0.8), ("转移性癌", 0.7)]
    )
    r = DiagnosisStandardizer(pack, reviewed_mappings=None, learned=fake).standardize(
        "乙状结肠癌，肝转移", best_guess=True
    )
    got = [(d.name, d.morphology_name) for d in r.diagnoses]
    assert got == [("乙状结肠恶性肿瘤", "癌"), ("肝继发恶性肿瘤", "转移性癌")]
    # a morphology alone in the decision sits on the site the text names (骨 -> the bone site code)
    fake = Decision(pack, [("骨肉瘤", 0.9)])
    r = DiagnosisStandardizer(pack, reviewed_mappings=None, learned=fake).standardize(
        "右大腿骨肉瘤", best_guess=True
    )
    site = std.structure.tumour_site("右大腿骨肉瘤")
    assert site is not None and not is_morphology(site)
    assert [(d.code, d.mapping_method, d.morphology_name) for d in r.diagnoses] == [
        (site, "tumour_site", "骨肉瘤")
    ]


@given(
    grade=st.sampled_from([1, 2, 3]),
    style=st.integers(0, 3),
    word=st.sampled_from(["高血压", "高血压病", "原发性高血压", "原发性高血压病"]),
    gap=st.sampled_from([" ", "  ", "\u3000", " \t"]),
    risk=st.sampled_from(["", "高危", "极高危组", "很高危"]),
)
@settings(max_examples=80, deadline=None)
def test_a_grade_written_after_a_space_stays_with_its_condition(std, grade, style, word, gap, risk):
    """HIS free text often separates the grade (and the risk tier) from the condition by a space:
    the grade is an attribute of the condition before it, never a diagnosis of its own nor lost."""
    text = f"{word}{gap}{NUMERALS[grade][style]}级" + (f"{gap}{risk}" if risk else "")
    result = std.standardize(text)
    assert result.status == "mapped", text
    assert len(result.diagnoses) == 1, (text, result.diagnoses)
    d = result.diagnoses[0]
    assert (d.code, d.hypertension_grade) == (GRADED[grade], grade), text
    if risk:
        assert d.risk_tier == {"高危": "高危", "极高危组": "很高危", "很高危": "很高危"}[risk], text


@pytest.mark.parametrize(("text", "dtype"), [("糖尿病 2型", "2"), ("糖尿病 Ⅱ型", "2"), ("糖尿病 1型", "1")])
def test_a_diabetes_type_written_after_a_space_is_kept(std, text, dtype):
    d = std.standardize(text).diagnoses
    assert [(x.icd10_category, x.diabetes_type) for x in d] == [
        ("E1" + ("1" if dtype == "2" else "0"), dtype)
    ]


def test_a_grade_alone_or_after_a_different_condition_is_not_moved_onto_it(std):
    from pipelines.standardize.terminology.normalize import normalize_text, split_diagnoses

    assert split_diagnoses(normalize_text("3级")) == ["3级"]  # nothing before it
    assert split_diagnoses(normalize_text("冠心病 高血压 2级")) == ["冠心病", "高血压2级"]
    assert split_diagnoses(normalize_text("高血压? 3级")) == ["高血压?", "3级"]  # not onto a suspicion


@pytest.mark.parametrize(
    ("text", "category"),
    [("妊娠期高血压", "O13"), ("继发性高血压", "I15"), ("肾性高血压", "I15"), ("妊娠期糖尿病", "O24")],
)
def test_a_text_that_is_a_terms_own_name_gets_that_term_alone(std, text, category):
    """A field that is word for word a term's name is explained whole: the learned matcher does not add
    the essential hypertension or diabetes the name merely contains (a pregnant woman is not counted
    as a hypertension patient under chronic-disease management)."""
    result = std.standardize(text)
    cats = [d.icd10_category for d in result.diagnoses]
    assert cats and cats[0] == category, (text, result.diagnoses)
    assert not {"I10", "E11", "E10"} & set(cats), (text, cats)
