"""`dbt build` on the hand-made fixture region: every test passes and the marts hold the values
computed by hand from tests/dbt/fixtures (the walk-through is in docs/indicators.md, "Fixture")."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import duckdb
import pytest


def _rows(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_dbt_build_passes_with_every_test(built_warehouse):
    _, run = built_warehouse
    assert run.success
    failing = {uid: s for uid, s in run.statuses.items() if s not in ("success", "pass")}
    assert failing == {}
    kinds = Counter(run.resource_types.values())
    assert kinds["seed"] == 6  # code lists are read from the standard (stg_ref__value_domains)
    assert kinds["unit_test"] == 14
    # 40 + the touched-persons model, its file view and ledger + 6 code-list staging models (the value
    # domains, their value keys and four named lists) + 11 reporting
    assert kinds["model"] == 60
    assert kinds["test"] >= 190  # unique/not_null/relationships/accepted_values data tests


def test_every_mart_key_and_foreign_key_is_tested(built_warehouse):
    _, run = built_warehouse
    tests = {uid.rsplit(".", 1)[0] for uid, t in run.resource_types.items() if t == "test"}  # drop the hash
    for expected in [
        "test.referral_warehouse.unique_fct_referrals_referral_id",
        "test.referral_warehouse.unique_fct_visits_visit_key",
        "test.referral_warehouse.unique_indicator_values_value_key",
        "test.referral_warehouse.unique_dim_institutions_institution_code",
        "test.referral_warehouse.unique_dim_persons_person_key",
        "test.referral_warehouse.unique_fct_slot_bookings_booking_id",
        "test.referral_warehouse.unique_fct_undertreated_cases_visit_key",
    ]:
        assert expected in tests
    relationships = [t for t in tests if ".relationships_" in t]
    assert any("relationships_fct_referrals_to_institution_code" in t for t in relationships)
    assert any("relationships_fct_referrals_receiving_visit_key" in t for t in relationships)
    assert any("relationships_fct_referrals_next_down_referral_id" in t for t in relationships)


def test_referrals_are_linked_by_the_documented_rules(built_warehouse):
    db, _ = built_warehouse
    rows = _rows(
        db,
        """
        select referral_id, referral_origin, direction, setting, from_institution_code, to_institution_code,
               same_alliance, final_status, hours_to_accept, hours_to_arrival, receiving_visit_id,
               next_down_referral_id, strftime(fd_contact_at, '%Y-%m-%d %H:%M'), fd_contact_within_24h,
               followup_count, closed_loop, had_prior_major_exam, repeated_major_exam, period
        from marts.fct_referrals order by referral_id
        """,
    )
    assert rows == [
        # disposition 3 at H02 without a platform referral -> down; receiving = k4's next visit at P01
        ("DSP:H02:V06", "discharge_disposition", "down", "inpatient", "H02", "P01", True, "arrived",
         None, 49.0, "V07", None, "2024-01-09 20:00", True, 0, False, False, False, "2024-01"),
        # disposition 2 at H02 -> up; receiving = k5's admission at H03 (level 3 > 2); CT repeated
        ("DSP:H02:V08", "discharge_disposition", "up", "inpatient", "H02", "H03", False, "arrived",
         None, 4.0, "V09", None, None, None, 0, False, True, True, "2024-02"),
        ("R01", "platform", "up", "outpatient", "P01", "H03", False, "arrived",
         4.0, 24.0, "V02", "R02", None, None, 2, True, True, True, "2024-01"),
        ("R02", "platform", "down", "outpatient", "H03", "P01", False, "accepted",
         3.0, None, None, None, "2024-01-21 08:00", True, 1, True, False, False, "2024-01"),
        ("R03", "platform", "up", "inpatient", "P03", "H03", False, "returned",
         None, None, None, "R05", None, None, 2, False, False, False, "2024-01"),
        # P03 joined alliance A2 on 2024-02-01: same alliance from February on
        ("R04", "platform", "up", "inpatient", "P03", "H03", True, "arrived",
         2.0, 24.0, "V05", "R05", None, None, 2, True, True, False, "2024-02"),
        ("R05", "platform", "down", "inpatient", "H03", "P03", True, "accepted",
         7.0, None, None, None, "2024-02-12 10:00", False, 1, True, False, False, "2024-02"),
        ("R06", "platform", "down", "outpatient", "H03", "P03", False, "accepted",
         1.0, None, None, None, None, False, 0, False, False, False, "2023-01"),
        ("R07", "platform", "down", "inpatient", "H02", "P01", True, "cancelled",
         None, None, None, None, None, False, 0, False, False, False, "2023-01"),
        ("R08", "platform", "down", "outpatient", "H02", "P02", True, "returned",
         None, None, None, None, None, False, 0, False, False, False, "2024-01"),
        ("R09", "platform", "up", "outpatient", "P01", "H02", True, "no_show",
         12.0, None, None, None, None, None, 0, False, False, False, "2024-02"),
    ]  # fmt: skip


def test_visits_carry_level_county_alliance_and_episode_flags(built_warehouse):
    db, _ = built_warehouse
    rows = _rows(
        db,
        """
        select visit_id, level_code, county_code, alliance_id, in_county, first_visit_of_episode,
               icd10_category, length_of_stay_days
        from marts.fct_visits order by visit_id
        """,
    )
    assert rows == [
        ("V01", "1", "C1", "A1", True, True, "I10", None),
        ("V02", "3", "C2", "A2", False, False, "I10", None),
        ("V03", "1", "C1", "A1", True, True, "I10", None),
        ("V04", "1", "C1", "A1", True, False, "I10", None),
        ("V05", "3", "C2", "A2", True, False, "I63", 6),
        ("V06", "2", "C1", "A1", True, True, "I63", 6),
        ("V07", "1", "C1", "A1", True, False, "I63", None),
        ("V08", "2", "C1", "A1", False, True, "I63", 2),
        ("V09", "3", "C2", "A2", True, False, "I63", 8),
        ("V10", "1", "C2", "A2", True, True, "I63", None),  # P03 in A2 from 2024-02-01
        ("V11", "1", "C2", None, True, True, "E11", None),
        ("V12", "1", "C1", "A1", True, True, "J06", None),
        ("V13", "2", "C1", "A1", False, True, "J06", None),  # category from ref.terminology
    ]


def test_dimensions(built_warehouse):
    db, _ = built_warehouse
    assert _rows(db, "select institution_code, alliance_id, is_alliance_lead, is_primary_care "
                     "from marts.dim_institutions order by 1") == [
        ("H02", "A1", True, False),
        ("H03", "A2", True, False),
        ("P01", "A1", False, True),
        ("P02", "A1", False, True),
        ("P03", "A2", False, True),
    ]  # fmt: skip
    assert _rows(db, "select person_key, sex_code, birth_year, residence_county_code, family_doctor_id "
                     "from marts.dim_persons where person_key in ('k1', 'k2', 'k7') order by 1") == [
        ("k1", "1", 1950, "C1", "D01"),
        ("k2", "2", 1962, "C1", "D03"),  # the open contract, not the ended one
        ("k7", "2", 1990, "C2", None),
    ]  # fmt: skip
    assert _rows(db, "select count(*), min(date_day), max(date_day) from marts.dim_dates")[0][0] == 4018
    assert _rows(db, "select condition_group, is_chronic from marts.dim_diagnoses "
                     "where diagnosis_code = 'E11.901'") == [("diabetes", True)]  # fmt: skip


def test_undertreated_case_is_the_unreferred_severe_bp_visit(built_warehouse):
    db, _ = built_warehouse
    assert _rows(
        db,
        "select visit_id, institution_code, criterion_id, criterion_zh, condition, criteria_count, period "
        "from marts.fct_undertreated_cases",
    ) == [("V03", "P02", "htn_dbp_110", "舒张压≥110mmHg", "hypertension", 2, "2024-01")]


# (indicator, period) -> (numerator, denominator, value) at region level, computed by hand from the
# fixture (docs/indicators.md, "Fixture walk-through").
REGION_EXPECTED = {
    ("primary_care_visit_share", "2024-01"): (4, 6, 66.6667),
    ("primary_care_visit_share", "2024-02"): (2, 2, 100.0),
    ("in_county_visit_rate", "2024-01"): (4, 6, 66.6667),
    ("in_county_admission_rate", "2024-02"): (2, 3, 66.6667),
    ("primary_first_visit_rate", "2024-01"): (2, 4, 50.0),
    ("primary_first_visit_rate", "2024-02"): (2, 3, 66.6667),
    ("up_referrals_outpatient", "2024-01"): (1, None, 1.0),
    ("up_referrals_inpatient", "2024-02"): (2, None, 2.0),
    ("down_referrals_outpatient", "2024-01"): (2, None, 2.0),
    ("down_referrals_inpatient", "2024-01"): (1, None, 1.0),
    ("down_referral_rate", "2024-02"): (1, 3, 33.3333),
    ("down_referral_yoy_growth", "2024-01"): (3, 2, 50.0),
    ("down_referral_yoy_growth", "2024-02"): (1, 0, None),
    ("up_return_rate", "2024-01"): (1, 2, 50.0),
    ("hours_to_accept_median", "2024-02"): (3, None, 7.0),
    ("hours_to_accept_p90", "2024-02"): (3, None, 11.0),
    ("hours_to_accept_median", "2024-01"): (2, None, 3.5),
    ("hours_to_arrival_median", "2024-02"): (1, None, 24.0),
    ("arrival_rate", "2024-02"): (1, 3, 33.3333),
    ("fd_contact_24h_rate", "2024-01"): (2, 2, 100.0),
    ("fd_contact_24h_rate", "2024-02"): (0, 1, 0.0),
    ("closed_loop_rate", "2024-01"): (2, 3, 66.6667),
    ("closed_loop_rate", "2024-02"): (2, 4, 50.0),
    ("slot_reserved_share", "2024-01"): (24, 140, 17.1429),
    ("slot_reserved_use_rate", "2024-01"): (3, 24, 12.5),
    ("avg_length_of_stay", "2024-02"): (16, 3, 5.3333),
    ("htn_standard_mgmt_rate", "2024-01"): (0, 2, 0.0),
    ("htn_standard_mgmt_rate", "2024-02"): (1, 2, 50.0),
    ("dm_standard_mgmt_rate", "2023-12"): (1, 1, 100.0),
    ("repeat_exam_7d_rate", "2024-02"): (1, 2, 50.0),
    ("undertreated_cases", "2024-01"): (1, None, 1.0),
    ("undertreated_rate", "2024-01"): (1, 2, 50.0),
}


@pytest.mark.parametrize(("key", "expected"), sorted(REGION_EXPECTED.items()), ids=lambda v: str(v))
def test_region_indicator_values_match_hand_computation(built_warehouse, key, expected):
    db, _ = built_warehouse
    rows = _rows(
        db,
        "select numerator, denominator, value from marts.indicator_values "
        f"where geo_level = 'region' and indicator_id = '{key[0]}' and period = '{key[1]}' "
        "and breakdown is null",
    )
    assert rows == [expected]


def test_geographies_use_the_right_attribution(built_warehouse):
    db, _ = built_warehouse
    rows = _rows(
        db,
        """
        select indicator_id, period, geo_level, geo_id, geo_name, numerator, denominator, value
        from marts.indicator_values
        where ((indicator_id = 'in_county_visit_rate' and period = '2024-01')
           or (indicator_id = 'avg_length_of_stay' and period = '2024-02' and geo_level = 'level')
           or (indicator_id = 'up_return_reason_share' and period = '2024-01' and breakdown = '01'))
          -- the dense zero rows of the other geographies: tests/dbt/test_hand_computed_fixture.py
          and (numerator <> 0 or denominator <> 0)
        order by indicator_id, geo_level, geo_id
        """,
    )
    assert rows == [
        ("avg_length_of_stay", "2024-02", "level", "2", "二级医院", 2.0, 1.0, 2.0),
        ("avg_length_of_stay", "2024-02", "level", "3", "三级医院", 14.0, 2.0, 7.0),
        # residence-based: only county and region rows
        ("in_county_visit_rate", "2024-01", "county", "C1", "甲县", 4.0, 5.0, 80.0),
        ("in_county_visit_rate", "2024-01", "county", "C2", "乙区", 0.0, 1.0, 0.0),
        ("in_county_visit_rate", "2024-01", "region", "all", "全市", 4.0, 6.0, 66.6667),
        # returns are attributed to the receiving hospital
        ("up_return_reason_share", "2024-01", "alliance", "A2", "市第一医疗集团", 1.0, 1.0, 100.0),
        ("up_return_reason_share", "2024-01", "county", "C2", "乙区", 1.0, 1.0, 100.0),
        ("up_return_reason_share", "2024-01", "institution", "H03", "市第一医院", 1.0, 1.0, 100.0),
        ("up_return_reason_share", "2024-01", "level", "3", "三级医院", 1.0, 1.0, 100.0),
        ("up_return_reason_share", "2024-01", "region", "all", "全市", 1.0, 1.0, 100.0),
    ]


def test_every_registry_indicator_has_values(built_warehouse):
    db, _ = built_warehouse
    missing = _rows(
        db,
        "select indicator_id from marts.indicator_registry "
        "except select indicator_id from marts.indicator_values",
    )
    assert missing == []
    assert _rows(db, "select count(*) from marts.indicator_registry") == [(29,)]


def test_registry_carries_policy_targets(built_warehouse):
    db, _ = built_warehouse
    rows = dict(
        _rows(
            db,
            "select indicator_id, target from marts.indicator_registry where target is not null",
        )
    )
    assert rows["primary_care_visit_share"] == 65.0
    assert rows["in_county_visit_rate"] == 90.0
    assert rows["primary_first_visit_rate"] == 55.0
    assert rows["down_referral_yoy_growth"] == 10.0
    assert rows["slot_reserved_share"] == 20.0
    assert rows["htn_standard_mgmt_rate"] == 40.0
    assert rows["dm_standard_mgmt_rate"] == 40.0
