"""`referral-warehouse indicators` on the fixture warehouse (used as the published snapshot)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.cli import main
from pipelines.publish.indicators import PERIOD_RE, IndicatorsError, _meets_target, read_indicator_values


def test_json_for_one_indicator_by_county(built_warehouse, capsys):
    db, _ = built_warehouse
    code = main(
        ["indicators", "--published", str(db), "--period", "2024-01", "--level", "county",
         "--indicator", "in_county_visit_rate", "--json"]
    )  # fmt: skip
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["period"] == "2024-01"
    assert payload["geo_level"] == "county"
    assert [(v["geo_id"], v["geo_name"], v["numerator"], v["denominator"], v["value"], v["meets_target"])
            for v in payload["values"]] == [
        ("C1", "甲县", 4.0, 5.0, 80.0, False),
        ("C2", "乙区", 0.0, 1.0, 0.0, False),
    ]  # fmt: skip


def test_default_period_is_the_latest_and_table_is_chinese(built_warehouse, capsys):
    db, _ = built_warehouse
    assert main(["indicators", "--published", str(db)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "指标 Indicators  period=2024-02  level=region  (23 rows)"
    line = next(line for line in out.splitlines() if line.strip().startswith("primary_care_visit_share"))
    assert line.split()[1:] == ["基层诊疗量占比", "全市", "100", "%", "2", "2", "≥65", "是"]


def test_institution_level_rows_follow_registry_order(built_warehouse):
    db, _ = built_warehouse
    period, values = read_indicator_values(
        db, "2024-02", "institution", ("slot_reserved_share", "arrival_rate")
    )
    assert period == "2024-02"
    assert [(v.indicator_id, v.geo_id, v.value) for v in values] == [
        ("arrival_rate", "H02", 0.0),
        ("arrival_rate", "H03", 100.0),
        ("arrival_rate", "P03", 0.0),
        ("slot_reserved_share", "H03", 30.0),
    ]


def test_missing_snapshot_and_unknown_period_exit_2(built_warehouse, tmp_path: Path, capsys):
    db, _ = built_warehouse
    assert main(["indicators", "--published", str(tmp_path / "none.duckdb")]) == 2
    assert "no published warehouse" in capsys.readouterr().err
    assert main(["indicators", "--published", str(db), "--period", "2031-05"]) == 2
    assert capsys.readouterr().err.strip() == (
        "indicators: no indicator values for 2031-05; available: 2023-01, 2023-12, 2024-01, 2024-02"
    )
    with pytest.raises(IndicatorsError, match="YYYY-MM"):
        read_indicator_values(db, "2024-1")


@given(st.integers(min_value=1900, max_value=2999), st.integers(min_value=1, max_value=12))
def test_period_pattern_accepts_every_month(year, month):
    assert PERIOD_RE.match(f"{year:04d}-{month:02d}")
    assert not PERIOD_RE.match(f"{year:04d}-{month}") or month >= 10
    assert not PERIOD_RE.match(f"{year:04d}{month:02d}")


@given(st.floats(allow_nan=False, allow_infinity=False), st.floats(allow_nan=False, allow_infinity=False))
def test_meets_target_follows_direction(value, target):
    assert _meets_target(value, target, "higher_better") is (value >= target)
    assert _meets_target(value, target, "lower_better") is (value <= target)
    assert _meets_target(None, target, "higher_better") is None
    assert _meets_target(value, None, "lower_better") is None
