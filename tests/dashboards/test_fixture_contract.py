"""The dashboard fixture's hand-written marts are the marts dbt builds: same tables, columns, types."""

from __future__ import annotations

import duckdb
import pytest
from fixture_warehouse import _warehouse_tables, fixture_warehouse, mart_contracts


def test_every_hand_written_mart_column_is_in_its_dbt_contract():
    contracts = mart_contracts()
    for name, frame in _warehouse_tables().items():
        schema, table = name.split(".")
        if schema != "marts":
            continue
        assert table in contracts, f"{name} has no dbt contract"
        extra = [c for c in frame.columns if c not in contracts[table]]
        assert extra == [], f"{name}: columns the dbt contract does not have: {extra}"


def test_the_fixture_marts_have_the_contract_types(tmp_path):
    contracts = mart_contracts()
    con = duckdb.connect(str(fixture_warehouse()), read_only=True)
    try:
        for table in ("indicator_values", "fct_referrals", "fct_slot_bookings", "dim_institutions"):
            got = dict(
                con.execute(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = 'marts' AND table_name = ? ORDER BY ordinal_position",
                    [table],
                ).fetchall()
            )
            assert got == contracts[table], table
        # a contracted column the fixture leaves out exists and is NULL (e.g. lineage of fct_referrals)
        assert con.execute("SELECT count(*), count(source_id) FROM marts.fct_referrals").fetchall()[0][0] > 0
        assert con.execute("SELECT count(source_id) FROM marts.fct_referrals").fetchall()[0][0] == 0
    finally:
        con.close()


def test_a_column_outside_the_contract_fails_the_fixture_build(monkeypatch):
    import fixture_warehouse as fw

    contracts = mart_contracts()
    assert "not_a_contract_column" not in contracts["fct_referrals"]
    tables = fw._warehouse_tables()
    tables["marts.fct_referrals"] = tables["marts.fct_referrals"].assign(not_a_contract_column=1)
    con = duckdb.connect()
    cols = ", ".join(f"{c} {t}" for c, t in contracts["fct_referrals"].items())
    con.execute("CREATE SCHEMA marts")
    con.execute(f"CREATE TABLE marts.fct_referrals ({cols})")
    con.register("frame", tables["marts.fct_referrals"])
    with pytest.raises(duckdb.BinderException, match="not_a_contract_column"):
        con.execute("INSERT INTO marts.fct_referrals BY NAME SELECT * FROM frame")
