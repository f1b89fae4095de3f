"""慢病管理: hypertension and diabetes management indicators; 该转未转 cases by institution."""

import pandas as pd
import streamlit as st
import ui
from queries import chronic as chronic_q
from queries import indicators

import data

ui.page_header("慢病管理", "高血压、糖尿病规范管理等指标，以及符合上转指征但未转诊（该转未转）的病例。")

periods = indicators.indicator_periods()
topic = indicators.topic_indicators("chronic")
period = (
    ui.period_filter(periods, key="ch_period", default=indicators.default_indicator_period())
    if periods
    else None
)
level, geo_id, geo_name = ui.geo_filter("ch", levels=["region", "county", "alliance"])

st.subheader(f"慢病管理指标 · {geo_name} · {period or ''}")
if not ui.is_missing(topic, "慢病指标"):
    cards = (
        indicators.indicator_cards(level, geo_id, period, tuple(topic["indicator_id"]))
        if period
        else topic.iloc[0:0]
    )
    if not ui.is_missing(cards, f"{geo_name} 在 {period} 的慢病指标"):
        ui.indicator_cards(cards, key="ch", per_row=3)
    by_county = indicators.indicator_slice("county", period) if period else None
    if isinstance(by_county, pd.DataFrame) and not by_county.empty:
        by_county = by_county[by_county["indicator_id"].isin(topic["indicator_id"])]
        ui.show_table(
            ui.indicator_table(by_county),
            key="ch_county",
            title=f"各区县慢病管理指标_{period}",
            people_cols=["numerator", "denominator"],
        )

st.subheader("该转未转病例")
u_periods = chronic_q.undertreated_periods()
cond = data.labels()["conditions"]
u_period = period if period in u_periods else (u_periods[0] if u_periods else None)
county = ui.county_filter("ch_county_filter")
by_inst = chronic_q.undertreated_by_institution(u_period, county)
if not ui.is_missing(by_inst, "该转未转病例（reporting.undertreated_by_institution）"):
    st.caption(
        f"统计期 {u_period}：基层就诊记录符合上转指征（如血压≥180/110 mmHg），但其后没有上转记录的就诊人次（口径见 docs/indicators.md）。"
    )
    ui.show_table(
        by_inst,
        key="ch_under_inst",
        title=f"该转未转_按机构_{u_period}",
        people_cols=["n_cases", "n_hypertension", "n_diabetes"],
    )
    by_crit = chronic_q.undertreated_by_criterion(u_period, county)
    if not ui.is_missing(by_crit, "该转未转指征"):
        by_crit.insert(0, "condition_name", by_crit["condition"].map(lambda c: cond.get(c, c)))
        ui.show_table(
            by_crit.drop(columns=["condition"]),
            key="ch_under_crit",
            title=f"该转未转_按指征_{u_period}",
            people_cols=["n_cases"],
        )
