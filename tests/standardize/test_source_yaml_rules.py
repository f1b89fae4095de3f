"""What the source YAML's constants, defaults and institutions do in standardization, and the
residence county derived from the resident ID (hand-made raw landing, values checked by hand)."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.ingest.registry import parse_source
from pipelines.standardize.engine import standardize_all

SECRET = b"0123456789abcdef0123456789abcdef"

# Two township health centres send one file each through one source, without an institution
# column; the visit type is filled only for non-outpatient visits; the county only sometimes.
SOURCE = parse_source(
    {
        "source_id": "town",
        "format": "csv",
        "institutions": ["T11", "T12"],
        "files": [
            {
                "entity": "visits",
                "pattern": "visits_*_t11.csv",
                "constants": {"institution_code": "T11"},
                "defaults": {"visit_type_code": 1},
                "columns": {
                    "门诊号": "visit_id",
                    "身份证号": "patient_id_number",
                    "类型": "visit_type_code",
                    "县区": "residence_county_code",
                    "时间": "visit_datetime",
                },
            },
            {
                "entity": "visits",
                "pattern": "visits_*.csv",
                "columns": {
                    "门诊号": "visit_id",
                    "身份证号": "patient_id_number",
                    "类型": "visit_type_code",
                    "县区": "residence_county_code",
                    "时间": "visit_datetime",
                    "机构": "institution_code",
                },
            },
        ],
    }
)
COLUMNS = ["门诊号", "身份证号", "类型", "县区", "时间", "机构"]
# fmt: off
ROWS = {
    ("f11", "visits_202406_t11.csv"): [
        ("A1", "370281193810010195", None, None, "2024-06-03 08:00:00", None),       # T11, type 1 by default, county from ID
        ("A2", "370283196207184728", "急诊", "370283", "2024-06-03 09:00:00", None),  # reported county kept
        ("A3", "370281196708050426", "  ", "370299", "2024-06-03 10:00:00", None),     # blank type -> default
    ],
    ("fxx", "visits_202406.csv"): [
        ("B1", "370211195505053519", "门诊", None, "2024-06-04 08:00:00", "T12"),
        ("B2", "370202194501010086", "门诊", None, "2024-06-04 09:00:00", "H01"),   # not one of this source's
    ],
}
# fmt: on


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    c = duckdb.connect(str(tmp_path_factory.mktemp("std") / "w.duckdb"))
    c.execute("CREATE SCHEMA raw; CREATE SCHEMA ref")
    c.execute(
        "CREATE TABLE raw.files (file_id VARCHAR, source_id VARCHAR, entity VARCHAR, path VARCHAR, file_name VARCHAR, "
        "period VARCHAR, sha256 VARCHAR, size_bytes BIGINT, received_at TIMESTAMP, rows_read BIGINT, "
        "rows_landed BIGINT, rows_quarantined BIGINT, rows_footer BIGINT, status VARCHAR, reason VARCHAR, "
        "replaces_file_id VARCHAR)"
    )
    c.execute(
        "CREATE TABLE ref.institutions (institution_code VARCHAR, institution_name VARCHAR, level_code VARCHAR, "
        "type_code VARCHAR, county_code VARCHAR, county_name VARCHAR)"
    )
    c.execute(
        "INSERT INTO ref.institutions VALUES ('T11', '城关镇卫生院', '1', 'township_hc', '370281', '胶州市'), "
        "('T12', '李哥庄镇卫生院', '1', 'township_hc', '370281', '胶州市'), "
        "('H01', '市第一人民医院', '3', 'tertiary_hospital', '370202', '市南区')"
    )
    cols = ", ".join(f'"{x}" VARCHAR' for x in COLUMNS)
    c.execute(f"CREATE TABLE raw.town__visits ({cols}, _file_id VARCHAR, _row_number BIGINT, _extra VARCHAR)")
    for (file_id, name), rows in ROWS.items():
        c.execute(
            "INSERT INTO raw.files VALUES (?, 'town', 'visits', 'town/' || ?, ?, '202406', ?, 1, "
            "TIMESTAMP '2024-07-01 00:00:00', ?, ?, 0, 0, 'landed', NULL, NULL)",
            [file_id, name, name, file_id, len(rows), len(rows)],
        )
        for i, r in enumerate(rows, start=1):
            c.execute("INSERT INTO raw.town__visits VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)", [*r, file_id, i])
    standardize_all(c, {"town": SOURCE}, SECRET, entities=["visits"], log=lambda _: None, diagnosis=False)
    yield c
    c.close()


def test_constants_defaults_and_derived_county(con):
    got = con.execute(
        "SELECT visit_id, institution_code, visit_type_code, residence_county_code, residence_county_basis "
        "FROM std.visits ORDER BY visit_id"
    ).fetchall()
    assert got == [
        ("A1", "T11", "1", "370281", "id_area_code"),
        ("A2", "T11", "2", "370283", "reported"),
        ("A3", "T11", "1", "370299", "reported"),
        ("B1", "T12", "1", "370211", "id_area_code"),
    ]


def test_an_institution_outside_the_source_list_is_quarantined_with_its_own_reason(con):
    assert con.execute(
        "SELECT row_number, element, raw_value, reason_code, reason FROM std.quarantine"
    ).fetchall() == [
        (
            2,
            "institution_code",
            "H01",
            "INSTITUTION_NOT_IN_SOURCE",
            "Institution not sent by this source (机构不属于该来源)",
        )
    ]


def test_the_derived_county_is_recorded_as_a_row_rule_not_as_a_reported_value(con):
    assert con.execute(
        "SELECT outcome, rule, n_rows FROM std.row_outcomes WHERE element = 'residence_county_code'"
    ).fetchall() == [("derived", "county_from_id_area_code", 3)]  # A1, B1 and the quarantined B2
    # the value outcomes still say what was sent: 3 rows without a county, 2 with one
    assert dict(
        con.execute(
            "SELECT outcome, sum(n_rows) FROM std.value_outcomes WHERE element = 'residence_county_code' GROUP BY 1"
        ).fetchall()
    ) == {"missing": 3, "valid": 2}


def test_a_constant_is_recorded_as_the_value_of_every_row_of_its_file(con):
    assert con.execute(
        "SELECT raw_value, outcome, n_rows FROM std.value_outcomes WHERE element = 'institution_code' "
        "ORDER BY raw_value"
    ).fetchall() == [("H01", "valid", 1), ("T11", "valid", 3), ("T12", "valid", 1)]
