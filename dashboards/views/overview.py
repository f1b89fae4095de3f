"""总览: indicator cards against targets with month-on-month change, filtered by period and scope."""

import functools

import altair as alt
import pandas as pd
import privacy
import streamlit as st
import ui
from queries import indicators
from queries import overview as overview_q

ui.page_header("总览", "各项分级诊疗指标与目标值对比，环比为与上月相比。人数少于 5 的单元格显示为 `<5`。")

periods = indicators.indicator_periods()
if not periods:
    st.info("暂无数据：已发布的快照中没有指标数据（marts.indicator_values）。")
    st.stop()
period = ui.period_filter(periods, key="ov_period", default=indicators.default_indicator_period())
level, geo_id, geo_name = ui.geo_filter("ov")

st.subheader(f"{geo_name} · {period}")
with st.container(border=True):
    st.markdown(
        f"**月度分级诊疗运行报告（{period}）**：核心指标与目标、上月、上年同月对比，区县排名，转诊流向，退回原因，数据质量，数据完整性；人数少于 5 的单元格已隐藏。"
    )
    c1, c2, _ = st.columns([1, 1, 3])
    c1.download_button(
        "下载月度报告（Excel）",
        functools.partial(overview_q.monthly_report_files, period),
        file_name=f"月度分级诊疗运行报告_{period}.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key="ov_report_xlsx",
        on_click="ignore",
    )
    if overview_q.report_pdf_available():
        c2.download_button(
            "下载月度报告（PDF）",
            functools.partial(overview_q.monthly_report_files, period, pdf=True),
            file_name=f"月度分级诊疗运行报告_{period}.pdf",
            mime="application/pdf",
            key="ov_report_pdf",
            on_click="ignore",
        )
cards = indicators.indicator_cards(level, geo_id, period)
if not ui.is_missing(cards, f"{geo_name} 在 {period} 的指标"):
    ui.indicator_cards(cards, key="ov")

    ui.direction_section(level, geo_id, period, key="ov_dir")

    st.subheader("指标趋势")
    name_of = dict(zip(cards["indicator_id"], cards["name_zh"], strict=True))
    ind = st.selectbox("指标", list(cards["indicator_id"]), format_func=name_of.get, key="ov_trend")
    row = cards.set_index("indicator_id").loc[ind]
    series = overview_q.indicator_series(ind, level, (geo_id,))
    if not ui.is_missing(series, "趋势数据"):
        series = series.assign(
            shown=[
                privacy.value_is_shown(v, row["unit"], n, d)
                for v, n, d in zip(series["value"], series["numerator"], series["denominator"], strict=True)
            ]
        )
        series["value"] = series["value"].where(series["shown"])
        line = (
            alt.Chart(series)
            .mark_line(point=True)
            .encode(
                x=alt.X("period:O", title="统计期"),
                y=alt.Y("value:Q", title=f"{row['name_zh']}（{row['unit']}）"),
                tooltip=["period", "value"],
            )
        )
        layers = [line]
        if pd.notna(row["target"]):
            layers.append(
                alt.Chart(series.head(1).assign(target=row["target"]))
                .mark_rule(strokeDash=[6, 4], color="#d62728")
                .encode(y="target:Q")
            )
        st.altair_chart(alt.layer(*layers), width="stretch")

    st.subheader("指标明细")
    table = cards.assign(geo_name=geo_name)
    detail = ui.indicator_table(table)
    detail["prev_value_text"] = [
        privacy.format_value(v, u, n, d) if pd.notna(p) else "—"
        for v, u, n, d, p in zip(
            cards["prev_value"], cards["unit"], cards["prev_numerator"], cards["prev_denominator"],
            cards["prev_period"], strict=True,
        )
    ]  # fmt: skip
    detail["mom_text"] = [ui.mom_delta(r) or "—" for _, r in cards.iterrows()]
    ui.show_table(
        detail,
        key="ov_table",
        title=f"指标明细_{geo_name}_{period}",
        people_cols=["numerator", "denominator"],
    )
