"""月度分级诊疗运行报告: the monthly report commission staff send upward.

``referral-warehouse report --period YYYY-MM`` reads the published snapshot (read-only) and writes

- ``<out>/月度分级诊疗运行报告_<period>.xlsx``: an Excel workbook (xlsxwriter) with native charts;
- ``<out>/月度分级诊疗运行报告_<period>.pdf``: a printable PDF, rendered from an HTML page (inline SVG
  charts, the system's Noto CJK font) by headless Chromium's print-to-PDF (no network, no new Python
  package; Chromium is what the browser test uses, ``scripts/ensure-chromium.sh``).

Sections: headline indicators against target, last month and the same month last year; county
ranking; referral flows (level to level, county to county); up-referral return reasons; data-quality
summary; the sources whose data for the month is incomplete.

Small cells: the dashboards' rule (docs/dashboards.md "Privacy"): a count of people below 5 is
written as ``<5``; a rate is withheld (``（例数<5）``) when its numerator or denominator is below 5; a
median/P90 when it rests on fewer than 5 observations; an average when its denominator is below 5.
Charts draw only values that are shown. No number below 5 that counts people reaches the files.
"""

from __future__ import annotations

import html
import math
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from pipelines.publish.indicators import (
    PERIOD_RE,
    IndicatorsError,
    PeriodStatus,
    available_periods,
    default_period,
    period_statuses,
    status_of,
)

TITLE = "月度分级诊疗运行报告"
SMALL_CELL = 5
SMALL_LABEL = "<5"
SUPPRESSED = "（例数<5）"
MISSING = "—"
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


