"""Pages open on the latest complete month; a partial month is labelled 「数据不完整」 with the sources
still missing; direction-split indicators are shown side by side; missing values are never None;
the 数据质量 page opens on accuracy before -> after, then the Kahn heat map.

The snapshot is the dashboard fixture (fixture_warehouse.py) plus what this issue adds to the marts:
``marts.period_completeness`` (2025-05 complete; 2025-06 partial, his_b delivered only through
2025-06-01), registry column ``breakdowns`` and an 到诊率 with up / down rows for 2025-05:
total 30/40 = 75.0 %, up 20/25 = 80.0 %, down 10/15 = 66.7 %.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from apptest_auth import as_role
from fixture_warehouse import build_fixture_warehouse, publish

PARTIAL_DETAIL = "his_b（数据截至 2025-06-01）"


@pytest.fixture(scope="module")
def completeness_snapshot(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("published_completeness")
    snap = build_fixture_warehouse(root / "snapshots" / "run-20250702.duckdb")
    con = duckdb.connect(str(snap))
    try:
        con.execute(
            """
            create table marts.period_completeness as
            select * from (values
                ('2025-05', date '2025-05-01', date '2025-05-31', 3, 3, true, null, null),
                ('2025-06', date '2025-06-01', date '2025-06-30', 3, 2, false, 'his_b', ?)
            ) t(period, month_start, month_end, active_sources, complete_sources, is_complete,
                missing_sources, missing_detail_zh)
            """,
            [PARTIAL_DETAIL],
        )
        con.execute(
            """
            insert into marts.indicator_registry (indicator_id, name_zh, name_en, definition_zh, unit,
                aggregation, grains, direction, source, version, breakdowns)
            values ('arrival_rate', '到诊率', 'Arrival rate', '已接收的转诊中患者实际到诊的比例', '%',
                'ratio_pct', 'month×region|county', 'higher_better', 'local', 2, 'direction')
            """
        )
        con.execute(
            """
            insert into marts.indicator_values (value_key, indicator_id, period, geo_level, geo_id, geo_name,
                breakdown, numerator, denominator, value)
            values
                ('a|2025-05|region|city|', 'arrival_rate', '2025-05', 'region', 'city', '全市', null, 30, 40, 75.0),
                ('a|2025-05|region|city|up', 'arrival_rate', '2025-05', 'region', 'city', '全市', 'up', 20, 25, 80.0),
                ('a|2025-05|region|city|down', 'arrival_rate', '2025-05', 'region', 'city', '全市', 'down',
                 10, 15, 66.6667)
            """
        )
    finally:
        con.close()
    publish(root, snap)
    return root


@pytest.fixture
def open_completeness_page(completeness_snapshot, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("RW_PUBLISHED", str(completeness_snapshot))
    app = Path(__file__).resolve().parents[2] / "dashboards" / "app.py"

    def _open(page: str | None = None):
        at = as_role(AppTest.from_file(str(app), default_timeout=30), "engineer")
        if page:
            at.switch_page(f"views/{page}.py")
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        return at

    return _open


def _period_box(at, key: str):
    return next(s for s in at.sidebar.selectbox if s.key == key)


@pytest.mark.parametrize(
    ("page", "key"),
    [
        (None, "ov_period"),
        ("referrals", "rf_period"),
        ("institutions", "in_period"),
        ("chronic", "ch_period"),
    ],
)
def test_every_page_defaults_to_the_latest_complete_month(open_completeness_page, page, key):
    at = open_completeness_page(page)
    box = _period_box(at, key)
    # 2025-06 is the latest month with data, but his_b stopped on 2025-06-01
    assert box.value == "2025-05"
    assert "2025-06（数据不完整）" in box.options
    assert "2025-05" in box.options
    assert not [w for w in at.warning if "数据不完整" in w.value]


def test_a_partial_month_is_selectable_and_labelled_with_the_missing_sources(open_completeness_page):
    at = open_completeness_page()
    _period_box(at, "ov_period").set_value("2025-06").run()
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert any(w.startswith("2025-06 数据不完整") and PARTIAL_DETAIL in w for w in warnings), warnings
    assert at.subheader[0].value == "全市 · 2025-06"


def test_direction_split_indicators_are_side_by_side_and_no_cell_shows_none(open_completeness_page):
    at = open_completeness_page()
    table = next(d.value for d in at.dataframe if {"合计", "上转", "下转"} <= set(d.value.columns))
    row = table[table["指标"] == "到诊率"].iloc[0]
    assert (row["合计"], row["上转"], row["下转"]) == ("75.0%", "80.0%", "66.7%")
    for frame in (d.value for d in at.dataframe):
        text = frame.astype(str)
        assert not text.isin(["None", "nan", "NaN", "NaT", "<NA>"]).any().any(), frame


def test_quality_page_opens_on_before_after_then_the_heat_map(open_completeness_page):
    at = open_completeness_page("quality")
    subheaders = [s.value for s in at.subheader]
    assert subheaders[0].startswith("标准化前 → 后")
    assert subheaders[1] == "质量维度 × 数据源（本批次检查通过率）"
    first_metric = at.metric[0]
    assert first_metric.label == "全市"
    assert "→" in first_metric.value


def test_overview_offers_the_monthly_report_of_the_chosen_month(open_completeness_page, monkeypatch):
    import io

    import openpyxl

    at = open_completeness_page()
    labels = [b.label for b in at.download_button]
    assert "下载月度报告（Excel）" in labels
    from queries import overview as overview_q

    book = openpyxl.load_workbook(io.BytesIO(overview_q.monthly_report_files("2025-05")))
    head = book["核心指标"]
    assert head["A1"].value == "月度分级诊疗运行报告（2025-05）"
    rows = {r[0]: r for r in head.iter_rows(min_row=7, values_only=True) if r[0]}
    # 1050/1800 = 58.3 % in 2025-05 against >= 65: not met
    assert rows["基层诊疗量占比"][2:5] == (58.3, "≥65", "未达标")
    assert rows["到诊率"][2] == 75.0
