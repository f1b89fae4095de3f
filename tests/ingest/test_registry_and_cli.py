"""ref.* registry loader and the `referral-warehouse land` command."""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import pytest

from pipelines.cli import main
from pipelines.ingest import RegistryError, load_registry

INSTITUTIONS = """institution_code,institution_name,level_code,type_code,county_code,county_name
H01,市第一人民医院,3,tertiary_hospital,370202,市南区
H11, 城关镇卫生院 ,1,township_hc,370281,胶州市
C01,香港中路社区卫生服务中心,1,community_hc,370202,市南区
"""
MEMBERSHIPS = """alliance_id,alliance_name,alliance_type,institution_code,is_lead,start_date,end_date,note
A1,市南区医联体,医联体,H01,1,2023-01-01,,lead
A1,市南区医联体,医联体,C01,0,2023-01-01,2024-06-30,
"""


def _registry(tmp_path, memberships=MEMBERSHIPS):
    reg = tmp_path / "registry"
    reg.mkdir()
    (reg / "institutions.csv").write_text(INSTITUTIONS, encoding="utf-8")
    (reg / "alliance_memberships.csv").write_text(memberships, encoding="utf-8")
    return reg


def test_load_registry_types_and_counts(tmp_path, con):
    reg = _registry(tmp_path)
    assert load_registry(con, reg) == {"institutions": 3, "alliance_memberships": 2}
    assert con.execute(
        "SELECT institution_code, institution_name, level_code FROM ref.institutions ORDER BY 1"
    ).fetchall() == [
        ("C01", "香港中路社区卫生服务中心", "1"),
        ("H01", "市第一人民医院", "3"),
        ("H11", "城关镇卫生院", "1"),
    ]
    rows = con.execute("SELECT * FROM ref.alliance_memberships ORDER BY institution_code").fetchall()
    assert rows == [
        ("A1", "市南区医联体", "医联体", "C01", 0, dt.date(2023, 1, 1), dt.date(2024, 6, 30)),
        ("A1", "市南区医联体", "医联体", "H01", 1, dt.date(2023, 1, 1), None),
    ]
    # replaced, not appended, on the next load
    assert load_registry(con, reg) == {"institutions": 3, "alliance_memberships": 2}


def test_registry_without_a_canonical_column_is_refused_and_nothing_changes(tmp_path, con):
    load_registry(con, _registry(tmp_path))
    bad = tmp_path / "bad"
    shutil.copytree(tmp_path / "registry", bad)
    (bad / "alliance_memberships.csv").write_text("alliance_id,institution_code\nA1,H01\n", encoding="utf-8")
    with pytest.raises(RegistryError, match="lacks columns"):
        load_registry(con, bad)
    assert con.execute("SELECT count(*) FROM ref.alliance_memberships").fetchone()[0] == 2


def test_land_command_lands_the_inbox_and_the_registry(tmp_path, inbox, sources_dir, capsys):
    _registry(tmp_path)
    code = main(["land", "--data-dir", str(tmp_path), "--sources-dir", str(sources_dir)])
    assert code == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"sources: 5 source YAMLs in {sources_dir}"
    assert out[1] == "registry: 3 institutions, 2 memberships"
    assert out[-1] == (
        "landing: 7 landed, 1 duplicate, 5 rejected, 0 unchanged; rows read 24, landed 19, quarantined 5, footer 2"
    )
    with duckdb.connect(str(tmp_path / "warehouse" / "warehouse.duckdb"), read_only=True) as c:
        assert c.execute("SELECT count(*) FROM raw.files WHERE status = 'landed'").fetchone()[0] == 7
        assert c.execute("SELECT count(*) FROM ref.institutions").fetchone()[0] == 3
    # again, one source and one month, quietly: only the summary line
    code = main(
        [
            "land",
            "--data-dir",
            str(tmp_path),
            "--sources-dir",
            str(sources_dir),
            "--source",
            "his_a",
            "--month",
            "202402",
            "--quiet",
        ]
    )
    assert code == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "landing: 0 landed, 0 duplicate, 0 rejected, 1 unchanged; rows read 0, landed 0, quarantined 0, footer 0"
    )


def test_land_command_refuses_a_bad_source_yaml(tmp_path, sources_dir, capsys):
    (sources_dir / "broken.yaml").write_text(
        "source_id: broken\nformat: parquet\nfiles: []\n", encoding="utf-8"
    )
    assert main(["land", "--data-dir", str(tmp_path), "--sources-dir", str(sources_dir)]) == 2
    err = capsys.readouterr().err
    assert "broken.yaml:2: format: Input should be 'csv', 'xlsx', 'jsonl' or 'canonical'" in err
