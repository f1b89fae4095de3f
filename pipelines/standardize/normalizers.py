"""Value normalizers, one per element type (the ``normalizer`` column of standard/data_elements.csv).

Every normalizer is a pure function ``raw -> Outcome`` and is the *specification*; the standardizer
runs it once per DISTINCT raw value, never per row. For the element types whose distinct-value
count grows with the data (date-times, ID numbers) there is also a vectorized DuckDB fast path in
``pipelines.standardize.fastpaths`` that must agree with the function here (a property test checks).

Outcomes: ``valid`` (already canonical), ``corrected`` (canonical after a named ``rule``),
``invalid`` (with a ``reason_code`` from standard/reason_codes.csv), ``unmapped`` (a spelling not in
the value domain; goes to the unmapped-terms worklist), ``missing`` (empty).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import NamedTuple

from pipelines.contracts.resident_id import CHECK_CHARACTERS, WEIGHTS, check_character

VALID, CORRECTED, INVALID, UNMAPPED, MISSING = "valid", "corrected", "invalid", "unmapped", "missing"
OUTCOMES = (VALID, CORRECTED, INVALID, UNMAPPED, MISSING)


class Outcome(NamedTuple):
    value: str | None  # the canonical string form (ISO dates, codes, digits)
    outcome: str
    rule: str | None = None  # for corrected values: what changed it
    reason_code: str | None = None  # for invalid/unmapped values

    @property
    def ok(self) -> bool:
        return self.outcome in (VALID, CORRECTED)


MISSING_OUTCOME = Outcome(None, MISSING)
# Spellings that mean "no value" in every element (not "none": it is a code of the exam domain).
NULL_SPELLINGS = ("NULL", "NAN")
_WS = re.compile(r"\s+")


def _prepare(raw: str | None, fold: bool = True) -> tuple[str | None, list[str]]:
    """Trim (incl. full-width spaces) and, with ``fold``, NFKC-fold (full-width digits/letters ->
    ASCII; not for free Chinese text, whose full-width punctuation is correct as it is).
    Returns (cleaned or None if empty, rules applied)."""
    if raw is None:
        return None, []
    if isinstance(raw, float) and math.isnan(raw):
        return None, []
    s = str(raw)
    rules = []
    folded = unicodedata.normalize("NFKC", s) if fold else s
    if folded != s:
        rules.append("nfkc")
    stripped = folded.strip()
    if stripped != folded:
        rules.append("trim")
    if not stripped or stripped.upper() in NULL_SPELLINGS:
        return None, rules
    return stripped, rules


def _result(raw: str, value: str, rules: list[str]) -> Outcome:
    if value == raw:
        return Outcome(value, VALID)
    return Outcome(value, CORRECTED, "+".join(dict.fromkeys(rules)) or "normalize")


# ---------------------------------------------------------------------------------------------
# Plain text and identifiers
# ---------------------------------------------------------------------------------------------


_CJK_SPACE = re.compile(r"(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])")


def normalize_text(raw: str | None) -> Outcome:
    """Free text: trimmed, whitespace between two Chinese characters removed (内 科 -> 内科), other
    whitespace runs collapsed to one space. No NFKC folding: ，。（） stay full-width."""
    s, rules = _prepare(raw, fold=False)
    if s is None:
        return MISSING_OUTCOME
    joined = _CJK_SPACE.sub("", s)
    if joined != s:
        rules.append("cjk_space")
    collapsed = _WS.sub(" ", joined)
    if collapsed != joined:
        rules.append("collapse_space")
    return _result(raw, collapsed, rules)


_EXCEL_FLOAT = re.compile(r"^(\d+)\.0+$")


def normalize_identifier(raw: str | None) -> Outcome:
    """Record identifiers (visit_id, referral_id ...): trimmed, no internal spaces, Excel's '123.0' -> '123'."""
    s, rules = _prepare(raw)
    if s is None:
        return MISSING_OUTCOME
    if _WS.search(s):
        s = _WS.sub("", s)
        rules.append("remove_space")
    m = _EXCEL_FLOAT.match(s)
    if m:
        s = m.group(1)
        rules.append("excel_float")
    return _result(raw, s, rules)


# ---------------------------------------------------------------------------------------------
# Value domains (sex, visit type, status ... with synonym lists from value_domains.csv)
# ---------------------------------------------------------------------------------------------


