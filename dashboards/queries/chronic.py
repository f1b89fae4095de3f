"""Queries of the 慢病管理 page's 该转未转 tables: ``reporting.undertreated_by_*`` (one row per
period and county, 'ALL' = any; small cells withheld in the data). Its indicator cards read
queries/indicators.py."""

from __future__ import annotations

import pandas as pd

from data import Missing, filter_values, query, reporting


def undertreated_periods() -> list[str]:
    df = query(
        "select distinct period from reporting.undertreated_by_institution where period <> 'ALL' "
        "order by period desc"
    )
    return [] if isinstance(df, Missing) else list(df["period"])


def undertreated_by_institution(period=None, county=None) -> pd.DataFrame | Missing:
    return reporting(
        """
        select institution_name, county_name, n_cases, n_hypertension, n_diabetes
        from reporting.undertreated_by_institution where period = ? and county_code = ?
        order by n_cases desc nulls last, institution_name
        """,
        filter_values(period, county),
        ("n_cases", "n_hypertension", "n_diabetes"),
    )


def undertreated_by_criterion(period=None, county=None) -> pd.DataFrame | Missing:
    return reporting(
        """
        select condition, criterion_zh, n_cases
        from reporting.undertreated_by_criterion where period = ? and county_code = ?
        order by n_cases desc nulls last, criterion_zh
        """,
        filter_values(period, county),
        ("n_cases",),
    )
