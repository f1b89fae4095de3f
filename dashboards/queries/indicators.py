"""Indicator queries every page shares (the 机构与区县 page reads only these; the indicator cards of
总览, 慢病管理 and 号源下沉; the period filter): ``marts.indicator_values`` / ``indicator_registry`` /
``period_completeness`` and the institutions."""

from __future__ import annotations

import pandas as pd

from data import Missing, Where, labels, query, table_columns


def indicator_registry() -> pd.DataFrame | Missing:
    return query("select * from marts.indicator_registry")


def topic_indicators(topic: str) -> pd.DataFrame | Missing:
    """Registry rows whose id or Chinese name contains one of the topic's keywords (labels.yaml)."""
    reg = indicator_registry()
    if isinstance(reg, Missing):
        return reg
    keywords = labels()["topics"][topic]
    hay = reg["indicator_id"].str.lower() + " " + reg["name_zh"]
    mask = pd.Series(False, index=reg.index)
    for kw in keywords:
        mask |= hay.str.contains(kw.lower(), regex=False) | hay.str.contains(kw, regex=False)
    return reg[mask].reset_index(drop=True)


# --------------------------------------------------------------------------- indicator values


def indicator_totals() -> str:
    """``marts.indicator_values`` without breakdown rows (e.g. 退回原因构成 per reason): totals only."""
    if "breakdown" in table_columns("marts.indicator_values"):
        return "(select * from marts.indicator_values where breakdown is null)"
    return "marts.indicator_values"


def indicator_periods() -> list[str]:
    df = query(f"select distinct period from {indicator_totals()} order by period desc")
    return [] if isinstance(df, Missing) else list(df["period"])


def period_completeness() -> pd.DataFrame | Missing:
    """``marts.period_completeness``: per month, whether every active source delivered through its last day."""
    return query(
        "select period, is_complete, missing_sources, missing_detail_zh from marts.period_completeness "
        "order by period desc"
    )


def period_status(period: str | None) -> dict | None:
    """``{'is_complete': bool, 'missing_sources': str, 'missing_detail_zh': str}`` for a month, or None
    when the month (or the completeness mart) is not in the snapshot."""
    if not period:
        return None
    df = period_completeness()
    if isinstance(df, Missing):
        return None
    row = df[df["period"] == period]
    return None if row.empty else row.iloc[0].to_dict()


def complete_periods() -> list[str]:
    df = period_completeness()
    return (
        []
        if isinstance(df, Missing)
        else [p for p, ok in zip(df["period"], df["is_complete"], strict=True) if ok]
    )


def default_indicator_period() -> str | None:
    """The latest complete month (marts.period_completeness: every active source delivered through its
    last day). On a snapshot without that mart: the latest period with (nearly) all indicators."""
    complete = complete_periods()
    periods = indicator_periods()
    if complete:
        in_values = [p for p in complete if p in periods] if periods else complete
        if in_values:
            return in_values[0]
    df = query(
        f"""
        select period, count(distinct indicator_id) as n from {indicator_totals()}
        group by period order by period desc
        """
    )
    if isinstance(df, Missing) or df.empty:
        return None
    full = df[df["n"] >= 0.8 * df["n"].max()]
    return str(full["period"].iloc[0])


def direction_split_indicators() -> tuple[str, ...]:
    """Registry indicators that also have breakdown = up / down rows (registry breakdowns = direction)."""
    reg = indicator_registry()
    if isinstance(reg, Missing) or "breakdowns" not in reg.columns:
        return ()
    return tuple(reg.loc[reg["breakdowns"] == "direction", "indicator_id"])


