"""The one page list of the dashboards: app.py builds the navigation from it, tools/page_timing.py times it and
the tests check that every page has its AppTest (tests/dashboards/test_pages.py).

Adding a page: a script in views/, its query module in queries/, one line here (docs/dashboards.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    name: str  # views/<name>.py; url /<name> (the default page is served at /)
    title: str
    role: str  # the least role that may open it: analyst < quality < engineer (pipelines/users.py)
    queries: str  # queries/<queries>.py: the SQL the page runs (beside the shared queries/indicators.py)
    default: bool = False

    @property
    def script(self) -> str:
        return f"views/{self.name}.py"


PAGES = (
    Page("overview", "总览", "analyst", "overview", default=True),
    Page("referrals", "转诊流向", "analyst", "referrals"),
    Page("institutions", "机构与区县", "analyst", "indicators"),
    Page("chronic", "慢病管理", "analyst", "chronic"),
    Page("slots", "号源下沉", "analyst", "slots"),
    Page("quality", "数据质量", "quality", "quality"),
    Page("ingestion", "数据接入", "engineer", "ingestion"),
)