def normalize_code(
    raw: str | None, synonyms: Mapping[str, str], value_map: Mapping[str, str] | None = None
) -> Outcome:
    """Look a spelling up in a value domain. ``synonyms`` is spelling -> code (Standard.synonym_map);
    ``value_map`` is the source YAML's own hint, consulted first."""
    if value_map:
        if raw in value_map:
            code = value_map[raw]
            return _result(raw, code, ["source_value_map"])
        s0, _ = _prepare(raw)
        if s0 is not None and s0 in value_map:
            return _result(raw, value_map[s0], ["source_value_map"])
    s, rules = _prepare(raw)
    if s is None:
        return MISSING_OUTCOME
    if s in synonyms:
        code = synonyms[s]
        if s != code:
            rules.append("synonym")
        return _result(raw, code, rules)
    for candidate, rule in ((s.casefold(), "casefold"), (_WS.sub("", s), "remove_space")):
        if candidate in synonyms:
            return _result(raw, synonyms[candidate], [*rules, rule, "synonym"])
    m = _EXCEL_FLOAT.match(s)
    if m and m.group(1) in synonyms:
        return _result(raw, synonyms[m.group(1)], [*rules, "excel_float"])
    if s.isdigit() and s.lstrip("0") in synonyms:  # '001' for code '1', '002' for code '02'
        return _result(raw, synonyms[s.lstrip("0")], [*rules, "strip_leading_zeros"])
    return Outcome(None, UNMAPPED, None, "CODE_NOT_IN_DOMAIN")


# ---------------------------------------------------------------------------------------------
# Dates and date-times
# ---------------------------------------------------------------------------------------------

CANONICAL_DATE = "%Y-%m-%d"
CANONICAL_DATETIME = "%Y-%m-%d %H:%M:%S"
# Tried in order after the source's own date_formats hints. Compact all-digit formats are only
# applied to values of exactly their width (see format_shape), so 2023101 is never read as 2023-10-01.
BUILTIN_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d",
    "%Y%m%d%H%M%S",
    "%Y%m%d %H:%M:%S",
    "%Y%m%d%H%M",
    "%Y%m%d",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日%H时%M分%S秒",
    "%Y年%m月%d日 %H时%M分%S秒",
    "%Y年%m月%d日%H时%M分",
    "%Y年%m月%d日 %H时%M分",
    "%Y年%m月%d日%H点%M分",
    "%Y年%m月%d日",
)
_DIRECTIVE_RE = {"Y": "[0-9]{4}", "f": "[0-9]{1,6}", "p": "(?:上午|下午|AM|PM|am|pm)"}
# 12-hour clock markers read by %p (strptime itself knows only AM/PM)
_MERIDIEM = (("上午", "AM"), ("下午", "PM"))
# A date-like shape whose parts do not make a real day: 2023-02-30, 2023/13/01, 20230230.
_DATE_SHAPE = re.compile(
    r"^([0-9]{4})(?:[-/.年])([0-9]{1,2})(?:[-/.月])([0-9]{1,2})日?(?:[ T].*)?$|^([0-9]{4})([0-9]{2})([0-9]{2})(?:[0-9]{4,6})?$"
)


def format_shape(fmt: str) -> str:
    """A regex a value must fully match before ``fmt`` is applied. Two-digit directives are \\d{1,2}
    when a separator follows or precedes them, and exactly \\d{2} when glued to another directive."""
    parts: list[str] = []
    i = 0
    tokens: list[tuple[str, str]] = []  # ("d", directive) or ("l", literal)
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt):
            tokens.append(("d", fmt[i + 1]))
            i += 2
        else:
            tokens.append(("l", fmt[i]))
            i += 1
    for j, (kind, tok) in enumerate(tokens):
        if kind == "l":
            parts.append(" +" if tok == " " else re.escape(tok))
            continue
        if tok in _DIRECTIVE_RE:
            parts.append(_DIRECTIVE_RE[tok])
            continue
        glued = (j > 0 and tokens[j - 1][0] == "d" and tokens[j - 1][1] != "p") or (
            j + 1 < len(tokens) and tokens[j + 1][0] == "d" and tokens[j + 1][1] != "p"
        )
        parts.append("[0-9]{2}" if glued else "[0-9]{1,2}")
    return "".join(parts)


_SPACES = re.compile(" +")
_SHAPES: dict[str, re.Pattern[str]] = {}


def _shape(fmt: str) -> re.Pattern[str]:
    pat = _SHAPES.get(fmt)
    if pat is None:
        pat = _SHAPES[fmt] = re.compile(format_shape(fmt))
    return pat


def _parse_with(s: str, fmt: str) -> datetime | None:
    if not _shape(fmt).fullmatch(s):
        return None
    if "%p" in fmt:
        for zh, en in _MERIDIEM:
            s = s.replace(zh, en)
    try:
        return datetime.strptime(_SPACES.sub(" ", s), fmt)
    except ValueError:
        return None


_EXCEL_SERIAL = re.compile(r"^(\d{5})(\.\d+)?$")
EXCEL_EPOCH = datetime(1899, 12, 30)