def indicator_breakdowns(
    indicator_ids: tuple[str, ...], geo_level: str, period: str, breakdowns: tuple[str, ...] = ("up", "down")
) -> pd.DataFrame | Missing:
    """Rows of direction-split indicators (breakdown up / down) next to their totals, one period and
    geography level, with the registry's name and unit."""
    if not indicator_ids:
        return pd.DataFrame()
    if "breakdown" not in table_columns("marts.indicator_values"):
        return Missing("marts.indicator_values.breakdown")
    ids = ", ".join("?" * len(indicator_ids))
    bds = ", ".join("?" * len(breakdowns))
    reason = (
        "v.null_reason_zh"
        if "null_reason_zh" in table_columns("marts.indicator_values")
        else "null as null_reason_zh"
    )
    return query(
        f"""
        select v.indicator_id, r.name_zh, r.unit, r.target, r.direction, v.geo_id, v.geo_name,
               coalesce(v.breakdown, 'all') as breakdown, v.value, v.numerator, v.denominator, {reason}
        from marts.indicator_values v join marts.indicator_registry r using (indicator_id)
        where v.indicator_id in ({ids}) and v.geo_level = ? and v.period = ?
          and (v.breakdown is null or v.breakdown in ({bds}))
        order by v.indicator_id, v.geo_id, v.breakdown
        """,
        (*indicator_ids, geo_level, period, *breakdowns),
    )


def geo_options(geo_level: str) -> pd.DataFrame | Missing:
    return query(
        f"select distinct geo_id, geo_name from {indicator_totals()} where geo_level = ? order by geo_id",
        (geo_level,),
    )


def geo_levels() -> list[str]:
    df = query(f"select distinct geo_level from {indicator_totals()}")
    if isinstance(df, Missing):
        return []
    order = list(labels()["geo_levels"])
    present = set(df["geo_level"])
    return [g for g in order if g in present] + sorted(present - set(order))


def indicator_cards(geo_level: str, geo_id: str, period: str, indicator_ids: tuple[str, ...] | None = None):
    """One row per indicator for one place and period, with last month's value and the registry."""
    where = ""
    params: list[object] = [geo_level, geo_id, period, period]
    if indicator_ids:
        where = f"and r.indicator_id in ({', '.join('?' * len(indicator_ids))})"
        params.extend(indicator_ids)
    return query(
        f"""
        with reg as (select *, row_number() over () as seq from marts.indicator_registry),
        v as (select * from {indicator_totals()} where geo_level = ? and geo_id = ?),
        cur as (select * from v where period = ?),
        prev as (
            select * from v
            where period = strftime(strptime(? || '-01', '%Y-%m-%d') - interval 1 month, '%Y-%m')
        )
        select r.indicator_id, r.name_zh, r.unit, r.target, r.direction, r.definition_zh,
               r.numerator_zh, r.denominator_zh, r.source,
               cur.period, cur.value, cur.numerator, cur.denominator,
               prev.period as prev_period, prev.value as prev_value,
               prev.numerator as prev_numerator, prev.denominator as prev_denominator
        from reg r
        join cur using (indicator_id)
        left join prev using (indicator_id)
        where true {where}
        order by r.seq
        """,
        tuple(params),
    )


def indicator_slice(geo_level: str, period: str | None = None, geo_ids: tuple[str, ...] | None = None):
    """All indicator values for one geo level (optionally one period / some places), with the registry."""
    w = Where()
    w.add("v.geo_level = ?", geo_level)
    if period:
        w.add("v.period = ?", period)
    if geo_ids:
        w.add(f"v.geo_id in ({', '.join('?' * len(geo_ids))})", *geo_ids)
    return query(
        f"""
        select v.indicator_id, r.name_zh, r.unit, r.target, r.direction, v.period, v.geo_id, v.geo_name,
               v.value, v.numerator, v.denominator
        from {indicator_totals()} v join marts.indicator_registry r using (indicator_id)
        {w.sql}
        order by v.indicator_id, v.period, v.geo_id
        """,
        tuple(w.params),
    )


def institutions() -> pd.DataFrame | Missing:
    return query(
        "select * from marts.dim_institutions order by county_code, level_code desc, institution_code"
    )
