"""End to end on the generator's tiny region: generate -> land -> standardize -> accuracy."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.generate import generate
from pipelines.ingest.landing import land_inbox
from pipelines.ingest.refdata import load_registry
from pipelines.ingest.registry import load_sources
from pipelines.standardize import standardize_all
from pipelines.standardize.accuracy import accuracy_by_field, summary
from pipelines.standardize.diagnosis import DiagnosisStandardizer
from pipelines.standardize.engine import ENTITIES
from pipelines.standardize.standard import load_standard

from .conftest import SECRET

pytestmark = pytest.mark.slow
DX_ELEMENTS = ("diagnosis_code_std", "icd10_category", "hypertension_grade", "(record)")


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    out = tmp_path_factory.mktemp("region")
    generate(out, scale="tiny", seed=1)
    con = duckdb.connect(str(out / "warehouse.duckdb"))
    sources = load_sources()
    load_registry(con, out / "registry")
    land_inbox(con, out / "inbox", sources, log=lambda m: None)
    report = standardize_all(
        con, sources, SECRET, diagnosis=DiagnosisStandardizer.default(), log=lambda m: None
    )
    accuracy_by_field(con, out / "truth", sources, SECRET)
    yield con, report
    con.close()


def q(con, sql):
    return con.execute(sql).fetchall()


def test_every_landed_row_is_in_std_or_quarantine_never_both(region):
    con, report = region
    assert report.reconciles
    landed_by_files = dict(
        q(con, "SELECT entity, sum(rows_landed) FROM raw.files WHERE status = 'landed' GROUP BY entity")
    )
    for entity in ENTITIES:
        e = report.entities[entity]
        assert e.landed > 0, entity
        assert e.landed == landed_by_files[entity] == e.std_rows + e.quarantined_rows, entity
        both = q(
            con,
            f"SELECT count(*) FROM std.{entity} s JOIN std.quarantine x ON x.entity = '{entity}' "
            "AND x.source_id = s.source_id AND x.file_id = s.file_id AND x.row_number = s.row_number",
        )
        assert both == [(0,)], entity


def test_quarantine_reasons_are_documented_and_expected(region):
    con, _ = region
    documented = {r.code for r in load_standard().reason_codes}
    used = {r[0] for r in q(con, "SELECT DISTINCT reason_code FROM std.quarantine")}
    assert used <= documented
    # the generator's record-fatal dirt kinds all show up as their reason
    assert {"ID_BAD_CHECKSUM", "MISSING_REQUIRED", "DUPLICATE_KEY", "FUTURE_DATE"} <= used


def test_terminology_pack_is_loaded_into_ref(region):
    con, _ = region
    n, with_category = q(con, "SELECT count(*), count(icd10_category) FROM ref.terminology")[0]
    assert n >= 40000  # the Beijing clinical v601 pack has 40,474 codes (some packs add curated ones)
    assert with_category > 0.9 * n
    assert q(con, "SELECT name, icd10_category FROM ref.terminology WHERE code = 'E11.901'") == [
        ("2型糖尿病", "E11")
    ]


def test_person_keys_replace_ids(region):
    con, _ = region
    for entity in ("visits", "referrals", "followups", "contracts", "slot_bookings"):
        assert q(
            con, f"SELECT count(*) FROM std.{entity} WHERE person_key IS NULL OR length(person_key) <> 64"
        ) == [(0,)], entity


def test_accuracy_reaches_99_percent_of_recoverable_values(region):
    con, _ = region
    s = summary(con)
    assert s["recoverable_accuracy_after"] >= 0.99
    assert s["value_accuracy_after"] > s["value_accuracy_before"]
    assert s["record_accuracy_after"] > s["record_accuracy_before"]
    # every field the standardizer owns (all but the diagnosis mapping) recovers >= 99% per source
    low = q(
        con,
        "SELECT source_id, entity, element, accuracy_after_recoverable FROM std.accuracy_by_field "
        f"WHERE element NOT IN {DX_ELEMENTS} AND recoverable > 0 AND accuracy_after_recoverable < 0.99",
    )
    assert low == []


def test_value_outcomes_cover_every_landed_row_once_per_element(region):
    con, report = region
    landed = {}
    for entity in ENTITIES:
        for source_id in report.entities[entity].sources:
            landed[(entity, source_id)] = q(con, f'SELECT count(*) FROM raw."{source_id}__{entity}"')[0][0]
    totals = q(con, "SELECT entity, source_id, element, sum(n_rows) FROM std.value_outcomes GROUP BY ALL")
    assert len(totals) > 100
    wrong = [(e, s, el, n, landed[(e, s)]) for e, s, el, n in totals if n != landed[(e, s)]]
    assert wrong == []
