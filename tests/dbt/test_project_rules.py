"""Structural rules of the dbt project, checked on its files and on the manifest of the session build."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import yaml

from pipelines.settings import DBT_PROJECT_DIR

MODELS = DBT_PROJECT_DIR / "models"
DASHBOARD_MARTS = {
    "marts_indicator_registry", "indicator_values", "dim_institutions", "fct_referrals", "fct_visits",
    "fct_slot_bookings", "fct_undertreated_cases",
}  # fmt: skip
# DuckDB-only spellings that must stay inside a duckdb__ macro (macros/cross_db.sql)
DUCKDB_ONLY = re.compile(
    r"\b(strftime|quantile_cont|quantile_disc|date_diff|epoch|list_\w+|struct_pack)\s*\(", re.I
)


def _registry_ids() -> list[str]:
    with open(DBT_PROJECT_DIR / "seeds" / "indicator_registry.csv", encoding="utf-8") as fh:
        return [row["indicator_id"] for row in csv.DictReader(fh)]


def test_every_registry_indicator_has_hand_computed_unit_test_rows():
    expected_ids: set[str] = set()
    for path in MODELS.rglob("*.yml"):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for test in doc.get("unit_tests", []):
            if not test["model"].startswith("int_indicator_events__"):
                continue
            rows = test["expect"]["rows"]
            assert test["expect"].get("format") == "csv"
            expected_ids |= {line.split(",", 1)[0] for line in rows.strip().splitlines()[1:]}
    assert sorted(set(_registry_ids()) - expected_ids) == []
    assert len(_registry_ids()) == 29


def test_source_only_in_staging_and_no_duckdb_only_sql_outside_macros():
    for sql in MODELS.rglob("*.sql"):
        text = sql.read_text(encoding="utf-8")
        if "source(" in text:
            assert sql.parent.parent.name == "staging" or sql.parent.name == "staging", sql
        assert not DUCKDB_ONLY.search(text), sql
    macros = (DBT_PROJECT_DIR / "macros" / "cross_db.sql").read_text(encoding="utf-8")
    assert "duckdb__percentile_cont" in macros and "default__percentile_cont" in macros


def test_marts_the_dashboards_read_have_enforced_contracts(built_warehouse, dbt_work: Path):
    manifest = json.loads((dbt_work / "target" / "manifest.json").read_text(encoding="utf-8"))
    contracted = {
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"]["contract"]["enforced"]
    }
    assert contracted >= DASHBOARD_MARTS
    published = {  # what the snapshot publishes from dbt: marts and the reporting aggregates
        schema: {
            n["name"]
            for n in manifest["nodes"].values()
            if n["resource_type"] == "model" and n["schema"] == schema
        }
        for schema in ("marts", "reporting")
    }
    assert published["marts"] | published["reporting"] == contracted  # every one, not only those
    assert len(published["reporting"]) == 11
    fct_visits = next(n for n in manifest["nodes"].values() if n["name"] == "fct_visits")
    assert fct_visits["config"]["materialized"] == "incremental"
