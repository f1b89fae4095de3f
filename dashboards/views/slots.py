"""号源下沉: the share of outpatient slots lead hospitals reserve for primary care, and their use."""

import privacy
import streamlit as st
import ui
from queries import indicators
from queries import slots as slots_q

import data

ui.page_header(
    "号源下沉", "牵头医院向基层预留门诊号源的比例（目标 ≥ 20%，提前两周开放）及预留号源的使用情况。"
)

periods = indicators.indicator_periods()
period = (
    ui.period_filter(periods, key="sl_period", default=indicators.default_indicator_period())
    if periods
    else None
)
topic = indicators.topic_indicators("slots")

st.subheader(f"全市 · {period or ''}")
if not ui.is_missing(topic, "号源指标") and period:
    ids = tuple(topic["indicator_id"])
    region = indicators.geo_options("region")
    region_id = "city" if isinstance(region, data.Missing) or region.empty else region["geo_id"].iloc[0]
    cards = indicators.indicator_cards("region", region_id, period, ids)
    if not ui.is_missing(cards, f"{period} 的号源指标"):
        ui.indicator_cards(cards, key="sl", per_row=3)
    per_inst = indicators.indicator_slice("institution", period)
    if not ui.is_missing(per_inst, "机构号源指标"):
        per_inst = per_inst[per_inst["indicator_id"].isin(ids)]
        if not ui.is_missing(per_inst, f"{period} 的机构号源指标"):
            ui.show_table(
                ui.indicator_table(per_inst),
                key="sl_inst",
                title=f"各医院号源下沉_{period}",
                people_cols=["numerator", "denominator"],
            )

st.subheader("各医院号源池")
pools = slots_q.slot_pools(period)
if not ui.is_missing(pools, "号源池（reporting.slot_pools_by_institution）"):
    pools["reserved_share"] = [
        f"{100.0 * r / t:.1f}%" if t else "—"
        for r, t in zip(pools["reserved_slots"], pools["total_slots"], strict=True)
    ]
    pools["reserved_use_rate"] = [
        privacy.format_value(100.0 * a / r if r else None, "%", a, r)
        for a, r in zip(pools["bookings_used"], pools["reserved_slots"], strict=True)
    ]
    st.caption(
        "使用率 = 基层预约人次（到诊或爽约，不含取消）/ 预留号源数。号源数是号位而非人数，按实际值显示；"
        "预约与到诊是人次，少于 5 显示为 `<5`。"
    )
    ui.show_table(
        pools,
        key="sl_pools",
        title=f"各医院号源池_{period}",
        people_cols=["bookings", "bookings_used", "bookings_attended"],
    )

st.subheader("预留号源预约情况")
for by, title in (("pool_institution_code", "按号源医院"), ("booking_institution_code", "按预约的基层机构")):
    bookings = slots_q.slot_bookings(period, by=by)
    if not ui.is_missing(bookings, "号源预约（reporting.slot_bookings_by_institution）"):
        bookings["attended_rate"] = [
            privacy.format_value(100.0 * a / n if n else None, "%", a, n)
            for a, n in zip(bookings["n_attended"], bookings["n_bookings"], strict=True)
        ]
        ui.show_table(
            bookings,
            key=f"sl_{by}",
            title=f"预留号源预约_{title}_{period}",
            people_cols=["n_bookings", "n_attended", "n_no_show", "n_cancelled"],
        )
