"""分级诊疗与双向转诊数据看板 — the Streamlit entry point (``streamlit run dashboards/app.py``).

Reads only the published snapshot (see data.py). One ``st.navigation`` over the pages in views/
(not ``pages/``: Streamlit treats a ``pages/`` folder next to the entry script as a v1 multipage app
and then never runs this file, so ``st.navigation`` would be ignored).
"""

import streamlit as st

# No page or page icons: Streamlit turns the current page's icon into the favicon, fetched from
# fonts.gstatic.com for Material icons; the app must not touch the internet (tested in test_browser.py).
st.set_page_config(page_title="分级诊疗与双向转诊数据看板", layout="wide")

PAGES = [
    st.Page("views/overview.py", title="总览", default=True),  # the default page is served at /
    st.Page("views/referrals.py", title="转诊流向", url_path="referrals"),
    st.Page("views/institutions.py", title="机构与区县", url_path="institutions"),
    st.Page("views/chronic.py", title="慢病管理", url_path="chronic"),
    st.Page("views/slots.py", title="号源下沉", url_path="slots"),
    st.Page("views/quality.py", title="数据质量", url_path="quality"),
    st.Page("views/ingestion.py", title="数据接入", url_path="ingestion"),
]

st.navigation(PAGES).run()
