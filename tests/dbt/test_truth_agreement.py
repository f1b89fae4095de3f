"""Indicator values on the generator's tiny region agree with the same indicators computed
independently (pandas) from the generator's truth, within stated tolerances.

Whole pipeline: generate -> land -> standardize -> dbt build. Referral rates are raised (a
parameter override) so that the tiny region has enough referrals to measure the linking. The
pipeline can only lose records that the truth has (rejected files, quarantined rows), so counts
are compared as a share of the truth and rates within a few points.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest
from dbt_harness import run_dbt

pytestmark = pytest.mark.slow

REFERRAL_BOOST = {
    "referrals": {"up_rate_primary_visit": 0.25, "up_rate_primary_minor": 0.05, "down_outpatient_rate": 0.2}
}


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from pipelines.generate import generate
    from pipelines.ingest import land_inbox, load_registry, load_sources
    from pipelines.standardize import load_or_create_secret, standardize_all

    out = tmp_path_factory.mktemp("truth_region")
    generate(out, scale="tiny", seed=11, **REFERRAL_BOOST)
    db = out / "warehouse.duckdb"
    con = duckdb.connect(str(db))
    try:
        sources = load_sources()
        load_registry(con, out / "registry")
        land_inbox(con, out / "inbox", sources, log=lambda *a, **k: None)
        # diagnosis=False: the indicators compared here do not depend on diagnosis mapping
        standardize_all(
            con, sources, load_or_create_secret(out / "secrets"), log=lambda *a, **k: None, diagnosis=False
        )
    finally:
        con.close()
    run = run_dbt(["build"], db, out / "dbt")
    assert run.success, {k: v for k, v in run.statuses.items() if v not in ("success", "pass", "warn")}
    return out, db


def _truth(out: Path, entity: str) -> pd.DataFrame:
    df = pd.read_parquet(out / "truth" / "records" / f"{entity}.parquet")
    return df[df["delivery"] == "inbox"].drop_duplicates("record_key").reset_index(drop=True)


def _pipeline(db: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def _year(db: Path, indicator_id: str, scale: float = 100.0) -> float:
    """Year-level value from the monthly region rows: scale * sum(numerator) / sum(denominator)."""
    row = _pipeline(
        db,
        "select sum(numerator) as n, sum(denominator) as d from marts.indicator_values "
        f"where geo_level = 'region' and indicator_id = '{indicator_id}'",
    ).iloc[0]
    return scale * float(row["n"]) / float(row["d"])


@pytest.fixture(scope="module")
def truth_visits(region) -> pd.DataFrame:
    out, _ = region
    visits = _truth(out, "visits")
    inst = pd.read_csv(out / "registry" / "institutions.csv", dtype=str)
    return visits.merge(inst[["institution_code", "level_code", "county_code"]], on="institution_code")


def test_primary_care_visit_share_agrees(region, truth_visits):
    _, db = region
    op = truth_visits[truth_visits["visit_type_code"].isin(["1", "2"])]
    truth = (op["level_code"] == "1").mean()
    assert abs(_year(db, "primary_care_visit_share") - 100 * truth) <= 1.5  # percentage points


def test_in_county_rates_agree(region, truth_visits):
    _, db = region
    op = truth_visits[truth_visits["visit_type_code"].isin(["1", "2"])]
    ip = truth_visits[truth_visits["visit_type_code"] == "3"]
    truth_op = (op["residence_county_code"] == op["county_code"]).mean()
    truth_ip = (ip["residence_county_code"] == ip["county_code"]).mean()
    assert abs(_year(db, "in_county_visit_rate") - 100 * truth_op) <= 1.5
    assert abs(_year(db, "in_county_admission_rate") - 100 * truth_ip) <= 5.0


def test_average_length_of_stay_agrees(region, truth_visits):
    """Per discharge, over the discharges the pipeline kept (dirty dates are quarantined upstream)."""
    _, db = region
    ip = truth_visits[
        (truth_visits["visit_type_code"] == "3") & truth_visits["discharge_datetime"].notna()
    ].copy()
    ip["truth_los"] = (
        pd.to_datetime(ip["discharge_datetime"]).dt.normalize()
        - pd.to_datetime(ip["admission_datetime"]).dt.normalize()
    ).dt.days.clip(lower=1)
    fct = _pipeline(
        db, "select visit_id, length_of_stay_days from marts.fct_visits where length_of_stay_days is not null"
    )
    both = ip.merge(fct, on="visit_id")
    assert len(both) >= 0.8 * len(ip)
    assert (both["truth_los"] == both["length_of_stay_days"]).mean() >= 0.97
    assert abs(both["truth_los"].mean() - both["length_of_stay_days"].mean()) <= 0.1


@pytest.fixture(scope="module")
def referrals(region) -> pd.DataFrame:
    """Truth referrals joined to the pipeline's fct_referrals on the referral id."""
    out, db = region
    truth = _truth(out, "referrals")
    fct = _pipeline(
        db,
        "select referral_id, direction, setting, final_status, receiving_visit_id, fd_contact_within_24h, "
        "hours_to_accept from marts.fct_referrals where referral_origin = 'platform'",
    )
    return truth.merge(fct, left_on="record_key", right_on="referral_id", how="left", indicator=True)


