"""The standard as data: coverage of the design's canonical columns, identifiers, domains, renderings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.settings import REPO_ROOT
from pipelines.standardize.standard import (
    StandardError,
    canonical_templates,
    load_standard,
    render_markdown,
)

STD = load_standard()
TESTS_DIR = Path(__file__).parent
# The WS/T 363 identifiers domain.md confirms; every other element must use the local namespace.
CONFIRMED_DE = {
    "DE02.01.039.00",
    "DE02.01.040.00",
    "DE02.01.005.01",
    "DE02.01.031.00",
    "DE02.01.030.00",  # fmt: skip
    "DE01.00.010.00",
    "DE06.00.062.00",
    "DE06.00.092.00",
    "DE06.00.017.00",
    "DE05.10.053.00",  # fmt: skip
    "DE08.10.026.00",
    "DE08.10.052.00",
    "DE08.10.013.00",
    "DE05.01.024.00",
    "DE05.01.025.00",  # fmt: skip
    "DE06.00.223.00",
    "DE07.00.007.00",  # fmt: skip
}


def design_columns() -> dict[str, list[str]]:
    text = (REPO_ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    section = text.split("## Entities and canonical columns", 1)[1].split("\n## ", 1)[0]
    out = {}
    for line in section.splitlines():
        m = re.match(r"\|\s*`(\w+)`[^|]*\|\s*(.+?)\s*\|$", line)
        if not m:
            continue
        cols = re.sub(r"\([^)]*\)", "", m.group(2))
        out[m.group(1)] = [c.strip() for c in cols.split(",") if c.strip()]
    return out


def test_design_table_parsed():
    cols = design_columns()
    assert sorted(cols) == sorted(
        [
            "visits",
            "referrals",
            "followups",
            "contracts",
            "slot_pools",
            "slot_bookings",
            "institutions",
            "alliance_memberships",
        ]  # fmt: skip
    )
    assert len(cols["visits"]) == 23
    assert cols["visits"][-1] == "major_exam_code"


def test_every_design_column_is_in_the_standard_in_design_order():
    for entity, cols in design_columns().items():
        elements = [e.element for e in STD.entity_elements(entity)]
        assert elements == cols, entity


def test_counts_and_namespaces():
    assert STD.version == "2026.3.0"
    assert len(STD.elements) == 143
    assert sum(e.layer == "canonical" for e in STD.elements) == 77
    assert sum(e.layer == "registry" for e in STD.elements) == 13
    assert sum(e.layer == "derived" for e in STD.elements) == 53
    for e in STD.elements:
        if e.de_id.startswith("DE"):
            assert e.de_id in CONFIRMED_DE, (e.entity, e.element)
            assert e.namespace == "WS/T 363"
        else:
            assert re.fullmatch(r"LDE\.[A-Z]{2}\.\d{3}", e.de_id), (e.entity, e.element)
            assert e.namespace == "local"
    # one identifier means one meaning: same de_id -> same Chinese name (modulo the 原文 suffix) across entities
    names: dict[str, set[str]] = {}
    for e in STD.elements:
        names.setdefault(e.de_id, set()).add(e.name_zh.replace("(原文)", ""))
    assert {k: v for k, v in names.items() if len(v) > 1} == {}


def test_pii_and_required_flags():
    pii = sorted({e.element for e in STD.elements if e.pii})
    assert pii == ["patient_id_number", "patient_name", "phone"]
    assert [e.element for e in STD.entity_elements("visits") if e.required] == [
        "visit_id",
        "institution_code",
        "patient_id_number",
        "visit_type_code",
        "visit_datetime",  # fmt: skip
    ]


@pytest.mark.parametrize(
    ("domain", "codes"),
    [
        ("GBT2261.1", ["0", "1", "2", "9"]),
        ("CV02.01.101", ["01", "02", "03", "04", "05", "06", "07", "99"]),
        ("LCV.DISCHARGE", ["1", "2", "3", "4", "5", "9"]),
        ("LCV.INST_LEVEL", ["1", "2", "3"]),
        (
            "LCV.INST_TYPE",
            [
                "village_clinic",
                "township_hc",
                "community_hc",
                "community_station",
                "county_hospital",
                "tertiary_hospital",
            ],
        ),  # fmt: skip
        ("LCV.VISIT_TYPE", ["1", "2", "3"]),
        ("LCV.REF_DIRECTION", ["1", "2"]),
        ("LCV.REF_STATUS", ["1", "2", "3", "4", "5", "6"]),
        ("LCV.RETURN_REASON", ["01", "02", "03", "04", "05", "99"]),
        ("LCV.PAYMENT", ["01", "02", "03", "04", "05", "06", "07", "08", "99"]),
        ("LCV.BOOKING_STATUS", ["1", "2", "3"]),
        ("LCV.EXAM", ["CT", "MR", "DR", "US", "none"]),
    ],
)
def test_value_domains(domain, codes):
    assert [v.code for v in STD.domain(domain)] == codes


def test_synonym_map_never_maps_one_spelling_to_two_codes():
    for domain in {v.domain_id for v in STD.domain_values}:
        seen: dict[str, str] = {}
        for v in STD.domain(domain):
            for s in (v.code, *v.synonyms):
                assert seen.setdefault(s, v.code) == v.code, (domain, s)


def test_every_reason_code_has_a_unit_test():
    codes = [r.code for r in STD.reason_codes]
    assert len(codes) == 21
    test_text = "".join(
        p.read_text(encoding="utf-8") for p in TESTS_DIR.glob("test_*.py") if p.name != Path(__file__).name
    )
    untested = [c for c in codes if f'"{c}"' not in test_text]
    assert untested == []


def test_rendering_is_up_to_date():
    assert (STD.directory / "STANDARD.md").read_text(encoding="utf-8") == render_markdown(STD)
    for entity, header in canonical_templates(STD).items():
        assert (STD.directory / "canonical" / f"{entity}.csv").read_text(encoding="utf-8") == header
    assert main(["standardize", "render", "--check"]) == 0


def test_canonical_template_is_the_registry_order():
    assert canonical_templates(STD)["slot_bookings"] == (
        "booking_id,pool_id,booking_institution_code,patient_id_type,patient_id_number,booking_datetime,"
        "booking_status_code\n"
    )


def test_render_check_fails_on_a_stale_copy(tmp_path, capsys):
    for name in (
        "VERSION",
        "data_elements.csv",
        "derived_elements.csv",
        "value_domains.csv",
        "reason_codes.csv",
    ):
        (tmp_path / name).write_text((STD.directory / name).read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["standardize", "render", "--standard-dir", str(tmp_path), "--check"]) == 1
    assert "out of date" in capsys.readouterr().out


def test_bad_standard_is_rejected_with_the_row_named(tmp_path):
    for name in ("VERSION", "derived_elements.csv", "value_domains.csv", "reason_codes.csv"):
        (tmp_path / name).write_text((STD.directory / name).read_text(encoding="utf-8"), encoding="utf-8")
    text = (STD.directory / "data_elements.csv").read_text(encoding="utf-8")
    (tmp_path / "data_elements.csv").write_text(
        text.replace(",CV02.01.101,", ",CV99.99.999,", 1), encoding="utf-8"
    )
    with pytest.raises(StandardError, match=r"visits\.patient_id_type: value_domain 'CV99.99.999'"):
        load_standard(tmp_path)
