"""机构与区县: ranking per county / institution for an indicator, and drill-down with every indicator."""

import altair as alt
import pandas as pd
import privacy
import streamlit as st
import ui
from queries import indicators

import data

ui.page_header("机构与区县", "按指标对区县或机构排名，并下钻查看某区县内各机构、某机构历月的全部指标。")

periods = indicators.indicator_periods()
registry = indicators.indicator_registry()
if not periods or ui.is_missing(registry, "指标目录（marts.indicator_registry）"):
    st.stop()
period = ui.period_filter(periods, key="in_period", default=indicators.default_indicator_period())
level_names = data.labels()["geo_levels"]
rank_level = st.sidebar.selectbox(
    "排名对象", ["county", "institution"], format_func=lambda g: level_names[g], key="in_rank_level"
)
name_of = dict(zip(registry["indicator_id"], registry["name_zh"], strict=True))
indicator = st.sidebar.selectbox(
    "排名指标", list(registry["indicator_id"]), format_func=name_of.get, key="in_ind"
)
reg_row = registry.set_index("indicator_id").loc[indicator]
ui.definitions_expander(
    registry[registry["indicator_id"] == indicator], key="in_defs", label=f"指标定义：{reg_row['name_zh']}"
)


def _display(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(
        value_text=[
            privacy.format_value(v, u, n, d)
            for v, u, n, d in zip(df["value"], df["unit"], df["numerator"], df["denominator"], strict=True)
        ]
    )


st.subheader(f"{level_names[rank_level]}排名 · {reg_row['name_zh']} · {period}")
ranked = indicators.indicator_slice(rank_level, period)
if not ui.is_missing(ranked, "排名数据"):
    ranked = _display(ranked[ranked["indicator_id"] == indicator].copy())
    if ui.is_missing(ranked, f"{reg_row['name_zh']}在{level_names[rank_level]}层级的数据"):
        pass
    else:
        shown = [
            privacy.value_is_shown(v, u, n, d)
            for v, u, n, d in zip(
                ranked["value"], ranked["unit"], ranked["numerator"], ranked["denominator"], strict=True
            )
        ]
        ranked["shown"] = shown
        ascending = reg_row["direction"] == "lower_better"
        ranked = pd.concat(
            [ranked[ranked["shown"]].sort_values("value", ascending=ascending), ranked[~ranked["shown"]]]
        ).reset_index(drop=True)
        ranked["rank"] = [str(i + 1) if s else "—" for i, s in enumerate(ranked["shown"])]
        ranked["target_met"] = [
            ("是" if ui.target_met(v, reg_row["target"], reg_row["direction"]) else "否")
            if s and pd.notna(reg_row["target"])
            else "—"
            for v, s in zip(ranked["value"], ranked["shown"], strict=True)
        ]
        chart_df = ranked[ranked["shown"]]
        if not chart_df.empty:
            bars = ui.bar(chart_df, "geo_name", "value", y_title=f"{reg_row['name_zh']}（{reg_row['unit']}）",
                          horizontal=True, sort=None)  # fmt: skip
            if pd.notna(reg_row["target"]):
                rule = (
                    alt.Chart(pd.DataFrame({"target": [reg_row["target"]]}))
                    .mark_rule(color="#d62728", strokeDash=[6, 4])
                    .encode(x="target:Q")
                )
                bars = alt.layer(bars, rule)
            st.altair_chart(bars, width="stretch")
        ui.show_table(
            ranked[["rank", "geo_name", "value_text", "numerator", "denominator", "target_met"]],
            key="in_rank",
            title=f"{level_names[rank_level]}排名_{reg_row['name_zh']}_{period}",
            people_cols=["numerator", "denominator"],
        )

inst = indicators.institutions()
if ui.is_missing(inst, "机构目录（marts.dim_institutions）"):
    st.stop()

st.subheader("区县下钻：区县内各机构的全部指标")
counties = inst[["county_code", "county_name"]].drop_duplicates()
county_name = dict(zip(counties["county_code"], counties["county_name"], strict=True))
county = st.selectbox("区县", list(counties["county_code"]), format_func=county_name.get, key="in_county")
codes = tuple(inst.loc[inst["county_code"] == county, "institution_code"])
county_rows = indicators.indicator_slice("county", period, (county,))
inst_rows = indicators.indicator_slice("institution", period, codes)
frames = [f for f in (county_rows, inst_rows) if isinstance(f, pd.DataFrame) and not f.empty]
if not frames:
    st.info(f"暂无数据：{county_name[county]}在 {period} 没有指标记录。")
else:
    both = _display(pd.concat(frames))
    both["geo_name"] = [
        f"{n}（区县合计）" if g == county else n
        for g, n in zip(both["geo_id"], both["geo_name"], strict=True)
    ]
    pivot = both.pivot_table(
        index="geo_name", columns="name_zh", values="value_text", aggfunc="first", sort=False
    )
    pivot = pivot.reindex(columns=[n for n in registry["name_zh"] if n in pivot.columns]).fillna("—")
    pivot.columns.name = None
    ui.show_table(
        pivot.reset_index(), key="in_drill_county", title=f"区县下钻_{county_name[county]}_{period}"
    )

st.subheader("机构下钻：历月全部指标")
inst_in_county = inst[inst["county_code"] == county]
inst_name = dict(zip(inst_in_county["institution_code"], inst_in_county["institution_name"], strict=True))
code = st.selectbox(
    "机构", list(inst_in_county["institution_code"]), format_func=inst_name.get, key="in_inst"
)
info = inst_in_county.set_index("institution_code").loc[code]
st.caption(f"{info['county_name']} · {info['level_name']} · {info.get('alliance_name') or '未加入医联体'}")
hist = indicators.indicator_slice("institution", None, (code,))
if not ui.is_missing(hist, f"{inst_name[code]}的指标记录"):
    hist = _display(hist)
    pivot = hist.pivot_table(
        index="name_zh", columns="period", values="value_text", aggfunc="first", sort=False
    )
    pivot = pivot.reindex(columns=sorted(pivot.columns)).fillna("—")
    pivot.columns.name = None
    ui.show_table(pivot.reset_index(), key="in_drill_inst", title=f"机构下钻_{inst_name[code]}")
