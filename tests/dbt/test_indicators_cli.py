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


def test_default_period_is_the_latest_complete_month_and_table_is_chinese(built_warehouse, capsys):
    # 2024-02 holds data but every source stops before 2024-02-29 (his_a on the 12th, ...):
    # the default is 2024-01, the latest month every active source delivered through its last day.
    db, _ = built_warehouse
    assert main(["indicators", "--published", str(db)]) == 0
    captured = capsys.readouterr()
    out = captured.out
    # 29 indicators + 6 return reasons - the total row of 退回原因构成 + 2 x 7 direction rows = 48
    assert out.splitlines()[0] == "指标 Indicators  period=2024-01  level=region  (48 rows)"
    assert captured.err == ""
    line = next(line for line in out.splitlines() if line.strip().startswith("primary_care_visit_share"))
    assert line.split()[1:] == ["基层诊疗量占比", "全市", "66.67", "%", "4", "6", "≥65", "是"]
    assert "None" not in out


def test_a_partial_month_is_labelled_with_the_missing_sources(built_warehouse, capsys):
    db, _ = built_warehouse
    assert main(["indicators", "--published", str(db), "--period", "2024-02"]) == 0
    captured = capsys.readouterr()
    label = (
        "数据不完整（尚缺：his_a（数据截至 2024-02-12）；his_b（数据截至 2024-02-07）；"
        "his_c（数据截至 2024-02-15）；his_d（数据截至 2024-02-20）；platform（数据截至 2024-02-12））"
    )
    assert captured.out.splitlines()[1] == label
    assert captured.err.strip() == f"indicators: 2024-02 {label}"
    # a rate with a zero denominator shows its reason, never None
    line = next(line for line in captured.out.splitlines() if line.strip().startswith("undertreated_rate"))
    assert "分母为0：本期无符合条件的对象" in line
    assert main(["indicators", "--published", str(db), "--period", "2024-02", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["period_complete"] is False
    assert payload["missing_sources"] == ["his_a", "his_b", "his_c", "his_d", "platform"]


def test_institution_level_rows_follow_registry_order(built_warehouse):
    db, _ = built_warehouse
    period, values = read_indicator_values(
        db, "2024-02", "institution", ("slot_reserved_share", "arrival_rate")
    )
    assert period == "2024-02"
    # dense: every institution has a row; a zero denominator gives None with its reason
    zero = "zero_denominator"
    assert [(v.indicator_id, v.geo_id, v.breakdown, v.value, v.null_reason) for v in values] == [
        ("arrival_rate", "H02", None, 0.0, None),
        ("arrival_rate", "H02", "down", None, zero),
        ("arrival_rate", "H02", "up", 0.0, None),
        ("arrival_rate", "H03", None, 100.0, None),
        ("arrival_rate", "H03", "down", None, zero),
        ("arrival_rate", "H03", "up", 100.0, None),
        ("arrival_rate", "P01", None, None, zero),
        ("arrival_rate", "P01", "down", None, zero),
        ("arrival_rate", "P01", "up", None, zero),
        ("arrival_rate", "P02", None, None, zero),
        ("arrival_rate", "P02", "down", None, zero),
        ("arrival_rate", "P02", "up", None, zero),
        ("arrival_rate", "P03", None, 0.0, None),
        ("arrival_rate", "P03", "down", 0.0, None),
        ("arrival_rate", "P03", "up", None, zero),
        ("slot_reserved_share", "H02", None, None, zero),
        ("slot_reserved_share", "H03", None, 30.0, None),
        ("slot_reserved_share", "P01", None, None, zero),
        ("slot_reserved_share", "P02", None, None, zero),
        ("slot_reserved_share", "P03", None, None, zero),
    ]


def test_missing_snapshot_and_unknown_period_exit_2(built_warehouse, tmp_path: Path, capsys):
    db, _ = built_warehouse
    assert main(["indicators", "--published", str(tmp_path / "none.duckdb")]) == 2
    assert "no published warehouse" in capsys.readouterr().err
    assert main(["indicators", "--published", str(db), "--period", "2031-05"]) == 2
    assert capsys.readouterr().err.strip() == (
        "indicators: no indicator values for 2031-05; available: "
        + ", ".join([f"2023-{m:02d}" for m in range(1, 13)] + ["2024-01", "2024-02"])
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