def parse_datetime(s: str, formats: Sequence[str] = ()) -> tuple[datetime, str] | None:
    """(value, format or rule) for a cleaned string, trying the hints, then BUILTIN_FORMATS, then
    Excel serial day numbers (20000-80000 = 1954-2119)."""
    for fmt in (*formats, *BUILTIN_FORMATS):
        dt = _parse_with(s, fmt)
        if dt is not None:
            return dt, fmt
    m = _EXCEL_SERIAL.match(s)
    if m and 20000 <= int(m.group(1)) <= 80000:
        return EXCEL_EPOCH + timedelta(seconds=round(float(s) * 86400)), "excel_serial"
    return None


def _bound(text: str) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def normalize_datetime(
    raw: str | None,
    kind: str = "datetime",
    formats: Sequence[str] = (),
    lo: str = "",
    hi: str = "",
) -> Outcome:
    """Dates (kind='date' -> YYYY-MM-DD) and date-times (kind='datetime' -> YYYY-MM-DD HH:MM:SS).
    A date-time with fractional seconds is truncated to the second; a date element given a date-time
    keeps the date (rule date_from_datetime); a date-time element given a date gets 00:00:00."""
    s, rules = _prepare(raw)
    if s is None:
        return MISSING_OUTCOME
    parsed = parse_datetime(s, formats)
    if parsed is None:
        m = _DATE_SHAPE.match(s) or any(_shape(f).fullmatch(s) for f in formats)
        if m:  # the shape of a date (or of the source's own format) naming a day that does not exist
            return Outcome(None, INVALID, None, "DATE_IMPOSSIBLE")
        return Outcome(None, INVALID, None, "INVALID_FORMAT")
    dt, how = parsed
    dt = dt.replace(microsecond=0)
    lo_dt, hi_dt = _bound(lo), _bound(hi)
    if (lo_dt and dt < lo_dt) or (hi_dt and dt >= hi_dt + timedelta(days=1)):
        return Outcome(None, INVALID, None, "OUT_OF_RANGE")
    if kind == "date":
        value = dt.strftime(CANONICAL_DATE)
        if how == CANONICAL_DATE:
            if value != s:
                rules.append("zero_pad")
        else:
            rules.append("date_from_datetime" if "%H" in how else f"date_format:{how}")
    else:
        value = dt.strftime(CANONICAL_DATETIME)
        if how != CANONICAL_DATETIME:
            rules.append(f"date_format:{how}")
        elif value != s:
            rules.append("zero_pad")
    return _result(raw, value, rules)


# ---------------------------------------------------------------------------------------------
# Resident ID numbers (GB 11643)
# ---------------------------------------------------------------------------------------------

ID_WEIGHTS = WEIGHTS
ID_CHECK_CHARS = CHECK_CHARACTERS
id_check_char = check_character
_ID_SEPARATORS = re.compile(r"[\s\-_]")


def id_birth_date(id18: str) -> date | None:
    """Digits 7-14 as a date (strict: exactly YYYYMMDD), None when not a real day."""
    part = id18[6:14]
    if len(part) != 8 or not (part.isascii() and part.isdigit()):
        return None
    try:
        return date(int(part[:4]), int(part[4:6]), int(part[6:]))
    except ValueError:
        return None


def id_sex_code(id18: str) -> str:
    """GB/T 2261.1 code from the 17th digit: odd = 1 male, even = 2 female."""
    return "1" if int(id18[16]) % 2 else "2"


def normalize_resident_id(raw: str | None, today: date | None = None) -> Outcome:
    """A resident ID number (document type 01). Corrections: full-width digits, spaces/hyphens,
    lower-case x, 15-digit legacy numbers (19 inserted, check digit computed)."""
    s, rules = _prepare(raw)
    if s is None:
        return MISSING_OUTCOME
    if _ID_SEPARATORS.search(s):
        s = _ID_SEPARATORS.sub("", s)
        rules.append("id_remove_separators")
    if s.endswith("x"):
        s = s[:-1] + "X"
        rules.append("id_upper_x")
    if len(s) == 15 and s.isdigit():
        first17 = s[:6] + "19" + s[6:]
        s = first17 + id_check_char(first17)
        rules.append("id_15_to_18")
        if id_birth_date(s) is None:
            return Outcome(None, INVALID, None, "ID_BAD_BIRTHDATE")
        return _result(raw, s, rules)
    if len(s) != 18:
        return Outcome(None, INVALID, None, "ID_BAD_LENGTH")
    if not (s[:17].isascii() and s[:17].isdigit() and (s[17].isdigit() or s[17] == "X")):
        return Outcome(None, INVALID, None, "ID_BAD_CHARS")
    born = id_birth_date(s)
    if born is None or born > (today or date.today()) or born.year < 1880:
        return Outcome(None, INVALID, None, "ID_BAD_BIRTHDATE")
    if id_check_char(s[:17]) != s[17]:
        return Outcome(None, INVALID, None, "ID_BAD_CHECKSUM")
    return _result(raw, s, rules)


