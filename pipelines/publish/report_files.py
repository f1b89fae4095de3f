"""The monthly report's files: the Excel workbook (xlsxwriter, native charts) and the PDF (an HTML
page with inline SVG charts printed by headless Chromium), and the check that no people count below
the small-cell threshold reaches a workbook. The data: report.py."""

from __future__ import annotations

import html
import shutil
import subprocess
import tempfile
from pathlib import Path

import pandas as pd

from pipelines.publish.report_model import MISSING, SMALL_CELL, TITLE, Report, ReportError, _missing, _num

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
            _column_chart(wb, ws, "区县排名", end, at=(end + 1, 0))

        ws = wb.add_worksheet("转诊流向")
        ws.write(0, 0, f"转诊流向（{report.period}）", title)
        end = _sheet_table(ws, report.level_flows, 2, head, text, num)
        if len(report.level_flows):
            _column_chart(wb, ws, "转诊流向", end)
        _sheet_table(ws, report.county_flows, end + 2, head, text, num)

        ws = wb.add_worksheet("退回原因")
        ws.write(0, 0, f"上转退回原因（{report.period}）", title)
        end = _sheet_table(ws, report.return_reasons, 2, head, text, num)
        if len(report.return_reasons):
            _column_chart(wb, ws, "退回原因", end)

        ws = wb.add_worksheet("数据质量")
        ws.write(0, 0, f"数据质量：标准化前后{report.quality_measure}", title)
        end = _sheet_table(ws, report.quality, 2, head, text, num)
        if len(report.quality):
            chart = _column_chart(
                wb, ws, "数据质量", end, title=f"标准化前 → 后{report.quality_measure}（%）"
            )
            chart.set_y_axis({"min": 0, "max": 100})

        ws = wb.add_worksheet("数据完整性")
        ws.write(0, 0, "数据完整性：各数据源报送是否覆盖至月末", title)
        _sheet_table(ws, report.completeness, 2, head, text, num)
    finally:
        wb.close()
    return path


# The native chart of each sheet's table (the table written from row 3 to ``end - 1``): its kind, the
# category columns (first, last), one series per value column ({column: name, a text or a header
# cell}), the title, the cell it is inserted at, and whether it has a legend.
_CHARTS = {
    "区县排名": dict(kind="bar", categories=(1, 1), series={2: ["区县排名", 2, 2]},
                 title="各区县基层诊疗量占比（%）", at=None, legend=False),
    "转诊流向": dict(kind="column", categories=(0, 2), series={3: "人次"},
                 title="级别间转诊人次（<5 不绘制）", at=(2, 6), legend=False),
    "退回原因": dict(kind="pie", categories=(0, 0), series={1: "退回人次"},
                 title="上转退回原因构成（<5 不绘制）", at=(2, 5), legend=True),
    "数据质量": dict(kind="column", categories=(0, 0), series={c: ["数据质量", 2, c] for c in (1, 2)},
                 title="", at=(2, 6), legend=True),
}  # fmt: skip


def _column_chart(wb, ws, sheet: str, end: int, at: tuple[int, int] | None = None, title: str | None = None):
    """Insert the chart ``_CHARTS[sheet]`` of the table on ``sheet`` ending at row ``end``."""
    spec = _CHARTS[sheet]
    chart = wb.add_chart({"type": spec["kind"]})
    first, last = spec["categories"]
    for col, name in spec["series"].items():
        chart.add_series(
            {
                "name": name,
                "categories": [sheet, 3, first, end - 1, last],
                "values": [sheet, 3, col, end - 1, col],
            }
        )
    chart.set_title({"name": title or spec["title"]})
    if not spec["legend"]:
        chart.set_legend({"none": True})
    ws.insert_chart(*(at or spec["at"]), chart)
    return chart


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
