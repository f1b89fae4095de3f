"""Vectorized DuckDB fast paths for the element types whose DISTINCT values still number in the
millions at city scale (date-times, resident IDs). They resolve the well-shaped values in SQL and
leave everything else to the Python normalizer, which stays the specification: for any value the
fast path resolves, it returns exactly what ``normalizers`` returns (tests/standardize check this
with hypothesis).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from pipelines.contracts.sql import quote_literal
from pipelines.standardize import normalizers

_SQL_TRIM = r"regexp_replace(raw, '^[ \t\n\r]+|[ \t\n\r]+$', '', 'g')"


def sql_formats(formats: Sequence[str]) -> list[str]:
    """Formats the SQL path tries, in the Python order; %f formats are left to Python."""
    out = list(dict.fromkeys([*formats, *normalizers.BUILTIN_FORMATS]))
    return out


def datetime_fastpath_sql(table: str, kind: str, formats: Sequence[str], lo: str, hi: str) -> str:
    """SQL returning (raw, value, outcome, rule, reason_code) for the values of ``table.raw`` that
    a format resolves. Values no format resolves are not returned (Python handles them)."""
    fmts = sql_formats(formats)
    parsed_cols = []
    pick = []
    for i, fmt in enumerate(fmts):
        if "%f" in fmt or "%p" in fmt:  # %p: 上午/下午 are read by Python only
            # Python takes the first matching format: stop the SQL path where Python would have
            # tried a %f format, so a value matching it is not resolved by a later format here.
            parsed_cols.append(
                f"CASE WHEN regexp_full_match(s, {quote_literal(normalizers.format_shape(fmt))}) THEN 1 END AS p{i}"
            )
            pick.append(f"WHEN p{i} IS NOT NULL THEN NULL")
            continue
        parsed_cols.append(
            f"CASE WHEN regexp_full_match(s, {quote_literal(normalizers.format_shape(fmt))}) "
            f"THEN try_strptime(regexp_replace(s, ' +', ' ', 'g'), {quote_literal(fmt)}) END AS p{i}"
        )
        pick.append(f"WHEN p{i} IS NOT NULL THEN {i}")
    fmt_list = "[" + ", ".join(quote_literal(f) for f in fmts) + "]"
    ts_expr = (
        "CASE "
        + " ".join(f"WHEN fi = {i} THEN p{i}" for i, f in enumerate(fmts) if "%f" not in f and "%p" not in f)
        + " END"
    )
    canonical = normalizers.CANONICAL_DATE if kind == "date" else normalizers.CANONICAL_DATETIME
    if kind == "date":
        fmt_rule = (
            f"CASE WHEN how = {quote_literal(normalizers.CANONICAL_DATE)} THEN (CASE WHEN value <> s THEN 'zero_pad' END) "
            "WHEN contains(how, '%H') THEN 'date_from_datetime' ELSE 'date_format:' || how END"
        )
    else:
        fmt_rule = (
            f"CASE WHEN how <> {quote_literal(normalizers.CANONICAL_DATETIME)} THEN 'date_format:' || how "
            "WHEN value <> s THEN 'zero_pad' END"
        )
    range_checks = []
    if lo:
        range_checks.append(f"ts < TIMESTAMP {quote_literal(lo)}")
    if hi:
        range_checks.append(f"ts >= TIMESTAMP {quote_literal(hi)} + INTERVAL 1 DAY")
    out_of_range = " OR ".join(range_checks) or "false"
    return f"""
    WITH base AS (
        SELECT raw, {_SQL_TRIM} AS s FROM {table} WHERE raw IS NOT NULL
    ), parsed AS (
        SELECT raw, s, {", ".join(parsed_cols)} FROM base
    ), picked AS (
        SELECT *, CASE {" ".join(pick)} END AS fi FROM parsed
    ), typed AS (
        SELECT raw, s, {fmt_list}[fi + 1] AS how, date_trunc('second', {ts_expr}) AS ts
        FROM picked WHERE fi IS NOT NULL
    ), valued AS (
        SELECT *, strftime(ts, {quote_literal(canonical)}) AS value, ({out_of_range}) AS oor FROM typed
    )
    SELECT raw,
           CASE WHEN oor THEN NULL ELSE value END AS value,
           CASE WHEN oor THEN 'invalid' WHEN value = raw THEN 'valid' ELSE 'corrected' END AS outcome,
           CASE WHEN oor OR value = raw THEN NULL
                ELSE concat_ws('+', CASE WHEN s <> raw THEN 'trim' END, {fmt_rule}) END AS rule,
           CASE WHEN oor THEN 'OUT_OF_RANGE' END AS reason_code
    FROM valued
    """


_ID_SUM = " + ".join(
    f"{w} * TRY_CAST(substr(raw, {i + 1}, 1) AS INTEGER)" for i, w in enumerate(normalizers.ID_WEIGHTS)
)


def resident_id_fastpath_sql(table: str) -> str:
    """Resident IDs already in canonical shape (17 digits + digit/X): check digit and birth date in SQL."""
    return f"""
    WITH base AS (
        SELECT raw,
               substr({quote_literal(normalizers.ID_CHECK_CHARS)}, (({_ID_SUM}) % 11) + 1, 1) AS check_char,
               try_cast(substr(raw, 7, 4) || '-' || substr(raw, 11, 2) || '-' || substr(raw, 13, 2) AS DATE) AS born
        FROM {table}
        WHERE raw IS NOT NULL AND regexp_full_match(raw, '[0-9]{{17}}[0-9X]')
    )
    SELECT raw,
           CASE WHEN bad_birth OR bad_check THEN NULL ELSE raw END AS value,
           CASE WHEN bad_birth OR bad_check THEN 'invalid' ELSE 'valid' END AS outcome,
           CAST(NULL AS VARCHAR) AS rule,
           CASE WHEN bad_birth THEN 'ID_BAD_BIRTHDATE' WHEN bad_check THEN 'ID_BAD_CHECKSUM' END AS reason_code
    FROM (
        SELECT raw, check_char,
               (born IS NULL OR born > current_date OR year(born) < 1880) AS bad_birth,
               (check_char <> right(raw, 1)) AS bad_check
        FROM base
    )
    """


# ---------------------------------------------------------------------------------------------
# Valid predicates: SQL over one raw value expression ``x`` that is true only when the Python
# normalizer would return Outcome(x, "valid"). Rows they accept skip the distinct-value mapping.
# ---------------------------------------------------------------------------------------------


def identifier_valid_sql(x: str) -> str:
    nulls = ", ".join(quote_literal(s) for s in normalizers.NULL_SPELLINGS)
    return (
        f"(regexp_full_match({x}, '[!-~]+') AND NOT regexp_full_match({x}, '[0-9]+\\.0+') "
        f"AND upper({x}) NOT IN ({nulls}))"
    )


def number_valid_sql(x: str, kind: str, lo: str = "", hi: str = "") -> str:
    # at most 13 significant digits, so that the float formatting of the Python spec is exact
    pattern = "0|[1-9][0-9]{0,9}" if kind == "integer" else "(0|[1-9][0-9]{0,8})(\\.[0-9]{0,3}[1-9])?"
    parts = [f"regexp_full_match({x}, {quote_literal(pattern)})"]
    if lo:
        parts.append(f"TRY_CAST({x} AS DOUBLE) >= {float(lo)}")
    if hi:
        parts.append(f"TRY_CAST({x} AS DOUBLE) <= {float(hi)}")
    return "(" + " AND ".join(parts) + ")"


_CANONICAL_SAMPLE = {"date": "2025-03-01", "datetime": "2025-03-01 09:05:00"}


def datetime_valid_sql(
    x: str, kind: str, formats: Sequence[str] = (), lo: str = "", hi: str = ""
) -> str | None:
    """Already canonical (ISO) dates/date-times. None when a source hint format could read an ISO
    string differently (it is tried first by the spec)."""
    canonical = normalizers.CANONICAL_DATE if kind == "date" else normalizers.CANONICAL_DATETIME
    sample = _CANONICAL_SAMPLE[kind]
    for fmt in formats:
        if fmt != canonical and normalizers._shape(fmt).fullmatch(sample):
            return None
    shape = "[0-9]{4}-[0-9]{2}-[0-9]{2}" + (" [0-9]{2}:[0-9]{2}:[0-9]{2}" if kind == "datetime" else "")
    ts = f"try_strptime({x}, {quote_literal(canonical)})"
    parts = [f"regexp_full_match({x}, {quote_literal(shape)})", f"{ts} IS NOT NULL"]
    if lo:
        parts.append(f"{ts} >= TIMESTAMP {quote_literal(lo)}")
    if hi:
        parts.append(f"{ts} < TIMESTAMP {quote_literal(hi)} + INTERVAL 1 DAY")
    return "(" + " AND ".join(parts) + ")"


def _id_sum(x: str) -> str:
    return " + ".join(
        f"{w} * TRY_CAST(substr({x}, {i + 1}, 1) AS INTEGER)" for i, w in enumerate(normalizers.ID_WEIGHTS)
    )


def resident_id_valid_sql(x: str) -> str:
    born = f"try_cast(substr({x}, 7, 4) || '-' || substr({x}, 11, 2) || '-' || substr({x}, 13, 2) AS DATE)"
    return (
        f"(regexp_full_match({x}, '[0-9]{{17}}[0-9X]') "
        f"AND substr({quote_literal(normalizers.ID_CHECK_CHARS)}, (({_id_sum(x)}) % 11) + 1, 1) = right({x}, 1) "
        f"AND {born} <= current_date AND year({born}) >= 1880)"
    )


def phone_valid_sql(x: str) -> str:
    """Canonical mobiles (11 digits) and fixed lines (0AA-/0AAA- and 7-8 digits)."""
    return f"regexp_full_match({x}, '1[3-9][0-9]{{9}}|0[12][0-9]-[0-9]{{7,8}}|0[3-9][0-9]{{2}}-[0-9]{{7,8}}')"


# what Python's str.strip() removes, for RE2
_PY_WS = "[\\s\\p{Z}\\x{1c}-\\x{1f}\\x{85}\\x{0b}]"


def present_valid_sql(x: str) -> str:
    """Free text / names that need no change: no surrounding whitespace, not a null spelling."""
    nulls = ", ".join(quote_literal(s) for s in normalizers.NULL_SPELLINGS)
    return f"(length({x}) > 0 AND NOT regexp_matches({x}, '^{_PY_WS}|{_PY_WS}$') AND upper({x}) NOT IN ({nulls}))"


OUTCOME_COLUMNS = ["raw", "value", "outcome", "rule", "reason_code"]


def _python_rest(con, table: str, resolved: pd.DataFrame, fn) -> pd.DataFrame:
    con.register("_resolved", resolved[["raw"]])
    rest = [
        r[0]
        for r in con.execute(
            f"SELECT raw FROM {table} WHERE raw IS NOT NULL AND raw NOT IN (SELECT raw FROM _resolved)"
        ).fetchall()
    ]
    con.unregister("_resolved")
    rows = [(raw, *fn(raw)) for raw in rest]
    return pd.DataFrame(rows, columns=OUTCOME_COLUMNS)


def _concat(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    frames = [f for f in (a, b) if len(f)]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in OUTCOME_COLUMNS})
    return (
        pd.concat(frames, ignore_index=True)[OUTCOME_COLUMNS].astype(object).where(lambda d: d.notna(), None)
    )


def map_datetimes(
    con, table: str, kind: str, formats: Sequence[str] = (), lo: str = "", hi: str = ""
) -> pd.DataFrame:
    """Outcomes for every non-null distinct ``raw`` of ``table``: SQL for what a format resolves,
    ``normalizers.normalize_datetime`` for the rest."""
    fast = con.execute(datetime_fastpath_sql(table, kind, formats, lo, hi)).df()
    rest = _python_rest(
        con,
        table,
        fast,
        lambda raw: normalizers.normalize_datetime(raw, kind=kind, formats=formats, lo=lo, hi=hi),
    )
    return _concat(fast, rest)


def map_resident_ids(con, table: str) -> pd.DataFrame:
    fast = con.execute(resident_id_fastpath_sql(table)).df()
    rest = _python_rest(con, table, fast, normalizers.normalize_resident_id)
    return _concat(fast, rest)
