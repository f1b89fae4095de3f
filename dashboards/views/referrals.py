"""转诊流向: flows between levels and institutions, up vs down, alliances, returns, timeliness, closed loop."""

import altair as alt
import privacy
import streamlit as st
import ui
from queries import indicators
from queries import referrals as referrals_q

import data

ui.page_header(
    "转诊流向",
    "上转与下转的流向、医联体内外、退回原因、时效（请求→接收→到诊）、下转后 24 小时家庭医生联系与闭环。",
)

periods = referrals_q.referral_periods()
if not periods:
    st.info("暂无数据：已发布的快照中没有转诊数据（reporting.referral_summary）。")
    st.stop()
period = ui.period_filter(
    periods, key="rf_period", allow_all=True, default=indicators.default_indicator_period()
)
county = ui.county_filter("rf_county")
setting_names = data.labels()["setting"]
setting = st.sidebar.selectbox(
    "就诊类型", ["全部", *setting_names], format_func=lambda s: setting_names.get(s, s), key="rf_setting"
)
setting = None if setting == "全部" else setting
args = (period, county, setting)

summary = referrals_q.referral_summary(*args)
if ui.is_missing(summary, "转诊记录"):
    st.stop()
by_dir = summary.set_index("direction")


def _get(direction: str, col: str) -> float:
    return float(by_dir.loc[direction, col]) if direction in by_dir.index else 0.0


def _rate(num: float, den: float) -> str:
    return privacy.format_value(100.0 * num / den if den else None, "%", num, den)


def _hours(direction: str, col: str, n_col: str) -> str:
    if direction not in by_dir.index:
        return "—"
    if privacy.is_small(by_dir.loc[direction, n_col]):  # the median is withheld with its count
        return privacy.SUPPRESSED_RATE
    return privacy.format_value(by_dir.loc[direction, col], "小时", None, by_dir.loc[direction, n_col])


ui.definitions_expander(
    indicators.topic_indicators("referrals"), key="rf_defs", label="指标定义（转诊类指标口径）"
)
n_up, n_down = _get("up", "n"), _get("down", "n")
k = st.columns(4)
k[0].metric("上转人次", privacy.format_count(n_up))
k[1].metric("下转人次", privacy.format_count(n_down))
k[2].metric("上转退回率", _rate(_get("up", "n_returned"), n_up))
k[3].metric("上转医联体内占比", _rate(_get("up", "n_same_alliance"), n_up))
k = st.columns(4)
k[0].metric("下转后24小时家庭医生联系率", _rate(_get("down", "n_fd_24h"), n_down))
k[1].metric("下转闭环率", _rate(_get("down", "n_closed_loop"), n_down))
k[2].metric("上转请求→接收（中位数）", _hours("up", "median_hours_to_accept", "n_accept_timed"))
k[3].metric("上转请求→到诊（中位数）", _hours("up", "median_hours_to_arrival", "n_arrival_timed"))

ui.direction_section("county" if county else "region", county or "all", period, key="rf_dir")

level_names = data.labels()["level_codes"]
dir_names = data.labels()["direction"]

