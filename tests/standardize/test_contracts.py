"""pipelines.contracts: the standard's entity keys and row rules as data, the one GB 11643 check
character, the one source binding, and the element-type registry covering the standard."""

from __future__ import annotations

import shutil

import pytest

from pipelines.contracts.bindings import bindings_for
from pipelines.contracts.resident_id import check_character, has_valid_check_character
from pipelines.contracts.sql import quote_identifier, quote_literal
from pipelines.contracts.standard import StandardError, default_standard, load_standard, record_keys
from pipelines.quality.catalogue import load_catalogue
from pipelines.settings import STANDARD_DIR
from pipelines.standardize.element_types import ELEMENT_TYPES
from pipelines.standardize.quarantine import row_rule_conditions


def test_entity_keys_come_from_the_standard_for_every_consumer():
    keys = record_keys()
    assert keys["visits"] == ("institution_code", "visit_id")
    assert keys["referrals"] == ("referral_id",)
    assert list(keys) == ["visits", "referrals", "followups", "contracts", "slot_pools", "slot_bookings"]
    entities = load_catalogue().entities
    assert entities["referrals"] == {"key": "referral_id", "institution": "from_institution_code"}
    assert entities["files"] == {"key": "file_id", "institution": ""}  # the catalogue's own relation


def test_row_rules_are_data_and_compile_to_the_conditions_the_engine_used():
    std = default_standard()
    assert row_rule_conditions(std, "visits") == [
        (
            "discharge_datetime",
            "DISCHARGE_BEFORE_ADMISSION",
            '"discharge_datetime" < coalesce("admission_datetime", "visit_datetime")',
        )
    ]
    assert row_rule_conditions(std, "slot_pools") == [
        ("reserved_slots", "RESERVED_EXCEEDS_TOTAL", '"reserved_slots" > "total_slots"')
    ]
    assert row_rule_conditions(std, "followups") == []


def test_a_row_rule_naming_an_unknown_element_is_refused(tmp_path):
    d = tmp_path / "standard"
    shutil.copytree(STANDARD_DIR, d, ignore=shutil.ignore_patterns("terminology", "mappings"))
    with (d / "row_rules.csv").open("a", encoding="utf-8") as fh:
        fh.write("contracts,end_date,END_BEFORE_START,not_before,start_date,typo\n")
    with pytest.raises(StandardError, match=r"row_rules.csv line 5: contracts.start_date is not an element"):
        load_standard(d)


def test_gb11643_check_character_documented_example():
    # GB 11643-1999 appendix example: 11010519491231002X
    assert check_character("11010519491231002") == "X"
    assert has_valid_check_character("11010519491231002X")
    assert has_valid_check_character("11010519491231002x")
    assert not has_valid_check_character("110105194912310021")


def test_sql_quoting():
    assert quote_identifier('a"b') == '"a""b"'
    assert quote_literal("O'Brien") == "'O''Brien'"


def test_canonical_binding_takes_only_the_standard_elements():
    elements = default_standard().entity_elements("visits", ("canonical",))
    bound = bindings_for(None, "visits", ["visit_id", "not_an_element", "_file_id"], elements)
    assert list(bound) == ["visit_id"]
    assert bound["visit_id"].received_sql("r") == 'r."visit_id"'


def test_every_normalizer_of_an_exchanged_element_has_an_element_type():
    used = {e.normalizer for e in default_standard().elements if e.layer != "derived"}
    assert used - set(ELEMENT_TYPES) == set()
