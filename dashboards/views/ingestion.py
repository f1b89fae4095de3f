"""数据接入: files received, landed, rejected (with reasons), freshness per source."""

import auth
import pandas as pd
import streamlit as st
import ui
from queries import ingestion as ingestion_q

import data

auth.require("engineer", "数据接入")  # also enforced by the navigation (app.py)

info = ui.page_header("数据接入", "各数据源收到、入库、拒收（含原因）的文件，以及各数据源的新鲜度。")
L = data.labels()

by_source = ingestion_q.files_by_source()
if ui.is_missing(by_source, "文件登记（ingest.files）"):
    st.stop()
k = st.columns(5)
for col, (name, field) in zip(
    k,
    [("收到文件", "n_received"), ("已入库", "n_landed"), ("已拒收", "n_rejected"), ("重复文件", "n_duplicate"),
     ("已被替换", "n_replaced")],
    strict=True,
):  # fmt: skip
    col.metric(name, f"{int(by_source[field].sum()):,}")
ui.show_table(by_source, key="ig_sources", title="按数据源汇总")

st.subheader("暂缓发布（文件被拒收，其数据源该期数据未发布）")
held = ingestion_q.held_back()
if isinstance(held, data.Missing):
    st.info("本次发布没有暂缓发布清单（ingest.held_back）。")
elif held.empty:
    st.success("没有暂缓发布的数据：所有文件均已完整读取。")
else:
    st.warning(
        f"{len(held)} 个文件被拒收：这些数据源对应统计期的全部数据暂不发布（其余地区与数据源照常发布），"
        "请按原因处理后重新发送文件，下一次运行会自动补上。"
    )
    ui.show_table(held, key="ig_held_back", title="暂缓发布", mask_cols=["reason", "file_name"])

st.subheader("拒收文件及原因")
files = ingestion_q.files()
if not ui.is_missing(files, "文件登记"):
    rejected = files[files["status"] == "rejected"][
        ["source_id", "entity", "file_name", "received_at", "reason"]
    ]
    if rejected.empty:
        st.success("没有被拒收的文件。")
    else:
        ui.show_table(rejected, key="ig_rejected", title="拒收文件", mask_cols=["reason"])

st.subheader("数据源新鲜度")
as_of = pd.Timestamp(info["published_at"]) if info else pd.Timestamp.now()
fresh = ingestion_q.freshness(as_of)
if not ui.is_missing(fresh, "新鲜度"):
    fresh["days_since_received"] = fresh["days_since_received"].round(1)
    fresh["freshness_text"] = [
        "正常" if d <= 7 else ("偏旧" if d <= 35 else "过期") for d in fresh["days_since_received"]
    ]
    st.caption(
        f"以数据发布时间 {as_of:%Y-%m-%d %H:%M} 为基准；超过 7 天未收到新文件为偏旧，超过 35 天为过期。"
    )
    ui.show_table(fresh, key="ig_fresh", title="数据源新鲜度")

st.subheader("全部文件")
if not isinstance(files, data.Missing):
    shown = files.assign(status=files["status"].map(lambda s: data.label("file_status", s)))
    ui.show_table(shown, key="ig_files", title="文件登记", mask_cols=["reason", "file_name"])
