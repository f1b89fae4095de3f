"""数据质量: scorecards before vs after standardization, check history with deltas, quarantine, unmapped terms."""

import altair as alt
import auth
import diagnosis_review
import pandas as pd
import privacy
import streamlit as st
import ui
from queries import quality as quality_q

import data

auth.require("quality", "数据质量")  # also enforced by the navigation (app.py)

ui.page_header(
    "数据质量",
    "按数据源与数据元的质量评分（标准化前后对比）、检查历史与变化、隔离区（已脱敏）和未映射术语工作清单。"
    "本页的行数描述记录而非人数，按实际值显示；原始值中的身份证号、电话号码一律遮蔽。",
)
L = data.labels()

# 1. the headline: accuracy (or conformance) before -> after standardization, region-wide and per source
head = quality_q.accuracy_headline()
if not ui.is_missing(head, "标准化前后准确率（ingest.accuracy_by_field / quality.scorecards）"):
    measure = "准确率" if head["measure"].iloc[0] == "accuracy" else "合格率"
    st.subheader(f"标准化前 → 后{measure}")
    st.caption(
        "准确率：与样例数据真值逐字段比对（standardize accuracy）。"
        if measure == "准确率"
        else "合格率：数据元取值符合数据元标准的比例（质量评分卡，按数据源）。"
    )
    region = head[head["source_id"] == "ALL"]
    per_source = head[head["source_id"] != "ALL"]
    cols = st.columns(min(len(head), 6))
    for col, (_, r) in zip(cols, pd.concat([region, per_source]).iterrows(), strict=False):
        before = "—" if pd.isna(r["before_pct"]) else f"{r['before_pct']:.1f}%"
        after = "—" if pd.isna(r["after_pct"]) else f"{r['after_pct']:.1f}%"
        delta = None
        if pd.notna(r["before_pct"]) and pd.notna(r["after_pct"]):
            delta = f"{r['after_pct'] - r['before_pct']:+.1f} 个百分点"
        col.metric("全市" if r["source_id"] == "ALL" else r["source_id"], f"{before} → {after}", delta=delta)
    if not per_source.empty:
        long = per_source.melt(
            id_vars=["source_id"], value_vars=["before_pct", "after_pct"], var_name="stage", value_name="pct"
        )
        long["stage"] = long["stage"].map({"before_pct": "标准化前", "after_pct": "标准化后"})
        st.altair_chart(
            alt.Chart(long)
            .mark_bar()
            .encode(
                x=alt.X("source_id:N", title="数据源"),
                y=alt.Y("pct:Q", title=f"{measure}（%）", scale=alt.Scale(domain=[0, 100])),
                color=alt.Color("stage:N", title="", sort=["标准化前", "标准化后"]),
                xOffset=alt.XOffset("stage:N", sort=["标准化前", "标准化后"]),
                tooltip=["source_id", "stage", "pct"],
            ),
            width="stretch",
        )

# 2. Kahn category x source heat map (latest run)
heat = quality_q.kahn_heatmap()
if not ui.is_missing(heat, "检查结果（quality.check_results）"):
    st.subheader("质量维度 × 数据源（本批次检查通过率）")
    heat = heat.assign(category_zh=heat["category"].map(lambda v: data.label("check_category", v)))
    base = alt.Chart(heat).encode(
        x=alt.X("source_id:N", title="数据源"),
        y=alt.Y("category_zh:N", title="质量维度（Kahn）"),
    )
    st.altair_chart(
        base.mark_rect().encode(
            color=alt.Color("pass_pct:Q", title="通过率（%）", scale=alt.Scale(scheme="redyellowgreen")),
            tooltip=["category_zh", "source_id", "pass_pct", "checks_failed", "checks_evaluated"],
        )
        + base.mark_text(fontSize=12).encode(text=alt.Text("pass_pct:Q", format=".1f")),
        width="stretch",
    )

# 3. the detail
tab_score, tab_hist, tab_quar, tab_unmapped = st.tabs(["质量评分卡", "检查历史", "隔离区", "未映射术语"])

with tab_score:
    grains = data.labels()["scorecard_grain"]
    grain = st.radio("评分维度", list(grains), format_func=grains.get, horizontal=True, key="dq_grain")
    cards = quality_q.scorecards(grain)
    if not ui.is_missing(cards, "质量评分卡（quality.scorecards）"):
        cards = cards.dropna(axis="columns", how="all")
        if {"valid_before_pct", "valid_after_pct"} <= set(cards.columns):
            ids = [c for c in ("source_id", "institution_code", "element") if c in cards.columns]
            long = cards.assign(item=cards[ids].astype(str).agg(" · ".join, axis=1)).melt(
                id_vars=["item"],
                value_vars=["valid_before_pct", "valid_after_pct"],
                var_name="stage",
                value_name="pct",
            )
            long["stage"] = long["stage"].map({"valid_before_pct": "标准化前", "valid_after_pct": "标准化后"})
            st.altair_chart(
                alt.Chart(long)
                .mark_bar()
                .encode(
                    y=alt.Y("item:N", title="", sort=None, axis=alt.Axis(labelLimit=260)),
                    x=alt.X("pct:Q", title="合格率（%）", scale=alt.Scale(domain=[0, 100])),
                    color=alt.Color("stage:N", title="", sort=["标准化前", "标准化后"]),
                    yOffset=alt.YOffset("stage:N", sort=["标准化前", "标准化后"]),
                    tooltip=["item", "stage", "pct"],
                ),
                width="stretch",
            )
        ui.show_table(cards, key="dq_score", title=f"质量评分卡_{grains[grain]}")
    fitness = quality_q.mart_fitness()
    if not ui.is_missing(fitness, "数据集市适用性（quality.mart_fitness）"):
        if "verdict" in fitness.columns:
            fitness["verdict"] = fitness["verdict"].map(lambda v: data.label("fitness_verdict", v))
        ui.show_table(fitness, key="dq_fit", title="数据集市适用性")

