"""One AppTest per page against the fixture snapshot, asserting the exact values shown.

Expected values are computed by hand from tests/dashboards/fixture_warehouse.py (see its docstring).
"""

from __future__ import annotations

import pandas as pd
import pytest

ID_IN_FIXTURE = "110101199003071234"
PHONE_IN_FIXTURE = "13812345678"


def metrics(at) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.delta) for m in at.metric}


def frame_with(at, *columns: str) -> pd.DataFrame:
    """The first table shown whose headers include all ``columns``."""
    for df in (d.value for d in at.dataframe):
        if set(columns) <= set(df.columns):
            return df
    raise AssertionError(f"no table with columns {columns}: {[list(d.value.columns) for d in at.dataframe]}")


def row(df: pd.DataFrame, **where) -> dict:
    mask = pd.Series(True, index=df.index)
    for col, val in where.items():
        mask &= df[col] == val
    hits = df[mask]
    assert len(hits) == 1, f"{len(hits)} rows match {where}:\n{df}"
    return hits.iloc[0].to_dict()


def all_text(at) -> str:
    parts = [
        e.value for kind in ("markdown", "caption", "info", "title", "subheader") for e in getattr(at, kind)
    ]
    parts += [d.value.to_csv() for d in at.dataframe]
    parts += [f"{m.label} {m.value} {m.delta}" for m in at.metric]
    return "\n".join(str(p) for p in parts)


def assert_downloads(at, n_tables: int) -> None:
    labels = [b.label for b in at.download_button]
    assert labels.count("下载 CSV") == n_tables and labels.count("下载 Excel") == n_tables, labels


# --------------------------------------------------------------------------- 总览


def test_overview_default_is_city_latest_month_with_targets_and_definitions(open_page):
    at = open_page()  # the default page
    assert at.title[0].value == "总览"
    assert at.caption[0].value == "数据发布时间：2025-07-02 10:00 · 批次 run-20250702 · 仓库版本 0.1.0"
    m = metrics(at)
    # 1100/1800 = 61.1%; 2025-05 1050/1800 = 58.3%: +2.8 points
    assert m["基层诊疗量占比"] == ("61.1%", "+2.8 个百分点")
    assert m["上转人次"] == ("42", "+2")
    assert m["下转人次"] == ("25", "+5")
    assert m["上转退回率"] == ("33.3%", "+8.3 个百分点")  # 14/42 vs 10/40
    assert m["号源下沉预留比例"] == ("21.6%", "")  # 345/1600, no 2025-05 value
    assert len(m) == 9 and "上转退回原因构成" not in m  # breakdown rows (per reason) are not totals
    captions = [c.value for c in at.caption]
    assert "目标 ≥ 65% · :red[未达标]" in captions
    assert "目标 ≥ 90% · :green[达标]" in captions  # 1620/1800 = 90.0%
    # indicator definitions one click away: a popover per card with the registry text
    popovers = at.get("popover")
    assert len(popovers) == 9
    first = [md.value for md in popovers[0].children.values() if hasattr(md, "value")]
    assert "基层医疗卫生机构诊疗人次占全部诊疗人次的比例。" in first
    assert "- 分子：基层医疗卫生机构门急诊人次\n- 分母：全部医疗机构门急诊人次" in first
    table = frame_with(at, "指标", "指标值", "环比")
    assert row(table, 指标="基层诊疗量占比")["分子"] == "1,100"
    assert_downloads(at, 1)


def test_overview_county_filter_and_month_on_month(open_page):
    at = open_page()
    at.sidebar.selectbox(key="ov_level").set_value("county").run()
    assert at.sidebar.selectbox(key="ov_geo").options == ["东湖县", "西山县"]
    m = metrics(at)
    assert m["基层诊疗量占比"] == ("61.2%", "+2.2 个百分点")  # 612/1000 vs 590/1000
    assert m["上转人次"] == ("30", "")
    at.sidebar.selectbox(key="ov_geo").set_value("130102").run()
    m = metrics(at)
    assert m["基层诊疗量占比"] == ("61.0%", "+3.5 个百分点")  # 488/800 vs 460/800
    assert m["上转人次"] == ("12", "")
    assert at.subheader[0].value == "西山县 · 2025-06"


