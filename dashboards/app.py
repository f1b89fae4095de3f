"""分级诊疗与双向转诊数据看板 — the Streamlit entry point (``streamlit run dashboards/app.py``).

Reads only the published snapshot (see data.py). One ``st.navigation`` over the pages in pages/.
"""

import streamlit as st

st.set_page_config(page_title="分级诊疗与双向转诊数据看板", page_icon="🏥", layout="wide")

PAGES = [
    st.Page("pages/overview.py", title="总览", icon="📊", url_path="overview", default=True),
    st.Page("pages/referrals.py", title="转诊流向", icon="🔁", url_path="referrals"),
    st.Page("pages/institutions.py", title="机构与区县", icon="🏥", url_path="institutions"),
    st.Page("pages/chronic.py", title="慢病管理", icon="🩺", url_path="chronic"),
    st.Page("pages/slots.py", title="号源下沉", icon="🎫", url_path="slots"),
    st.Page("pages/quality.py", title="数据质量", icon="✅", url_path="quality"),
    st.Page("pages/ingestion.py", title="数据接入", icon="📥", url_path="ingestion"),
]

st.navigation(PAGES).run()