with tab_hist:
    runs = quality_q.check_runs()
    if not ui.is_missing(runs, "检查结果（quality.check_results）"):
        if len(runs) >= 2:
            trend = runs.melt(
                id_vars=["run_at"],
                value_vars=["n_failed", "n_blocking_failed"],
                var_name="kind",
                value_name="n",
            )
            trend["kind"] = trend["kind"].map({"n_failed": "未通过检查", "n_blocking_failed": "阻断性未通过"})
            st.altair_chart(
                alt.Chart(trend)
                .mark_line(point=True)
                .encode(
                    x=alt.X("run_at:T", title="运行时间"),
                    y=alt.Y("n:Q", title="检查数", axis=alt.Axis(tickMinStep=1)),
                    color=alt.Color("kind:N", title=""),
                    tooltip=["run_at", "kind", "n"],
                ),
                width="stretch",
            )
        ui.show_table(runs, key="dq_runs", title="各批次检查结果")
        if len(runs) >= 2:
            last, prev = runs.iloc[-1], runs.iloc[-2]
            c = st.columns(3)
            c[0].metric("本批次未通过检查", int(last["n_failed"]), delta=int(last["n_failed"] - prev["n_failed"]),
                        delta_color="inverse")  # fmt: skip
            c[1].metric("阻断性未通过", int(last["n_blocking_failed"]),
                        delta=int(last["n_blocking_failed"] - prev["n_blocking_failed"]), delta_color="inverse")  # fmt: skip
            c[2].metric("违规行数", f"{int(last['violating_rows']):,}",
                        delta=f"{int(last['violating_rows'] - prev['violating_rows']):+,}", delta_color="inverse")  # fmt: skip
    changes = quality_q.check_changes()
    if not ui.is_missing(changes, "检查变化（quality.check_changes）"):
        if "source_id" in changes.columns:
            changes["source_id"] = changes["source_id"].replace({"ALL": "全部"})
        for col, group in (
            ("change", "check_change"),
            ("status", "check_status"),
            ("previous_status", "check_status"),
            ("category", "check_category"),
            ("severity", "severity"),
        ):
            if col in changes.columns:
                changes[col] = changes[col].map(lambda v, g=group: data.label(g, v))
        if "delta" in changes.columns:
            changes["delta"] = [f"{int(d):+d}" if pd.notna(d) else "" for d in changes["delta"]]
        for col in ("previous_run_id", "previous_status", "previous_violating_rows"):
            if col in changes.columns:  # the first run has no previous one
                changes[col] = changes[col].astype(object).where(changes[col].notna(), "—")
        ui.show_table(changes, key="dq_changes", title="与上一批次相比的变化")
    latest = quality_q.check_results_latest()
    if not ui.is_missing(latest, "本批次检查明细"):
        latest = latest.assign(
            source_id=latest["source_id"].replace({"ALL": "全部"}),
            category=latest["category"].map(lambda v: data.label("check_category", v)),
            severity=latest["severity"].map(lambda v: data.label("severity", v)),
            status=latest["status"].map(lambda v: data.label("check_status", v)),
            rate=[f"{100 * r:.2f}%" if pd.notna(r) else "" for r in latest["rate"]],
            threshold=[f"{100 * t:.2f}%" if pd.notna(t) else "" for t in latest["threshold"]],
        )
        ui.show_table(latest, key="dq_latest", title="本批次检查明细")

with tab_quar:
    summary = quality_q.quarantine_summary()
    if not ui.is_missing(summary, "隔离区（ingest.quarantine_summary）"):
        ui.show_table(summary, key="dq_quar_sum", title="隔离原因汇总", mask_cols=["reason"])
        rows = quality_q.quarantine_rows()
        if not ui.is_missing(rows, "隔离明细"):
            rows["raw_value"] = [
                privacy.mask_personal(el, v) for el, v in zip(rows["element"], rows["raw_value"], strict=True)
            ]
            rows["stage"] = rows["stage"].map({"land": "接入", "standardize": "标准化"}).fillna(rows["stage"])
            ui.show_table(
                rows, key="dq_quar_rows", title="隔离明细（已脱敏）", mask_cols=["raw_value", "reason"]
            )

with tab_unmapped:
    terms = quality_q.unmapped_terms()
    if not ui.is_missing(terms, "未映射术语（ingest.unmapped_terms）"):
        st.caption("按出现次数排序；审核后写入 standard/mappings/reviewed_mappings.csv，下次运行生效。")
        ui.show_table(terms, key="dq_unmapped", title="未映射术语工作清单", mask_cols=["raw_value"])
        diagnosis_review.show(terms)