def test_overview_period_and_alliance_and_level_filters(open_page):
    at = open_page()
    at.sidebar.selectbox(key="ov_period").set_value("2025-05").run()
    assert metrics(at)["基层诊疗量占比"] == ("58.3%", "")  # 1050/1800, no 2025-04
    at.sidebar.selectbox(key="ov_period").set_value("2025-06").run()
    at.sidebar.selectbox(key="ov_level").set_value("alliance").run()
    at.sidebar.selectbox(key="ov_geo").set_value("A02").run()
    assert metrics(at)["基层诊疗量占比"] == ("71.4%", "")  # 571/800
    at.sidebar.selectbox(key="ov_level").set_value("level").run()
    at.sidebar.selectbox(key="ov_geo").set_value("2").run()
    assert metrics(at) == {"下转人次": ("7", "")}


def test_overview_small_cells_for_one_institution(open_page):
    at = open_page()
    at.sidebar.selectbox(key="ov_level").set_value("institution").run()
    at.sidebar.selectbox(key="ov_geo").set_value("P1003").run()
    m = metrics(at)
    assert m["上转人次"] == ("<5", "")  # 3 up-referrals
    assert m["上转退回率"] == ("（例数<5）", "")  # 0/3: both counts small, rate withheld
    table = frame_with(at, "指标", "分子", "分母")
    assert row(table, 指标="上转人次")["分子"] == "<5"
    assert (row(table, 指标="上转退回率")["分子"], row(table, 指标="上转退回率")["分母"]) == ("<5", "<5")
    # the institution with 20 → 16 up-referrals keeps its numbers
    at.sidebar.selectbox(key="ov_geo").set_value("P1001").run()
    assert metrics(at)["上转人次"] == ("20", "+4")


# --------------------------------------------------------------------------- 转诊流向


def test_referrals_kpis_flows_reasons_and_small_cells(open_page):
    at = open_page("referrals")
    m = metrics(at)
    assert m["上转人次"][0] == "35"
    assert m["下转人次"][0] == "19"
    assert m["上转退回率"][0] == "40.0%"  # 14/35
    assert m["上转医联体内占比"][0] == "91.4%"  # 32/35
    assert m["下转后24小时家庭医生联系率"][0] == "73.7%"  # 14/19
    assert m["下转闭环率"][0] == "52.6%"  # 10/19
    assert m["上转请求→接收（中位数）"][0] == "2.0 小时"  # 12×2h, 6×5h, 3×30h
    levels = frame_with(at, "方向", "转出级别", "转入级别", "人次")
    assert row(levels, 方向="上转", 转出级别="基层", 转入级别="三级")["人次"] == "21"
    assert row(levels, 方向="下转", 转出级别="二级", 转入级别="基层")["人次"] == "<5"  # 4
    alliance = frame_with(at, "医联体内人次", "跨医联体人次")
    assert row(alliance, 方向="上转")["跨医联体人次"] == "<5"  # 3
    reasons = frame_with(at, "退回原因", "人次")
    assert reasons[["退回原因", "人次", "占比"]].values.tolist() == [
        ["无床位", "8", "57.1%"],
        ["缺少设备/技术", "6", "42.9%"],
    ]
    timing = frame_with(at, "环节", "时长区间")
    assert row(timing, 方向="上转", 环节="请求→接收", 时长区间="4–8 小时")["人次"] == "6"
    assert row(timing, 方向="上转", 环节="请求→接收", 时长区间="24–48 小时")["人次"] == "<5"
    fd = frame_with(at, "下转人次", "24小时联系率")
    assert row(fd, 机构="东湖镇卫生院")["24小时联系率"] == "100.0%"
    assert row(fd, 机构="东湖社区卫生服务中心")["24小时内联系人次"] == "<5"  # 0 of 5 within 24 h
    assert_downloads(at, 6)
    # the referral indicators' definitions are one click away
    assert at.expander[0].label == "指标定义（转诊类指标口径）"
    assert any(
        md.value.startswith("**上转退回率**（%）：被接收方退回的上转单占全部上转单的比例。")
        for md in at.expander[0].markdown
    )


def test_referrals_county_and_period_filters(open_page):
    at = open_page("referrals")
    at.sidebar.selectbox(key="rf_county").set_value("130102").run()
    m = metrics(at)
    assert m["上转人次"][0] == "9"  # P1003 -> H3001 (3) + P1003 -> H2002 (6)
    assert m["下转人次"][0] == "<5"  # H2002 -> P1003 (4)
    assert m["下转后24小时家庭医生联系率"][0] == "（例数<5）"
    at.sidebar.selectbox(key="rf_county").set_value("全部").run()
    at.sidebar.selectbox(key="rf_period").set_value("2025-05").run()
    m = metrics(at)
    assert (m["上转人次"][0], m["下转人次"][0], m["上转退回率"][0]) == ("10", "7", "（例数<5）")
    assert "暂无数据：所选条件下没有退回记录。" in [i.value for i in at.info]  # no returns in 2025-05
    at.sidebar.selectbox(key="rf_period").set_value("全部").run()
    assert metrics(at)["上转人次"][0] == "45"