_OTHER_DOC = re.compile(r"[^0-9A-Z]")


def normalize_other_document(raw: str | None) -> Outcome:
    """Passports and other documents: upper-case letters and digits only."""
    s, rules = _prepare(raw)
    if s is None:
        return MISSING_OUTCOME
    up = s.upper()
    if up != s:
        rules.append("upper")
    cleaned = _OTHER_DOC.sub("", up)
    if cleaned != up:
        rules.append("remove_separators")
    if not cleaned:
        return Outcome(None, INVALID, None, "INVALID_FORMAT")
    return _result(raw, cleaned, rules)


# ---------------------------------------------------------------------------------------------
# Phones, county codes, institutions
# ---------------------------------------------------------------------------------------------

_PHONE_JUNK = re.compile(r"[\s\-()（）.]")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0(\d{2,3})(\d{7,8})$")


def normalize_phone(raw: str | None) -> Outcome:
    """Mainland mobiles -> 11 digits; fixed lines -> 0AREA-NUMBER (010/02x areas have 3 digits)."""
    s, rules = _prepare(raw)
    if s is None:
        return MISSING_OUTCOME
    digits = _PHONE_JUNK.sub("", s)
    if digits != s:
        rules.append("phone_remove_separators")
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and _MOBILE.match(digits[len(prefix) :]):
            digits = digits[len(prefix) :]
            rules.append("phone_strip_country_code")
            break
    if _MOBILE.match(digits):
        return _result(raw, digits, rules)
    if digits.isdigit() and digits.startswith("0") and 10 <= len(digits) <= 12:
        area_len = 3 if digits[1] in "12" else 4
        value = digits[:area_len] + "-" + digits[area_len:]
        if 7 <= len(digits) - area_len <= 8:
            return _result(raw, value, rules)
    return Outcome(None, INVALID, None, "PHONE_INVALID")


_COUNTY = re.compile(r"^\d{6}$")


def normalize_county_code(raw: str | None) -> Outcome:
    s, rules = _prepare(raw)
    if s is None:
        return MISSING_OUTCOME
    m = _EXCEL_FLOAT.match(s)
    if m:
        s = m.group(1)
        rules.append("excel_float")
    if not _COUNTY.match(s):
        return Outcome(None, INVALID, None, "COUNTY_INVALID")
    return _result(raw, s, rules)


def normalize_institution(raw: str | None, codes: Mapping[str, str]) -> Outcome:
    """``codes``: registry spelling -> institution_code; holds the codes themselves, their upper-case
    forms and the registered institution names (some HIS send the name instead of the code)."""
    s, rules = _prepare(raw)
    if s is None:
        return MISSING_OUTCOME
    for candidate, rule in ((s, None), (s.upper(), "upper"), (_WS.sub("", s).upper(), "remove_space")):
        if candidate in codes:
            code = codes[candidate]
            if rule:
                rules.append(rule)
            if candidate != code:
                rules.append("institution_by_name")
            return _result(raw, code, rules)
    return Outcome(None, INVALID, None, "INSTITUTION_UNKNOWN")


# ---------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------

_NUM_JUNK = re.compile(r"(?i)[,¥￥元\s]|mmhg|mmol/l|rmb|cny")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


def _fmt_decimal(x: float) -> str:
    text = f"{x:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def normalize_number(raw: str | None, kind: str = "decimal", lo: str = "", hi: str = "") -> Outcome:
    """Integers and decimals: thousands separators, currency signs and units removed; range-checked
    against the element's min/max. Canonical form: plain digits, no trailing zeros."""
    s, rules = _prepare(raw)
    if s is None:
        return MISSING_OUTCOME
    cleaned = _NUM_JUNK.sub("", s)
    if cleaned != s:
        rules.append("number_remove_units")
    if not _NUMBER.match(cleaned):
        return Outcome(None, INVALID, None, "INVALID_FORMAT")
    x = float(cleaned)
    if kind == "integer":
        if x != int(x):
            return Outcome(None, INVALID, None, "INVALID_FORMAT")
        value = str(int(x))
    else:
        value = _fmt_decimal(x)
    if (lo and x < float(lo)) or (hi and x > float(hi)):
        return Outcome(None, INVALID, None, "OUT_OF_RANGE")
    if value != cleaned:
        rules.append("number_format")
    return _result(raw, value, rules)


def normalize_present(raw: str | None) -> Outcome:
    """PII kept only in the raw landing (names): presence is all that is recorded."""
    s, rules = _prepare(raw, fold=False)
    if s is None:
        return MISSING_OUTCOME
    return _result(raw, s, rules)
