"""Read indicator values from the published warehouse snapshot (``marts.indicator_values`` joined to
``marts.indicator_registry``) and format them for the ``referral-warehouse indicators`` command.

The snapshot is opened read-only; the pipeline's own warehouse file is never touched.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

GEO_LEVELS = ("region", "county", "alliance", "institution", "level")
PERIOD_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class IndicatorsError(RuntimeError):
    """The published warehouse is missing, lacks the indicator marts, or has no such period."""


@dataclass(frozen=True)
class IndicatorValue:
    indicator_id: str
    name_zh: str
    name_en: str
    unit: str
    period: str
    geo_level: str
    geo_id: str
    geo_name: str | None
    breakdown: str | None
    numerator: float | None
    denominator: float | None
    value: float | None
    target: float | None
    direction: str | None
    meets_target: bool | None


def _meets_target(value: float | None, target: float | None, direction: str | None) -> bool | None:
    if value is None or target is None or direction is None:
        return None
    return value >= target if direction == "higher_better" else value <= target


def _clean(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def available_periods(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute("select distinct period from marts.indicator_values order by period").fetchall()
    return [r[0] for r in rows]


def read_indicator_values(
    published: Path,
    period: str | None = None,
    level: str = "region",
    indicator_ids: tuple[str, ...] | None = None,
) -> tuple[str, list[IndicatorValue]]:
    """Indicator values of one period (default: the latest) at one geography level.

    Returns ``(period, values)`` ordered as the registry lists indicators, then by geography and
    breakdown. Raises IndicatorsError when the snapshot or the period does not exist.
    """
    if level not in GEO_LEVELS:
        raise IndicatorsError(f"unknown level {level!r}; one of {', '.join(GEO_LEVELS)}")
    if period is not None and not PERIOD_RE.match(period):
        raise IndicatorsError(f"period must look like YYYY-MM, got {period!r}")
    published = Path(published)
    if not published.exists():
        raise IndicatorsError(f"no published warehouse at {published}: run the pipeline first")
    con = duckdb.connect(str(published), read_only=True)
    try:
        tables = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        }
        missing = {"indicator_values", "indicator_registry"} - tables
        if missing:
            raise IndicatorsError(f"{published} has no marts.{', marts.'.join(sorted(missing))}")
        periods = available_periods(con)
        if not periods:
            raise IndicatorsError(f"{published} holds no indicator values")
        if period is None:
            period = periods[-1]
        elif period not in periods:
            raise IndicatorsError(f"no indicator values for {period}; available: {', '.join(periods)}")
        sql = """
            with registry as (
                select *, row_number() over () as registry_order from marts.indicator_registry
            )
            select v.indicator_id, r.name_zh, r.name_en, r.unit, v.period, v.geo_level, v.geo_id,
                   v.geo_name, v.breakdown, v.numerator, v.denominator, v.value, r.target, r.direction
            from marts.indicator_values v
            join registry r using (indicator_id)
            where v.period = ? and v.geo_level = ?
        """
        params: list[object] = [period, level]
        if indicator_ids:
            sql += f" and v.indicator_id in ({', '.join('?' * len(indicator_ids))})"
            params.extend(indicator_ids)
        sql += " order by r.registry_order, v.geo_id, v.breakdown nulls first"
        rows = con.execute(sql, params).fetchall()
    finally:
        con.close()
    values = []
    for row in rows:
        (iid, name_zh, name_en, unit, per, geo_level, geo_id, geo_name, breakdown, num, den, val, target,
         direction) = row  # fmt: skip
        num, den, val, target = _clean(num), _clean(den), _clean(val), _clean(target)
        values.append(
            IndicatorValue(
                iid,
                name_zh,
                name_en,
                unit,
                per,
                geo_level,
                geo_id,
                geo_name,
                breakdown,
                num,
                den,
                val,
                target,
                direction,
                _meets_target(val, target, direction),
            )  # fmt: skip
        )
    return period, values


def _number(x: float | None, digits: int = 2) -> str:
    if x is None:
        return "-"
    if float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:,.{digits}f}"


def format_table(period: str, level: str, values: list[IndicatorValue]) -> str:
    """A plain-text table (CJK-width aware through pandas' east-asian-width option)."""
    import pandas as pd

    header = f"指标 Indicators  period={period}  level={level}  ({len(values)} rows)"
    if not values:
        return header + "\n(no values)"
    frame = pd.DataFrame(
        {
            "indicator": [v.indicator_id for v in values],
            "名称": [v.name_zh + (f" [{v.breakdown}]" if v.breakdown else "") for v in values],
            "地区/机构": [v.geo_name or v.geo_id for v in values],
            "值": [_number(v.value) + ("" if v.value is None else f" {v.unit}") for v in values],
            "分子": [_number(v.numerator) for v in values],
            "分母": [_number(v.denominator) for v in values],
            "目标": [
                "-"
                if v.target is None
                else ("≥" if v.direction == "higher_better" else "≤") + _number(v.target)
                for v in values
            ],
            "达标": ["-" if v.meets_target is None else ("是" if v.meets_target else "否") for v in values],
        }
    )
    with pd.option_context("display.unicode.east_asian_width", True, "display.width", 250):
        return header + "\n" + frame.to_string(index=False)


def format_json(period: str, level: str, published: Path, values: list[IndicatorValue]) -> str:
    payload = {
        "period": period,
        "geo_level": level,
        "published": str(published),
        "values": [asdict(v) for v in values],
    }
    return json.dumps(payload, ensure_ascii=False, indent=2)
