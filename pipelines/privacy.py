"""Personal data: the one declaration, the one masking function, the one free-text scrubber.

What is personal is declared once, in the standard's element registry (``pii_class`` of
``standard/data_elements.csv`` and ``derived_elements.csv``); every consumer reads it through
:func:`personal_data` — standardization (direct identifiers dropped, free text scrubbed), the
quality drill-down (identifiers dropped, free text scrubbed), publishing (what is masked, what lives
only in the ``restricted`` schema) and the dashboards.

``mask`` / ``mask_sql``   a personal value as its shape only: digits -> ``9``, Latin letters -> ``A``,
                          any other character (Chinese names) -> ``*``; spaces and ``-+().`` kept.
                          ``360426199101010071`` -> ``999999999999999999``, ``张三`` -> ``**``,
                          ``138-1234-5678`` -> ``999-9999-9999``. Length and format survive (what the
                          quality team needs to see why a value was rejected), content does not.
``scrub`` / ``scrub_sql`` free text with resident IDs (18 characters with a valid GB 11643 check
                          character, or 15 digits with a valid birth date), mobile numbers (1[3-9]x,
                          11 digits, spaces/dashes, +86) and landline numbers (area code 0xx(x),
                          7-8 digits, extension) replaced by ``[身份证号]`` / ``[电话]``, and the
                          record's own patient name by ``[姓名]``. Full-width digits are folded to
                          ASCII first.

``small_cell_threshold``   the disclosure rule's threshold: a count of people below it is never shown
                          or published (dbt var ``small_cell_threshold`` in dbt_project.yml, read by
                          the reporting models, the dashboards and the monthly report).

Each Python function has a SQL twin for DuckDB (set-based, no Python per row); tests check that
the twins agree on generated input.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pipelines.contracts.resident_id import CHECK_CHARACTERS, WEIGHTS, has_valid_check_character

ID_PLACEHOLDER = "[身份证号]"
PHONE_PLACEHOLDER = "[电话]"
NAME_PLACEHOLDER = "[姓名]"
SCRUB_KINDS = {"id_number": ID_PLACEHOLDER, "phone": PHONE_PLACEHOLDER, "name": NAME_PLACEHOLDER}
# schema of the published snapshot that may hold row-level, person-linked data (masked)
RESTRICTED_SCHEMA = "restricted"

# ---------------------------------------------------------------------------------------------
# The declaration
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonalData:
    """Element names per ``pii_class`` (an element name has one class across entities)."""

    classes: dict[str, str]  # element -> pii_class

    def of(self, cls: str) -> frozenset[str]:
        return frozenset(e for e, c in self.classes.items() if c == cls)

    @property
    def direct_identifiers(self) -> frozenset[str]:
        return self.of("direct_identifier")

    @property
    def quasi_identifiers(self) -> frozenset[str]:
        return self.of("quasi_identifier")

    @property
    def free_text(self) -> frozenset[str]:
        return self.of("free_text")

    @property
    def linkage_keys(self) -> frozenset[str]:
        """Columns that link a row to a person or a person-level record (person_key, visit_id ...)."""
        return self.of("pseudonym") | self.of("record_id")

    def pii_class(self, element: str) -> str:
        return self.classes.get(element, "none")

    def column_class(self, column: str) -> str:
        """The class of a column of a derived table: its element's, or that of the element it ends
        with (``receiving_visit_id`` -> record_id), a record id's surrogate key (``visit_key``,
        ``origin_visit_key`` -> record_id) or, for ``birth_*``, quasi_identifier."""
        c = column.lower()
        if c in self.classes:
            return self.classes[c]
        for e, cls in self.classes.items():
            if cls in ("direct_identifier", "pseudonym", "record_id") and c.endswith("_" + e):
                return cls
            # a surrogate of a record id: visit_id -> visit_key, origin_visit_key, receiving_visit_key
            if (
                cls == "record_id"
                and e.endswith("_id")
                and (c == e[:-3] + "_key" or c.endswith("_" + e[:-3] + "_key"))
            ):
                return cls
        if c.startswith("birth_"):
            return "quasi_identifier"
        return "none"


@cache
def personal_data(standard_dir: str | None = None) -> PersonalData:
    """The one list of personal elements, read from the standard's element registry."""
    from pipelines.contracts.standard import standard_at

    std = standard_at(Path(standard_dir) if standard_dir else None)
    order = {"direct_identifier": 0, "pseudonym": 1, "record_id": 2, "free_text": 3, "quasi_identifier": 4}
    classes: dict[str, str] = {}
    for e in std.elements:
        if e.pii_class == "none":
            continue
        old = classes.get(e.element)
        if old is None or order[e.pii_class] < order[old]:
            classes[e.element] = e.pii_class
    return PersonalData(classes)


