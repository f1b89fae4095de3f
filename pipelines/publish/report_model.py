"""The monthly report's data model and small-cell rule (report.py reads, report_files.py writes).

Small cells: one threshold (the dbt var ``small_cell_threshold``, ``pipelines.privacy``), as on the
dashboards: a count of people below it is written as ``<5``; a rate is withheld (``（例数<5）``) when its
numerator or denominator is below it; a median/P90 when it rests on fewer observations; an average
when its denominator is below it. The reporting aggregates the report reads already hold NULL for a
withheld count (``reported_count``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from pipelines.privacy import small_cell_threshold
from pipelines.publish.indicators import PeriodStatus

TITLE = "月度分级诊疗运行报告"
SMALL_CELL = small_cell_threshold()
SMALL_LABEL = f"<{SMALL_CELL}"
SUPPRESSED = f"（例数<{SMALL_CELL}）"
MISSING = "—"


class ReportError(RuntimeError):
    """The snapshot or the period is missing, or the PDF cannot be rendered."""


# --------------------------------------------------------------------------- small cells


def _missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA


def is_small(n: object) -> bool:
    return not _missing(n) and float(n) < SMALL_CELL  # type: ignore[arg-type]


def count_cell(n: object) -> object:
    """A people count as written: the number, or ``<5``."""
    if _missing(n):
        return MISSING
    return SMALL_LABEL if is_small(n) else int(round(float(n)))  # type: ignore[arg-type]


def value_cell(value: object, unit: str, aggregation: str, numerator: object, denominator: object) -> object:
    """An indicator value as written: a number (rounded) or a text saying why it is not shown."""
    if _missing(value):
        return MISSING
    if aggregation == "count":
        return count_cell(value)
    if aggregation in ("median", "p90"):
        return SUPPRESSED if is_small(numerator) else round(float(value), 1)  # type: ignore[arg-type]
    if aggregation == "ratio" and unit in ("天", "小时"):
        return SUPPRESSED if is_small(denominator) else round(float(value), 1)  # type: ignore[arg-type]
    if is_small(numerator) or is_small(denominator):
        return SUPPRESSED
    return round(float(value), 1)  # type: ignore[arg-type]


def _num(x: object) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not _missing(x) else None


def reported_count(n: object) -> object:
    """A people count read from a ``reporting`` aggregate: NULL there means withheld (``<5``)."""
    return SMALL_LABEL if _missing(n) else count_cell(n)


@dataclass
class Report:
    period: str
    status: PeriodStatus
    headline: pd.DataFrame
    ranking: pd.DataFrame
    level_flows: pd.DataFrame
    county_flows: pd.DataFrame
    return_reasons: pd.DataFrame
    quality: pd.DataFrame
    quality_measure: str
    completeness: pd.DataFrame
    notes: list[str] = field(default_factory=list)
