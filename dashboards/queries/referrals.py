"""Queries of the 转诊流向 page: the ``reporting.referral_*`` aggregates (dbt models/reporting).

Every filter combination the page offers (统计期, 区县 = sent from or to the county, 就诊类型; 全部 =
``'ALL'``) is a precomputed row: the page selects rows, it never sums cells (a sum of suppressed
cells would undo the small-cell rule)."""

from __future__ import annotations

import pandas as pd

from data import Missing, filter_values, labels, query, reporting

FILTER = "period = ? and county_code = ? and setting = ?"
SUMMARY_COUNTS = (
    "n", "n_returned", "n_same_alliance", "n_cross_alliance", "n_arrived", "n_closed_loop", "n_fd_24h",
    "n_accept_timed", "n_arrival_timed",
)  # fmt: skip


def referral_periods() -> list[str]:
    df = query(
        "select distinct period from reporting.referral_summary where period <> 'ALL' order by period desc"
    )
    return [] if isinstance(df, Missing) else list(df["period"])


def referral_summary(period=None, county=None, setting=None) -> pd.DataFrame | Missing:
    """Per direction: counts, returns, in-alliance, closed loops, 24-hour family-doctor contact."""
    return reporting(
        f"""
        select direction, {", ".join(SUMMARY_COUNTS)}, median_hours_to_accept, median_hours_to_arrival
        from reporting.referral_summary where {FILTER}
        order by direction desc
        """,
        filter_values(period, county, setting),
        SUMMARY_COUNTS,
    )


def referral_level_flows(period=None, county=None, setting=None) -> pd.DataFrame | Missing:
    return reporting(
        f"""
        select direction, from_level_code, to_level_code, n
        from reporting.referral_level_flows where {FILTER}
        order by direction desc, from_level_code, to_level_code
        """,
        filter_values(period, county, setting),
        ("n",),
    )


def referral_institution_flows(
    period=None, county=None, setting=None, top: int = 500
) -> pd.DataFrame | Missing:
    """The ``top`` largest institution-to-institution flows (the model keeps var institution_flow_top)."""
    return reporting(
        f"""
        select direction, from_name, to_name, same_alliance, n
        from reporting.referral_institution_flows where {FILTER} and flow_rank <= ?
        order by flow_rank
        """,
        (*filter_values(period, county, setting), top),
        ("n",),
    )


def referral_monthly(county=None, setting=None) -> pd.DataFrame | Missing:
    return reporting(
        """
        select period, direction, n, n_same_alliance, n_closed_loop
        from reporting.referral_summary
        where period <> 'ALL' and county_code = ? and setting = ?
        order by period, direction
        """,
        filter_values(county, setting),
        ("n", "n_same_alliance", "n_closed_loop"),
    )


def return_reasons(period=None, county=None, setting=None) -> pd.DataFrame | Missing:
    return reporting(
        f"""
        select return_reason_code, return_reason_name, n
        from reporting.referral_return_reasons where {FILTER}
        order by n desc nulls last, return_reason_code
        """,
        filter_values(period, county, setting),
        ("n",),
    )


def timeliness_bins(period=None, county=None, setting=None) -> pd.DataFrame | Missing:
    """Referrals per hours bin (dbt var timeliness_hour_bins) for request→acceptance and →arrival."""
    df = reporting(
        f"""
        select direction, stage, bin_order, hours_from, hours_to, n
        from reporting.referral_timeliness_bins where {FILTER}
        order by direction desc, stage, bin_order
        """,
        filter_values(period, county, setting),
        ("n",),
    )
    if isinstance(df, Missing):
        return df
    stages = labels()["timeliness_stage"]
    return df.assign(
        stage=[stages.get(s, s) for s in df["stage"]],
        bin=[
            f"{lo:g}–{hi:g} 小时" if pd.notna(hi) else f"≥{lo:g} 小时"
            for lo, hi in zip(df["hours_from"], df["hours_to"], strict=True)
        ],
    )[["direction", "stage", "bin", "bin_order", "n"]]


def fd_contact_by_institution(period=None, county=None, setting=None) -> pd.DataFrame | Missing:
    return reporting(
        f"""
        select institution_name, n_down, n_fd_24h, n_closed_loop
        from reporting.referral_fd_contact_by_institution where {FILTER}
        order by n_down desc nulls last, institution_name
        """,
        filter_values(period, county, setting),
        ("n_down", "n_fd_24h", "n_closed_loop"),
    )