@cache
def small_cell_threshold() -> int:
    """Counts of people below this are withheld: the dbt var ``small_cell_threshold`` (one place)."""
    import yaml

    from pipelines.settings import DBT_PROJECT_DIR

    with (DBT_PROJECT_DIR / "dbt_project.yml").open(encoding="utf-8") as fh:
        return int(yaml.safe_load(fh)["vars"]["small_cell_threshold"])


# ---------------------------------------------------------------------------------------------
# Masking: one format, Python and SQL
# ---------------------------------------------------------------------------------------------

_KEEP = " \\-+().9A"


def mask(value: object) -> str | None:
    """A personal value as its shape only (see the module docstring)."""
    if value is None:
        return None
    s = re.sub("[0-9]", "9", str(value))
    s = re.sub("[A-Za-z]", "A", s)
    return re.sub(f"[^{_KEEP}]", "*", s)


def mask_sql(expr: str) -> str:
    """SQL twin of :func:`mask` (DuckDB)."""
    return (
        f"regexp_replace(regexp_replace(regexp_replace(CAST({expr} AS VARCHAR), '[0-9]', '9', 'g'), "
        f"'[A-Za-z]', 'A', 'g'), '[^{_KEEP}]', '*', 'g')"
    )


# ---------------------------------------------------------------------------------------------
# Scrubbing free text: one rule set, Python and SQL
# ---------------------------------------------------------------------------------------------

_FULLWIDTH = "０１２３４５６７８９＋Ｘｘ－"
_ASCII = "0123456789+Xx-"
_ID_RUN = "[0-9]{15,}[Xx]?"  # maximal digit runs long enough for an ID (with a trailing check X)
# a non-digit (or the text's edge) on both sides; applied twice so that two numbers separated by one
# character are both found (RE2 has no look-around)
_MOBILE = r"(^|[^0-9])((?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2})([^0-9]|$)"
_LANDLINE = (
    r"(^|[^0-9])((?:\(0[1-9][0-9]{1,2}\)|（0[1-9][0-9]{1,2}）|0[1-9][0-9]{1,2})[ -]?[0-9]{3,4}[ -]?[0-9]{4}"
    r"(?:(?:转|-|#|分机|ext\.?)[0-9]{1,6})?)([^0-9]|$)"
)
_PHONE_PASSES = ((_MOBILE, r"\1" + PHONE_PLACEHOLDER + r"\3"), (_LANDLINE, r"\1" + PHONE_PLACEHOLDER + r"\3"))
_MIN_NAME = 2  # a single character is too common to replace


def is_resident_id(s: str) -> bool:
    """An 18-character resident ID with a valid GB 11643 check character, or a 15-digit one (pre-1999
    form) with a valid birth date."""
    if len(s) == 18 and re.fullmatch("[0-9]{17}[0-9Xx]", s):
        return has_valid_check_character(s)
    if len(s) == 15 and s.isdigit():
        try:
            dt.datetime.strptime("19" + s[6:12], "%Y%m%d")
        except ValueError:
            return False
        return True
    return False


