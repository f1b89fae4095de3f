"""render_times (called by the benchmark on the city warehouse) renders every page and reports a time.

Speed is a benchmark target (`make bench`, each page < 2 s on the city snapshot), never a timed unit
test: here we only check that the helper covers every page, in order, and raises on none.
"""

from __future__ import annotations

from fixture_warehouse import build_fixture_warehouse

from tools import page_timing as timing


def test_render_times_covers_every_page_in_order(tmp_path):
    snapshot = build_fixture_warehouse(tmp_path / "snap.duckdb")
    cold = timing.render_times(snapshot)
    assert list(cold) == ["总览", "转诊流向", "机构与区县", "慢病管理", "号源下沉", "数据质量", "数据接入"]
    assert all(seconds > 0 for seconds in cold.values()), cold