# --------------------------------------------------------------------------- 机构与区县


def test_institutions_ranking_and_drill_down(open_page):
    at = open_page("institutions")
    ranking = frame_with(at, "排名", "名称", "指标值")
    assert ranking[["排名", "名称", "指标值", "是否达标"]].values.tolist() == [
        ["1", "东湖县", "61.2%", "否"],
        ["2", "西山县", "61.0%", "否"],
    ]
    drill = frame_with(at, "名称", "基层诊疗量占比", "上转人次")
    assert row(drill, 名称="东湖县（区县合计）")["基层诊疗量占比"] == "61.2%"
    assert row(drill, 名称="东湖县人民医院")["下转人次"] == "<5"  # 3
    assert row(drill, 名称="东湖镇卫生院")["上转退回率"] == "40.0%"  # 8/20
    at.sidebar.selectbox(key="in_rank_level").set_value("institution").run()
    at.sidebar.selectbox(key="in_ind").set_value("up_referrals").run()
    ranking = frame_with(at, "排名", "名称", "指标值")
    assert ranking[["排名", "名称", "指标值"]].values.tolist() == [
        ["1", "东湖镇卫生院", "20"],
        ["2", "东湖社区卫生服务中心", "10"],
        ["—", "西山镇卫生院", "<5"],
    ]
    at.selectbox(key="in_county").set_value("130102").run()
    at.selectbox(key="in_inst").set_value("P1003").run()
    history = frame_with(at, "指标", "2025-06")
    assert row(history, 指标="上转人次")["2025-06"] == "<5"
    assert "西山县 · 基层 · 西山医共体" in [c.value for c in at.caption]


# --------------------------------------------------------------------------- 慢病管理


def test_chronic_indicators_and_undertreated_cases(open_page):
    at = open_page("chronic")
    assert metrics(at) == {
        "高血压规范管理率": ("46.0%", "+2.0 个百分点"),  # 230/500 vs 220/500
        "糖尿病规范管理率": ("40.0%", "+2.5 个百分点"),  # 96/240 vs 90/240
    }
    counties = frame_with(at, "指标", "名称", "指标值")
    assert row(counties, 指标="糖尿病规范管理率", 名称="西山县")["指标值"] == "36.0%"
    cases = frame_with(at, "该转未转人次", "其中高血压")
    assert cases[["机构", "该转未转人次", "其中高血压", "其中糖尿病"]].values.tolist() == [
        ["东湖镇卫生院", "9", "7", "<5"],
        ["西山镇卫生院", "5", "5", "<5"],
        ["东湖社区卫生服务中心", "<5", "<5", "<5"],
    ]
    at.sidebar.selectbox(key="ch_county_filter").set_value("130101").run()
    cases = frame_with(at, "该转未转人次", "其中高血压")
    assert list(cases["机构"]) == ["东湖镇卫生院", "东湖社区卫生服务中心"]
    at.sidebar.selectbox(key="ch_level").set_value("county").run()
    at.sidebar.selectbox(key="ch_geo").set_value("130102").run()
    assert metrics(at)["高血压规范管理率"] == ("40.0%", "")  # 80/200


# --------------------------------------------------------------------------- 号源下沉


def test_slots_reserved_share_and_use(open_page):
    at = open_page("slots")
    assert metrics(at) == {
        "号源下沉预留比例": ("21.6%", ""),
        "下沉号源使用率": ("5.8%", ""),
    }  # 345/1600, 20/345
    per_hospital = frame_with(at, "指标", "名称", "指标值")
    assert row(per_hospital, 指标="号源下沉预留比例", 名称="东湖县人民医院")["指标值"] == "15.8%"  # 95/600
    pools = frame_with(at, "门诊号源总数", "预留基层号源", "预留号源使用率")
    assert pools.values.tolist() == [
        ["市第一人民医院", 1000, 250, "19", "16", "14", "25.0%", "6.4%"],  # (14 attended + 2 no-show) / 250
        ["东湖县人民医院", 600, 95, "<5", "<5", "<5", "15.8%", "（例数<5）"],
    ]
    by_hospital = frame_with(at, "预约人次", "到诊", "爽约")
    assert by_hospital.values.tolist()[0] == ["市第一人民医院", "19", "14", "<5", "<5", "73.7%"]
    assert row(by_hospital, 机构="东湖县人民医院")["到诊率"] == "（例数<5）"
    assert "目标 ≥ 20% · :green[达标]" in [c.value for c in at.caption]