st.subheader("级别间流向")
flows = referrals_q.referral_level_flows(*args)
if not ui.is_missing(flows, "级别间流向"):
    flows = flows.assign(
        direction_name=flows["direction"].map(lambda d: dir_names.get(d, d)),
        from_level=flows["from_level_code"].map(lambda c: level_names.get(str(c), c)),
        to_level=flows["to_level_code"].map(lambda c: level_names.get(str(c), c)),
    )
    # One matrix for both directions: a (from level, to level) cell is either up or down.
    chart_df = ui.count_chart_frame(flows, "n")
    order = list(level_names.values())
    base = alt.Chart(chart_df).encode(
        x=alt.X("to_level:N", title="转入级别", sort=order, axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("from_level:N", title="转出级别", sort=order),
    )
    heat = base.mark_rect().encode(
        color=alt.Color("n:Q", title="人次", scale=alt.Scale(scheme="blues")),
        tooltip=[
            alt.Tooltip("direction_name:N", title="方向"),
            alt.Tooltip("from_level:N", title="转出"),
            alt.Tooltip("to_level:N", title="转入"),
            alt.Tooltip("label:N", title="人次"),
        ],
    )
    half = float(chart_df["n"].max() or 0) / 2
    text = base.mark_text(fontSize=15).encode(
        text="label:N", color=alt.condition(alt.datum.n > half, alt.value("white"), alt.value("black"))
    )
    st.altair_chart(alt.layer(heat, text).properties(width=420, height=240), width="content")
    ui.show_table(
        flows[["direction_name", "from_level", "to_level", "n"]],
        key="rf_levels",
        title="级别间流向",
        people_cols=["n"],
    )

st.subheader("机构间流向")
inst_flows = referrals_q.referral_institution_flows(*args)
if not ui.is_missing(inst_flows, "机构间流向"):
    inst_flows = inst_flows.assign(
        direction_name=inst_flows["direction"].map(lambda d: dir_names.get(d, d)),
        same_alliance_text=inst_flows["same_alliance"].map({True: "是", False: "否"}),
    )
    ui.show_table(
        inst_flows[["direction_name", "from_name", "to_name", "same_alliance_text", "n"]],
        key="rf_inst",
        title="机构间流向（人次最多的 500 条）",
        people_cols=["n"],
    )

st.subheader("医联体内与跨医联体")
alliance = summary.assign(
    direction_name=summary["direction"].map(lambda d: dir_names.get(d, d)),
    same_share=[_rate(s, n) for s, n in zip(summary["n_same_alliance"], summary["n"], strict=True)],
)[["direction_name", "n", "n_same_alliance", "n_cross_alliance", "same_share"]]

ui.show_table(
    alliance.rename(
        columns={
            "n_same_alliance": "n_in_alliance",
            "n_cross_alliance": "n_across_alliance",
            "same_share": "share_text",
        }
    ),
    key="rf_alliance",
    title="医联体内外转诊",
    people_cols=["n", "n_in_alliance", "n_across_alliance"],
)

monthly = referrals_q.referral_monthly(county, setting)
if not ui.is_missing(monthly, "按月转诊"):
    st.subheader("按月上转与下转")
    m = ui.count_chart_frame(monthly.assign(direction_name=monthly["direction"].map(dir_names)), "n")
    st.altair_chart(
        alt.Chart(m)
        .mark_bar()
        .encode(
            x=alt.X("period:O", title="统计期"),
            xOffset="direction_name:N",
            y=alt.Y("n:Q", title="人次"),
            color=alt.Color("direction_name:N", title=""),
            tooltip=["period", "direction_name", "label"],
        ),
        width="stretch",
    )

st.subheader("上转退回原因")
reasons = referrals_q.return_reasons(*args)
if not ui.is_missing(reasons, "退回记录"):
    rr = data.labels()["return_reasons"]
    reasons["return_reason_name"] = [
        name if isinstance(name, str) and name else rr.get(str(code), str(code))
        for code, name in zip(reasons["return_reason_code"], reasons["return_reason_name"], strict=True)
    ]
    total = _get("up", "n_returned")  # the filter's precomputed total, never a sum of (withheld) cells
    reasons["share_text"] = [_rate(n, total) for n in reasons["n"]]
    st.altair_chart(
        ui.bar(
            ui.count_chart_frame(reasons, "n"), "return_reason_name", "n", y_title="人次", horizontal=True
        ),
        width="stretch",
    )
    ui.show_table(
        reasons[["return_reason_code", "return_reason_name", "n", "share_text"]],
        key="rf_reasons",
        title="上转退回原因",
        people_cols=["n"],
    )

st.subheader("转诊时效分布")
bins = referrals_q.timeliness_bins(*args)
if not ui.is_missing(bins, "时效记录"):
    bins = bins.assign(direction_name=bins["direction"].map(lambda d: dir_names.get(d, d)))
    chart_df = ui.count_chart_frame(bins, "n")
    st.altair_chart(
        alt.Chart(chart_df)
        .mark_bar()
        .encode(
            x=alt.X("bin:N", title="时长", sort=alt.SortField("bin_order")),
            y=alt.Y("n:Q", title="人次"),
            color=alt.Color("stage:N", title=""),
            xOffset="stage:N",
            column=alt.Column("direction_name:N", title=""),
            tooltip=["direction_name", "stage", "bin", "label"],
        ),
        width="content",
    )
    ui.show_table(
        bins[["direction_name", "stage", "bin", "n"]], key="rf_time", title="转诊时效分布", people_cols=["n"]
    )

st.subheader("下转后家庭医生联系与闭环（按接收机构）")
fd = referrals_q.fd_contact_by_institution(*args)
if not ui.is_missing(fd, "下转记录"):
    fd["fd_24h_rate"] = [_rate(a, b) for a, b in zip(fd["n_fd_24h"], fd["n_down"], strict=True)]
    fd["closed_loop_rate"] = [_rate(a, b) for a, b in zip(fd["n_closed_loop"], fd["n_down"], strict=True)]
    ui.show_table(
        fd,
        key="rf_fd",
        title="下转后家庭医生联系与闭环",
        people_cols=["n_down", "n_fd_24h", "n_closed_loop"],
    )
