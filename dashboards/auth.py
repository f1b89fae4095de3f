"""Login, roles and the audit trail of the dashboards (users and audit log: ``pipelines.users``).

A small login form on ``st.session_state`` with bcrypt-hashed passwords (``<data>/app/users.yaml``,
created with ``referral-warehouse users add NAME --role analyst|quality|engineer``). Pages declare the
least role that may open them (app.py); a page the user's role may not open is not in the navigation
at all, and the page scripts check again (``require``). Every login, view and download is written to
the audit log (``<data>/app/audit.sqlite``).
"""

from __future__ import annotations

import streamlit as st
from app_config import app_paths

from pipelines import users

USER_KEY = "rw_user"  # session_state: {"name": ..., "role": ...} once logged in


def current_user() -> dict | None:
    u = st.session_state.get(USER_KEY)
    return u if isinstance(u, dict) and u.get("role") in users.ROLES else None


def login_form() -> None:
    st.title("分级诊疗与双向转诊数据看板")
    st.caption("请登录。账号由管理员用 `referral-warehouse users add` 创建；所有访问与下载均记入审计日志。")
    with st.form("login"):
        name = st.text_input("用户名", key="login_name")
        password = st.text_input("密码", type="password", key="login_password")
        submitted = st.form_submit_button("登录")
    if submitted:
        role = users.authenticate(name.strip(), password, app_dir=app_paths().app_dir)
        if role is None:
            users.audit(name.strip() or "?", None, "login_failed", app_dir=app_paths().app_dir)
            st.error("用户名或密码错误。")
        else:
            st.session_state[USER_KEY] = {"name": name.strip(), "role": role}
            users.audit(name.strip(), role, "login", app_dir=app_paths().app_dir)
            st.rerun()


def require_login() -> dict:
    """The logged-in user; otherwise the login form is shown and the script stops."""
    user = current_user()
    if user is None:
        login_form()
        st.stop()
    return user


def sidebar(user: dict) -> None:
    with st.sidebar:
        st.caption(f"当前用户：{user['name']}（{users.ROLE_ZH[user['role']]}）")
        if st.button("退出登录", key="logout"):
            users.audit(user["name"], user["role"], "logout", app_dir=app_paths().app_dir)
            st.session_state.pop(USER_KEY, None)
            st.rerun()


def require(role: str, page: str) -> dict:
    """Called at the top of a page script: stops unless the user's role includes ``role``."""
    user = require_login()
    if not users.may_open(user["role"], role):
        users.audit(user["name"], user["role"], "denied", page, app_dir=app_paths().app_dir)
        st.error("当前账号无权查看此页面。")
        st.stop()
    return user


def log_view(user: dict, page: str) -> None:
    users.audit(user["name"], user["role"], "view", page, app_dir=app_paths().app_dir)


def log_download(user: dict | None, page: str | None, what: str) -> None:
    if user is not None:
        users.audit(user["name"], user["role"], "download", page, what, app_dir=app_paths().app_dir)
