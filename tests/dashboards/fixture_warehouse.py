"""A small published snapshot with hand-chosen values, for the dashboard tests.

The marts below are written by hand into tables created from the marts' dbt contracts
(``dbt_project/models/marts/_models.yml``: the same columns and types; a contracted column the
fixture does not fill is NULL, a fixture column the contract does not have fails the build, so the
fixture cannot drift from what dbt builds); the reporting aggregates the pages read are built from them by
the dbt project itself (``dbt run --select reporting``) and the snapshot by the pipeline's publish
step, so the tests see exactly what a real run publishes (reporting + marts without row-level facts
+ restricted), with the small-cell rule applied in the data.

Every number the AppTests assert is derived by hand from the rows below; the comments give the
arithmetic. The tables follow docs/design.md ("Marts the dashboards read", "Publish").

Hand-checked facts (period 2025-06 unless noted):
- 基层诊疗量占比: 东湖县 612/1000 = 61.2% (2025-05: 590/1000 = 59.0%, so +2.2 个百分点);
  全市 1100/1800 = 61.1%; 西山县 488/800 = 61.0%.
- 上转人次 (indicator): 全市 42 (2025-05: 40), 西山镇卫生院 3 -> shown ``<5``.
- fct_referrals 2025-06: 35 up (14 returned: 8 无床位, 6 缺少设备/技术 -> 退回率 40.0%),
  19 down (14 contacted by the family doctor within 24 h -> 73.7%; 10 closed loops -> 52.6%);
  up across alliances: 3 -> ``<5``; 下转 二级 -> 基层: 4 -> ``<5``.
- 该转未转 2025-06: 东湖镇卫生院 9 (7 hypertension + 2 diabetes), 西山镇卫生院 5, 东湖社区 3 -> ``<5``.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd

sys.path.append(
    str(Path(__file__).resolve().parents[1] / "dbt")
)  # dbt_harness (tests/dbt), after our conftest

COUNTY_EAST, COUNTY_WEST = "130101", "130102"

INSTITUTIONS = [
    # code, name, level_code, level_name, type_code, county_code, county_name, alliance_id, alliance_name
    ("H3001", "市第一人民医院", "3", "三级", "tertiary_hospital", COUNTY_EAST, "东湖县", "A01", "东湖医联体"),
    ("H2001", "东湖县人民医院", "2", "二级", "county_hospital", COUNTY_EAST, "东湖县", "A01", "东湖医联体"),
    ("P1001", "东湖镇卫生院", "1", "基层", "township_hc", COUNTY_EAST, "东湖县", "A01", "东湖医联体"),
    (
        "P1002",
        "东湖社区卫生服务中心",
        "1",
        "基层",
        "community_hc",
        COUNTY_EAST,
        "东湖县",
        "A01",
        "东湖医联体",
    ),
    ("H2002", "西山县人民医院", "2", "二级", "county_hospital", COUNTY_WEST, "西山县", "A02", "西山医共体"),
    ("P1003", "西山镇卫生院", "1", "基层", "township_hc", COUNTY_WEST, "西山县", "A02", "西山医共体"),
]
INST = {row[0]: row for row in INSTITUTIONS}

REGISTRY = [
    # indicator_id, name_zh, definition_zh, numerator_zh, denominator_zh, unit, target, direction
    (
        "primary_care_visit_share",
        "基层诊疗量占比",
        "基层医疗卫生机构诊疗人次占全部诊疗人次的比例。",
        "基层医疗卫生机构门急诊人次",
        "全部医疗机构门急诊人次",
        "%",
        65.0,
        "higher_better",
    ),
    (
        "in_county_visit_rate",
        "县域内就诊率",
        "县域常住居民在县域内就诊的人次占其全部就诊人次的比例。",
        "县域内就诊人次",
        "县域居民全部就诊人次",
        "%",
        90.0,
        "higher_better",
    ),
    ("up_referrals", "上转人次", "统计期内发起的上转人次。", "上转人次", "", "人次", None, None),
    ("down_referrals", "下转人次", "统计期内发起的下转人次。", "下转人次", "", "人次", None, "higher_better"),
    (
        "up_referral_return_rate",
        "上转退回率",
        "被接收方退回的上转单占全部上转单的比例。",
        "被退回的上转人次",
        "上转人次",
        "%",
        None,
        "lower_better",
    ),
    (
        "up_return_reason_share",
        "上转退回原因构成",
        "各退回原因占全部被退回上转的比例（按原因分解）。",
        "该原因退回的上转人次",
        "被退回的上转人次",
        "%",
        None,
        None,
    ),
    (
        "htn_standard_mgmt_rate",
        "高血压规范管理率",
        "按规范进行随访管理的高血压患者占已管理高血压患者的比例。",
        "规范管理的高血压患者数",
        "已管理的高血压患者数",
        "%",
        40.0,
        "higher_better",
    ),
    (
        "dm_standard_mgmt_rate",
        "糖尿病规范管理率",
        "按规范进行随访管理的2型糖尿病患者占已管理糖尿病患者的比例。",
        "规范管理的糖尿病患者数",
        "已管理的糖尿病患者数",
        "%",
        40.0,
        "higher_better",
    ),
    (
        "slot_reserved_share",
        "号源下沉预留比例",
        "牵头医院向基层预留的门诊号源占其全部门诊号源的比例。",
        "预留给基层的号源数",
        "门诊号源总数",
        "%",
        20.0,
        "higher_better",
    ),
    (
        "slot_reserved_use_rate",
        "下沉号源使用率",
        "预留号源中被基层预约并到诊的比例。",
        "基层预约并到诊的预留号源数",
        "预留号源数",
        "%",
        None,
        "higher_better",
    ),
]

# indicator_id, period, geo_level, geo_id, geo_name, numerator, denominator (None = a count)[, breakdown]
VALUES = [
    # breakdown rows (the reason mix): never shown as a card or in a total table
    ("up_return_reason_share", "2025-06", "region", "city", "全市", 8, 14, "01"),
    ("up_return_reason_share", "2025-06", "region", "city", "全市", 6, 14, "02"),
    ("primary_care_visit_share", "2025-06", "region", "city", "全市", 1100, 1800),
    ("primary_care_visit_share", "2025-05", "region", "city", "全市", 1050, 1800),
    ("primary_care_visit_share", "2025-06", "county", COUNTY_EAST, "东湖县", 612, 1000),
    ("primary_care_visit_share", "2025-05", "county", COUNTY_EAST, "东湖县", 590, 1000),
    ("primary_care_visit_share", "2025-06", "county", COUNTY_WEST, "西山县", 488, 800),
    ("primary_care_visit_share", "2025-05", "county", COUNTY_WEST, "西山县", 460, 800),
    ("primary_care_visit_share", "2025-06", "alliance", "A01", "东湖医联体", 530, 1000),
    ("primary_care_visit_share", "2025-06", "alliance", "A02", "西山医共体", 571, 800),
    ("in_county_visit_rate", "2025-06", "region", "city", "全市", 1620, 1800),
    ("in_county_visit_rate", "2025-05", "region", "city", "全市", 1600, 1800),
    ("in_county_visit_rate", "2025-06", "county", COUNTY_EAST, "东湖县", 930, 1000),
    ("in_county_visit_rate", "2025-06", "county", COUNTY_WEST, "西山县", 690, 800),
    ("up_referrals", "2025-06", "region", "city", "全市", 42, None),
    ("up_referrals", "2025-05", "region", "city", "全市", 40, None),
    ("up_referrals", "2025-06", "county", COUNTY_EAST, "东湖县", 30, None),
    ("up_referrals", "2025-06", "county", COUNTY_WEST, "西山县", 12, None),
    ("up_referrals", "2025-06", "level", "1", "基层", 33, None),
    ("up_referrals", "2025-06", "institution", "P1001", "东湖镇卫生院", 20, None),
    ("up_referrals", "2025-05", "institution", "P1001", "东湖镇卫生院", 16, None),
    ("up_referrals", "2025-06", "institution", "P1002", "东湖社区卫生服务中心", 10, None),
    ("up_referrals", "2025-06", "institution", "P1003", "西山镇卫生院", 3, None),
    ("down_referrals", "2025-06", "region", "city", "全市", 25, None),
    ("down_referrals", "2025-05", "region", "city", "全市", 20, None),
    ("down_referrals", "2025-06", "level", "3", "三级", 18, None),
    ("down_referrals", "2025-06", "level", "2", "二级", 7, None),
    ("down_referrals", "2025-06", "institution", "H3001", "市第一人民医院", 18, None),
    ("down_referrals", "2025-06", "institution", "H2001", "东湖县人民医院", 3, None),
    ("down_referrals", "2025-06", "institution", "H2002", "西山县人民医院", 4, None),
    ("up_referral_return_rate", "2025-06", "region", "city", "全市", 14, 42),
    ("up_referral_return_rate", "2025-05", "region", "city", "全市", 10, 40),
    ("up_referral_return_rate", "2025-06", "institution", "P1001", "东湖镇卫生院", 8, 20),
    ("up_referral_return_rate", "2025-06", "institution", "P1002", "东湖社区卫生服务中心", 6, 10),
    ("up_referral_return_rate", "2025-06", "institution", "P1003", "西山镇卫生院", 0, 3),
    ("htn_standard_mgmt_rate", "2025-06", "region", "city", "全市", 230, 500),
    ("htn_standard_mgmt_rate", "2025-05", "region", "city", "全市", 220, 500),
    ("htn_standard_mgmt_rate", "2025-06", "county", COUNTY_EAST, "东湖县", 150, 300),
    ("htn_standard_mgmt_rate", "2025-06", "county", COUNTY_WEST, "西山县", 80, 200),
    ("dm_standard_mgmt_rate", "2025-06", "region", "city", "全市", 96, 240),
    ("dm_standard_mgmt_rate", "2025-05", "region", "city", "全市", 90, 240),
    ("dm_standard_mgmt_rate", "2025-06", "county", COUNTY_EAST, "东湖县", 60, 140),
    ("dm_standard_mgmt_rate", "2025-06", "county", COUNTY_WEST, "西山县", 36, 100),
    ("slot_reserved_share", "2025-06", "region", "city", "全市", 345, 1600),
    ("slot_reserved_share", "2025-06", "institution", "H3001", "市第一人民医院", 250, 1000),
    ("slot_reserved_share", "2025-06", "institution", "H2001", "东湖县人民医院", 95, 600),
    # bookings not cancelled / reserved slots, as fct_slot_pools below: 16/250, 4/95, 20/345
    ("slot_reserved_use_rate", "2025-06", "region", "city", "全市", 20, 345),
    ("slot_reserved_use_rate", "2025-06", "institution", "H3001", "市第一人民医院", 16, 250),
    ("slot_reserved_use_rate", "2025-06", "institution", "H2001", "东湖县人民医院", 4, 95),
]

# Referral groups: (period, from, to, direction, n, outcome, reason, hours_to_accept, hours_to_arrival,
#                   fd_contact_hours, closed_loop)
REFERRAL_GROUPS = [
    ("2025-06", "P1001", "H3001", "up", 12, "arrived", None, 2.0, 20.0, None, True),
    ("2025-06", "P1001", "H2001", "up", 8, "returned", "01", None, None, None, False),
    ("2025-06", "P1002", "H3001", "up", 6, "returned", "02", None, None, None, False),
    ("2025-06", "P1003", "H3001", "up", 3, "arrived", None, 30.0, 50.0, None, True),
    ("2025-06", "P1003", "H2002", "up", 6, "accepted", None, 5.0, None, None, False),
    ("2025-06", "H3001", "P1001", "down", 10, "arrived", None, 1.0, 10.0, 6.0, True),
    ("2025-06", "H3001", "P1002", "down", 5, "arrived", None, 1.0, 10.0, 30.0, False),
    ("2025-06", "H2002", "P1003", "down", 4, "arrived", None, 1.0, 10.0, 6.0, False),
    ("2025-05", "P1001", "H3001", "up", 10, "arrived", None, 3.0, 20.0, None, True),
    ("2025-05", "H3001", "P1001", "down", 7, "arrived", None, 1.0, 10.0, 6.0, True),
]
RETURN_REASONS = {"01": "无床位", "02": "缺少设备/技术"}

# (period, condition, criterion, institution_code, n)
UNDERTREATED = [
    ("2025-06", "hypertension", "血压≥180/110 mmHg 未上转", "P1001", 7),
    ("2025-06", "diabetes", "首次发现血糖异常且分型不明 未上转", "P1001", 2),
    ("2025-06", "hypertension", "血压≥180/110 mmHg 未上转", "P1003", 5),
    ("2025-06", "diabetes", "首次发现血糖异常且分型不明 未上转", "P1002", 3),
]

# (period, pool institution, booking institution, status code, n)
BOOKINGS = [
    ("2025-06", "H3001", "P1001", "1", 8),
    ("2025-06", "H3001", "P1001", "2", 2),
    ("2025-06", "H3001", "P1002", "1", 6),
    ("2025-06", "H3001", "P1002", "3", 3),
    ("2025-06", "H2001", "P1003", "1", 4),
]

PUBLISHED_AT = datetime(2025, 7, 2, 10, 0, 0)


def _institution_frame() -> pd.DataFrame:
    cols = [
        "institution_code",
        "institution_name",
        "level_code",
        "level_name",
        "type_code",
        "county_code",
        "county_name",
        "alliance_id",
        "alliance_name",
    ]
    df = pd.DataFrame(INSTITUTIONS, columns=cols)
    df["alliance_type"] = df["alliance_name"].map(lambda n: "医共体" if n.endswith("医共体") else "医联体")
    df["is_alliance_lead"] = df["institution_code"].isin(["H3001", "H2002"])
    df["is_primary_care"] = df["level_code"] == "1"
    return df


def _registry_frame() -> pd.DataFrame:
    rows = []
    for ind_id, name, definition, num, den, unit, target, direction in REGISTRY:
        rows.append(
            {
                "indicator_id": ind_id,
                "name_zh": name,
                "name_en": ind_id.replace("_", " "),
                "definition_zh": definition,
                "definition_en": "",
                "numerator_zh": num,
                "denominator_zh": den or None,
                "unit": unit,
                "aggregation": "count" if unit == "人次" else "ratio_pct",
                "grains": "month×region|county|alliance|institution|level",
                "attribution": "",
                "target": target,
                "direction": direction,
                "source": "测试口径",
                "version": 1,
            }
        )
    return pd.DataFrame(rows)


def _values_frame() -> pd.DataFrame:
    rows = []
    for ind_id, period, level, geo_id, geo_name, num, den, *breakdown in VALUES:
        value = float(num) if den is None else 100.0 * num / den
        bd = breakdown[0] if breakdown else None
        key = f"{ind_id}|{period}|{level}|{geo_id}|{bd or ''}"
        rows.append((key, ind_id, period, level, geo_id, geo_name, bd, float(num), den and float(den), value))
    cols = ["value_key", "indicator_id", "period", "geo_level", "geo_id", "geo_name", "breakdown", "numerator",
            "denominator", "value"]  # fmt: skip
    df = pd.DataFrame(rows, columns=cols)
    df["denominator"] = df["denominator"].astype("float64")
    return df


def _referrals_frame() -> pd.DataFrame:
    rows = []
    seq = 0
    for period, src, dst, direction, n, outcome, reason, h_acc, h_arr, fd_h, closed in REFERRAL_GROUPS:
        year, month = map(int, period.split("-"))
        for i in range(n):
            seq += 1
            requested = datetime(year, month, 1 + i % 28, 9, 0, 0)
            accepted = requested + timedelta(hours=h_acc) if h_acc is not None else None
            returned = requested + timedelta(hours=4) if outcome == "returned" else None
            arrived = requested + timedelta(hours=h_arr) if h_arr is not None else None
            fd_at = requested + timedelta(hours=fd_h) if fd_h is not None else None
            rows.append(
                {
                    "referral_id": f"R{seq:04d}",
                    "referral_origin": "platform",
                    "person_key": f"pk{seq:04d}",
                    "direction": direction,
                    "setting": "outpatient" if direction == "up" else "inpatient",
                    "from_institution_code": src,
                    "to_institution_code": dst,
                    "from_level_code": INST[src][2],
                    "to_level_code": INST[dst][2],
                    "from_county_code": INST[src][5],
                    "to_county_code": INST[dst][5],
                    "from_alliance_id": INST[src][7],
                    "to_alliance_id": INST[dst][7],
                    "same_alliance": INST[src][7] == INST[dst][7],
                    "green_channel": False,
                    "requested_at": requested,
                    "accepted_at": accepted,
                    "returned_at": returned,
                    "arrived_at": arrived,
                    "status_code": {"arrived": "4", "returned": "3", "accepted": "2"}[outcome],
                    "final_status": outcome,
                    "return_reason_code": reason,
                    "return_reason_name": RETURN_REASONS.get(reason) if reason else None,
                    "hours_to_accept": h_acc,
                    "hours_to_arrival": h_arr,
                    "receiving_visit_id": f"V{seq:05d}" if arrived else None,
                    "next_down_referral_id": None,
                    "fd_contact_at": fd_at,
                    "fd_contact_within_24h": (fd_h <= 24) if fd_h is not None else None,
                    "followup_count": 1 if closed else 0,
                    "closed_loop": closed,
                    "period": period,
                }
            )
    df = pd.DataFrame(rows)
    for col in ("accepted_at", "returned_at", "arrived_at", "fd_contact_at"):
        df[col] = pd.to_datetime(df[col])
    df["fd_contact_within_24h"] = df["fd_contact_within_24h"].astype("boolean")
    df["return_reason_code"] = df["return_reason_code"].astype("string")
    df["return_reason_name"] = df["return_reason_name"].astype("string")
    return df


def _undertreated_frame() -> pd.DataFrame:
    rows = []
    seq = 0
    for period, condition, criterion, inst, n in UNDERTREATED:
        for _ in range(n):
            seq += 1
            rows.append(
                {
                    "visit_key": f"UVK{seq:04d}",
                    "visit_id": f"UV{seq:04d}",
                    "institution_code": inst,
                    "person_key": f"upk{seq:04d}",
                    "visit_at": pd.Timestamp(f"{period}-10 10:00"),
                    "criterion_id": f"{condition}_referral",
                    "criterion_zh": criterion,
                    "condition": condition,
                    "criteria_count": 1,
                    "level_code": INST[inst][2],
                    "county_code": INST[inst][5],
                    "alliance_id": INST[inst][7],
                    "period": period,
                }
            )
    return pd.DataFrame(rows)


def _bookings_frame() -> pd.DataFrame:
    rows = []
    seq = 0
    for period, pool_inst, booking_inst, status, n in BOOKINGS:
        for _ in range(n):
            seq += 1
            rows.append(
                {
                    "booking_id": f"B{seq:04d}",
                    "pool_id": f"POOL-{pool_inst}-{period}",
                    "institution_code": pool_inst,
                    "pool_institution_code": pool_inst,
                    "department_name": "心内科",
                    "clinic_date": pd.Timestamp(f"{period}-15"),
                    "booking_institution_code": booking_inst,
                    "booked_at": pd.Timestamp(f"{period}-01 08:00"),
                    "booking_status_code": status,
                    "booking_status": {"1": "attended", "2": "no_show", "3": "cancelled"}[status],
                    "period": period,
                }
            )
    return pd.DataFrame(rows)


# (period, institution, total slots, reserved slots, bookings, attended, no-show, cancelled) = BOOKINGS summed
POOLS = [("2025-06", "H3001", 1000, 250, 19, 14, 2, 3), ("2025-06", "H2001", 600, 95, 4, 4, 0, 0)]


def _pools_frame() -> pd.DataFrame:
    rows = [
        {
            "pool_id": f"POOL-{inst}-{period}",
            "institution_code": inst,
            "level_code": INST[inst][2],
            "county_code": INST[inst][5],
            "alliance_id": INST[inst][7],
            "is_alliance_lead": inst == "H3001",
            "department_name": "心内科",
            "clinic_date": pd.Timestamp(f"{period}-15"),
            "released_at": pd.Timestamp(f"{period}-01 08:00"),
            "total_slots": total,
            "reserved_slots": reserved,
            "bookings": bookings,
            "bookings_attended": attended,
            "bookings_no_show": no_show,
            "bookings_cancelled": cancelled,
            "period": period,
        }
        for period, inst, total, reserved, bookings, attended, no_show, cancelled in POOLS
    ]
    return pd.DataFrame(rows)


def _quality_frames() -> dict[str, pd.DataFrame]:
    """Shapes of pipelines/quality/persistence.py: per-source rows plus one ``ALL`` row per check."""
    r1, r2 = "run-20250701", "run-20250702"
    t1, t2 = datetime(2025, 7, 1, 2, 0), datetime(2025, 7, 2, 2, 0)
    checks = [
        # check_id, suite, category, source, entity, element, viol run 1, viol run 2, denominator, threshold, severity
        ("visits_id_valid", "std_visits", "conformance", "his_a", "visits", "patient_id_number", 120, 30, 10000,
         0.005, "blocking"),
        ("referrals_accept_after_request", "std_referrals", "plausibility", "his_a", "referrals", "accept_datetime",
         0, 7, 500, 0.0, "warning"),
        ("visits_diagnosis_not_null", "std_visits", "completeness", "his_b", "visits", "diagnosis_code", 50, 45,
         800, 0.02, "warning"),
    ]  # fmt: skip
    results = []
    for run_id, run_at, k in ((r1, t1, 0), (r2, t2, 1)):
        for cid, suite, cat, src, ent, el, v1, v2, den, thr, sev in checks:
            viol = (v1, v2)[k]
            rate = viol / den
            status = "pass" if rate <= thr else "fail"
            for source in (src, "ALL"):
                results.append(
                    (run_id, run_at, "all", cid, suite, f"std.{ent}", cat, source, ent, el, viol, den, rate, thr,
                     sev, status, "阈值见 checks.yaml", f"{el} 检查", den, viol, status == "pass")
                )  # fmt: skip
    res_cols = [
        "run_id", "run_at", "stage", "check_id", "suite", "table_name", "category", "source_id", "entity",
        "element", "violating_rows", "denominator", "rate", "threshold", "severity", "status", "reason",
        "description", "gx_evaluated_rows", "gx_unexpected_rows", "gx_success",
    ]  # fmt: skip
    check_results = pd.DataFrame(results, columns=res_cols)
    changes = []
    for cid, _suite, cat, src, _ent, el, v1, v2, den, thr, sev in checks:
        s1, s2 = ("pass" if v / den <= thr else "fail" for v in (v1, v2))
        change = {
            ("fail", "pass"): "new",
            ("fail", "fail"): "still_failing",
            ("pass", "fail"): "resolved",
        }.get((s2, s1), "still_passing")
        for source in ("ALL", src):
            changes.append(
                (r2, r1, cid, source, cat, el, sev, s2, s1, change, v2, v1, v2 - v1, den, v2 / den, v1 / den, thr,
                 f"{el} 检查", "阈值见 checks.yaml")
            )  # fmt: skip
    change_cols = [
        "run_id", "previous_run_id", "check_id", "source_id", "category", "element", "severity", "status",
        "previous_status", "change", "violating_rows", "previous_violating_rows", "violating_rows_delta",
        "denominator", "rate", "previous_rate", "threshold", "description", "reason",
    ]  # fmt: skip
    score_rows = []
    for run_id, run_at, factor in ((r1, t1, 0.9), (r2, t2, 1.0)):
        for grain, src, inst, el, total, before, after in [
            ("source_element", "his_a", None, "sex_code", 1000, 820, 995),
            ("source_element", "his_a", None, "visit_datetime", 1000, 900, 999),
            ("source_element", "his_b", None, "diagnosis_code", 800, 320, 755),
            ("source_element", "his_b", None, "visit_datetime", 800, 520, 784),
            ("source", "his_a", None, None, 2000, 1720, 1994),
            ("source", "his_b", None, None, 1600, 840, 1539),
            ("institution", "his_a", "P1001", None, 900, 801, 899),
        ]:
            after = round(
                after * factor
            )  # run 1 standardized worse: the scorecards of the latest run are shown
            score_rows.append(
                (run_id, run_at, grain, src, inst, "visits", el, total, before, after, before / total, after / total,
                 3, 1, 0, total, 10, 1 - 10 / total)
            )  # fmt: skip
    score_cols = [
        "run_id", "run_at", "grain", "source_id", "institution_code", "entity", "element", "values_total",
        "values_valid_as_received", "values_valid_after", "conformance_before", "conformance_after",
        "checks_evaluated", "checks_failed", "blocking_failed", "check_rows_evaluated", "check_rows_violating",
        "check_pass_rate",
    ]  # fmt: skip
    fitness = pd.DataFrame(
        [
            (r2, t2, "fct_referrals", "referrals", "fit", "可用", 0, 0, "", "全部检查通过"),
            (r2, t2, "fct_visits", "visits", "fit_with_warnings", "可用（有警告）", 0, 1,
             "visits_diagnosis_not_null", "诊断编码缺失率 5.6% 超过警告阈值 2%"),
            (r1, t1, "fct_visits", "visits", "unfit", "不可用", 1, 1, "visits_id_valid", "上一批次"),
        ],
        columns=["run_id", "run_at", "mart", "input_entities", "verdict", "verdict_zh", "blocking_failed",
                 "warnings_failed", "failing_checks", "reason"],
    )  # fmt: skip
    return {
        "check_results": check_results,
        "check_changes": pd.DataFrame(changes, columns=change_cols),
        "scorecards": pd.DataFrame(score_rows, columns=score_cols),
        "mart_fitness": fitness,
    }


def _ingest_frames() -> dict[str, pd.DataFrame]:
    files = pd.DataFrame(
        [
            ("f01", "his_a", "visits", "visits_202506.csv", "2025-06", "a1" * 8, 120000,
             datetime(2025, 7, 2, 8, 0), 1000, 990, 10, 1, "landed", None, None),
            ("f02", "his_a", "referrals", "referrals_202506.jsonl", "2025-06", "a2" * 8, 30000,
             datetime(2025, 7, 2, 8, 5), 60, 60, 0, 0, "landed", None, None),
            ("f03", "his_b", "visits", "visits_202506.xlsx", "2025-06", "b1" * 8, 90000,
             datetime(2025, 6, 28, 9, 0), 800, 800, 0, 1, "replaced", None, None),
            ("f04", "his_b", "visits", "visits_202506.xlsx", "2025-06", "b2" * 8, 91000,
             datetime(2025, 6, 30, 9, 0), 800, 797, 3, 1, "landed", None, "f03"),
            ("f05", "his_c", "visits", "visits_202506.csv", "2025-06", "c1" * 8, 5000,
             datetime(2025, 7, 1, 12, 0), 0, 0, 0, 0, "rejected", "缺少必需列: 身份证号", None),
            ("f06", "his_a", "visits", "visits_202506 (1).csv", "2025-06", "a1" * 8, 120000,
             datetime(2025, 7, 2, 8, 1), 0, 0, 0, 0, "duplicate", "与 f01 内容相同", None),
        ],
        columns=[
            "file_id", "source_id", "entity", "file_name", "period", "sha256", "size_bytes", "received_at",
            "rows_read", "rows_landed", "rows_quarantined", "rows_footer", "status", "reason",
            "replaces_file_id",
        ],
    )  # fmt: skip
    quarantine = pd.DataFrame(
        [
            ("f01", "his_a", "visits", 17, "standardize", "patient_id_number", "110101********123X",
             "invalid_check_digit", "身份证校验位错误"),
            # An unmasked value upstream: the dashboard must still never show it.
            ("f01", "his_a", "visits", 18, "standardize", "patient_id_number", "110101199003071234",
             "invalid_check_digit", "身份证校验位错误"),
            ("f01", "his_a", "visits", 40, "standardize", "visit_datetime", "2025-13-45", "invalid_date",
             "日期无法解析"),
            ("f04", "his_b", "visits", 7, "land", "diagnosis_name", "联系电话13812345678", "truncated_row",
             "行被截断"),
        ],
        columns=["file_id", "source_id", "entity", "row_number", "stage", "element", "raw_value",
                 "reason_code", "reason"],
    )  # fmt: skip
    unmapped = pd.DataFrame(
        [
            ("diagnosis_name", "高血压病III期", 37, "his_b", datetime(2025, 6, 1), datetime(2025, 6, 30)),
            ("diagnosis_name", "糖尿病肾病?", 12, "his_a,his_b", datetime(2025, 6, 3), datetime(2025, 6, 29)),
            ("sex_code", "未知", 2, "his_c", datetime(2025, 6, 5), datetime(2025, 6, 5)),
        ],
        columns=["element", "raw_value", "frequency", "sources", "first_seen", "last_seen"],
    )
    return {"files": files, "quarantine": quarantine, "unmapped_terms": unmapped}


def _warehouse_tables() -> dict[str, pd.DataFrame]:
    """The warehouse the pipeline would have built: hand-written marts, quality results, the file
    registry and quarantine (raw.*), unmapped terms (std.*)."""
    tables: dict[str, pd.DataFrame] = {
        "marts.dim_institutions": _institution_frame(),
        "marts.indicator_registry": _registry_frame(),
        "marts.indicator_values": _values_frame(),
        "marts.fct_referrals": _referrals_frame(),
        "marts.fct_undertreated_cases": _undertreated_frame(),
        "marts.fct_slot_bookings": _bookings_frame(),
        "marts.fct_slot_pools": _pools_frame(),
    }
    tables.update({f"quality.{k}": v for k, v in _quality_frames().items()})
    ingest = _ingest_frames()
    tables["raw.files"] = ingest["files"].assign(path=lambda f: "/srv/inbox/" + f["file_name"])
    tables["raw.quarantine"] = ingest["quarantine"]
    tables["std.unmapped_terms"] = ingest["unmapped_terms"]
    return tables


MARTS_YML = Path(__file__).resolve().parents[2] / "dbt_project" / "models" / "marts" / "_models.yml"
_DUCKDB_TYPES = {"string": "VARCHAR"}  # contracts write `string` for both adapters (docs/scale-out.md)


def mart_contracts() -> dict[str, dict[str, str]]:
    """{table (the model's alias): {column: DuckDB type}} from the marts' dbt contracts, in contract order."""
    import yaml

    out: dict[str, dict[str, str]] = {}
    for model in yaml.safe_load(MARTS_YML.read_text(encoding="utf-8"))["models"]:
        table = (model.get("config") or {}).get("alias") or model["name"]
        out[table] = {
            c["name"]: _DUCKDB_TYPES.get(c["data_type"], c["data_type"].upper()) for c in model["columns"]
        }
    return out


@functools.cache
def fixture_warehouse() -> Path:
    """The fixture warehouse with the dbt reporting models built on its marts (``dbt run --select
    reporting``: the dashboards' aggregates come from the project's own SQL, not from this file).
    Built once per test process."""
    from dbt_harness import run_dbt

    work = Path(tempfile.mkdtemp(prefix="rw-dash-fixture-"))
    path = work / "warehouse.duckdb"
    contracts = mart_contracts()
    con = duckdb.connect(str(path))
    try:
        for name, frame in _warehouse_tables().items():
            schema, table = name.split(".")
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            con.register("frame", frame)
            if schema == "marts":
                # the dbt contract's columns and types; columns the fixture leaves out are NULL
                columns = contracts[table]
                con.execute(f"CREATE TABLE {name} ({', '.join(f'{c} {t}' for c, t in columns.items())})")
                con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM frame")
            else:
                con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
            con.unregister("frame")
    finally:
        con.close()
    run = run_dbt(["run", "--select", "reporting"], path, work)
    if not run.success:
        raise RuntimeError(f"dbt run --select reporting failed on the dashboard fixture ({work})")
    return path


def build_fixture_warehouse(path: str | Path) -> Path:
    """Publish the fixture warehouse into the snapshot file ``path`` with the pipeline's own publish
    step (pipelines/publish/snapshot.py: reporting, marts without row-level facts, restricted ...)
    and return the path. The publish time and run are the fixture's (PUBLISHED_AT)."""
    from pipelines.publish.snapshot import build_snapshot

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    build_snapshot(fixture_warehouse(), path, "run-20250702")
    con = duckdb.connect(str(path))
    try:
        con.execute("DELETE FROM meta.publish_info")
        con.execute("INSERT INTO meta.publish_info VALUES (?, ?, ?)", ["run-20250702", PUBLISHED_AT, "0.1.0"])
    finally:
        con.close()
    return path


def publish(published_dir: str | Path, snapshot: str | Path) -> Path:
    """Swap ``published_dir/current.duckdb`` to ``snapshot`` atomically, as the pipeline's publish does."""
    published_dir = Path(published_dir)
    published_dir.mkdir(parents=True, exist_ok=True)
    tmp = published_dir / ".current.tmp"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(Path(snapshot).resolve())
    os.replace(tmp, published_dir / "current.duckdb")
    return published_dir / "current.duckdb"


if __name__ == "__main__":  # pragma: no cover - manual use: python tests/dashboards/fixture_warehouse.py OUT
    import sys

    print(build_fixture_warehouse(sys.argv[1]))