# --------------------------------------------------------------------------- 数据质量


def test_quality_scorecards_history_quarantine_and_worklist(open_page):
    at = open_page("quality")
    score = frame_with(at, "标准化前合格率(%)", "标准化后合格率(%)")
    # latest run only: 320/800 valid as received, 755/800 after standardization
    assert row(score, 数据源="his_b", 数据元="diagnosis_code")["标准化前合格率(%)"] == pytest.approx(40.0)
    assert row(score, 数据源="his_b", 数据元="diagnosis_code")["提升(百分点)"] == pytest.approx(54.4)
    assert len(score) == 4
    at.radio(key="dq_grain").set_value("source").run()
    score = frame_with(at, "标准化前合格率(%)", "标准化后合格率(%)")
    assert score[["数据源", "标准化前合格率(%)", "标准化后合格率(%)"]].values.tolist() == [
        ["his_a", 86.0, 99.7],  # 1720/2000, 1994/2000
        ["his_b", 52.5, 96.2],  # 840/1600, 1539/1600
    ]
    changes = frame_with(at, "变化类型", "变化")
    assert changes[["检查项", "数据源", "变化类型", "上次违规行数", "违规行数", "变化"]].values.tolist() == [
        ["referrals_accept_after_request", "全部", "新增失败", 0, 7, "+7"],
        ["referrals_accept_after_request", "his_a", "新增失败", 0, 7, "+7"],
        ["visits_diagnosis_not_null", "全部", "持续失败", 50, 45, "-5"],
        ["visits_diagnosis_not_null", "his_b", "持续失败", 50, 45, "-5"],
        ["visits_id_valid", "全部", "已解决", 120, 30, "-90"],
        ["visits_id_valid", "his_a", "已解决", 120, 30, "-90"],
    ]
    assert row(changes, 检查项="visits_id_valid", 数据源="全部")["严重程度"] == "阻断"
    m = metrics(at)
    assert m["本批次未通过检查"] == ("2", "0")
    assert m["阻断性未通过"] == ("0", "-1")
    assert m["违规行数"] == ("82", "-88")  # 30+7+45 vs 120+0+50
    fitness = frame_with(at, "数据集市表", "适用性结论")
    assert (
        row(fitness, 数据集市表="fct_visits")["适用性结论"] == "适用（有警告）"
    )  # latest run, not run 1's 不适用
    quarantine = frame_with(at, "原始值（已脱敏）", "行号")
    assert quarantine["原始值（已脱敏）"].tolist() == [
        "999999********999A",  # masked upstream: shape only (pipelines.privacy.mask)
        "999999999999999999",  # unmasked upstream: masked here by the same function
        "2025-13-45",
        "联系电话[电话]",
    ]
    worklist = frame_with(at, "出现次数", "原始值（已脱敏）", "来源")
    assert worklist[["原始值（已脱敏）", "出现次数"]].values.tolist()[0] == ["高血压病III期", 37]
    text = all_text(at)
    assert ID_IN_FIXTURE not in text and PHONE_IN_FIXTURE not in text


# --------------------------------------------------------------------------- 数据接入


def test_ingestion_files_rejections_and_freshness(open_page):
    at = open_page("ingestion")
    assert {k: v[0] for k, v in metrics(at).items()} == {
        "收到文件": "6",
        "已入库": "3",
        "已拒收": "1",
        "重复文件": "1",
        "已被替换": "1",
    }
    sources = frame_with(at, "收到文件数", "已入库")
    assert (row(sources, 数据源="his_a")["收到文件数"], row(sources, 数据源="his_a")["入库行数"]) == (3, 1050)
    rejected = frame_with(at, "文件名", "原因", "接收时间")
    assert rejected[["数据源", "原因"]].values.tolist() == [["his_c", "缺少必需列: 身份证号"]]
    fresh = frame_with(at, "最近接收", "距发布(天)")
    # published 2025-07-02 10:00; his_b last received 2025-06-30 09:00 = 49 h = 2.0 days
    assert row(fresh, 数据源="his_b")["距发布(天)"] == pytest.approx(2.0)
    assert row(fresh, 数据源="his_a")["距发布(天)"] == pytest.approx(0.1)  # 1 h 55 min
    files = frame_with(at, "文件标识", "状态")
    assert row(files, 文件标识="f03")["状态"] == "已被替换"
    assert_downloads(at, 4)
