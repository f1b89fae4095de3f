"""The small-cell rule, masking, downloads, and how the app reads (and re-reads) the published snapshot."""

from __future__ import annotations

import io
import os
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import privacy
import pytest
import ui
from apptest_auth import as_role
from fixture_warehouse import build_fixture_warehouse, publish
from hypothesis import given
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

import data

APP = Path(__file__).resolve().parents[2] / "dashboards" / "app.py"

# --------------------------------------------------------------------------- small-cell rule


@given(st.integers(min_value=0, max_value=10_000_000))
def test_format_count_hides_exactly_the_counts_below_five(n):
    text = privacy.format_count(n)
    if n < 5:
        assert text == "<5"
    else:
        assert text == f"{n:,}" and int(text.replace(",", "")) == n


@given(st.integers(0, 50), st.integers(1, 50))
def test_rates_on_small_counts_are_withheld(num, den):
    text = privacy.format_value(100.0 * num / den, "%", num, den)
    if num < 5 or den < 5:
        assert text == "（例数<5）"
    else:
        assert text == f"{100.0 * num / den:.1f}%"


def test_format_value_by_unit():
    assert privacy.format_value(61.2, "%", 612, 1000) == "61.2%"
    assert privacy.format_value(3, "人次", 3, None) == "<5"
    assert privacy.format_value(12345, "人次", 12345, None) == "12,345"
    assert privacy.format_value(7.25, "天", 29, 4) == "（例数<5）"  # an average over 4 stays
    assert privacy.format_value(7.25, "天", 290, 40) == "7.2 天"
    assert privacy.format_value(6.4, "小时", 3, None) == "（例数<5）"  # a median of 3 observations
    assert privacy.format_value(6.4, "小时", 12, None) == "6.4 小时"
    assert privacy.format_value(None, "%", None, None) == "—"


def test_suppress_counts_only_touches_people_columns():
    df = pd.DataFrame({"name": ["a", "b", "c"], "n": [0, 4, 5], "size_bytes": [1, 2, 3]})
    out = privacy.suppress_counts(df, ["n"])
    assert out["n"].tolist() == ["<5", "<5", "5"]
    assert out["size_bytes"].tolist() == [1, 2, 3]
    assert df["n"].tolist() == [0, 4, 5]  # input untouched


# --------------------------------------------------------------------------- masking

digits = st.text(alphabet="0123456789", min_size=17, max_size=17)


@given(
    prefix=st.text(alphabet="诊断备注电话号码：: ,ab", max_size=8),
    body=digits,
    suffix=st.text(alphabet="诊断备注。 ab", max_size=8),
)
def test_mask_text_removes_any_resident_id(prefix, body, suffix):
    # the check character GB 11643 gives these 17 digits (pipelines.privacy verifies it)
    total = sum(
        int(c) * w for c, w in zip(body, (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2), strict=True)
    )
    masked = privacy.mask_text(f"{prefix}{body}{'10X98765432'[total % 11]}{suffix}")
    assert body not in masked
    assert masked == f"{prefix}[身份证号]{suffix}"


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True), st.text(alphabet="联系电话：", max_size=5))
def test_mask_text_removes_mobile_numbers(phone, prefix):
    assert privacy.mask_text(prefix + phone) == prefix + "[电话]"


def test_mask_text_keeps_ordinary_values():
    assert privacy.mask_text("2025-13-45") == "2025-13-45"
    assert privacy.mask_text("高血压3级 I10xx05") == "高血压3级 I10xx05"
    assert privacy.mask_text(None) is None


# --------------------------------------------------------------------------- downloads


def test_csv_download_has_bom_and_the_suppressed_values():
    shown = ui.relabel(
        privacy.suppress_counts(pd.DataFrame({"institution_name": ["东湖镇卫生院"], "n": [3]}), ["n"])
    )
    raw = ui.to_csv_bytes(shown)
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.decode("utf-8-sig").splitlines() == ["机构,人次", "东湖镇卫生院,<5"]


def test_a_download_of_a_reporting_table_holds_the_withheld_count_as_below_5(published):
    """What the 转诊流向 page offers as 级别间流向 download for 2025-06 (fixture_warehouse.py): up
    基层->二级 8+6 = 14, 基层->三级 12+6+3 = 21; down 二级->基层 4 (withheld in the data: NULL, read as
    SUPPRESSED_COUNT, written <5), 三级->基层 10+5 = 15. No cell is below 5 or the marker -1."""
    from queries import referrals

    flows = referrals.referral_level_flows("2025-06")
    assert list(flows["n"]) == [14, 21, privacy.SUPPRESSED_COUNT, 15]
    shown = ui.for_display(flows, people_cols=["n"])
    lines = ui.to_csv_bytes(shown).decode("utf-8-sig").splitlines()
    assert lines[1:] == ["up,1,2,14", "up,1,3,21", "down,2,1,<5", "down,3,1,15"]


