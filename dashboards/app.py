"""分级诊疗与双向转诊数据看板 — the Streamlit entry point (``streamlit run dashboards/app.py``).

Reads only the published snapshot (see data.py). Login first (auth.py): each page declares the least
role that may open it; the navigation holds only the pages of the user's role; every view is audited. One ``st.navigation`` over
the page list (page_list.py: the one place pages are declared), scripts in views/
(not ``pages/``: Streamlit treats a ``pages/`` folder next to the entry script as a v1 multipage app
and then never runs this file, so ``st.navigation`` would be ignored).
"""

import auth
import streamlit as st
from page_list import PAGES

# No page or page icons: Streamlit turns the current page's icon into the favicon, fetched from
# fonts.gstatic.com for Material icons; the app must not touch the internet (tested in test_browser.py).
st.set_page_config(page_title="分级诊疗与双向转诊数据看板", layout="wide")

user = auth.require_login()
auth.sidebar(user)

NAVIGATION = [
    (
        st.Page(p.script, title=p.title, default=True)
        if p.default
        else st.Page(p.script, title=p.title, url_path=p.name),
        p.role,
    )
    for p in PAGES
]

page = st.navigation([p for p, role in NAVIGATION if auth.users.may_open(user["role"], role)])
if st.session_state.get("rw_page") != page.title:  # a page opened (not every widget rerun)
    auth.log_view(user, page.title)
st.session_state["rw_page"] = page.title
page.run()