def test_platform_referrals_are_kept_and_classified(referrals):
    kept = (referrals["_merge"] == "both").mean()
    assert kept >= 0.90  # quarantine may drop a few dirty rows, never invent any
    both = referrals[referrals["_merge"] == "both"]
    assert len(both) >= 100
    assert (both["direction"] == both["direction_code"].map({"1": "up", "2": "down"})).all()
    assert (both["setting"] == both["setting_code"].map({"1": "outpatient", "2": "inpatient"})).all()


def test_receiving_visit_links_agree_with_truth(region, referrals):
    """Linking by person key and window finds the truth's receiving visit whenever that visit reached
    fct_visits with a person key; visits quarantined upstream (future dates, bad IDs) cannot be found."""
    _, db = region
    linkable = set(
        _pipeline(db, "select visit_id from marts.fct_visits where person_key is not null")["visit_id"]
    )
    both = referrals[referrals["_merge"] == "both"]
    with_truth = both[both["truth_receiving_visit_id"].notna()]
    assert len(with_truth) >= 50
    found = with_truth[with_truth["truth_receiving_visit_id"].isin(linkable)]
    # the linking rule itself: the truth's visit is found whenever it reached fct_visits
    assert (found["receiving_visit_id"] == found["truth_receiving_visit_id"]).mean() >= 0.97
    # overall, bounded by the generator's dirt (quarantined visits, ~10-20 % of receiving visits)
    assert len(found) >= 0.75 * len(with_truth)
    assert (with_truth["receiving_visit_id"] == with_truth["truth_receiving_visit_id"]).mean() >= 0.75
    without_truth = both[both["truth_receiving_visit_id"].isna()]
    assert without_truth["receiving_visit_id"].notna().mean() <= 0.10  # false links


def test_family_doctor_contact_within_24h_agrees(region, referrals):
    """The contact rule reproduces the truth's within_24h / late / never whenever the contact
    follow-up reached std.followups."""
    out, db = region
    kept = set(_pipeline(db, "select followup_id from std.followups")["followup_id"])
    contacts = _truth(out, "followups")
    contacts = contacts[(contacts["followup_type_code"] == "1") & contacts["referral_id"].notna()]
    contact_kept = contacts.groupby("referral_id")["followup_id"].agg(lambda ids: any(i in kept for i in ids))
    down = referrals[(referrals["_merge"] == "both") & referrals["truth_fd_contact"].notna()].copy()
    assert len(down) >= 30
    down["pipeline_24h"] = down["fd_contact_within_24h"].fillna(False).astype(bool)
    down["truth_24h"] = down["truth_fd_contact"] == "within_24h"
    observable = down[
        (down["truth_fd_contact"] == "never") | down["record_key"].map(contact_kept).fillna(False)
    ]
    assert (observable["pipeline_24h"] == observable["truth_24h"]).mean() >= 0.97
    # overall, bounded by quarantined contact follow-ups (the generator's missing_required dirt)
    assert len(observable) >= 0.75 * len(down)
    assert (down["pipeline_24h"] == down["truth_24h"]).mean() >= 0.75


def test_return_rate_and_acceptance_time_agree(region, referrals):
    _, db = region
    ups = referrals[(referrals["direction_code"] == "1") & (referrals["status_code"] != "6")]
    truth_rate = (ups["status_code"] == "3").mean()
    assert abs(_year(db, "up_return_rate") - 100 * truth_rate) <= 3.0
    accepted = referrals[referrals["accept_datetime"].notna()]
    truth_hours = (
        pd.to_datetime(accepted["accept_datetime"]) - pd.to_datetime(accepted["request_datetime"])
    ).dt.total_seconds() / 3600
    pipeline_hours = referrals["hours_to_accept"].dropna()
    assert abs(pipeline_hours.median() - truth_hours.median()) <= 0.5