def test_excel_download_round_trips():
    shown = pd.DataFrame({"机构": ["东湖镇卫生院", "西山镇卫生院"], "人次": ["9", "<5"]})
    book = openpyxl.load_workbook(io.BytesIO(ui.to_excel_bytes(shown, "该转未转/按机构")))
    sheet = book.active
    assert sheet.title == "该转未转_按机构"
    assert [[c.value for c in r] for r in sheet.iter_rows()] == [
        ["机构", "人次"],
        ["东湖镇卫生院", "9"],
        ["西山镇卫生院", "<5"],
    ]


# --------------------------------------------------------------------------- snapshot access


def test_connection_is_read_only_and_never_opens_the_warehouse(published):
    target = data.snapshot_target()
    assert target.split("|")[0].endswith("run-20250702.duckdb")
    con = data._cursor(target)
    with pytest.raises(duckdb.Error, match="read-only"):
        con.execute("create table marts.x as select 1")
    assert "warehouse" not in target


def test_a_new_publish_is_picked_up_and_the_pipeline_is_not_blocked(tmp_path, monkeypatch):
    pub = tmp_path / "published"
    first = build_fixture_warehouse(tmp_path / "snapshots" / "a.duckdb")
    publish(pub, first)
    monkeypatch.setenv("RW_PUBLISHED", str(pub))
    at = as_role(AppTest.from_file(str(APP), default_timeout=30)).run()
    assert at.caption[0].value.startswith("数据发布时间：2025-07-02 10:00 · 批次 run-20250702")
    # While the app holds the first snapshot open, the pipeline writes the next one (a read-write
    # connection in this process: it would fail if anything locked it) and swaps the link.
    second = build_fixture_warehouse(tmp_path / "snapshots" / "b.duckdb")
    with duckdb.connect(str(second)) as con:
        con.execute(
            "update meta.publish_info set run_id = 'run-20250801', published_at = '2025-08-01 06:30:00'"
        )
        con.execute("update marts.indicator_values set numerator = 650 where geo_id = 'city' and period = '2025-06' "
                    "and indicator_id = 'primary_care_visit_share'")  # fmt: skip
        con.execute("update marts.indicator_values set value = 100.0 * numerator / denominator")
    publish(pub, second)
    at.run()
    assert at.caption[0].value.startswith("数据发布时间：2025-08-01 06:30 · 批次 run-20250801")
    assert {m.label: m.value for m in at.metric}["基层诊疗量占比"] == "36.1%"  # 650/1800
    # a re-publish under the same file name (os.replace of b.duckdb) is seen too
    third = build_fixture_warehouse(tmp_path / "snapshots" / "c.duckdb")
    with duckdb.connect(str(third)) as con:
        con.execute(
            "update meta.publish_info set run_id = 'run-20250801-rerun', published_at = '2025-08-01 07:00:00'"
        )
    os.replace(third, second)
    at.run()
    assert at.caption[0].value.startswith("数据发布时间：2025-08-01 07:00 · 批次 run-20250801-rerun")


def test_missing_tables_show_a_chinese_message_not_a_trace(tmp_path, monkeypatch):
    snap = build_fixture_warehouse(tmp_path / "snapshots" / "partial.duckdb")
    with duckdb.connect(str(snap)) as con:
        for t in ("quality.scorecards", "quality.check_changes", "ingest.unmapped_terms",
                  "reporting.undertreated_by_institution", "meta.publish_info"):  # fmt: skip
            con.execute(f"drop table {t}")
    publish(tmp_path / "published", snap)
    monkeypatch.setenv("RW_PUBLISHED", str(tmp_path / "published"))
    at = as_role(AppTest.from_file(str(APP), default_timeout=30)).run()
    assert at.caption[0].value == "数据发布时间：未知（快照中缺少 meta.publish_info）"
    at.switch_page("views/quality.py").run()
    assert not at.exception
    infos = [i.value for i in at.info]
    assert any(i.startswith("暂无数据：已发布的快照中没有质量评分卡（quality.scorecards）") for i in infos), (
        infos
    )
    assert any(
        i.startswith("暂无数据：已发布的快照中没有未映射术语（ingest.unmapped_terms）") for i in infos
    ), infos
    at.switch_page("views/chronic.py").run()
    assert not at.exception
    assert any("reporting.undertreated_by_institution" in i.value for i in at.info)
    assert {m.label: m.value for m in at.metric}["高血压规范管理率"] == "46.0%"  # the rest still shows


def test_no_snapshot_yet_tells_the_user(tmp_path, monkeypatch):
    monkeypatch.setenv("RW_PUBLISHED", str(tmp_path / "nothing"))
    at = as_role(AppTest.from_file(str(APP), default_timeout=30)).run()
    assert not at.exception
    assert at.warning[0].value.startswith("尚未发布数据：未找到已发布的数据快照")
