"""月度分级诊疗运行报告: the monthly report commission staff send upward.

``referral-warehouse report --period YYYY-MM`` reads the published snapshot (read-only) and writes

- ``<out>/月度分级诊疗运行报告_<period>.xlsx``: an Excel workbook (xlsxwriter) with native charts;
- ``<out>/月度分级诊疗运行报告_<period>.pdf``: a printable PDF, rendered from an HTML page (inline SVG
  charts, the system's Noto CJK font) by headless Chromium's print-to-PDF (no network, no new Python
  package; Chromium is what the browser test uses, ``scripts/ensure-chromium.sh``).

Sections: headline indicators against target, last month and the same month last year; county
ranking; referral flows (level to level, county to county); up-referral return reasons; data-quality
summary; the sources whose data for the month is incomplete.

It reads aggregates only: the indicator tables (``marts.indicator_*``, ``period_completeness``) and
the ``reporting`` models (flows and return reasons, small cells already withheld in the data); never
row-level facts, which the snapshot holds only in ``restricted``. Files: report_files.py; the
small-cell rule: report_model.py (docs/dashboards.md "Privacy"). Charts draw only values that are
shown. No number below the threshold that counts people reaches the files.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from pipelines.publish.indicators import (
    PERIOD_RE,
    IndicatorsError,
    available_periods,
    default_period,
    period_statuses,
    status_of,
)
from pipelines.publish.report_files import (  # noqa: F401 (the report's public API)
    chromium_binary,
    render_html,
    screenshot_first_page,
    small_people_cells,
    write_excel,
    write_pdf,
)
from pipelines.publish.report_model import (  # noqa: F401 (the report's public API)
    MISSING,
    SMALL_LABEL,
    SUPPRESSED,
    TITLE,
    Report,
    ReportError,
    _missing,
    _num,
    count_cell,
    is_small,
    reported_count,
    value_cell,
)

# county ranking: the indicators compared across counties (registry ids; absent ones are skipped)
RANKING_INDICATORS = (
    "primary_care_visit_share",
    "in_county_visit_rate",
    "primary_first_visit_rate",
    "up_referrals_outpatient",
    "up_referrals_inpatient",
    "down_referrals_outpatient",
    "down_referrals_inpatient",
    "closed_loop_rate",
    "htn_standard_mgmt_rate",
    "dm_standard_mgmt_rate",
)
RANK_BY = "primary_care_visit_share"
LEVEL_NAMES = {"1": "基层", "2": "二级", "3": "三级"}
DIRECTION_NAMES = {"up": "上转", "down": "下转"}


def _prev_month(period: str, months: int) -> str:
    y, m = int(period[:4]), int(period[5:])
    idx = y * 12 + (m - 1) - months
    return f"{idx // 12:04d}-{idx % 12 + 1:02d}"


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        f"{s}.{t}"
        for s, t in con.execute("select table_schema, table_name from information_schema.tables").fetchall()
    }


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    rows = con.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()
    return {r[0] for r in rows}


def _headline(con: duckdb.DuckDBPyConnection, period: str) -> pd.DataFrame:
    last_month, last_year = _prev_month(period, 1), _prev_month(period, 12)
    reason = (
        "cur.null_reason_zh"
        if "null_reason_zh" in _columns(con, "marts", "indicator_values")
        else "null as null_reason_zh"
    )
    df = con.execute(
        f"""
        with reg as (select *, row_number() over () as seq from marts.indicator_registry),
        v as (select * from marts.indicator_values where geo_level = 'region' and breakdown is null)
        select r.seq, r.indicator_id, r.name_zh, r.unit, r.aggregation, r.target, r.direction,
               cur.value, cur.numerator, cur.denominator, {reason},
               lm.value as lm_value, lm.numerator as lm_numerator, lm.denominator as lm_denominator,
               ly.value as ly_value, ly.numerator as ly_numerator, ly.denominator as ly_denominator
        from reg r
        left join v cur on cur.indicator_id = r.indicator_id and cur.period = ?
        left join v lm on lm.indicator_id = r.indicator_id and lm.period = ?
        left join v ly on ly.indicator_id = r.indicator_id and ly.period = ?
        where r.indicator_id <> 'up_return_reason_share'
        order by r.seq
        """,
        [period, last_month, last_year],
    ).df()
    rows = []
    for _, r in df.iterrows():
        cur = value_cell(r["value"], r["unit"], r["aggregation"], r["numerator"], r["denominator"])
        if cur == MISSING and isinstance(r["null_reason_zh"], str):
            cur = f"—（{r['null_reason_zh']}）"
        lm = value_cell(r["lm_value"], r["unit"], r["aggregation"], r["lm_numerator"], r["lm_denominator"])
        ly = value_cell(r["ly_value"], r["unit"], r["aggregation"], r["ly_numerator"], r["ly_denominator"])
        target = None if _missing(r["target"]) else float(r["target"])
        met = MISSING
        if target is not None and _num(cur) is not None:
            ok = _num(cur) >= target if r["direction"] != "lower_better" else _num(cur) <= target
            met = "达标" if ok else "未达标"
        target_text = MISSING
        if target is not None:
            target_text = ("≤" if r["direction"] == "lower_better" else "≥") + f"{target:g}"
        rows.append(
            {
                "指标": r["name_zh"],
                "单位": r["unit"],
                "本月": cur,
                "目标": target_text,
                "是否达标": met,
                "上月": lm,
                "环比变化": _delta(cur, lm),
                "上年同月": ly,
                "同比变化": _delta(cur, ly),
            }
        )
    return pd.DataFrame(rows)


def _delta(a: object, b: object) -> object:
    if _num(a) is None or _num(b) is None:
        return MISSING
    return round(_num(a) - _num(b), 1)  # type: ignore[operator]


def _ranking(con: duckdb.DuckDBPyConnection, period: str) -> pd.DataFrame:
    df = con.execute(
        """
        select v.geo_id, v.geo_name, v.indicator_id, r.name_zh, r.unit, r.aggregation,
               v.value, v.numerator, v.denominator
        from marts.indicator_values v join marts.indicator_registry r using (indicator_id)
        where v.geo_level = 'county' and v.period = ? and v.breakdown is null
        """,
        [period],
    ).df()
    if df.empty:
        return pd.DataFrame(columns=["排名", "区县"])
    present = [i for i in RANKING_INDICATORS if i in set(df["indicator_id"])]
    names = dict(zip(df["indicator_id"], df["name_zh"], strict=False))
    units = dict(zip(df["indicator_id"], df["unit"], strict=False))
    out = pd.DataFrame({"区县": sorted(set(df["geo_name"].fillna(df["geo_id"])))})
    for iid in present:
        sub = df[df["indicator_id"] == iid]
        cells = {
            (g if isinstance(g, str) else i): value_cell(v, u, a, n, d)
            for g, i, v, u, a, n, d in zip(
                sub["geo_name"], sub["geo_id"], sub["value"], sub["unit"], sub["aggregation"],
                sub["numerator"], sub["denominator"], strict=True,
            )
        }  # fmt: skip
        out[f"{names[iid]}（{units[iid]}）"] = [cells.get(c, MISSING) for c in out["区县"]]
    rank_col = f"{names[RANK_BY]}（{units[RANK_BY]}）" if RANK_BY in present else None
    if rank_col:
        key = out[rank_col].map(lambda x: _num(x) if _num(x) is not None else -1.0)
        out = out.assign(_k=key).sort_values(["_k", "区县"], ascending=[False, True]).drop(columns="_k")
        out.insert(
            0, "排名", [i + 1 if _num(v) is not None else MISSING for i, v in enumerate(out[rank_col])]
        )
    else:
        out.insert(0, "排名", MISSING)
    return out.reset_index(drop=True)


def _flows(con: duckdb.DuckDBPyConnection, period: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Level-to-level and county-to-county flows of the month, region-wide (reporting aggregates)."""
    levels = con.execute(
        """
        select direction, from_level_code, to_level_code, n from reporting.referral_level_flows
        where period = ? and county_code = 'ALL' and setting = 'ALL'
        order by direction, from_level_code, to_level_code
        """,
        [period],
    ).df()
    level_flows = pd.DataFrame(
        {
            "方向": levels["direction"].map(lambda d: DIRECTION_NAMES.get(d, d)),
            "转出级别": levels["from_level_code"].map(
                lambda c: LEVEL_NAMES.get(str(c), MISSING if _missing(c) else c)
            ),
            "转入级别": levels["to_level_code"].map(
                lambda c: LEVEL_NAMES.get(str(c), MISSING if _missing(c) else c)
            ),
            "人次": [reported_count(n) for n in levels["n"]],
        }
    )
    counties = con.execute(
        """
        select direction, from_county_name as from_county, to_county_name as to_county, n
        from reporting.referral_county_flows where period = ?
        order by n desc nulls last, 1, 2, 3
        """,
        [period],
    ).df()
    county_flows = pd.DataFrame(
        {
            "方向": counties["direction"].map(lambda d: DIRECTION_NAMES.get(d, d)),
            "转出区县": counties["from_county"].fillna(MISSING),
            "转入区县": counties["to_county"].fillna(MISSING),
            "人次": [reported_count(n) for n in counties["n"]],
        }
    )
    return level_flows, county_flows


