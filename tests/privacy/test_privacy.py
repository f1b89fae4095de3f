"""The one declaration of personal data, the one masking function and the free-text scrubber
(pipelines/privacy.py): hand-written clinicians' texts, property tests, and the SQL twins."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pipelines import privacy
from pipelines.privacy import mask, mask_sql, personal_data, scrub, scrub_sql, scrub_steps
from pipelines.standardize.standard import default_standard

REPO = Path(__file__).resolve().parents[2]
W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def with_check(body17: str) -> str:
    return body17 + "10X98765432"[sum(int(c) * w for c, w in zip(body17, W, strict=True)) % 11]


CON = duckdb.connect()


def sql_scrub(text, name=None):
    return CON.execute(f"SELECT {scrub_sql('$t', '$n')}", {"t": text, "n": name}).fetchone()[0]


def sql_mask(value):
    return CON.execute(f"SELECT {mask_sql('$v')}", {"v": value}).fetchone()[0]


# --------------------------------------------------------------------------- the declaration


def test_the_declaration_is_the_standards_pii_class_column():
    pd_ = personal_data()
    assert pd_.direct_identifiers == {"patient_id_number", "patient_name", "phone"}
    assert pd_.free_text == {"diagnosis_name", "department_name", "referral_reason", "discharge_plan"}
    assert pd_.quasi_identifiers == {"sex_code", "birth_date", "residence_county_code", "age_years"}
    assert {"person_key", "visit_id", "referral_id", "booking_id"} <= pd_.linkage_keys
    assert pd_.column_class("receiving_visit_id") == "record_id"
    assert pd_.column_class("next_down_referral_id") == "record_id"
    assert pd_.column_class("visit_key") == pd_.column_class("origin_visit_key") == "record_id"
    assert pd_.column_class("next_down_referral_at") == "none"
    assert pd_.column_class("birth_year") == "quasi_identifier"
    assert pd_.column_class("institution_code") == "none"
    # every element row says which class it is
    assert {e.pii_class for e in default_standard().elements} <= set(
        ("direct_identifier", "quasi_identifier", "free_text", "pseudonym", "record_id", "none")
    )


def test_no_consumer_keeps_its_own_list_or_its_own_mask():
    """The four old declarations (publish, quality, dashboards labels, standardize) and the four
    masking functions are gone: the code names personal elements only through pipelines.privacy."""
    offenders = []
    literal_list = re.compile(r"""\(\s*["']patient_id_number["']\s*,\s*["']patient_name["']""")
    own_mask = re.compile(r"def (mask_pii|_mask_sql)\b|'<已脱敏|\"\*\*\*\"")
    for path in [
        *REPO.glob("pipelines/**/*.py"),
        *REPO.glob("dashboards/**/*.py"),
        REPO / "dashboards/labels.yaml",
    ]:
        if "generate" in path.parts:  # the sample generator writes the raw exports
            continue
        text = path.read_text(encoding="utf-8")
        if literal_list.search(text) or "personal_elements" in text:
            offenders.append(f"{path.name}: own list")
        if own_mask.search(text) and path.name != "snapshot.py":
            offenders.append(f"{path.name}: own mask")
    assert offenders == []


@pytest.mark.parametrize("element", sorted(personal_data().direct_identifiers))
def test_every_direct_identifier_is_masked_by_the_one_function_in_every_consumer(element, tmp_path):
    """publish (quarantine + value outcomes), the standardizer's quarantine (mask_sql) and the
    dashboards (mask_personal) give exactly ``mask(value)``."""
    import sys

    from pipelines.publish.snapshot import build_snapshot

    sys.path.insert(0, str(REPO / "dashboards"))
    import privacy as dash_privacy  # dashboards/privacy.py

    value = (
        "13800138000"
        if element == "phone"
        else "张三丰"
        if element == "patient_name"
        else "330106198507152318"
    )
    wh = tmp_path / "w.duckdb"
    with duckdb.connect(str(wh)) as con:
        con.execute("CREATE SCHEMA marts; CREATE SCHEMA quality; CREATE SCHEMA std")
        con.execute(
            "CREATE TABLE marts.indicator_values (x INTEGER); CREATE TABLE marts.indicator_registry (x INTEGER)"
        )
        con.execute(
            "CREATE TABLE std.quarantine AS SELECT 'f' file_id, 's' source_id, 'visits' entity, 1::BIGINT row_number, "
            "'standardize' stage, ? element, ? raw_value, 'X' reason_code, 'x' reason, NULL raw_record",
            [element, value],
        )
        con.execute(
            "CREATE TABLE std.value_outcomes AS SELECT 'visits' entity, ? element, 's' source_id, ? raw_value, "
            "? normalized_value, 'invalid' outcome, NULL rule, 'X' reason_code, 1::BIGINT n_rows, "
            "NULL::TIMESTAMP first_seen, NULL::TIMESTAMP last_seen",
            [element, value, value],
        )
        in_std = con.execute(f"SELECT {mask_sql('raw_value')} FROM std.quarantine").fetchone()[0]
    snap = tmp_path / "s.duckdb"
    build_snapshot(wh, snap, "r1")
    with duckdb.connect(str(snap), read_only=True) as con:
        published = con.execute("SELECT raw_value FROM restricted.quarantine").fetchone()[0]
        outcome = con.execute("SELECT raw_value, normalized_value FROM ingest.value_outcomes").fetchone()
    expected = mask(value)
    assert value not in (published, *outcome)
    assert published == outcome[0] == outcome[1] == in_std == expected
    assert dash_privacy.mask_personal(element, value) == expected


# --------------------------------------------------------------------------- mask


def test_mask_keeps_shape_only():
    assert mask("330106198507152318") == "999999999999999999"
    assert mask("11010519491231002X") == "99999999999999999A"
    assert mask("张三") == "**"
    assert mask("138-1234-5678") == "999-9999-9999"
    assert mask("+86 138 1234 5678") == "+99 999 9999 9999"
    assert mask(None) is None


@given(st.text(max_size=40))
def test_mask_reveals_no_digit_letter_or_character_and_agrees_with_sql(value):
    m = mask(value)
    assert len(m) == len(value)
    assert re.fullmatch(r"[9A* \-+().]*", m)
    assert sql_mask(value) == m


# --------------------------------------------------------------------------- scrub: by hand


@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        (
            "患者王建国，身份证号330106198507152318，联系电话 139 0571 2345，家属电话(0571)87654321转806",
            "王建国",
            "患者[姓名]，身份证号[身份证号]，联系电话 [电话]，家属电话[电话]",
        ),
        ("高血压3级（极高危） 王建国 电话13905712345", "王建国", "高血压3级（极高危） [姓名] 电话[电话]"),
        ("内科门诊 0571-87654321", None, "内科门诊 [电话]"),
        ("心内科 联系+86-139-0571-2345", None, "心内科 联系[电话]"),
        ("转上级医院，身份证11010519491231002x", "李四", "转上级医院，身份证[身份证号]"),
        ("旧证号 330106850715231 复诊", None, "旧证号 [身份证号] 复诊"),
        ("电话：１３９０５７１２３４５", None, "电话：[电话]"),  # full-width digits
        ("13905712345,13905712346", None, "[电话],[电话]"),
        ("座机 020-12345678-8001 内线", None, "座机 [电话] 内线"),
    ],
)
def test_scrub_clinicians_texts(text, name, expected):
    assert scrub(text, name) == expected
    assert sql_scrub(text, name) == expected


