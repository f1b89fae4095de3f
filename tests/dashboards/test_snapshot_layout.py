"""The fixture snapshot as the pipeline publishes it (fixture_warehouse.py: hand-written marts, the
dbt reporting models, the real publish step): aggregates outside `restricted`, row-level data only
inside, the small-cell rule applied in the data. Numbers hand-checked from fixture_warehouse.py."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.privacy import RESTRICTED_SCHEMA, personal_data


@pytest.fixture(scope="module")
def snapshot(fixture_snapshot):
    con = duckdb.connect(str(fixture_snapshot / "current.duckdb"), read_only=True)
    yield con
    con.close()


def _columns(con) -> list[tuple[str, str, str]]:
    return con.execute(
        "select table_schema, table_name, column_name from information_schema.columns"
    ).fetchall()


def test_no_key_or_row_number_and_no_row_level_table_outside_restricted(snapshot):
    pd_ = personal_data()
    cols = _columns(snapshot)
    outside = [(s, t, c) for s, t, c in cols if s != RESTRICTED_SCHEMA]
    keyed = [(s, t, c) for s, t, c in outside
             if pd_.column_class(c) in ("pseudonym", "record_id", "direct_identifier") or c == "row_number"]  # fmt: skip
    assert keyed == []
    tables = {(s, t) for s, t, _ in outside}
    assert sorted(t for s, t in tables if s == "marts") == [
        "dim_institutions",
        "indicator_registry",
        "indicator_values",
    ]
    assert ("ingest", "quarantine") not in tables and ("ingest", "quarantine_summary") in tables
    restricted = {t for s, t, _ in cols if s == RESTRICTED_SCHEMA}
    assert restricted == {
        "fct_referrals",
        "fct_slot_bookings",
        "fct_slot_pools",
        "fct_undertreated_cases",
        "quarantine",
    }
    # the person key is cut in restricted: 'pk0001' -> its first 8 characters and an ellipsis
    assert snapshot.execute(f"select min(person_key) from {RESTRICTED_SCHEMA}.fct_referrals").fetchone() == (
        "pk0001…",
    )


def test_reporting_counts_are_never_1_to_4_and_a_withheld_count_is_flagged(snapshot):
    cols = [(t, c) for s, t, c in _columns(snapshot) if s == "reporting" and (c == "n" or c.startswith("n_"))]
    assert len({t for t, _ in cols}) == 11
    for table, col in cols:
        assert snapshot.execute(
            f"select count(*) from reporting.{table} where {col} between 1 and 4"
        ).fetchone() == (0,)
        assert snapshot.execute(
            f"select count(*) from reporting.{table} where {col} is null and not suppressed"
        ).fetchone() == (0,)


def test_referral_summary_rows_are_hand_checked(snapshot):
    rows = snapshot.execute(
        "select direction, n, n_returned, n_cross_alliance, n_fd_24h, n_closed_loop, suppressed "
        "from reporting.referral_summary where period = '2025-06' and county_code = 'ALL' and setting = 'ALL' "
        "order by direction desc"
    ).fetchall()
    # up: 12+8+6+3+6 = 35, returned 8+6 = 14, across alliances P1003->H3001 = 3 -> withheld;
    # down: 10+5+4 = 19, family doctor within 24 h 10+4 = 14, closed loops 10
    assert rows == [("up", 35, 14, None, 0, 15, True), ("down", 19, 0, 0, 14, 10, False)]
    # 西山县 (130102) scope: referrals sent from or to it: P1003->H3001 3, P1003->H2002 6, H2002->P1003 4
    west = snapshot.execute(
        "select direction, n from reporting.referral_summary "
        "where period = '2025-06' and county_code = '130102' and setting = 'ALL' order by direction desc"
    ).fetchall()
    assert west == [("up", 9), ("down", None)]


def test_every_filter_combination_is_a_row(snapshot):
    """period x county scope x setting, 'ALL' included: 3 periods (2 + ALL) x 3 scopes x 3 settings,
    minus the combinations without referrals, each with its own precomputed row."""
    combos = snapshot.execute(
        "select count(distinct (period, county_code, setting)) from reporting.referral_summary"
    ).fetchone()[0]
    # 2025-05 has only 东湖县 referrals (P1001<->H3001): 2 scopes; 2025-06 and ALL: 3 scopes;
    # settings: up = outpatient, down = inpatient, plus ALL -> 3 each: (2 + 3 + 3) * 3 = 24
    assert combos == 24
    # the 'ALL' period row is computed from the rows, not summed from (withheld) cells: 35 + 10 up
    assert snapshot.execute(
        "select n from reporting.referral_summary where period = 'ALL' and county_code = 'ALL' "
        "and setting = 'ALL' and direction = 'up'"
    ).fetchone() == (45,)