def _return_reasons(con: duckdb.DuckDBPyConnection, period: str) -> pd.DataFrame:
    """Returned up-referrals of the month per reason; shares of the month's returns (the precomputed
    total of reporting.referral_summary, never a sum of withheld cells)."""
    df = con.execute(
        """
        select coalesce(return_reason_name, '未注明') as reason, n from reporting.referral_return_reasons
        where period = ? and county_code = 'ALL' and setting = 'ALL'
        order by n desc nulls last, reason
        """,
        [period],
    ).df()
    total = con.execute(
        """
        select n_returned from reporting.referral_summary
        where period = ? and county_code = 'ALL' and setting = 'ALL' and direction = 'up'
        """,
        [period],
    ).fetchone()
    total = None if total is None else total[0]
    return pd.DataFrame(
        {
            "退回原因": df["reason"],
            "退回人次": [reported_count(n) for n in df["n"]],
            "占比（%）": [
                SUPPRESSED
                if _missing(n) or _missing(total) or is_small(n) or is_small(total)
                else round(100.0 * n / total, 1)
                for n in df["n"]
            ],  # fmt: skip
        }
    )


def _quality(con: duckdb.DuckDBPyConnection, tables: set[str]) -> tuple[pd.DataFrame, str]:
    if "ingest.accuracy_by_field" in tables and "records" in _columns(con, "ingest", "accuracy_by_field"):
        df = con.execute(
            """
            with a as (select * from ingest.accuracy_by_field where element <> '(record)'),
            per as (
                select source_id, sum(records) n, sum(correct_before) b, sum(correct_after) c
                from a group by source_id
                union all select '全市', sum(records), sum(correct_before), sum(correct_after) from a
            )
            select source_id, n, round(100.0 * b / nullif(n, 0), 1) as before_pct,
                   round(100.0 * c / nullif(n, 0), 1) as after_pct
            from per order by source_id = '全市' desc, source_id
            """
        ).df()
        measure = "准确率"
    elif "quality.scorecards" in tables and {"grain", "conformance_before", "conformance_after"} <= _columns(
        con, "quality", "scorecards"
    ):
        df = con.execute(
            """
            with s as (
                select * from quality.scorecards where grain = 'source'
                and run_id = (select run_id from quality.scorecards order by run_at desc, run_id desc limit 1)
            )
            select source_id, values_total as n, round(100 * conformance_before, 1) as before_pct,
                   round(100 * conformance_after, 1) as after_pct from s
            union all
            select '全市', sum(values_total),
                   round(100 * sum(conformance_before * values_total) / nullif(sum(values_total), 0), 1),
                   round(100 * sum(conformance_after * values_total) / nullif(sum(values_total), 0), 1)
            from s
            order by source_id = '全市' desc, source_id
            """
        ).df()
        measure = "合格率"
    else:
        return pd.DataFrame(columns=["数据源", "标准化前（%）", "标准化后（%）"]), "准确率"
    failed = {}
    if "quality.check_results" in tables:
        for src, n in con.execute(
            """
            select source_id, count(distinct check_id) from quality.check_results
            where status = 'fail'
              and run_id = (select run_id from quality.check_results order by run_at desc, run_id desc limit 1)
            group by source_id
            """
        ).fetchall():
            failed["全市" if src == "ALL" else src] = n
    out = pd.DataFrame(
        {
            "数据源": df["source_id"],
            f"标准化前{measure}（%）": [MISSING if _missing(x) else float(x) for x in df["before_pct"]],
            f"标准化后{measure}（%）": [MISSING if _missing(x) else float(x) for x in df["after_pct"]],
            "本批次未通过检查数": [failed.get(s, 0) for s in df["source_id"]],
        }
    )
    return out, measure


