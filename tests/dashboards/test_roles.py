"""Login, roles and the audit log: what each role can and cannot open (AppTest through app.py)."""

from __future__ import annotations

import re

import pytest
from apptest_auth import as_role
from conftest import APP
from streamlit.testing.v1 import AppTest

from pipelines import users

INDICATOR_PAGES = {
    "views/overview.py": "总览",
    "views/referrals.py": "转诊流向",
    "views/institutions.py": "机构与区县",
    "views/chronic.py": "慢病管理",
    "views/slots.py": "号源下沉",
}
QUALITY_PAGE = {"views/quality.py": "数据质量"}
ENGINEER_PAGE = {"views/ingestion.py": "数据接入"}
CAN_OPEN = {
    "analyst": INDICATOR_PAGES,
    "quality": INDICATOR_PAGES | QUALITY_PAGE,
    "engineer": INDICATOR_PAGES | QUALITY_PAGE | ENGINEER_PAGE,
}
ALL_PAGES = INDICATOR_PAGES | QUALITY_PAGE | ENGINEER_PAGE


def fresh_app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=30)


def titles(at) -> list[str]:
    return [t.value for t in at.title]


def test_without_login_only_the_login_form_shows(published):
    at = fresh_app().run()
    assert not at.exception
    assert titles(at) == ["分级诊疗与双向转诊数据看板"]
    assert [t.label for t in at.text_input] == ["用户名", "密码"]
    assert not at.metric and not at.dataframe  # no data before login


def test_login_with_the_right_password_and_the_audit_log(published, app_dir):
    users.add_user("王质控", "quality", "correct horse battery", app_dir=app_dir)
    at = fresh_app().run()
    at.text_input[0].input("王质控")
    at.text_input[1].input("wrong password!")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["用户名或密码错误。"]
    assert not at.metric
    at.text_input[1].input("correct horse battery")
    at.button[0].click().run()
    assert not at.exception
    assert at.session_state["rw_user"] == {"name": "王质控", "role": "quality"}
    assert titles(at)[0] == "总览" and at.metric
    log = [(r[1], r[2], r[3], r[4]) for r in users.audit_rows(app_dir)]
    assert log == [
        ("王质控", None, "login_failed", None),
        ("王质控", "quality", "login", None),
        ("王质控", "quality", "view", "总览"),
    ]


@pytest.mark.parametrize("role", ["analyst", "quality", "engineer"])
def test_each_role_opens_its_pages_and_no_other(published, app_dir, role):
    for page, title in ALL_PAGES.items():
        at = as_role(fresh_app(), role)
        at.switch_page(page).run()
        assert not at.exception, [e.message for e in at.exception]
        shown = titles(at)
        if page in CAN_OPEN[role]:
            assert shown == [title], (role, page, shown)
        else:
            # not in the navigation: Streamlit serves the default page instead, never the page asked for
            assert title not in shown, (role, page, shown)
            assert shown == ["总览"], (role, page, shown)
    views = {r[4] for r in users.audit_rows(app_dir) if r[3] == "view"}
    assert views == set(CAN_OPEN[role].values())


def test_a_page_script_checks_the_role_itself(published, app_dir):
    """Defence in depth: the quality page run for an analyst (e.g. a stale link) stops with a message."""
    at = as_role(AppTest.from_file(str(APP.parent / "views" / "quality.py"), default_timeout=30), "analyst")
    at.run()
    assert [e.value for e in at.error] == ["当前账号无权查看此页面。"]
    assert not at.dataframe
    assert ("test_analyst", "analyst", "denied", "数据质量") in [r[1:5] for r in users.audit_rows(app_dir)]


_COUNT = re.compile(r"^\d[\d,]*$")


@pytest.mark.parametrize("page", list(INDICATOR_PAGES))
def test_indicator_tables_and_their_downloads_hold_no_count_below_5(published, page):
    """Every table an analyst sees (and downloads: the download holds exactly what is shown) carries
    people counts of 5 or more, or `<5`; slot numbers (not people) are the documented exception."""
    at = as_role(fresh_app(), "analyst")
    at.switch_page(page).run()
    assert at.download_button  # every table has its downloads
    small = []
    for df in (d.value for d in at.dataframe):
        for col in df.columns:
            if any(w in str(col) for w in ("号源", "预留", "名额", "编码", "代码", "排名", "级别", "序号")):
                continue  # slot numbers (not people), codes, ranks
            for v in df[col]:
                s = str(v)
                if (_COUNT.match(s) and int(s.replace(",", "")) < 5) or s.startswith("-1"):
                    small.append((col, s))  # a count below 5, or the withheld marker leaking
    assert small == []
