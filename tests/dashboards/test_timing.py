"""render_times (called by the benchmark on the city warehouse) works and every page is fast here."""

from __future__ import annotations

import timing
from fixture_warehouse import build_fixture_warehouse


def test_render_times_covers_every_page_and_each_is_under_two_seconds(tmp_path):
    snapshot = build_fixture_warehouse(tmp_path / "snap.duckdb")
    cold = timing.render_times(snapshot)
    assert list(cold) == ["总览", "转诊流向", "机构与区县", "慢病管理", "号源下沉", "数据质量", "数据接入"]
    assert all(0 < s < 2.0 for s in cold.values()), cold
