"""The monthly report's small-cell rule (pipelines/publish/report.py), property-tested."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipelines.publish.report import MISSING, SMALL_LABEL, SUPPRESSED, count_cell, value_cell

counts = st.integers(min_value=0, max_value=10_000_000)


@given(counts)
def test_a_count_below_five_is_never_written(n):
    cell = count_cell(n)
    assert cell == SMALL_LABEL if n < 5 else cell == n


@given(counts, counts)
def test_a_rate_on_a_small_count_is_withheld(num, den):
    value = 100.0 * num / den if den else None
    cell = value_cell(value, "%", "ratio_pct", num, den)
    if den == 0:
        assert cell == MISSING
    elif num < 5 or den < 5:
        assert cell == SUPPRESSED
    else:
        assert cell == round(value, 1)


@given(counts, st.floats(min_value=0, max_value=1e4, allow_nan=False))
def test_a_percentile_on_fewer_than_five_observations_is_withheld(n_obs, hours):
    cell = value_cell(hours, "小时", "median", n_obs, None)
    assert cell == (SUPPRESSED if n_obs < 5 else round(hours, 1))


def test_count_indicator_values_follow_the_count_rule():
    assert value_cell(3.0, "人次", "count", 3.0, None) == SMALL_LABEL
    assert value_cell(0.0, "人次", "count", 0.0, None) == SMALL_LABEL
    assert value_cell(12.0, "人次", "count", 12.0, None) == 12
    assert value_cell(None, "%", "ratio_pct", 0.0, 0.0) == MISSING
