"""Queries of the 总览 page: an indicator's monthly series and the monthly report built from the
snapshot (the indicator cards and the period filter are the shared queries/indicators.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from data import Missing, query, snapshot_target
from queries.indicators import indicator_totals


def indicator_series(indicator_id: str, geo_level: str, geo_ids: tuple[str, ...]) -> pd.DataFrame | Missing:
    if not geo_ids:
        return pd.DataFrame(columns=["period", "geo_id", "geo_name", "value", "numerator", "denominator"])
    return query(
        f"""
        select period, geo_id, geo_name, value, numerator, denominator
        from {indicator_totals()}
        where indicator_id = ? and geo_level = ? and geo_id in ({", ".join("?" * len(geo_ids))})
        order by period, geo_id
        """,
        (indicator_id, geo_level, *geo_ids),
    )


def monthly_report_files(period: str, pdf: bool = False) -> bytes:
    """The monthly report 月度分级诊疗运行报告 of ``period`` built from the published snapshot
    (pipelines/publish/report.py): the Excel workbook, or the PDF when ``pdf``."""
    import tempfile

    from pipelines.publish import report

    rep = report.build_report(Path(snapshot_target().split("|")[0]), period)
    with tempfile.TemporaryDirectory(prefix="rw-report-") as tmp:
        if pdf:
            out = report.write_pdf(rep, Path(tmp) / "report.pdf")
        else:
            out = report.write_excel(rep, Path(tmp) / "report.xlsx")
        return out.read_bytes()


def report_pdf_available() -> bool:
    from pipelines.publish.report import chromium_binary

    return chromium_binary() is not None