def _completeness(con: duckdb.DuckDBPyConnection, tables: set[str]) -> pd.DataFrame:
    if "marts.period_completeness" not in tables:
        return pd.DataFrame(columns=["统计期", "状态", "尚缺数据源"])
    df = con.execute(
        "select period, is_complete, missing_detail_zh from marts.period_completeness order by period desc"
    ).df()
    return pd.DataFrame(
        {
            "统计期": df["period"],
            "状态": ["数据完整" if ok else "数据不完整" for ok in df["is_complete"]],
            "尚缺数据源": [MISSING if _missing(d) else d for d in df["missing_detail_zh"]],
        }
    )


def build_report(published: Path, period: str | None = None) -> Report:
    """Read everything the report shows from the published snapshot (read-only)."""
    published = Path(published)
    if period is not None and not PERIOD_RE.match(period):
        raise ReportError(f"period must look like YYYY-MM, got {period!r}")
    if not published.exists():
        raise ReportError(f"no published warehouse at {published}: run the pipeline first")
    con = duckdb.connect(str(published), read_only=True)
    try:
        tables = _tables(con)
        for needed in (
            "marts.indicator_values",
            "marts.indicator_registry",
            "reporting.referral_level_flows",
        ):
            if needed not in tables:
                raise ReportError(f"{published} has no {needed}")
        periods = available_periods(con)
        if not periods:
            raise ReportError(f"{published} holds no indicator values")
        statuses = period_statuses(con)
        if period is None:
            period = default_period(periods, statuses)
        elif period not in periods:
            raise ReportError(f"no indicator values for {period}; available: {', '.join(periods)}")
        level_flows, county_flows = _flows(con, period)
        quality, measure = _quality(con, tables)
        report = Report(
            period=period,
            status=status_of(period, statuses),
            headline=_headline(con, period),
            ranking=_ranking(con, period),
            level_flows=level_flows,
            county_flows=county_flows,
            return_reasons=_return_reasons(con, period),
            quality=quality,
            quality_measure=measure,
            completeness=_completeness(con, tables),
        )
    except IndicatorsError as exc:
        raise ReportError(str(exc)) from exc
    finally:
        con.close()
    report.notes = [
        f"统计期：{report.period}（{report.status.label_zh}）",
        "小单元格规则：人数少于5显示为“<5”；分子或分母少于5的比率显示为“（例数<5）”。",
        "指标口径见指标字典（marts.indicator_registry）；缺失值显示为“—”。",
    ]
    return report


def generate(published: Path, out_dir: Path, period: str | None = None, pdf: bool = True) -> dict[str, Path]:
    """Write the workbook (and the PDF) for ``period`` (default: the latest complete month). The
    workbook is checked for people counts below 5 before anything else is written."""
    report = build_report(published, period)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{TITLE}_{report.period}"
    files = {"xlsx": write_excel(report, out_dir / f"{stem}.xlsx")}
    bad = small_people_cells(files["xlsx"])
    if bad:
        files["xlsx"].unlink()
        raise ReportError(f"small cells would be disclosed: {bad[:5]}")
    if pdf:
        files["pdf"] = write_pdf(report, out_dir / f"{stem}.pdf", out_dir / f"{stem}.html")
        files["html"] = out_dir / f"{stem}.html"
    return files
