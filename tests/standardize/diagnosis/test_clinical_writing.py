"""Issue 14: how clinicians write several diagnoses, qualifiers and English in one HIS field.

Written from the rules of clinical writing, not from the code's outputs:

* a negation (否认, 排除, 未见, 无 before a chronic condition) excludes the diagnosis whatever other
  marker the text carries (否认糖尿病史 is a denial, not a history); a pack term that starts with
  无 (无菌性脑膜炎) is still a diagnosis;
* a history may name its duration (高血压病史5年, 糖尿病史10余年);
* a numbered list (1. 2、 (3) ④ 5)) is several diagnoses, and the list numbers are not diagnoses,
  not grades and not types;
* "A 伴 B": when only A can be placed by the rules, A is kept and B goes to the worklist;
* a code with a text: the text's qualifier holds for the code's condition, and a text that denies
  the code's condition is a contradiction for the quality team, never a diagnosis;
* English clinical terms, not only abbreviations, come from the curated synonym list;
* a hypertension *stage* (期, the organ-damage 分期) is not a *grade* (级, by blood pressure);
* a metastasis is not the principal diagnosis when the field names its primary tumour;
* a diabetes with no type beside a code of a typed diabetes is the same condition, not a second;
* a stray row of the term file whose code is no code is never matched or suggested.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.standardize.terminology.normalize import normalize_text, split_diagnoses


def _categories(result):
    return [(d.icd10_category, d.qualifier) for d in result.diagnoses]


# ----------------------------------------------------------------------------------- negation
@pytest.mark.parametrize(
    "text",
    [
        "否认糖尿病史",  # denied + history marker: denied wins
        "否认高血压病史",
        "否认冠心病史10余年",
        "排除肺癌?",  # ruled out + suspected marker
        "除外脑梗死可能",
        "未见脑梗死",
        "未发现肺癌",
        "不考虑冠心病",
        "无高血压",
        "无明显糖尿病",
    ],
)
def test_a_negation_excludes_the_diagnosis_whatever_else_is_written(std, text):
    assert std.standardize(text).diagnoses == [], text


def test_a_term_that_starts_with_a_negation_word_is_a_diagnosis(std):
    # 无菌性脑膜炎 (aseptic meningitis) is a disease: its 无 is part of the name, not a negation
    d = std.standardize("无菌性脑膜炎").diagnoses
    assert [x.icd10_category for x in d] == ["G03"] and d[0].qualifier is None


def test_negated_part_drops_out_of_a_list_the_rest_stays(std):
    result = std.standardize("冠心病，否认糖尿病史，无高血压")
    assert _categories(result) == [("I25", None)]


# ----------------------------------------------------------------------------------- history
@pytest.mark.parametrize(
    "text,category",
    [
        ("高血压病史5年", "I10"),
        ("高血压史10余年", "I10"),
        ("糖尿病病史", "E14"),
        ("糖尿病史3个月", "E14"),
        ("脑梗死病史多年", "I63"),
        ("冠心病史", "I25"),
    ],
)
def test_a_history_with_or_without_its_duration_is_a_history(std, text, category):
    assert _categories(std.standardize(text)) == [(category, "history")]


# ----------------------------------------------------------------------------------- numbered lists
@pytest.mark.parametrize(
    "text",
    [
        "1.高血压3级 2.2型糖尿病 3.冠心病",
        "1.高血压3级2.2型糖尿病3.冠心病",
        "1、高血压3级 2、2型糖尿病 3、冠心病",
        "(1)高血压3级(2)2型糖尿病(3)冠心病",
        "（1）高血压3级；（2）2型糖尿病；（3）冠心病",
        "①高血压3级②2型糖尿病③冠心病",
        "1)高血压3级 2)2型糖尿病 3)冠心病",
        "⒈高血压3级 ⒉2型糖尿病 ⒊冠心病",
    ],
)
def test_a_numbered_list_is_its_diagnoses_and_the_numbers_are_not(std, text):
    result = std.standardize(text)
    assert [(d.code, d.qualifier) for d in result.diagnoses] == [
        ("I10xx05", None),  # 高血压3级: the list number 1 is not read as a grade
        ("E11.901", None),  # 2型糖尿病: the list number 2 neither made it 12型 nor dropped its type
        ("I25.105", None),
    ], text
    assert result.unmapped_parts == ()


@pytest.mark.parametrize("text", ["2型糖尿病", "1型糖尿病", "肿物2.5cm", "孕11+1周", "高血压3级"])
def test_numbers_inside_a_diagnosis_are_not_list_numbers(text):
    assert split_diagnoses(normalize_text(text)) == [normalize_text(text)]


_ITEM = st.sampled_from(["高血压3级", "2型糖尿病", "冠心病", "脑梗死", "慢阻肺", "房颤"])
_MARK = st.sampled_from(["{n}.", "{n}、", "({n})", "（{n}）", "{n})", "{n}:"])
_GAP = st.sampled_from(["", " ", "；", "，", "  "])


@settings(max_examples=200, deadline=None)
@given(st.lists(_ITEM, min_size=1, max_size=6), _MARK, _GAP)
def test_list_numbers_never_become_parts_property(items, mark, gap):
    field = gap.join(mark.format(n=i + 1) + item for i, item in enumerate(items))
    assert split_diagnoses(normalize_text(field)) == [normalize_text(item) for item in items], field


# ----------------------------------------------------------------------------------- 伴 / 合并
def test_a_placed_condition_is_kept_when_its_complication_is_not(std):
    # 2型糖尿病 is a pack name; 周围神经病变 alone is not, and the whole phrase is no rule's either
    result = std.standardize("2型糖尿病伴周围神经病变")
    assert result.status == "mapped"
    assert result.diagnoses[0].code == "E11.901"
    assert result.unmapped_parts == ("周围神经病变",)  # the rest stays on the worklist


def test_both_sides_of_a_connector_are_placed_when_the_rules_know_both(std):
    result = std.standardize("高血压3级合并2型糖尿病")
    assert [d.code for d in result.diagnoses] == ["I10xx05", "E11.901"]


# ----------------------------------------------------------------------------------- code + text
def test_the_texts_qualifier_holds_for_the_codes_condition(std):
    d = std.standardize("高血压病史", "I10xx02").diagnoses
    assert [(x.icd10_category, x.qualifier) for x in d] == [("I10", "history")]


def test_a_text_denying_the_codes_condition_is_a_question_not_a_diagnosis(std):
    result = std.standardize("否认高血压", "I10xx02")
    assert result.status == "unmapped" and result.diagnoses == []
    assert result.unmapped_parts == ("否认高血压",)


def test_a_text_denying_another_condition_leaves_the_code(std):
    result = std.standardize("否认糖尿病", "I10xx05")
    assert [(d.code, d.qualifier) for d in result.diagnoses] == [("I10xx05", None)]


# ----------------------------------------------------------------------------------- English
@pytest.mark.parametrize(
    "text,expected",
    [
        ("Hypertension", ["I10"]),
        ("Essential hypertension", ["I10"]),
        ("Type 2 diabetes mellitus", ["E11"]),
        ("type 2 diabetes", ["E11"]),
        ("Type 1 Diabetes", ["E10"]),
        ("Atrial fibrillation", ["I48"]),
        ("Heart failure", ["I50"]),
        ("Acute myocardial infarction", ["I21"]),
        ("Cerebral infarction", ["I63"]),
        ("Hypertension, Type 2 diabetes mellitus", ["I10", "E11"]),
        ("essential hypertension;atrial fibrillation", ["I10", "I48"]),
        ("HTN T2DM", ["I10", "E11"]),  # abbreviations separated by a space are still two
    ],
)
def test_english_clinical_terms(std, text, expected):
    result = std.standardize(text)
    assert [d.icd10_category for d in result.diagnoses] == expected, text
    assert all(d.mapping_method == "synonym" for d in result.diagnoses)


def test_the_type_of_an_english_diabetes_is_kept(std):
    assert std.standardize("type 2 diabetes").diagnoses[0].diabetes_type == "2"


# ----------------------------------------------------------------------------------- the term file
def test_no_stray_row_is_matched_or_suggested(std):
    for text in ["N", "n", "N,N", "未能识别的一段文字N"]:
        result = std.standardize(text)
        assert all(d.code != "N" for d in result.diagnoses)
        assert all(s["code"] != "N" for s in result.suggestions)


# ----------------------------------------------------------------------------------- stage vs grade
@pytest.mark.parametrize("text", ["高血压Ⅰ期", "高血压病Ⅱ期", "高血压3期", "高血压病(Ⅲ期)", "高血压病二期"])
def test_a_hypertension_stage_is_not_a_grade(std, text):
    d = std.standardize(text).diagnoses
    assert [(x.icd10_category, x.hypertension_grade) for x in d] == [("I10", None)], text
    assert d[0].code not in {"I10xx03", "I10xx04", "I10xx05"}  # the graded codes


def test_a_grade_still_reads_as_a_grade_beside_a_stage_word_elsewhere(std):
    d = std.standardize("高血压2级，肺癌IV期").diagnoses
    assert d[0].code == "I10xx04" and d[0].hypertension_grade == 2
    # each part by its own rule: the site word 肺 names the second diagnosis, not the whole field
    assert [(x.icd10_category, x.mapping_method) for x in d] == [
        ("I10", "exact_name"),
        ("C34", "tumour_site"),
    ]


# ----------------------------------------------------------------------------------- metastasis
@pytest.mark.parametrize(
    "text,primary", [("结肠癌肝转移", "C18"), ("肺癌伴骨转移", "C34"), ("乳腺癌，肺转移", "C50")]
)
def test_the_primary_tumour_is_principal_before_its_metastasis(std, text, primary):
    result = std.standardize(text)
    idx = std.principal_index(result.diagnoses)
    assert result.diagnoses[idx].icd10_category == primary, text


# ----------------------------------------------------------------------------------- one diabetes
def test_untyped_diabetes_text_beside_a_typed_code_is_one_diagnosis(std):
    d = std.standardize("糖尿病", "E11.900").diagnoses
    assert [(x.icd10_category, x.diabetes_type) for x in d] == [("E11", "2")]


# ----------------------------------------------------------------------------------- best guess
@pytest.mark.parametrize(
    "text,category,qualifier",
    [("高血压病史", "I10", "history"), ("肺炎?", "J18", "suspected"), ("脑梗死待查", "I63", "suspected")],
)
def test_best_guess_keeps_the_qualifier_of_the_part_it_names(std, text, category, qualifier):
    d = std.standardize(text, best_guess=True).diagnoses
    assert (category, qualifier) in [(x.icd10_category, x.qualifier) for x in d], text
    assert all(x.qualifier == qualifier for x in d if x.icd10_category == category)


def test_best_guess_gives_nothing_for_a_denied_part(std):
    d = std.standardize("冠心病，否认糖尿病", best_guess=True).diagnoses
    assert "I25" in [x.icd10_category for x in d]
    assert not any(x.icd10_category and x.icd10_category.startswith("E1") for x in d)


def test_best_guess_puts_the_primary_before_its_metastasis(std):
    d = std.standardize("结肠癌肝转移", best_guess=True).diagnoses
    assert d[std.principal_index(d)].icd10_category == "C18"


# ----------------------------------------------------------------------------------- more clinical forms
@pytest.mark.parametrize(
    "text,category", [("乳腺癌术后化疗", "C50"), ("直肠癌根治术后", "C20"), ("肺癌术后放疗", "C34")]
)
def test_treatment_after_surgery_is_still_post_operative(std, text, category):
    d = std.standardize(text).diagnoses[0]
    assert (d.icd10_category, d.qualifier) == (category, "post_operative"), text


def test_a_nyha_class_written_after_the_condition_is_its_heart_function_term(std):
    result = std.standardize("慢性心力衰竭 NYHA III级")
    assert [d.icd10_category for d in result.diagnoses] == ["I50", "I50"]
    assert "心功能III级" in result.diagnoses[1].name and result.unmapped_parts == ()


@pytest.mark.parametrize(
    "text,category,dtype",
    [("糖尿病肾病", "E14", None), ("2型糖尿病肾病", "E11", "2"), ("1型糖尿病肾病", "E10", "1")],
)
def test_diabetic_kidney_disease_without_the_linking_character(std, text, category, dtype):
    d = std.standardize(text).diagnoses
    assert [(x.icd10_category, x.diabetes_type) for x in d] == [(category, dtype)], text
    assert "肾病" in d[0].name


# ----------------------------------------------------------------------------------- codes in the text
@pytest.mark.parametrize(
    "text,code",
    [
        ("高血压I10xx05", "I10xx05"),  # v601 code glued to the name
        ("2型糖尿病（E11.900）", "E11.901"),  # insurance 2.0 code in brackets, through the crosswalk
        ("I10.x00x032 高血压", "I10xx05"),  # national clinical 2.0 code first: its grade is kept
    ],
)
def test_a_code_written_beside_the_name_is_read_as_the_code(std, text, code):
    d = std.standardize(text).diagnoses
    assert [x.code for x in d] == [code], text
    assert d[0].source_code is not None


def test_codes_beside_several_names_leave_the_names_as_the_evidence(std):
    d = std.standardize("2型糖尿病（E11.900），高血压").diagnoses
    assert [x.icd10_category for x in d] == ["E11", "I10"]


@pytest.mark.parametrize("text", ["T12椎体压缩性骨折", "T11、T12椎体骨折", "维生素B12缺乏"])
def test_a_vertebra_or_a_vitamin_is_not_a_code(std, text):
    # T12 is a thoracic vertebra and B12 a vitamin; as codes they would be T12 (leg fracture), B12
    assert all(x.icd10_category not in {"T12", "B12"} for x in std.standardize(text).diagnoses)


@pytest.mark.parametrize(
    "text,name",
    [
        ("房颤（阵发性）", "阵发性心房颤动"),
        ("心房颤动(持续性)", "持续性心房颤动"),
        ("糖尿病(2型)", "2型糖尿病"),
    ],
)
def test_a_modifier_in_brackets_after_its_condition(std, text, name):
    assert [x.name for x in std.standardize(text).diagnoses] == [name], text
