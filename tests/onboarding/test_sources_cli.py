"""`referral-warehouse sources draft | check` on the command line (--json), and the header
matching / 12-hour-clock parsing as properties."""

from __future__ import annotations

import datetime as dt
import json
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from pipelines.cli import main
from pipelines.ingest.registry import canonical_elements
from pipelines.onboarding.sniff import header_synonyms, match_header, norm_header
from pipelines.standardize.normalizers import normalize_datetime
from tests.onboarding.conftest import FIXTURES, REGISTRY, export_file


def test_draft_then_check_on_the_command_line(tmp_path, capsys):
    path = export_file("c01_tsv_title_gb18030", tmp_path / "inbox" / "cd_chc")
    out = tmp_path / "sources" / "cd_chc.yaml"
    assert main(["sources", "draft", str(path), "--out", str(out), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["source_id"], d["entity"], d["encoding"], d["delimiter"], d["header_row"]) == (
        "cd_chc",
        "visits",
        "gb18030",
        "\t",
        2,
    )
    assert d["pattern"] == "门诊日志_*.txt" and d["written_to"] == str(out)
    assert "#   institution_code:" in out.read_text(encoding="utf-8")  # the missing constant is pointed out
    args = ["sources", "check", "cd_chc", str(path), "--sources-dir", str(tmp_path / "sources")]
    assert main([*args, "--registry", str(REGISTRY), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["accepted"] and r["mismatches"] == []
    assert r["landing"]["status"] == "landed" and r["landing"]["rows_footer"] == 1
    # the draft has no institution: every row would be quarantined, and the check says so
    assert r["std_quarantine"] == {"MISSING_REQUIRED": 5}
    inst = next(e for e in r["elements"] if e["element"] == "institution_code")
    assert inst["missing"] == 5
    # personal data is masked in the first rows by the one privacy mask (shape only: digits -> 9,
    # other characters -> *): an 18-digit ID and a three-character name
    assert r["first_rows"][0]["身份证号"] == "9" * 18 and r["first_rows"][0]["姓名"] == "***"
    assert r["derived"]["residence_county_code:county_from_id_area_code"] == 4
    # the fix the draft suggests, then the check again (rich output)
    text = (
        out.read_text(encoding="utf-8")
        .replace("institutions: any", "institutions: [C07]")
        .replace(
            '    pattern: "门诊日志_*.txt"',
            '    pattern: "门诊日志_*.txt"\n    constants: {visit_type_code: "1"}',
        )
    )
    out.write_text(text, encoding="utf-8")
    assert main([*args, "--registry", str(REGISTRY)]) == 0
    shown = capsys.readouterr().out
    assert "standardized: 4 rows clean, 1 quarantined (MISSING_REQUIRED 1)" in shown


def test_check_shows_unmapped_values_and_suggests_value_map_entries(tmp_path, capsys):
    path = export_file("c11_semicolon_bom_footer", tmp_path)
    yaml_path = FIXTURES / "c11_semicolon_bom_footer" / "source.yaml"
    assert main(["sources", "check", str(yaml_path), str(path), "--registry", str(REGISTRY), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["problem_values"] == [
        {
            "element": "booking_status_code",
            "raw_value": "改约",
            "outcome": "unmapped",
            "reason_code": "CODE_NOT_IN_DOMAIN",
            "rows": 1,
        }
    ]
    assert r["suggested_value_map"] == {"预约状态": {"改约": "?"}}


def test_check_of_a_file_no_pattern_matches_says_so(tmp_path, capsys):
    path = export_file("c11_semicolon_bom_footer", tmp_path)
    renamed = path.rename(tmp_path / "bookings.csv")
    yaml_path = FIXTURES / "c11_semicolon_bom_footer" / "source.yaml"
    assert main(["sources", "check", str(yaml_path), str(renamed), "--json"]) == 1
    assert "no_matching_pattern" in json.loads(capsys.readouterr().out)["landing"]["reason"]


def test_check_of_an_unknown_source_names_the_folder(tmp_path, capsys):
    path = export_file("c11_semicolon_bom_footer", tmp_path)
    assert main(["sources", "check", "nope", str(path), "--sources-dir", str(tmp_path)]) == 2
    assert f"no source YAML with source_id 'nope' in {tmp_path}" in capsys.readouterr().err


def test_draft_refuses_an_old_xls_and_an_unknown_entity_with_a_sentence(tmp_path, capsys):
    xls = tmp_path / "门诊_202401.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    assert main(["sources", "draft", str(xls)]) == 2
    assert "old binary Excel workbook (.xls)" in capsys.readouterr().err
    path = export_file("c08_multi_month", tmp_path)
    assert main(["sources", "draft", str(path), "--entity", "visit"]) == 2
    assert "unknown entity 'visit'" in capsys.readouterr().err


def test_headers_that_name_no_element_are_not_mapped():
    visits = canonical_elements()["visits"]
    assert match_header("医生姓名", visits) == (None, "a known header that is no element")
    assert (
        match_header("主治医生姓名", visits)[0] is None
    )  # contains 医生 (no element) and 姓名: a tie, no element
    assert match_header("联系人电话", visits)[0] is None
    assert match_header("患者姓名", visits) == ("patient_name", "synonym")
    assert match_header("现住址区县代码", visits)[0] == "residence_county_code"  # the longer synonym wins
    assert match_header("就诊机构名称", visits) == ("institution_code", "synonym")


def test_every_canonical_element_has_chinese_and_english_header_synonyms():
    import csv

    from pipelines.settings import STANDARD_DIR

    with (STANDARD_DIR / "column_synonyms.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    langs: dict[str, set[str]] = {}
    for r in rows:
        langs.setdefault(r["element"], set()).add(r["lang"])
    for entity, elements in canonical_elements().items():
        for e in elements:
            assert langs.get(e) == {"zh", "en"}, (entity, e)
    # one header text never means two elements of the same entity
    for entity, elements in canonical_elements().items():
        for key, els in header_synonyms().items():
            assert len(set(els) & set(elements)) <= 1, (entity, key, els)


@given(
    st.sampled_from(sorted({(h, e) for h, es in header_synonyms().items() for e in es if e != "-"})),
    st.data(),
)
def test_a_synonym_is_found_whatever_its_width_case_and_unit(pair, data):
    key, element = pair
    entity = next(en for en, els in canonical_elements().items() if element in els)
    text = data.draw(st.sampled_from([key, key.upper(), f" {key} ", f"{key}(单位)", f"{key}（mmHg）"]))
    wide = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)  # full-width ASCII
    assert norm_header(wide) == norm_header(text) == norm_header(unicodedata.normalize("NFKC", key))
    assert match_header(wide, canonical_elements()[entity])[0] == element


@given(st.datetimes(min_value=dt.datetime(1950, 1, 1), max_value=dt.datetime(2100, 1, 1)), st.booleans())
def test_12_hour_clock_with_shang_wu_xia_wu_reads_back_the_same_minute(t, spaced):
    t = t.replace(second=0, microsecond=0)
    hour12 = t.hour % 12 or 12
    marker = "上午" if t.hour < 12 else "下午"
    sep = " " if spaced else ""
    text = f"{t:%Y-%m-%d} {marker}{sep}{hour12}:{t:%M}"
    o = normalize_datetime(text, formats=[f"%Y-%m-%d %p{sep}%I:%M"])
    assert o.value == f"{t:%Y-%m-%d %H:%M}:00", text