def scrub_steps(text: str | None, name: str | None = None) -> tuple[str | None, dict[str, bool]]:
    """``scrub`` plus which kinds were replaced ({'id_number': bool, 'phone': bool, 'name': bool})."""
    found = dict.fromkeys(SCRUB_KINDS, False)
    if text is None:
        return None, found
    s = str(text).translate(str.maketrans(_FULLWIDTH, _ASCII))
    ids = [c for c in re.findall(_ID_RUN, s) if is_resident_id(c)]
    for c in ids:
        s = s.replace(c, ID_PLACEHOLDER)
    found["id_number"] = bool(ids)
    before = s
    for pattern, repl in _PHONE_PASSES:
        s = re.sub(pattern, repl, s)
        s = re.sub(pattern, repl, s)
    found["phone"] = s != before
    if name is not None:
        n = str(name).strip(" ")
        if len(n) >= _MIN_NAME and n in s and n not in SCRUB_KINDS.values():
            s = s.replace(n, NAME_PLACEHOLDER)
            found["name"] = True
    return s, found


def scrub(text: str | None, name: str | None = None) -> str | None:
    """Free text with resident IDs, phone numbers and ``name`` replaced by placeholders."""
    return scrub_steps(text, name)[0]


def _sql_is_id(c: str) -> str:
    weights = "[" + ", ".join(map(str, WEIGHTS)) + "]"
    checksum = f"list_sum(list_transform(range(17), lambda i: coalesce(TRY_CAST(substr({c}, i + 1, 1) AS INTEGER), 0) * {weights}[i + 1]))"
    return (
        f"((length({c}) = 18 AND regexp_full_match({c}, '[0-9]{{17}}[0-9Xx]') "
        f"AND substr('{CHECK_CHARACTERS}', CAST(coalesce({checksum}, 0) % 11 AS INTEGER) + 1, 1) = upper(substr({c}, 18, 1))) "
        f"OR (length({c}) = 15 AND regexp_full_match({c}, '[0-9]{{15}}') "
        f"AND try_strptime('19' || substr({c}, 7, 6), '%Y%m%d') IS NOT NULL))"
    )


def scrub_sql_steps(expr: str, name_expr: str | None = None) -> dict[str, str]:
    """SQL twin of :func:`scrub_steps`: expressions after each step ('folded', 'id_number', 'phone',
    'name'; the last one is the scrubbed text)."""
    folded = f"translate(CAST({expr} AS VARCHAR), '{_FULLWIDTH}', '{_ASCII}')"
    # a text without a long digit run yields an empty list: list_reduce returns the text itself
    ids = (
        f"list_reduce(list_prepend({folded}, "
        f"list_filter(regexp_extract_all({folded}, '{_ID_RUN}'), lambda c: {_sql_is_id('c')})), "
        f"lambda acc, c: replace(acc, c, '{ID_PLACEHOLDER}'))"
    )
    phone = ids
    for pattern, repl in _PHONE_PASSES:
        for _ in range(2):
            phone = f"regexp_replace({phone}, '{pattern}', '{repl}', 'g')"
    named = phone if name_expr is None else name_replace_sql(phone, name_expr)
    return {"folded": folded, "id_number": ids, "phone": phone, "name": named}


def name_replace_sql(expr: str, name_expr: str) -> str:
    """SQL: ``expr`` with the (trimmed) name ``name_expr`` replaced by ``[姓名]``; a name shorter than
    two characters (or missing) replaces nothing."""
    n = f"trim(CAST({name_expr} AS VARCHAR), ' ')"  # spaces only, as str.strip(" ") in scrub_steps
    placeholders = ", ".join(f"'{p}'" for p in SCRUB_KINDS.values())
    return (
        f"CASE WHEN length({n}) >= {_MIN_NAME} AND {n} NOT IN ({placeholders}) "
        f"THEN replace({expr}, {n}, '{NAME_PLACEHOLDER}') ELSE {expr} END"
    )


def scrub_sql(expr: str, name_expr: str | None = None) -> str:
    """SQL twin of :func:`scrub`."""
    return scrub_sql_steps(expr, name_expr)["name"]
