"""The dashboards' layout rules (issue 17): one page list, one query module per page, every page with
its AppTest, SQL only in data.py and queries/, no module over 500 lines, no page reading row-level
tables except the quality page's masked drill-down."""

from __future__ import annotations

import ast
import re

from conftest import DASHBOARDS, HERE
from page_list import PAGES

SQL = re.compile(r"\b(select|SELECT)\b[^\n]*\b(from|FROM)\b")


def test_the_page_list_is_the_navigation_and_each_page_has_a_script_and_a_query_module():
    assert [p.title for p in PAGES] == [
        "总览",
        "转诊流向",
        "机构与区县",
        "慢病管理",
        "号源下沉",
        "数据质量",
        "数据接入",
    ]
    assert [p.name for p in PAGES if p.default] == ["overview"]
    for p in PAGES:
        assert (DASHBOARDS / p.script).is_file(), p
        assert (DASHBOARDS / "queries" / f"{p.queries}.py").is_file(), p
    app = (DASHBOARDS / "app.py").read_text(encoding="utf-8")
    assert "from page_list import PAGES" in app and "views/" not in app.split('"""', 2)[2]


def test_every_page_in_the_page_list_has_an_apptest():
    """A test named test_<page>_... that opens the page through the app (open_page) in test_pages.py."""
    tree = ast.parse((HERE / "test_pages.py").read_text(encoding="utf-8"))
    opened: dict[str, set[str]] = {}
    for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")):
        calls = [
            c for c in ast.walk(fn) if isinstance(c, ast.Call) and getattr(c.func, "id", "") == "open_page"
        ]
        pages = {c.args[0].value if c.args and isinstance(c.args[0], ast.Constant) else None for c in calls}
        opened[fn.name] = {p or "overview" for p in pages}
    for p in PAGES:
        tests = [
            name for name, pages in opened.items() if name.startswith(f"test_{p.name}_") and p.name in pages
        ]
        assert tests, f"page {p.name} has no AppTest test_{p.name}_* in test_pages.py"


def test_sql_lives_only_in_data_py_and_the_query_modules():
    scripts = [*(DASHBOARDS / "views").glob("*.py"), *DASHBOARDS.glob("*.py")]
    offenders = [p.name for p in scripts if p.name != "data.py" and SQL.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_no_dashboards_module_over_500_lines():
    sizes = {p.relative_to(DASHBOARDS).as_posix(): len(p.read_text(encoding="utf-8").splitlines())
             for p in DASHBOARDS.rglob("*.py")}  # fmt: skip
    assert {k: n for k, n in sizes.items() if n > 500} == {}
    assert len(sizes) >= 20


def test_pages_read_aggregates_and_only_the_quality_page_opens_restricted():
    text = {p.stem: p.read_text(encoding="utf-8") for p in (DASHBOARDS / "queries").glob("*.py")}
    assert [m for m, t in text.items() if re.search(r"marts\.fct_|ingest\.quarantine\b", t)] == []
    assert [m for m, t in text.items() if "restricted." in t] == ["quality"]
    assert {p.role for p in PAGES if p.queries == "quality"} == {"quality"}


def test_code_lists_are_read_from_the_standard_not_copied_into_labels_yaml():
    """Referral statuses, return reasons and booking statuses are declared once, in
    standard/value_domains.csv; labels.yaml only names the domain, and the pages get the standard's
    Chinese names by code and by the word dbt uses (final_status)."""
    import yaml

    from data import LABELS_FILE, labels

    raw = yaml.safe_load(LABELS_FILE.read_text(encoding="utf-8"))
    copied = {"referral_status", "return_reasons", "booking_status"} & set(raw)
    assert not copied, f"labels.yaml copies code lists of the standard: {copied}"
    got = labels()
    assert got["return_reasons"]["02"] == "缺少设备/技术"
    assert got["return_reasons"]["99"] == "其他"
    assert got["referral_status"]["3"] == "已退回"
    assert got["referral_status"]["no_show"] == "未到诊"  # dbt's final_status word
    assert got["booking_status"]["2"] == "爽约"
    assert "from_standard" not in got
