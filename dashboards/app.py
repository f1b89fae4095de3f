"""分级诊疗与双向转诊数据看板 — the Streamlit entry point (``streamlit run dashboards/app.py``).

Reads only the published snapshot (see data.py). Login first (auth.py): each page declares the least
role that may open it; the navigation holds only the pages of the user's role; every view is audited. One ``st.navigation`` over the pages in views/
(not ``pages/``: Streamlit treats a ``pages/`` folder next to the entry script as a v1 multipage app
and then never runs this file, so ``st.navigation`` would be ignored).
"""

import auth
import streamlit as st

# No page or page icons: Streamlit turns the current page's icon into the favicon, fetched from
# fonts.gstatic.com for Material icons; the app must not touch the internet (tested in test_browser.py).
st.set_page_config(page_title="分级诊疗与双向转诊数据看板", layout="wide")

user = auth.require_login()
auth.sidebar(user)

# (page, least role that may open it): analyst < quality < engineer (pipelines/users.py)
PAGES = [
    (st.Page("views/overview.py", title="总览", default=True), "analyst"),  # the default page is served at /
    (st.Page("views/referrals.py", title="转诊流向", url_path="referrals"), "analyst"),
    (st.Page("views/institutions.py", title="机构与区县", url_path="institutions"), "analyst"),
    (st.Page("views/chronic.py", title="慢病管理", url_path="chronic"), "analyst"),
    (st.Page("views/slots.py", title="号源下沉", url_path="slots"), "analyst"),
    (st.Page("views/quality.py", title="数据质量", url_path="quality"), "quality"),
    (st.Page("views/ingestion.py", title="数据接入", url_path="ingestion"), "engineer"),
]

page = st.navigation([p for p, role in PAGES if auth.users.may_open(user["role"], role)])
if st.session_state.get("rw_page") != page.title:  # a page opened (not every widget rerun)
    auth.log_view(user, page.title)
st.session_state["rw_page"] = page.title
page.run()