@pytest.mark.parametrize(
    "text",
    [
        "高血压3级(极高危)",
        "2型糖尿病伴血糖控制不佳",
        "血压 160/100mmHg，空腹血糖 11.2mmol/L",
        "随访 2025-06-01 10:30",
        "I10.x00x002 原发性高血压",
        "心内科二病区 3床",
        "330106198507152319",  # an 18-digit number whose check character is wrong: not a resident ID
        "住院号 20250601000123",  # 14 digits: a record number
        "COPD GOLD 3级，FEV1 45%",
    ],
)
def test_scrub_keeps_ordinary_clinical_text(text):
    assert scrub(text) == text
    assert sql_scrub(text) == text


def test_a_short_or_other_name_is_not_replaced():
    assert scrub("王 先生 复诊", "王") == "王 先生 复诊"  # one character: too common to replace
    assert scrub("李四陪同张三就诊", "张三") == "李四陪同[姓名]就诊"  # only the record's own name


# --------------------------------------------------------------------------- scrub: properties

digits17 = st.text(alphabet="0123456789", min_size=17, max_size=17)
filler = st.text(alphabet="诊断备注患者电话号码：:，。 ab高血压随访（）()", max_size=10)
mobile = st.builds(  # 3-4-4 as people write them: 13905712345, 139 0571 2345, +86-139-0571-2345
    lambda p, a, x, y, z, sep: f"{p}1{a}{x}{sep}{y}{sep}{z}",
    st.sampled_from(["", "+86", "+86 ", "86-"]),
    st.sampled_from("3456789"),
    st.sampled_from("0123456789"),
    st.text(alphabet="0123456789", min_size=4, max_size=4),
    st.text(alphabet="0123456789", min_size=4, max_size=4),
    st.sampled_from(["", " ", "-"]),
)
landline = st.builds(
    lambda area, local, sep, ext: f"{area}{sep}{local}{ext}",
    st.sampled_from(["010", "020", "0571", "0755", "(0571)", "（021）"]),
    st.from_regex(r"[2-8][0-9]{7}", fullmatch=True),
    st.sampled_from(["", "-", " "]),
    st.sampled_from(["", "转806", "-8001", "#12"]),
)
sep = st.text(
    alphabet="诊断备注患者电话号码：:，。 ab高血压随访（）()", min_size=1, max_size=10
)  # numbers are apart
names = st.text(alphabet="王李张刘陈杨黄赵吴周建国秀英伟芳娜敏静丽强磊军洋", min_size=2, max_size=4)


@settings(max_examples=200, deadline=None)
@given(pre=filler, body=digits17, mid=sep, phone=mobile, tail=sep, line=landline, end=sep, name=names)
def test_scrub_removes_every_id_phone_and_own_name(pre, body, mid, phone, tail, line, end, name):
    rid = with_check(body)
    text = f"{pre}{rid}{mid}{phone}{tail}{line}{end}{name}"
    out, found = scrub_steps(text, name)
    assert rid not in out and phone.strip() not in out and line not in out
    assert name not in out
    assert out.count(privacy.ID_PLACEHOLDER) >= 1 and out.count(privacy.PHONE_PLACEHOLDER) >= 2
    assert found == {"id_number": True, "phone": True, "name": True}
    assert sql_scrub(text, name) == out


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60), st.one_of(st.none(), st.text(max_size=4)))
@example("0\xa0", "0\xa0")  # a no-break space is part of the name: DuckDB's trim() alone would strip it
def test_scrub_python_and_sql_agree_on_any_text(text, name):
    assert sql_scrub(text, name) == scrub(text, name)


@given(st.text(alphabet=st.characters(blacklist_categories=("Nd",)), max_size=40))
def test_text_without_digits_is_unchanged_without_a_name(text):
    assert scrub(text) == text