# --------------------------------------------------------------------------- data


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
    levels = con.execute(
        """
        select direction, from_level_code, to_level_code, count(*) as n
        from marts.fct_referrals where period = ? group by all order by all
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
            "人次": [count_cell(n) for n in levels["n"]],
        }
    )
    counties = con.execute(
        """
        select r.direction, coalesce(f.county_name, r.from_county_code) as from_county,
               coalesce(t.county_name, r.to_county_code) as to_county, count(*) as n
        from marts.fct_referrals r
        left join (select distinct county_code, county_name from marts.dim_institutions) f
            on f.county_code = r.from_county_code
        left join (select distinct county_code, county_name from marts.dim_institutions) t
            on t.county_code = r.to_county_code
        where r.period = ? group by all order by n desc, 1, 2, 3
        """,
        [period],
    ).df()
    county_flows = pd.DataFrame(
        {
            "方向": counties["direction"].map(lambda d: DIRECTION_NAMES.get(d, d)),
            "转出区县": counties["from_county"].fillna(MISSING),
            "转入区县": counties["to_county"].fillna(MISSING),
            "人次": [count_cell(n) for n in counties["n"]],
        }
    )
    return level_flows, county_flows


def _return_reasons(con: duckdb.DuckDBPyConnection, period: str) -> pd.DataFrame:
    df = con.execute(
        """
        select coalesce(return_reason_name, '未注明') as reason, count(*) as n
        from marts.fct_referrals
        where period = ? and direction = 'up' and final_status = 'returned'
        group by all order by n desc, reason
        """,
        [period],
    ).df()
    total = float(df["n"].sum()) if not df.empty else 0.0
    return pd.DataFrame(
        {
            "退回原因": df["reason"],
            "退回人次": [count_cell(n) for n in df["n"]],
            "占比（%）": [
                SUPPRESSED if is_small(n) or is_small(total) else round(100.0 * n / total, 1) for n in df["n"]
            ],
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
        for needed in ("marts.indicator_values", "marts.indicator_registry", "marts.fct_referrals"):
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


# --------------------------------------------------------------------------- Excel


def _sheet_table(ws, df: pd.DataFrame, row: int, fmt_head, fmt_text, fmt_num) -> int:
    for c, name in enumerate(df.columns):
        ws.write(row, c, name, fmt_head)
        width = max([len(str(name))] + [len(str(v)) for v in df[name].head(200)]) * 1.6 + 2
        ws.set_column(c, c, min(max(width, 8), 60))
    for r, values in enumerate(df.itertuples(index=False), start=row + 1):
        for c, v in enumerate(values):
            if isinstance(v, (int, float)) and not _missing(v):
                ws.write_number(r, c, float(v), fmt_num)
            else:
                ws.write_string(r, c, MISSING if _missing(v) else str(v), fmt_text)
    return row + len(df) + 1


def write_excel(report: Report, path: Path) -> Path:
    import xlsxwriter

    path = Path(path)
    wb = xlsxwriter.Workbook(str(path))
    try:
        title = wb.add_format({"bold": True, "font_size": 16})
        head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
        text = wb.add_format({"border": 1})
        num = wb.add_format({"border": 1, "num_format": "#,##0.0##"})
        warn = wb.add_format({"bold": True, "font_color": "#C00000"})

        ws = wb.add_worksheet("核心指标")
        ws.write(0, 0, f"{TITLE}（{report.period}）", title)
        ws.write(1, 0, report.status.label_zh, warn if not report.status.is_complete else None)
        for i, note in enumerate(report.notes[1:], start=2):
            ws.write(i, 0, note)
        end = _sheet_table(ws, report.headline, 5, head, text, num)
        _rate_chart(wb, ws, report.headline, first_row=6, last_row=end - 1, anchor=f"K{6}")

        ws = wb.add_worksheet("区县排名")
        ws.write(0, 0, f"区县排名（{report.period}，按基层诊疗量占比）", title)
        end = _sheet_table(ws, report.ranking, 2, head, text, num)
        if len(report.ranking) and len(report.ranking.columns) > 2:
            chart = wb.add_chart({"type": "bar"})
            chart.add_series(
                {
                    "name": ["区县排名", 2, 2],
                    "categories": ["区县排名", 3, 1, end - 1, 1],
                    "values": ["区县排名", 3, 2, end - 1, 2],
                }
            )
            chart.set_title({"name": "各区县基层诊疗量占比（%）"})
            chart.set_legend({"none": True})
            ws.insert_chart(end + 1, 0, chart)

        ws = wb.add_worksheet("转诊流向")
        ws.write(0, 0, f"转诊流向（{report.period}）", title)
        end = _sheet_table(ws, report.level_flows, 2, head, text, num)
        if len(report.level_flows):
            chart = wb.add_chart({"type": "column"})
            chart.add_series(
                {
                    "name": "人次",
                    "categories": ["转诊流向", 3, 0, end - 1, 2],
                    "values": ["转诊流向", 3, 3, end - 1, 3],
                }
            )
            chart.set_title({"name": "级别间转诊人次（<5 不绘制）"})
            chart.set_legend({"none": True})
            ws.insert_chart(2, 6, chart)
        _sheet_table(ws, report.county_flows, end + 2, head, text, num)

        ws = wb.add_worksheet("退回原因")
        ws.write(0, 0, f"上转退回原因（{report.period}）", title)
        end = _sheet_table(ws, report.return_reasons, 2, head, text, num)
        if len(report.return_reasons):
            chart = wb.add_chart({"type": "pie"})
            chart.add_series(
                {
                    "name": "退回人次",
                    "categories": ["退回原因", 3, 0, end - 1, 0],
                    "values": ["退回原因", 3, 1, end - 1, 1],
                }
            )
            chart.set_title({"name": "上转退回原因构成（<5 不绘制）"})
            ws.insert_chart(2, 5, chart)

        ws = wb.add_worksheet("数据质量")
        ws.write(0, 0, f"数据质量：标准化前后{report.quality_measure}", title)
        end = _sheet_table(ws, report.quality, 2, head, text, num)
        if len(report.quality):
            chart = wb.add_chart({"type": "column"})
            for col in (1, 2):
                chart.add_series(
                    {
                        "name": ["数据质量", 2, col],
                        "categories": ["数据质量", 3, 0, end - 1, 0],
                        "values": ["数据质量", 3, col, end - 1, col],
                    }
                )
            chart.set_title({"name": f"标准化前 → 后{report.quality_measure}（%）"})
            chart.set_y_axis({"min": 0, "max": 100})
            ws.insert_chart(2, 6, chart)

        ws = wb.add_worksheet("数据完整性")
        ws.write(0, 0, "数据完整性：各数据源报送是否覆盖至月末", title)
        _sheet_table(ws, report.completeness, 2, head, text, num)
    finally:
        wb.close()
    return path


def _rate_chart(wb, ws, headline: pd.DataFrame, first_row: int, last_row: int, anchor: str) -> None:
    """Headline rates (%) this month vs last month, a clustered bar chart of the shown values."""
    if headline.empty:
        return
    chart = wb.add_chart({"type": "bar"})
    for col, name in ((2, "本月"), (5, "上月")):
        chart.add_series(
            {
                "name": name,
                "categories": ["核心指标", first_row, 0, last_row, 0],
                "values": ["核心指标", first_row, col, last_row, col],
            }
        )
    chart.set_title({"name": "核心指标 本月与上月（仅显示可公布的数值）"})
    chart.set_size({"width": 720, "height": 900})
    ws.insert_chart(anchor, chart)


# --------------------------------------------------------------------------- PDF (HTML -> Chromium)


def _html_table(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='{'num' if isinstance(v, (int, float)) else ''}'>"
            f"{html.escape(MISSING if _missing(v) else (f'{v:,.1f}' if isinstance(v, float) else str(v)))}</td>"
            for v in row
        )
        + "</tr>"
        for row in df.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _svg_bars(labels: list[str], values: list[object], unit: str = "", width: int = 640) -> str:
    """A horizontal bar chart as inline SVG; values that are not numbers (suppressed) draw no bar."""
    shown = [(lab, _num(v)) for lab, v in zip(labels, values, strict=True)]
    top = max([v for _, v in shown if v is not None] + [1.0])
    row_h, label_w = 22, 190
    height = row_h * len(shown) + 10
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}'>"]
    for i, (lab, v) in enumerate(shown):
        y = 5 + i * row_h
        parts.append(
            f"<text x='{label_w - 6}' y='{y + 15}' text-anchor='end' font-size='12'>{html.escape(lab)}</text>"
        )
        if v is None:
            parts.append(f"<text x='{label_w + 4}' y='{y + 15}' font-size='12' fill='#777'>不公布</text>")
            continue
        w = max(1.0, (width - label_w - 80) * v / top)
        parts.append(f"<rect x='{label_w}' y='{y + 3}' width='{w:.1f}' height='{row_h - 8}' fill='#2F6EBA'/>")
        parts.append(f"<text x='{label_w + w + 4}' y='{y + 15}' font-size='12'>{v:,.1f}{unit}</text>")
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: Report) -> str:
    partial = (
        "" if report.status.is_complete else f"<p class='warn'>{html.escape(report.status.label_zh)}</p>"
    )
    rates = report.headline[report.headline["单位"] == "%"]
    rank_col = next((c for c in report.ranking.columns if c.startswith("基层诊疗量占比")), None)
    sections = [
        f"<h1>{TITLE}</h1><p class='sub'>统计期：{report.period} · {html.escape(report.status.label_zh)}</p>",
        partial,
        "<h2>一、核心指标（与目标、上月、上年同月对比）</h2>",
        _html_table(report.headline),
        "<h3>主要比率指标（%）</h3>",
        _svg_bars(list(rates["指标"]), list(rates["本月"]), "%"),
        "<h2>二、区县排名</h2>",
        _html_table(report.ranking),
    ]
    if rank_col:
        sections.append(_svg_bars(list(report.ranking["区县"]), list(report.ranking[rank_col]), "%"))
    sections += [
        "<h2>三、转诊流向</h2>",
        _html_table(report.level_flows),
        _html_table(report.county_flows),
        "<h2>四、上转退回原因</h2>",
        _html_table(report.return_reasons),
        f"<h2>五、数据质量（标准化前后{report.quality_measure}）</h2>",
        _html_table(report.quality),
        "<h2>六、数据完整性（未报送至月末的数据源）</h2>",
        _html_table(report.completeness),
        "<p class='note'>" + "<br/>".join(html.escape(n) for n in report.notes) + "</p>",
    ]
    style = """
      @page { size: A4; margin: 14mm 12mm; }
      body { font-family: 'Noto Sans CJK SC', 'Noto Serif CJK SC', sans-serif; font-size: 10.5pt; color: #222; }
      h1 { font-size: 20pt; margin: 0 0 4pt 0; } h2 { font-size: 13pt; border-bottom: 2px solid #2F6EBA;
      padding-bottom: 2pt; margin-top: 14pt; } h3 { font-size: 11pt; }
      .sub { color: #555; margin: 0 0 8pt 0; } .warn { color: #C00000; font-weight: bold; }
      table { border-collapse: collapse; width: 100%; margin: 4pt 0 8pt 0; page-break-inside: auto; }
      th, td { border: 1px solid #999; padding: 2pt 4pt; } th { background: #DDEBF7; }
      th, td:nth-child(2) { white-space: nowrap; } td.num { text-align: right; white-space: nowrap; } tr { page-break-inside: avoid; } .note { color: #555; font-size: 9pt; }
    """
    return (
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>"
        f"<title>{TITLE} {report.period}</title><style>{style}</style></head><body>"
        + "".join(sections)
        + "</body></html>"
    )


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _chromium(args: list[str], timeout: int = 120) -> None:
    binary = chromium_binary()
    if binary is None:
        raise ReportError("headless Chromium not found: run scripts/ensure-chromium.sh (Debian chromium)")
    with tempfile.TemporaryDirectory(prefix="rw-report-") as profile:
        proc = subprocess.run(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", "--disable-background-networking", f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )  # fmt: skip
    if proc.returncode != 0:
        raise ReportError(f"chromium failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")


def write_pdf(report: Report, path: Path, html_path: Path | None = None) -> Path:
    path = Path(path)
    html_path = Path(html_path or path.with_suffix(".html"))
    html_path.write_text(render_html(report), encoding="utf-8")
    _chromium(["--no-pdf-header-footer", f"--print-to-pdf={path}", html_path.resolve().as_uri()])
    if not path.exists() or path.stat().st_size == 0:
        raise ReportError(f"chromium wrote no PDF at {path}")
    return path


def screenshot_first_page(html_path: Path, png: Path) -> Path:
    """A PNG of the report's first page (A4 at 96 dpi: 794 x 1123 px)."""
    _chromium(
        [
            "--hide-scrollbars",
            "--window-size=794,1123",
            f"--screenshot={png}",
            Path(html_path).resolve().as_uri(),
        ]
    )
    return png


def small_people_cells(xlsx: Path) -> list[tuple[str, str, object]]:
    """Cells of a written workbook that count people and hold a number below 5 (must be empty):
    the 核心指标 rows in 人次 (本月, 上月, 上年同月) and every column headed ...人次."""
    import openpyxl

    bad = []
    wb = openpyxl.load_workbook(xlsx, read_only=True)
    try:
        for ws in wb.worksheets:
            header: tuple | None = None
            for row in ws.iter_rows(values_only=True):
                if header is None or not any(row):
                    if any(isinstance(c, str) and ("人次" in c or c == "本月") for c in row):
                        header = row
                    continue
                for name, v in zip(header, row, strict=False):
                    people = isinstance(name, str) and (
                        "人次" in name
                        or (
                            ws.title == "核心指标"
                            and row[1] == "人次"
                            and name in ("本月", "上月", "上年同月")
                        )
                    )
                    if people and isinstance(v, (int, float)) and v < SMALL_CELL:
                        bad.append((ws.title, name, v))
    finally:
        wb.close()
    return bad


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
