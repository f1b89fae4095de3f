"""Normalizers: unit tests with hand-checked values and property-based tests (hypothesis)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.standardize import fastpaths, normalizers
from pipelines.standardize.standard import load_standard

STD = load_standard()
SEX = STD.synonym_map("GBT2261.1")
TODAY = date(2026, 1, 1)


def make_id(area: str, born: date, seq: int) -> str:
    first17 = f"{area}{born:%Y%m%d}{seq:03d}"
    return first17 + normalizers.id_check_char(first17)


# --------------------------------------------------------------------------- resident IDs


def test_known_valid_ids_from_domain_primer():
    assert normalizers.normalize_resident_id("360426199101010071") == normalizers.Outcome(
        "360426199101010071", "valid"
    )
    assert normalizers.normalize_resident_id("120103198806018241") == normalizers.Outcome(
        "120103198806018241", "valid"
    )
    assert normalizers.id_sex_code("360426199101010071") == "1"  # 17th digit 7: odd = male
    assert normalizers.id_sex_code("120103198806018241") == "2"  # 17th digit 4: even = female
    assert normalizers.id_birth_date("120103198806018241") == date(1988, 6, 1)


def test_id_corrections_have_named_rules():
    assert normalizers.normalize_resident_id(" 3604 2619 9101 0100 71 ") == normalizers.Outcome(
        "360426199101010071", "corrected", "trim+id_remove_separators"
    )
    assert normalizers.normalize_resident_id("１２０１０３１９８８０６０１８２４１") == normalizers.Outcome(
        "120103198806018241", "corrected", "nfkc"
    )
    assert normalizers.normalize_resident_id("360426910101007") == normalizers.Outcome(
        "360426199101010071", "corrected", "id_15_to_18"
    )
    x_id = make_id("110105", date(1990, 3, 7), 12)
    if x_id.endswith("X"):
        assert normalizers.normalize_resident_id(x_id.lower()).rule == "id_upper_x"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("36042619910101007", "ID_BAD_LENGTH"),
        ("3604261991010100711", "ID_BAD_LENGTH"),
        ("36042619910101007A", "ID_BAD_CHARS"),
        ("3604261991010100Y1", "ID_BAD_CHARS"),
        ("360426199113010071", "ID_BAD_BIRTHDATE"),  # month 13
        ("360426203001010071", "ID_BAD_BIRTHDATE"),  # born in 2030: in the future
        ("360426199101010072", "ID_BAD_CHECKSUM"),
        ("36042619910101007x", "ID_BAD_CHECKSUM"),  # check char is 1, not X
    ],
)
def test_id_reason_codes(raw, reason):
    assert normalizers.normalize_resident_id(raw, today=TODAY) == normalizers.Outcome(
        None, "invalid", None, reason
    )


def test_id_missing():
    assert normalizers.normalize_resident_id("   ") == normalizers.MISSING_OUTCOME
    assert normalizers.normalize_resident_id(None) == normalizers.MISSING_OUTCOME


ids = st.builds(
    make_id,
    st.sampled_from(["110101", "360426", "120103", "370202", "440305"]),
    st.dates(date(1900, 1, 1), date(2025, 12, 31)),
    st.integers(0, 999),
)


@given(ids)
def test_property_valid_ids_round_trip_and_agree_with_their_digits(id18):
    out = normalizers.normalize_resident_id(id18)
    assert out == normalizers.Outcome(id18, "valid")
    assert normalizers.id_birth_date(id18) == date(int(id18[6:10]), int(id18[10:12]), int(id18[12:14]))
    assert normalizers.id_sex_code(id18) == ("1" if int(id18[16]) % 2 else "2")


@given(ids, st.integers(1, 10))
def test_property_any_wrong_check_char_is_rejected(id18, shift):
    good = normalizers.ID_CHECK_CHARS.index(id18[17])
    bad = id18[:17] + normalizers.ID_CHECK_CHARS[(good + shift) % 11]
    assert normalizers.normalize_resident_id(bad).reason_code == "ID_BAD_CHECKSUM"


@given(ids, st.sampled_from([" ", "  ", "\t", "\u3000"]), st.booleans())
def test_property_padding_and_case_are_corrected_to_the_same_id(id18, pad, lower):
    raw = pad + (id18.lower() if lower else id18) + pad
    out = normalizers.normalize_resident_id(raw)
    assert out.value == id18
    assert out.outcome == "corrected"


@given(
    st.builds(
        lambda a, d, s: f"{a}{d:%y%m%d}{s:03d}",
        st.sampled_from(["110101", "360426"]),
        st.dates(date(1900, 1, 1), date(1999, 12, 31)),
        st.integers(0, 999),
    )
)
def test_property_15_digit_ids_upgrade_to_a_valid_18_digit_id(id15):
    out = normalizers.normalize_resident_id(id15)
    assert out.rule == "id_15_to_18"
    assert normalizers.normalize_resident_id(out.value) == normalizers.Outcome(out.value, "valid")
    assert out.value[:6] + out.value[8:17] == id15


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("raw", "kind", "formats", "expected"),
    [
        ("2025-03-01 09:00:00", "datetime", (), normalizers.Outcome("2025-03-01 09:00:00", "valid")),
        (
            "2025/3/1",
            "datetime",
            (),
            normalizers.Outcome("2025-03-01 00:00:00", "corrected", "date_format:%Y/%m/%d"),
        ),
        (
            "2025年03月01日 09:05:00",
            "datetime",
            (),
            normalizers.Outcome("2025-03-01 09:05:00", "corrected", "date_format:%Y年%m月%d日 %H:%M:%S"),
        ),
        (
            "20250301090500",
            "datetime",
            ("%Y%m%d%H%M%S",),
            normalizers.Outcome("2025-03-01 09:05:00", "corrected", "date_format:%Y%m%d%H%M%S"),
        ),
        (
            "2025-03-01T09:05",
            "datetime",
            (),
            normalizers.Outcome("2025-03-01 09:05:00", "corrected", "date_format:%Y-%m-%dT%H:%M"),
        ),
        (
            "2025-3-1 9:05:00",
            "datetime",
            (),
            normalizers.Outcome("2025-03-01 09:05:00", "corrected", "zero_pad"),
        ),
        ("45717", "date", (), normalizers.Outcome("2025-03-01", "corrected", "date_format:excel_serial")),
        (
            "45717.375",
            "datetime",
            (),
            normalizers.Outcome("2025-03-01 09:00:00", "corrected", "date_format:excel_serial"),
        ),
        (
            "2025-03-01 09:00:00",
            "date",
            (),
            normalizers.Outcome("2025-03-01", "corrected", "date_from_datetime"),
        ),
        (
            "１９９１年１月１日",
            "date",
            (),
            normalizers.Outcome("1991-01-01", "corrected", "nfkc+date_format:%Y年%m月%d日"),
        ),
        ("2025-02-30", "date", (), normalizers.Outcome(None, "invalid", None, "DATE_IMPOSSIBLE")),
        ("20251301", "date", (), normalizers.Outcome(None, "invalid", None, "DATE_IMPOSSIBLE")),
        (
            "2025101",
            "date",
            (),
            normalizers.Outcome(None, "invalid", None, "INVALID_FORMAT"),
        ),  # not read as 2025-10-01
        ("next tuesday", "date", (), normalizers.Outcome(None, "invalid", None, "INVALID_FORMAT")),
        ("1850-01-01", "date", (), normalizers.Outcome(None, "invalid", None, "OUT_OF_RANGE")),
        ("", "date", (), normalizers.MISSING_OUTCOME),
    ],
)
def test_dates(raw, kind, formats, expected):
    assert (
        normalizers.normalize_datetime(raw, kind=kind, formats=formats, lo="1900-01-01", hi="2035-12-31")
        == expected
    )


FORMATS = [f for f in normalizers.BUILTIN_FORMATS if "%f" not in f]
moments = st.datetimes(datetime(1950, 1, 1), datetime(2035, 12, 31)).map(lambda d: d.replace(microsecond=0))


@given(moments, st.sampled_from(FORMATS))
def test_property_every_builtin_format_round_trips(moment, fmt):
    raw = moment.strftime(fmt)
    out = normalizers.normalize_datetime(raw, kind="datetime")
    assert out.ok
    parsed = datetime.strptime(out.value, normalizers.CANONICAL_DATETIME)
    # a format without seconds (or without a time) loses exactly that part
    expected = datetime.strptime(moment.strftime(fmt), fmt)
    assert parsed == expected
    date_out = normalizers.normalize_datetime(raw, kind="date")
    assert date_out.value == expected.strftime("%Y-%m-%d")


@given(moments, st.sampled_from(["%Y年%m月%d日 %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y%m%d%H%M%S"]))
def test_property_source_hint_formats_win(moment, fmt):
    out = normalizers.normalize_datetime(moment.strftime(fmt), kind="datetime", formats=(fmt,))
    assert out.value == moment.strftime(normalizers.CANONICAL_DATETIME)


@given(st.text(max_size=12))
def test_property_dates_never_raise_and_valid_means_canonical(text):
    out = normalizers.normalize_datetime(text, kind="date", lo="1900-01-01", hi="2035-12-31")
    assert out.outcome in normalizers.OUTCOMES
    if out.ok:
        assert datetime.strptime(out.value, "%Y-%m-%d")
        assert (out.outcome == "valid") == (out.value == text)
    else:
        assert out.value is None


# --------------------------------------------------------------------------- fast paths agree with the spec

_con = duckdb.connect()

date_like = st.one_of(
    st.builds(lambda m, f: m.strftime(f), moments, st.sampled_from(FORMATS)),
    st.builds(
        lambda m, p: p + m.strftime("%Y-%m-%d %H:%M:%S") + p, moments, st.sampled_from(["", " ", "\t"])
    ),
    st.from_regex(
        r"[0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}( [0-9]{1,2}:[0-9]{1,2}(:[0-9]{1,2})?)?", fullmatch=True
    ),
    st.from_regex(r"[0-9]{8}([0-9]{6})?", fullmatch=True),
    st.text(max_size=10),
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(date_like, min_size=1, max_size=25, unique=True), st.sampled_from(["date", "datetime"]))
def test_property_datetime_fast_path_equals_python(values, kind):
    _con.execute("CREATE OR REPLACE TEMP TABLE d (raw VARCHAR)")
    _con.executemany("INSERT INTO d VALUES (?)", [[v] for v in values])
    fast = _con.execute(
        fastpaths.datetime_fastpath_sql("d", kind, ("%Y%m%d%H%M%S",), "1950-01-01", "2030-12-31")
    ).fetchall()
    for raw, value, outcome, rule, reason in fast:
        expected = normalizers.normalize_datetime(
            raw, kind=kind, formats=("%Y%m%d%H%M%S",), lo="1950-01-01", hi="2030-12-31"
        )
        assert (value, outcome, rule, reason) == tuple(expected), raw


id_like = st.one_of(
    ids,
    st.from_regex(r"[0-9]{17}[0-9X]", fullmatch=True),
    st.builds(lambda i, n: i[:17] + normalizers.ID_CHECK_CHARS[n], ids, st.integers(0, 10)),
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(id_like, min_size=1, max_size=25, unique=True))
def test_property_resident_id_fast_path_equals_python(values):
    _con.execute("CREATE OR REPLACE TEMP TABLE i (raw VARCHAR)")
    _con.executemany("INSERT INTO i VALUES (?)", [[v] for v in values])
    fast = _con.execute(fastpaths.resident_id_fastpath_sql("i")).fetchall()
    assert len(fast) == len(values)  # every canonical-shape value is resolved in SQL
    for raw, value, outcome, rule, reason in fast:
        assert (value, outcome, rule, reason) == tuple(normalizers.normalize_resident_id(raw)), raw


# --------------------------------------------------------------------------- sex and other domains


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", normalizers.Outcome("1", "valid")),
        ("男", normalizers.Outcome("1", "corrected", "synonym")),
        ("女性", normalizers.Outcome("2", "corrected", "synonym")),
        ("Male", normalizers.Outcome("1", "corrected", "synonym")),
        ("FEMALE", normalizers.Outcome("2", "corrected", "synonym")),
        ("fEmAlE", normalizers.Outcome("2", "corrected", "casefold+synonym")),
        (" M ", normalizers.Outcome("1", "corrected", "trim+synonym")),
        ("Ｆ", normalizers.Outcome("2", "corrected", "nfkc+synonym")),
        ("未说明", normalizers.Outcome("9", "corrected", "synonym")),
        ("男女", normalizers.Outcome(None, "unmapped", None, "CODE_NOT_IN_DOMAIN")),
        (None, normalizers.MISSING_OUTCOME),
    ],
)
def test_sex_spellings(raw, expected):
    assert normalizers.normalize_code(raw, SEX) == expected


def test_source_value_map_is_consulted_first():
    assert normalizers.normalize_code("男", SEX, {"男": "1", "女": "2"}) == normalizers.Outcome(
        "1", "corrected", "source_value_map"
    )
    assert normalizers.normalize_code("X", SEX, {"X": "2"}) == normalizers.Outcome(
        "2", "corrected", "source_value_map"
    )


@given(
    st.sampled_from([(s, v.code) for v in STD.domain("GBT2261.1") for s in (v.code, v.name_zh, *v.synonyms)]),
    st.sampled_from(["", " ", "  ", "\t", "\u3000"]),
    st.sampled_from(["", " ", "\u3000"]),
)
def test_property_every_listed_sex_spelling_maps_to_its_code(pair, left, right):
    spelling, code = pair
    out = normalizers.normalize_code(left + spelling + right, SEX)
    assert out.value == code
    assert out.outcome == ("valid" if left + spelling + right == code else "corrected")


@given(st.text(max_size=6))
def test_property_sex_result_is_always_a_gbt2261_code_or_not_ok(text):
    out = normalizers.normalize_code(text, SEX)
    assert out.value in {"0", "1", "2", "9"} if out.ok else out.value is None


def test_domain_leading_zeros_and_excel_floats():
    status = STD.synonym_map("LCV.RETURN_REASON")
    assert normalizers.normalize_code("002", status) == normalizers.Outcome(
        "02", "corrected", "strip_leading_zeros"
    )
    visit = STD.synonym_map("LCV.VISIT_TYPE")
    assert normalizers.normalize_code("3.0", visit) == normalizers.Outcome("3", "corrected", "excel_float")
    assert normalizers.normalize_code("住院", visit) == normalizers.Outcome("3", "corrected", "synonym")


# --------------------------------------------------------------------------- phones, counties, institutions, numbers


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", normalizers.Outcome("13800138000", "valid")),
        ("138-0013-8000", normalizers.Outcome("13800138000", "corrected", "phone_remove_separators")),
        (
            "+86 138 0013 8000",
            normalizers.Outcome(
                "13800138000", "corrected", "phone_remove_separators+phone_strip_country_code"
            ),
        ),
        ("01012345678", normalizers.Outcome("010-12345678", "corrected")),
        ("0532-8888888", normalizers.Outcome("0532-8888888", "valid")),
        ("12345", normalizers.Outcome(None, "invalid", None, "PHONE_INVALID")),
    ],
)
def test_phones(raw, expected):
    out = normalizers.normalize_phone(raw)
    assert (out.value, out.outcome, out.reason_code) == (
        expected.value,
        expected.outcome,
        expected.reason_code,
    )
    if expected.rule:
        assert out.rule == expected.rule


def test_county_codes():
    assert normalizers.normalize_county_code("370202") == normalizers.Outcome("370202", "valid")
    assert normalizers.normalize_county_code("370202.0") == normalizers.Outcome(
        "370202", "corrected", "excel_float"
    )
    assert normalizers.normalize_county_code("37020") == normalizers.Outcome(
        None, "invalid", None, "COUNTY_INVALID"
    )


def test_institutions_checked_against_the_registry():
    reg = {"H001": "H001", "市第一人民医院": "H001"}
    assert normalizers.normalize_institution("H001", reg) == normalizers.Outcome("H001", "valid")
    assert normalizers.normalize_institution("h001", reg) == normalizers.Outcome("H001", "corrected", "upper")
    assert normalizers.normalize_institution("市第一人民医院", reg) == normalizers.Outcome(
        "H001", "corrected", "institution_by_name"
    )
    assert normalizers.normalize_institution("X999", reg) == normalizers.Outcome(
        None, "invalid", None, "INSTITUTION_UNKNOWN"
    )


@pytest.mark.parametrize(
    ("raw", "kind", "expected"),
    [
        ("120", "integer", normalizers.Outcome("120", "valid")),
        ("120.0", "integer", normalizers.Outcome("120", "corrected", "number_format")),
        ("120 mmHg", "integer", normalizers.Outcome("120", "corrected", "number_remove_units")),
        ("120.5", "integer", normalizers.Outcome(None, "invalid", None, "INVALID_FORMAT")),
        ("6000", "integer", normalizers.Outcome(None, "invalid", None, "OUT_OF_RANGE")),
        (
            "1,234.50",
            "decimal",
            normalizers.Outcome("1234.5", "corrected", "number_remove_units+number_format"),
        ),
        ("￥88", "decimal", normalizers.Outcome("88", "corrected", "nfkc+number_remove_units")),
        ("abc", "decimal", normalizers.Outcome(None, "invalid", None, "INVALID_FORMAT")),
    ],
)
def test_numbers(raw, kind, expected):
    assert normalizers.normalize_number(raw, kind=kind, lo="0", hi="5000") == expected


def test_text_keeps_chinese_punctuation_and_joins_split_words():
    assert normalizers.normalize_text("继续口服降压药，每周测量血压") == normalizers.Outcome(
        "继续口服降压药，每周测量血压", "valid"
    )
    assert normalizers.normalize_text(" 内 科") == normalizers.Outcome("内科", "corrected", "trim+cjk_space")
    assert normalizers.normalize_identifier("D 0012") == normalizers.Outcome(
        "D0012", "corrected", "remove_space"
    )
    assert normalizers.normalize_identifier("12345.0") == normalizers.Outcome(
        "12345", "corrected", "excel_float"
    )


def test_excel_serial_boundaries():
    assert normalizers.normalize_datetime("19999", kind="date").reason_code == "INVALID_FORMAT"
    assert normalizers.normalize_datetime("20000", kind="date").value == (
        datetime(1899, 12, 30) + timedelta(days=20000)
    ).strftime("%Y-%m-%d")


# --------------------------------------------------------------------------- valid predicates imply "valid"

number_like = st.one_of(
    st.integers(-5, 10**12).map(str),
    st.decimals(0, 10**9, places=4, allow_nan=False).map(str),
    st.from_regex(r"[0-9]{1,6}(\.[0-9]{1,6})?", fullmatch=True),
)
identifier_like = st.one_of(st.from_regex(r"[A-Za-z0-9._-]{1,12}", fullmatch=True), st.text(max_size=8))


def _accepted(sql_fn, values):
    _con.execute("CREATE OR REPLACE TEMP TABLE p (raw VARCHAR)")
    _con.executemany("INSERT INTO p VALUES (?)", [[v] for v in values])
    return [r[0] for r in _con.execute(f"SELECT raw FROM p WHERE {sql_fn('raw')}").fetchall()]


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(st.one_of(date_like, moments.map(lambda m: m.strftime("%Y-%m-%d"))), min_size=1, max_size=25))
def test_property_datetime_valid_predicate_implies_valid(values):
    for kind in ("date", "datetime"):
        for raw in _accepted(
            lambda x, kind=kind: fastpaths.datetime_valid_sql(x, kind, (), "1950-01-01", "2030-12-31"), values
        ):
            assert normalizers.normalize_datetime(
                raw, kind=kind, lo="1950-01-01", hi="2030-12-31"
            ) == normalizers.Outcome(raw, "valid")


def test_datetime_valid_predicate_is_off_when_a_hint_could_read_iso_differently():
    assert fastpaths.datetime_valid_sql("raw", "date", ("%Y-%d-%m",)) is None
    assert fastpaths.datetime_valid_sql("raw", "date", ("%Y年%m月%d日", "%Y%m%d")) is not None


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(id_like, min_size=1, max_size=25))
def test_property_resident_id_valid_predicate_implies_valid(values):
    accepted = _accepted(fastpaths.resident_id_valid_sql, values)
    for raw in values:
        assert (raw in accepted) == (
            normalizers.normalize_resident_id(raw) == normalizers.Outcome(raw, "valid")
        ), raw


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(number_like, min_size=1, max_size=25), st.sampled_from(["integer", "decimal"]))
def test_property_number_valid_predicate_implies_valid(values, kind):
    for raw in _accepted(lambda x: fastpaths.number_valid_sql(x, kind, "0", "100000"), values):
        assert normalizers.normalize_number(raw, kind=kind, lo="0", hi="100000") == normalizers.Outcome(
            raw, "valid"
        ), raw


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(identifier_like, min_size=1, max_size=25))
def test_property_identifier_valid_predicate_implies_valid(values):
    for raw in _accepted(fastpaths.identifier_valid_sql, values):
        assert normalizers.normalize_identifier(raw) == normalizers.Outcome(raw, "valid"), raw


phone_like = st.one_of(
    st.from_regex(r"1[0-9]{10}", fullmatch=True),
    st.from_regex(r"0[0-9]{2,3}-?[0-9]{6,9}", fullmatch=True),
    st.from_regex(r"(\+86 ?)?1[3-9][0-9]{9}", fullmatch=True),
)
name_like = st.one_of(st.text(max_size=6), st.sampled_from(["张三", " 李四", "王五\u3000", "NULL", "a  b"]))


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(phone_like, min_size=1, max_size=25))
def test_property_phone_valid_predicate_implies_valid(values):
    for raw in _accepted(fastpaths.phone_valid_sql, values):
        assert normalizers.normalize_phone(raw) == normalizers.Outcome(raw, "valid"), raw


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(name_like, min_size=1, max_size=25))
def test_property_present_valid_predicate_equals_valid(values):
    accepted = _accepted(fastpaths.present_valid_sql, values)
    for raw in values:
        assert (raw in accepted) == (
            normalizers.normalize_present(raw) == normalizers.Outcome(raw, "valid")
        ), repr(raw)
