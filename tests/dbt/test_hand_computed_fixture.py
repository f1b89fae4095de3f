"""Every indicator of one month worked out by hand on a small region, run through the real dbt project.

The region (tests/dbt/fixtures_handcalc/*.csv; std/ref tables as pipelines.standardize writes them):

    county N1 南县: T1 南镇卫生院 (level 1), H1 南县人民医院 (level 2)   -- alliance M1 南县医共体
    county X2 西区: T2 西街社区卫生服务中心 (level 1), H2 市中心医院 (level 3) -- no alliance
    sources: his_n (T1/H1 visits, T1 follow-ups), his_x (T2/H2 visits, T2 follow-ups, H2 slots),
             platform (the referral platform)

Persons (residence county in brackets) and what happens in March 2025:

    p1 [N1] hypertension. V1 T1 03-03 09:00 BP 185/112 (meets the up-referral criteria), DR exam
            -> R1 up T1->H2 outpatient 03-03 10:00, accepted 14:00 (4 h), arrived 03-04 10:00 (24 h);
            V2 H2 03-04 10:30 (receiving visit), DR again (repeat exam)
            -> R2 down H2->T1 outpatient 03-10 09:00, accepted 11:00 (2 h), no arrival recorded;
            F1 family-doctor contact (type 1, carries R2) 03-10 20:00 = 9 h after acceptance;
            chronic follow-ups (type 2) F5 2024-06-15, F4 2024-09-15, F3 2024-12-15, F2 2025-03-20
            (130/80, the latest). R1 closes (R2 follows within 90 days); R2 closes (contact + F2).
    p2 [N1] hypertension. V3 T1 03-05 BP 150/95. Chronic F6 2025-01-10, F7 2025-03-12 150/95.
            R5 up T1->H1 outpatient 03-25, cancelled.
    p3 [X2] type 2 diabetes (E11). V4 T2 03-06 fasting glucose 17.2 (criterion >= 16.7), not
            referred within 3 days -> 该转未转. Chronic F8 T2 03-06 glucose 6.5.
            R3 up T2->H2 outpatient 03-20, returned 12:00, reason 01 无床位.
    p4 [N1] V5 admitted H1 03-08 10:00, discharged 03-15 10:00 (7 days) with disposition 3 ->
            down-referral DSP:H1:V5 (inpatient, from H1), linked to V6 T1 03-18 (arrived); no contact.
    p5 [X2] V7 H1 03-12 outpatient (outside the home county). V8 admitted H2 03-20 11:00, discharged
            03-23 09:00 (3 days, disposition 1). R4 down H2->T2 inpatient 03-23 10:00, accepted 16:00
            (6 h), no-show; no contact.
    p6 [X2] type 1 diabetes (E10): V9 T2 03-14 and chronic F9 03-14 -- outside the 2型糖尿病 programme.
    slots:  SP1 at H2, clinic 03-25: 50 slots, 10 reserved; B1 attended, B2 no-show, B3 cancelled.
    April:  VA1 (T1), VA2 (T2) and RA1 (platform) on 04-01 only -> 2025-04 is partial for every source.

Every expected value below is (numerator, denominator, value, null_reason) with the arithmetic in the
comment next to it. Geography = the attributed institution's county/alliance/level unless noted.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from dbt_harness import DbtRun, load_fixture_warehouse, run_dbt

HANDCALC = Path(__file__).resolve().parent / "fixtures_handcalc"
M = "2025-03"
NR = None  # no null_reason
Z = "zero_denominator"
NO_OBS = "no_observations"

# (indicator, geo_level, geo_id, breakdown) -> (numerator, denominator, value, null_reason), March 2025
EXPECTED = {
    # 基层诊疗量占比: outpatient visits V1 V2 V3 V4 V6 V7 V9 = 7; at level 1: V1 V3 V4 V6 V9 = 5
    ("primary_care_visit_share", "region", "all", None): (5, 7, 71.4286, NR),  # 5/7
    ("primary_care_visit_share", "county", "N1", None): (3, 4, 75.0, NR),  # V1 V3 V6 of V1 V3 V6 V7
    ("primary_care_visit_share", "county", "X2", None): (2, 3, 66.6667, NR),  # V4 V9 of V2 V4 V9
    ("primary_care_visit_share", "alliance", "M1", None): (3, 4, 75.0, NR),  # M1 = T1 + H1 = N1
    # 县域内就诊率 by residence: N1 residents V1(in) V2(H2: out) V3(in) V6(in) = 3/4;
    # X2 residents V4(in) V7(H1: out) V9(in) = 2/3
    ("in_county_visit_rate", "region", "all", None): (5, 7, 71.4286, NR),
    ("in_county_visit_rate", "county", "N1", None): (3, 4, 75.0, NR),
    ("in_county_visit_rate", "county", "X2", None): (2, 3, 66.6667, NR),
    # 县域内住院率: V5 (p4 N1 at H1 N1) in, V8 (p5 X2 at H2 X2) in
    ("in_county_admission_rate", "region", "all", None): (2, 2, 100.0, NR),
    ("in_county_admission_rate", "county", "N1", None): (1, 1, 100.0, NR),
    ("in_county_admission_rate", "county", "X2", None): (1, 1, 100.0, NR),
    # 基层首诊率: episode openers V1 V3 V4 V5 V7 V8 V9 (V2: p1 I10 the day after V1; V6: p4 J18
    # 10 days after V5) = 7; at level 1: V1 V3 V4 V9 = 4
    ("primary_first_visit_rate", "region", "all", None): (4, 7, 57.1429, NR),
    ("primary_first_visit_rate", "county", "N1", None): (2, 4, 50.0, NR),  # V1 V3 of V1 V3 V5 V7
    ("primary_first_visit_rate", "county", "X2", None): (2, 3, 66.6667, NR),  # V4 V9 of V4 V8 V9
    ("primary_first_visit_rate", "alliance", "M1", None): (2, 4, 50.0, NR),
    # 上转人次（门急诊）by sender, every status: R1 (T1), R3 (T2), R5 (T1, cancelled) = 3
    ("up_referrals_outpatient", "region", "all", None): (3, None, 3.0, NR),
    ("up_referrals_outpatient", "county", "N1", None): (2, None, 2.0, NR),
    ("up_referrals_outpatient", "county", "X2", None): (1, None, 1.0, NR),
    ("up_referrals_outpatient", "institution", "T1", None): (2, None, 2.0, NR),
    ("up_referrals_outpatient", "institution", "H1", None): (0, None, 0.0, NR),  # zero row
    ("up_referrals_outpatient", "level", "1", None): (3, None, 3.0, NR),
    ("up_referrals_outpatient", "level", "3", None): (0, None, 0.0, NR),  # zero row
    # 上转人次（住院）: none at all -> 0 everywhere, not missing
    ("up_referrals_inpatient", "region", "all", None): (0, None, 0.0, NR),
    ("up_referrals_inpatient", "county", "N1", None): (0, None, 0.0, NR),
    ("up_referrals_inpatient", "alliance", "M1", None): (0, None, 0.0, NR),
    ("up_referrals_inpatient", "institution", "T2", None): (0, None, 0.0, NR),
    # 下转人次（门急诊）: R2 from H2 (X2)
    ("down_referrals_outpatient", "region", "all", None): (1, None, 1.0, NR),
    ("down_referrals_outpatient", "county", "N1", None): (0, None, 0.0, NR),  # zero row
    ("down_referrals_outpatient", "county", "X2", None): (1, None, 1.0, NR),
    # 下转人次（住院）: R4 from H2 + DSP:H1:V5 from H1
    ("down_referrals_inpatient", "region", "all", None): (2, None, 2.0, NR),
    ("down_referrals_inpatient", "county", "N1", None): (1, None, 1.0, NR),
    ("down_referrals_inpatient", "county", "X2", None): (1, None, 1.0, NR),
    ("down_referrals_inpatient", "alliance", "M1", None): (1, None, 1.0, NR),
    # 下转率: inpatient downs from level 2/3 (R4, DSP) / discharges at level 2/3 (V5, V8)
    ("down_referral_rate", "region", "all", None): (2, 2, 100.0, NR),
    ("down_referral_rate", "county", "N1", None): (1, 1, 100.0, NR),  # DSP / V5
    ("down_referral_rate", "county", "X2", None): (1, 1, 100.0, NR),  # R4 / V8
    ("down_referral_rate", "level", "1", None): (0, 0, None, Z),  # no level-1 discharge
    # 下转人次同比增长率: downs R2 R4 DSP = 3; 2024-03 is before the data (it starts 2024-06)
    ("down_referral_yoy_growth", "region", "all", None): (3, 0, None, "no_baseline_period"),
    ("down_referral_yoy_growth", "county", "X2", None): (2, 0, None, "no_baseline_period"),
    # 上转退回率 at the receiver: R1 (H2) and R3 (H2, returned); R5 cancelled is excluded
    ("up_return_rate", "region", "all", None): (1, 2, 50.0, NR),
    ("up_return_rate", "county", "X2", None): (1, 2, 50.0, NR),
    ("up_return_rate", "county", "N1", None): (0, 0, None, Z),  # no up-referral received in N1
    ("up_return_rate", "institution", "H2", None): (1, 2, 50.0, NR),
    # 上转退回原因构成: the one return (R3) has reason 01
    ("up_return_reason_share", "region", "all", "01"): (1, 1, 100.0, NR),
    ("up_return_reason_share", "region", "all", "02"): (0, 1, 0.0, NR),
    ("up_return_reason_share", "county", "N1", "01"): (0, 0, None, Z),
    # hours request -> acceptance (platform, at the receiver): R1 4 h (up, H2), R2 2 h (down, T1),
    # R4 6 h (down, T2). Median of 2, 4, 6 = 4; up: 4; down: (2 + 6) / 2 = 4
    ("hours_to_accept_median", "region", "all", None): (3, None, 4.0, NR),
    ("hours_to_accept_median", "region", "all", "up"): (1, None, 4.0, NR),
    ("hours_to_accept_median", "region", "all", "down"): (2, None, 4.0, NR),
    ("hours_to_accept_median", "county", "N1", None): (1, None, 2.0, NR),  # R2 at T1
    ("hours_to_accept_median", "county", "N1", "up"): (0, None, None, NO_OBS),  # nothing up to N1
    ("hours_to_accept_median", "county", "X2", None): (2, None, 5.0, NR),  # (4 + 6) / 2
    # P90 (continuous): 2, 4, 6 -> 4 + 0.8 * (6 - 4) = 5.6; down 2, 6 -> 2 + 0.9 * 4 = 5.6;
    # X2 4, 6 -> 4 + 0.9 * 2 = 5.8
    ("hours_to_accept_p90", "region", "all", None): (3, None, 5.6, NR),
    ("hours_to_accept_p90", "region", "all", "up"): (1, None, 4.0, NR),
    ("hours_to_accept_p90", "region", "all", "down"): (2, None, 5.6, NR),
    ("hours_to_accept_p90", "county", "X2", None): (2, None, 5.8, NR),
    # hours request -> arrival: only R1 (24 h) has a recorded arrival
    ("hours_to_arrival_median", "region", "all", None): (1, None, 24.0, NR),
    ("hours_to_arrival_median", "region", "all", "up"): (1, None, 24.0, NR),
    ("hours_to_arrival_median", "region", "all", "down"): (0, None, None, NO_OBS),
    ("hours_to_arrival_p90", "region", "all", None): (1, None, 24.0, NR),
    ("hours_to_arrival_p90", "region", "all", "down"): (0, None, None, NO_OBS),
    # 到诊率 of accepted platform referrals: R1 arrived (up, H2), R2 accepted (down, T1),
    # R4 no-show (down, T2) -> 1/3; up 1/1; down 0/2
    ("arrival_rate", "region", "all", None): (1, 3, 33.3333, NR),
    ("arrival_rate", "region", "all", "up"): (1, 1, 100.0, NR),
    ("arrival_rate", "region", "all", "down"): (0, 2, 0.0, NR),
    ("arrival_rate", "county", "N1", None): (0, 1, 0.0, NR),  # R2 at T1
    ("arrival_rate", "county", "X2", "up"): (1, 1, 100.0, NR),  # R1 at H2
    ("arrival_rate", "county", "X2", "down"): (0, 1, 0.0, NR),  # R4 at T2
    ("arrival_rate", "county", "N1", "up"): (0, 0, None, Z),
    # 24 h contact, downs not returned/cancelled at the receiver: R2 (T1, 9 h) yes, DSP (T1) no,
    # R4 (T2) no
    ("fd_contact_24h_rate", "region", "all", None): (1, 3, 33.3333, NR),
    ("fd_contact_24h_rate", "county", "N1", None): (1, 2, 50.0, NR),
    ("fd_contact_24h_rate", "county", "X2", None): (0, 1, 0.0, NR),
    # 闭环率 by sender, returned/cancelled excluded: R1 (T1, up) closed; R2 (H2, down) closed;
    # R4 (H2, down) and DSP (H1, down) not -> 2/4; up 1/1; down 1/3
    ("closed_loop_rate", "region", "all", None): (2, 4, 50.0, NR),
    ("closed_loop_rate", "region", "all", "up"): (1, 1, 100.0, NR),
    ("closed_loop_rate", "region", "all", "down"): (1, 3, 33.3333, NR),
    ("closed_loop_rate", "county", "N1", None): (1, 2, 50.0, NR),  # R1 yes, DSP no
    ("closed_loop_rate", "county", "N1", "down"): (0, 1, 0.0, NR),  # DSP
    ("closed_loop_rate", "county", "X2", "up"): (0, 0, None, Z),  # X2 sent no open up-referral
    ("closed_loop_rate", "county", "X2", "down"): (1, 2, 50.0, NR),  # R2 yes, R4 no
    # 号源下沉: SP1 at H2: 10 of 50 reserved; booked 2 (attended + no-show) of 10
    ("slot_reserved_share", "region", "all", None): (10, 50, 20.0, NR),
    ("slot_reserved_share", "county", "N1", None): (0, 0, None, Z),
    ("slot_reserved_use_rate", "region", "all", None): (2, 10, 20.0, NR),
    ("slot_reserved_use_rate", "institution", "H2", None): (2, 10, 20.0, NR),
    # 平均住院日: V5 7 days (H1) + V8 3 days (H2) over 2 discharges
    ("avg_length_of_stay", "region", "all", None): (10, 2, 5.0, NR),
    ("avg_length_of_stay", "county", "N1", None): (7, 1, 7.0, NR),
    ("avg_length_of_stay", "level", "3", None): (3, 1, 3.0, NR),
    ("avg_length_of_stay", "level", "1", None): (0, 0, None, Z),
    # 高血压: managed p1 (F5 F4 F3 F2 = 4 follow-ups in the 12 months to March) and p2 (F6 F7 = 2)
    # 规范管理 = >= 4 follow-ups: p1 -> 1/2; 血压控制 = latest reading < 140/90: p1 130/80 yes,
    # p2 150/95 no -> 1/2. Both at T1 (N1).
    ("htn_standard_mgmt_rate", "region", "all", None): (1, 2, 50.0, NR),
    ("htn_standard_mgmt_rate", "county", "N1", None): (1, 2, 50.0, NR),
    ("htn_standard_mgmt_rate", "county", "X2", None): (0, 0, None, Z),
    ("htn_bp_control_rate", "region", "all", None): (1, 2, 50.0, NR),
    ("htn_bp_control_rate", "institution", "T1", None): (1, 2, 50.0, NR),
    # 2型糖尿病: managed p3 only (p6 has type 1, E10): 1 follow-up -> not 规范管理 (0/1);
    # latest glucose 6.5 < 7.0 -> controlled (1/1)
    ("dm_standard_mgmt_rate", "region", "all", None): (0, 1, 0.0, NR),
    ("dm_standard_mgmt_rate", "county", "N1", None): (0, 0, None, Z),
    ("dm_glucose_control_rate", "region", "all", None): (1, 1, 100.0, NR),
    ("dm_glucose_control_rate", "county", "X2", None): (1, 1, 100.0, NR),
    # 7日内重复检查率: arrived referrals with a prior exam at the sender: R1 (DR at T1 one hour
    # before), repeated at H2 (DR 30 min after arrival) -> 1/1; the arrived DSP had no prior exam
    ("repeat_exam_7d_rate", "region", "all", None): (1, 1, 100.0, NR),
    ("repeat_exam_7d_rate", "region", "all", "up"): (1, 1, 100.0, NR),
    ("repeat_exam_7d_rate", "region", "all", "down"): (0, 0, None, Z),
    # 该转未转: criteria visits V1 (T1, referred by R1 the same hour) and V4 (T2, not referred)
    ("undertreated_cases", "region", "all", None): (1, None, 1.0, NR),
    ("undertreated_cases", "county", "N1", None): (0, None, 0.0, NR),  # zero row
    ("undertreated_cases", "institution", "T2", None): (1, None, 1.0, NR),
    ("undertreated_rate", "region", "all", None): (1, 2, 50.0, NR),
    ("undertreated_rate", "county", "N1", None): (0, 1, 0.0, NR),
    ("undertreated_rate", "county", "X2", None): (1, 1, 100.0, NR),
}


@pytest.fixture(scope="module")
def handcalc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("handcalc")
    db = load_fixture_warehouse(work / "warehouse.duckdb", HANDCALC)
    run: DbtRun = run_dbt(["build", "--exclude", "resource_type:unit_test"], db, work)
    failing = {uid: s for uid, s in run.statuses.items() if s not in ("success", "pass")}
    assert run.success and failing == {}
    return db


def _rows(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_every_registry_indicator_is_worked_out_by_hand():
    import csv

    with open(
        Path(__file__).resolve().parents[2] / "dbt_project/seeds/indicator_registry.csv", encoding="utf-8"
    ) as f:
        ids = {row["indicator_id"] for row in csv.DictReader(f)}
    assert ids == {key[0] for key in EXPECTED}
    split = {key[0] for key in EXPECTED if key[3] in ("up", "down")}
    assert split == {
        "hours_to_accept_median", "hours_to_accept_p90", "hours_to_arrival_median", "hours_to_arrival_p90",
        "arrival_rate", "closed_loop_rate", "repeat_exam_7d_rate",
    }  # fmt: skip


def test_march_values_match_the_hand_computation(handcalc):
    got = {
        (iid, level, geo, bd): (num, den, val, reason)
        for iid, level, geo, bd, num, den, val, reason in _rows(
            handcalc,
            "select indicator_id, geo_level, geo_id, breakdown, numerator, denominator, value, null_reason "
            "from marts.indicator_values where period = ?",
            [M],
        )
    }
    wrong = {key: (got.get(key, "no row"), exp) for key, exp in EXPECTED.items() if got.get(key) != exp}
    assert wrong == {}


def test_dense_every_indicator_period_geography_and_breakdown_has_one_row(handcalc):
    # geographies: region 1, counties 2 (N1 X2), alliance 1 (M1), institutions 4, levels 3 = 11.
    # 25 indicators reach all 11: 17 with one row, 7 direction-split (total, up, down) x 3,
    # 退回原因构成 x 6 reason codes; 县域内就诊率/住院率 reach region + 2 counties = 3;
    # 基层诊疗量占比 and 基层首诊率 region + counties + alliance = 4.
    # 17*11 + 7*3*11 + 6*11 + 2*3 + 2*4 = 187 + 231 + 66 + 6 + 8 = 498 per month
    counts = _rows(handcalc, "select period, count(*) from marts.indicator_values group by 1 order by 1")
    # months from the first event (follow-up F5, 2024-06) to the last (2025-04)
    assert [p for p, _ in counts] == [f"2024-{m:02d}" for m in range(6, 13)] + [
        f"2025-{m:02d}" for m in range(1, 5)
    ]
    assert {n for _, n in counts} == {498}
    # a count is never null; a null value always has a reason, in Chinese too
    assert _rows(
        handcalc,
        "select count(*) from marts.indicator_values v join marts.indicator_registry r using (indicator_id) "
        "where (r.aggregation = 'count' and v.value is null) "
        "or (v.value is null and (v.null_reason is null or v.null_reason_zh is null)) "
        "or (v.value is not null and v.null_reason is not null)",
    ) == [(0,)]


def test_completeness_is_judged_from_the_data_received(handcalc):
    rows = _rows(
        handcalc,
        "select period, active_sources, is_complete, missing_sources, missing_detail_zh "
        "from marts.period_completeness where period >= '2025-02' order by period",
    )
    assert rows == [
        ("2025-02", 1, True, None, None),  # only his_n had started (follow-ups since 2024-06)
        ("2025-03", 3, True, None, None),  # every source has data on 2025-04-01 >= 03-31
        (
            "2025-04",
            3,
            False,
            "his_n,his_x,platform",
            "his_n（数据截至 2025-04-01）；his_x（数据截至 2025-04-01）；platform（数据截至 2025-04-01）",
        ),
    ]


def test_april_is_partial_but_computed(handcalc):
    # VA1 (T1) and VA2 (T2) are the only April visits: both primary care -> 2/2
    assert _rows(
        handcalc,
        "select numerator, denominator, value from marts.indicator_values "
        "where indicator_id = 'primary_care_visit_share' and period = '2025-04' and geo_level = 'region'",
    ) == [(2.0, 2.0, 100.0)]


def test_cli_defaults_to_the_latest_complete_month(handcalc, capsys):
    from pipelines.cli import main

    assert main(["indicators", "--published", str(handcalc), "--indicator", "arrival_rate"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "指标 Indicators  period=2025-03  level=region  (3 rows)"
    assert [line.split()[1:4] for line in out[2:]] == [
        ["到诊率", "全市", "33.33"],
        ["到诊率", "[下转]", "全市"],
        ["到诊率", "[上转]", "全市"],
    ]


# --------------------------------------------------------------------------- the monthly report


def test_monthly_report_workbook_and_pdf(handcalc, tmp_path, capsys):
    import zipfile

    import openpyxl

    from pipelines.cli import main
    from pipelines.publish.report import small_people_cells

    assert main(["report", "--published", str(handcalc), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    xlsx = tmp_path / "月度分级诊疗运行报告_2025-03.xlsx"  # the default: the latest complete month
    pdf = tmp_path / "月度分级诊疗运行报告_2025-03.pdf"
    assert f"xlsx: {xlsx}" in out and f"pdf: {pdf}" in out
    assert pdf.read_bytes()[:5] == b"%PDF-"
    wb = openpyxl.load_workbook(xlsx)
    assert wb.sheetnames == ["核心指标", "区县排名", "转诊流向", "退回原因", "数据质量", "数据完整性"]
    with zipfile.ZipFile(xlsx) as z:  # native charts: one chart part per chart
        charts = sorted(n for n in z.namelist() if n.startswith("xl/charts/chart"))
    # headline, county ranking, level flows, return reasons; the quality chart needs quality.* tables,
    # which a bare dbt warehouse does not have (the sheet then holds only its header)
    assert len(charts) == 4
    head = wb["核心指标"]
    assert head["A1"].value == "月度分级诊疗运行报告（2025-03）"
    assert head["A2"].value == "数据完整"
    rows = {r[0]: r for r in head.iter_rows(min_row=7, values_only=True) if r[0]}
    # every count in the hand-computed region is below 5: shown as <5, and rates built on them withheld
    assert rows["上转人次（门急诊）"][2] == "<5"  # 3 up-referrals
    assert rows["基层诊疗量占比"][2] == 71.4  # 5/7: neither count is below 5
    assert rows["上转退回率"][2] == "（例数<5）"  # 1/2
    assert rows["号源下沉占比"][2] == 20.0  # 10 of 50 slots (slots are not people)
    assert rows["基层诊疗量占比"][3] == "≥65"
    # no people count below 5 anywhere in the workbook
    assert small_people_cells(xlsx) == []
    # the county ranking lists both counties; flows and reasons suppressed; completeness lists April
    ranking = [r for r in wb["区县排名"].iter_rows(min_row=4, values_only=True) if r[1]]
    assert sorted(r[1] for r in ranking) == ["南县", "西区"]
    flows = [
        r
        for r in wb["转诊流向"].iter_rows(min_row=4, max_row=20, values_only=True)
        if r[0] in ("上转", "下转")
    ]
    assert flows and all(r[3] == "<5" for r in flows)
    comp = {r[0]: r for r in wb["数据完整性"].iter_rows(min_row=4, values_only=True) if r[0]}
    assert comp["2025-04"][1:] == (
        "数据不完整",
        "his_n（数据截至 2025-04-01）；his_x（数据截至 2025-04-01）；platform（数据截至 2025-04-01）",
    )
    assert comp["2025-03"][1:] == ("数据完整", "—")
    # the checker does see a count below 5 when one is written
    wb["转诊流向"]["D4"] = 3
    wb.save(tmp_path / "tampered.xlsx")
    assert small_people_cells(tmp_path / "tampered.xlsx") == [("转诊流向", "人次", 3)]


def test_monthly_report_of_a_partial_month_says_so(handcalc, tmp_path):
    from pipelines.publish.report import build_report, render_html

    report = build_report(handcalc, "2025-04")
    assert not report.status.is_complete
    html = render_html(report)
    assert "数据不完整（尚缺：his_n（数据截至 2025-04-01）" in html
    assert "None" not in html and "nan" not in html
