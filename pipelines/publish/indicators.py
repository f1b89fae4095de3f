"""Read indicator values from the published warehouse snapshot (``marts.indicator_values`` joined to
``marts.indicator_registry``) and format them for the ``referral-warehouse indicators`` command.

The default month is the latest *complete* one (``marts.period_completeness``: every active source
delivered data through its last day). A partial month can be asked for; it is labelled
「数据不完整」 with the sources still missing.

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
    null_reason: str | None = None
    null_reason_zh: str | None = None


@dataclass(frozen=True)
class PeriodStatus:
    """Completeness of one month (marts.period_completeness); ``known`` is False on a snapshot
    built before that mart existed."""

    period: str
    is_complete: bool
    missing_sources: tuple[str, ...] = ()
    missing_detail_zh: str | None = None
    known: bool = True

    @property
    def label_zh(self) -> str:
        if not self.known:
            return "完整性未知"
        if self.is_complete:
            return "数据完整"
        detail = self.missing_detail_zh or "、".join(self.missing_sources)
        return f"数据不完整（尚缺：{detail}）"


def _meets_target(value: float | None, target: float | None, direction: str | None) -> bool | None:
    if value is None or target is None or direction is None:
        return None
    return value >= target if direction == "higher_better" else value <= target


def _clean(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def available_periods(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute("select distinct period from marts.indicator_values order by period").fetchall()
    return [r[0] for r in rows]


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def period_statuses(con: duckdb.DuckDBPyConnection) -> dict[str, PeriodStatus]:
    """Every month of ``marts.period_completeness`` (empty when the snapshot predates it)."""
    if not _has_table(con, "marts", "period_completeness"):
        return {}
    rows = con.execute(
        "select period, is_complete, missing_sources, missing_detail_zh from marts.period_completeness"
    ).fetchall()
    return {
        period: PeriodStatus(
            period, bool(complete), tuple(s for s in (missing or "").split(",") if s), detail
        )
        for period, complete, missing, detail in rows
    }


def default_period(periods: list[str], statuses: dict[str, PeriodStatus]) -> str:
    """The latest complete month; the latest month when none is known to be complete."""
    complete = [p for p in periods if p in statuses and statuses[p].is_complete]
    return complete[-1] if complete else periods[-1]


def status_of(period: str, statuses: dict[str, PeriodStatus]) -> PeriodStatus:
    return statuses.get(period) or PeriodStatus(period, False, known=False)


def read_period_status(published: Path, period: str) -> PeriodStatus:
    con = duckdb.connect(str(published), read_only=True)
    try:
        return status_of(period, period_statuses(con))
    finally:
        con.close()


def read_indicator_values(
    published: Path,
    period: str | None = None,
    level: str = "region",
    indicator_ids: tuple[str, ...] | None = None,
) -> tuple[str, list[IndicatorValue]]:
    """Indicator values of one period (default: the latest complete month) at one geography level.

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
            period = default_period(periods, period_statuses(con))
        elif period not in periods:
            raise IndicatorsError(f"no indicator values for {period}; available: {', '.join(periods)}")
        columns = {
            r[0]
            for r in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'marts' and table_name = 'indicator_values'"
            ).fetchall()
        }
        reason_cols = (
            "v.null_reason, v.null_reason_zh"
            if {"null_reason", "null_reason_zh"} <= columns
            else "null as null_reason, null as null_reason_zh"
        )
        sql = f"""
            with registry as (
                select *, row_number() over () as registry_order from marts.indicator_registry
            )
            select v.indicator_id, r.name_zh, r.name_en, r.unit, v.period, v.geo_level, v.geo_id,
                   v.geo_name, v.breakdown, v.numerator, v.denominator, v.value, r.target, r.direction,
                   {reason_cols}
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
         direction, null_reason, null_reason_zh) = row  # fmt: skip
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
                null_reason,
                null_reason_zh,
            )  # fmt: skip
        )
    return period, values


def _number(x: float | None, digits: int = 2) -> str:
    if x is None:
        return "—"
    if float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:,.{digits}f}"


BREAKDOWN_ZH = {"up": "上转", "down": "下转"}


def _value_text(v: IndicatorValue) -> str:
    if v.value is None:
        return v.null_reason_zh or "—"
    return _number(v.value) + f" {v.unit}"


def format_table(
    period: str, level: str, values: list[IndicatorValue], status: PeriodStatus | None = None
) -> str:
    """A plain-text table (CJK-width aware through pandas' east-asian-width option). A missing value
    shows its reason (or 「—」), never None."""
    import pandas as pd

    header = f"指标 Indicators  period={period}  level={level}  ({len(values)} rows)"
    if status is not None and not status.is_complete:
        header += f"\n{status.label_zh}"
    if not values:
        return header + "\n(no values)"
    frame = pd.DataFrame(
        {
            "indicator": [v.indicator_id for v in values],
            "名称": [
                v.name_zh + (f" [{BREAKDOWN_ZH.get(v.breakdown, v.breakdown)}]" if v.breakdown else "")
                for v in values
            ],
            "地区/机构": [v.geo_name or v.geo_id for v in values],
            "值": [_value_text(v) for v in values],
            "分子": [_number(v.numerator) for v in values],
            "分母": [_number(v.denominator) for v in values],
            "目标": [
                "—"
                if v.target is None
                else ("≥" if v.direction == "higher_better" else "≤") + _number(v.target)
                for v in values
            ],
            "达标": ["—" if v.meets_target is None else ("是" if v.meets_target else "否") for v in values],
        }
    )
    with pd.option_context("display.unicode.east_asian_width", True, "display.width", 250):
        return header + "\n" + frame.to_string(index=False)


def format_json(
    period: str,
    level: str,
    published: Path,
    values: list[IndicatorValue],
    status: PeriodStatus | None = None,
) -> str:
    payload = {
        "period": period,
        "period_complete": None if status is None or not status.known else status.is_complete,
        "missing_sources": [] if status is None else list(status.missing_sources),
        "geo_level": level,
        "published": str(published),
        "values": [asdict(v) for v in values],
    }
    return json.dumps(payload, ensure_ascii=False, indent=2)
