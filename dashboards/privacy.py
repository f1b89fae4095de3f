"""Disclosure control for everything the dashboards show or let you download.

One rule, one threshold (the dbt var ``small_cell_threshold``, also applied in the data by the
reporting models): a count that describes people (patients, visits, referrals, bookings, cases)
below ``SMALL_CELL`` is shown as ``<5``; a rate or average built on such a count is not shown; free
text is scrubbed of resident IDs and phone numbers and personal values are masked by the project's one
scrubber and one masking function (``pipelines.privacy``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd

from pipelines.privacy import mask, personal_data, scrub, small_cell_threshold

SMALL_CELL = small_cell_threshold()  # dbt var small_cell_threshold: the reporting models use the same
SMALL_LABEL = f"<{SMALL_CELL}"
SUPPRESSED_RATE = f"（例数<{SMALL_CELL}）"
# A people count the reporting layer withheld (NULL + suppressed in the data), as data.reporting reads
# it: below every threshold, so format_count shows it as <5 and a rate on it is withheld.
SUPPRESSED_COUNT = -1


def _missing(x: object) -> bool:
    if x is None or x is pd.NA or x is pd.NaT:
        return True
    try:
        return bool(math.isnan(x))  # type: ignore[arg-type]
    except TypeError:
        return False


def is_small(n: object) -> bool:
    """True when ``n`` is a count that must not be shown (0 <= n < 5, or SUPPRESSED_COUNT)."""
    return not _missing(n) and float(n) < SMALL_CELL  # type: ignore[arg-type]


def format_count(n: object) -> str:
    """A people count for display: ``<5`` below the threshold, thousands separators otherwise."""
    if _missing(n):
        return ""
    if is_small(n):
        return SMALL_LABEL
    return f"{round(float(n)):,}"  # type: ignore[arg-type]


def suppress_counts(df: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """A copy of ``df`` where every listed people-count column is text with small cells as ``<5``."""
    out = df.copy()
    for col in columns:
        if col in out.columns:
            out[col] = [format_count(v) for v in out[col]]
    return out


def rate_is_suppressed(numerator: object, denominator: object) -> bool:
    """A rate is withheld when either of its people counts is small."""
    return is_small(numerator) or is_small(denominator)


def format_value(
    value: object, unit: str | None, numerator: object = None, denominator: object = None
) -> str:
    """An indicator value for display, honouring the small-cell rule.

    ``%`` values are 0-100 with one decimal; ``人次`` values are counts; ``小时``/``天`` values are
    averages over ``denominator`` people, or medians/percentiles of ``numerator`` observations (no
    denominator), and are withheld when that count is small.
    """
    if _missing(value):
        return "—"
    unit = unit or ""
    if unit == "%":
        if rate_is_suppressed(numerator, denominator):
            return SUPPRESSED_RATE
        return f"{float(value):.1f}%"  # type: ignore[arg-type]
    if unit in ("小时", "天", "分钟"):
        # an average has its people count in the denominator; a median/P90 (no denominator) in the numerator
        if is_small(denominator) or (_missing(denominator) and is_small(numerator)):
            return SUPPRESSED_RATE
        return f"{float(value):.1f} {unit}"  # type: ignore[arg-type]
    if _missing(denominator):  # a count (人次 and other count units)
        return format_count(value)
    if rate_is_suppressed(numerator, denominator):
        return SUPPRESSED_RATE
    return f"{float(value):,.1f}"  # type: ignore[arg-type]


def value_is_shown(
    value: object, unit: str | None, numerator: object = None, denominator: object = None
) -> bool:
    """True when :func:`format_value` would show the number itself."""
    text = format_value(value, unit, numerator, denominator)
    return text not in ("—", SMALL_LABEL, SUPPRESSED_RATE)


def mask_text(text: object) -> object:
    """Free text with resident IDs and phone numbers replaced (``pipelines.privacy.scrub``)."""
    if _missing(text) or not isinstance(text, str):
        return text
    return scrub(text)


def mask_personal(element: object, value: object) -> object:
    """A raw value of a direct identifier as its shape only (``pipelines.privacy.mask``)."""
    if _missing(value) or element not in personal_data().direct_identifiers:
        return value
    return mask(value)


def mask_columns(df: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    out = df.copy()
    for col in columns:
        if col in out.columns:
            out[col] = [mask_text(v) for v in out[col]]
    return out
