"""未映射诊断: ranked suggestions for the unmapped-terms worklist and a one-click confirm that appends
the chosen code to reviewed_mappings.csv (the next run applies it)."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from privacy import mask_text

MAX_TERMS = 50  # the most frequent unmapped diagnosis texts get suggestions


@st.cache_resource(show_spinner="加载诊断标准化模型…")
def _standardizer():
    from pipelines.standardize.diagnosis import DiagnosisStandardizer

    return DiagnosisStandardizer.default()


def show(terms: pd.DataFrame) -> None:
    """Suggestions (code, name, score) for the unmapped diagnosis texts, and confirm buttons."""
    from app_config import app_paths

    from pipelines.standardize.diagnosis import append_reviewed_mapping

    if terms is None or "element" not in terms.columns:
        return
    dx = terms[terms["element"] == "diagnosis_name"].head(MAX_TERMS)
    if dx.empty:
        return
    st.subheader("诊断映射建议（一键确认）")
    if not st.toggle("显示未映射诊断的候选编码（首次加载模型需数秒）", key="dx_suggest"):
        return
    reviewer = st.text_input("审核人（工号或姓名）", key="dx_reviewer")
    std = _standardizer()
    target = app_paths().reviewed_mappings
    for i, row in enumerate(dx.itertuples(index=False)):
        text = str(row.raw_value)
        suggestions = std.standardize(text).suggestions
        with st.container(border=True):
            st.markdown(f"**{mask_text(text)}** · 出现 {row.frequency} 次")
            if not suggestions:
                st.caption("无候选，请在 reviewed_mappings.csv 中手工填写编码。")
                continue
            cols = st.columns(len(suggestions))
            for col, s in zip(cols, suggestions, strict=True):
                label = f"{s['code']} {s['name']}（{s['score']:.2f}）"
                if col.button(label, key=f"dx_ok_{i}_{s['code']}", disabled=not reviewer.strip()):
                    append_reviewed_mapping(
                        target, std.pack, text, s["code"], reviewer, note="worklist suggestion"
                    )
                    st.success(
                        f"已写入 {target.name}：{mask_text(text)} → {s['code']} {s['name']}，下次运行生效。"
                    )
