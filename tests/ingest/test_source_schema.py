"""The source YAML schema: every mistake is an error naming the file, the line and the key, before
anything is landed; constants, defaults and the one-institution rule; the default sources folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.ingest.registry import SourceConfigError, load_sources, read_source
from pipelines.settings import SOURCES_DIR, Settings, default_sources_dir

GOOD = """\
source_id: cd_chc
name: 城东社区卫生服务中心
institutions: [C07]
format: csv
encoding: gb18030
delimiter: "\\t"
header_row: 2
files:
  - entity: visits
    pattern: "门诊日志_*.txt"
    constants: {visit_type_code: 1}
    defaults: {patient_id_type: "01"}
    columns:
      门诊号: visit_id
      性别: {element: sex_code, value_map: {男: 1, 女: 2}}
      就诊时间: {element: visit_datetime, date_formats: ["%Y-%m-%d %p%I:%M"]}
"""


def write(tmp_path: Path, text: str, name: str = "src.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def problems(path: Path) -> list[tuple[int, str, str]]:
    with pytest.raises(SourceConfigError) as exc:
        read_source(path)
    for p in exc.value.problems:
        assert p["file"] == str(path)
        assert f"{path}:{p['line']}: {p['key']}: " in str(exc.value)
    return [(p["line"], p["key"], p["message"]) for p in exc.value.problems]


def test_a_good_yaml_gives_constants_defaults_and_the_single_institution_as_a_constant(tmp_path):
    cfg = read_source(write(tmp_path, GOOD))
    [spec] = cfg.files
    # one institution and no column mapped to institution_code: that code is every row's
    assert spec.constants == {"visit_type_code": "1", "institution_code": "C07"}
    assert spec.defaults == {"patient_id_type": "01"}
    assert cfg.institutions == ("C07",)
    assert cfg.delimiter == "\t" and cfg.header_row == 2
    [_, sex, _] = spec.columns
    assert sex.value_map == {"男": "1", "女": "2"}  # YAML numbers are codes (text)


def test_two_institutions_or_an_institution_column_give_no_constant(tmp_path):
    two = read_source(write(tmp_path, GOOD.replace("[C07]", "[C07, C08]")))
    assert "institution_code" not in two.files[0].constants
    col = read_source(
        write(
            tmp_path,
            GOOD.replace("      门诊号: visit_id", "      门诊号: visit_id\n      机构: institution_code"),
        )
    )
    assert "institution_code" not in col.files[0].constants


@pytest.mark.parametrize(
    ("old", "new", "line", "key", "message"),
    [
        ("encoding: gb18030", "encodng: gb18030", 5, "encodng", "unknown key 'encodng'"),
        ("    constants:", "    constant:", 11, "files[0].constant", "unknown key 'constant'"),
        (
            "      门诊号: visit_id",
            "      门诊号: visit_idd",
            14,
            "files[0].columns.门诊号.element",
            "column '门诊号': 'visit_idd' is not an element of visits",
        ),
        (
            "{visit_type_code: 1}",
            "{visit_kind: 1}",
            11,
            "files[0].constants.visit_kind",
            "constant 'visit_kind': 'visit_kind' is not an element of visits",
        ),
        (
            '"%Y-%m-%d %p%I:%M"',
            '"%Y-%m-%d %Q"',
            16,
            "files[0].columns.就诊时间.date_formats[0]",
            "date format '%Y-%m-%d %Q' uses unknown directive(s) %Q",
        ),
        (
            '"%Y-%m-%d %p%I:%M"',
            '"%m/%d %H:%M"',
            16,
            "files[0].columns.就诊时间.date_formats[0]",
            "date format '%m/%d %H:%M' has no year",
        ),
        (
            '"%Y-%m-%d %p%I:%M"',
            '"%Y-%m-%d %I:%M"',
            16,
            "files[0].columns.就诊时间.date_formats[0]",
            "uses %I (12-hour clock) without %p",
        ),
        ("header_row: 2", "header_row: second", 7, "header_row", "Input should be a valid integer"),
        ("header_row: 2", "header_row: 0", 7, "header_row", "Input should be greater than or equal to 1"),
        (
            "format: csv",
            "format: parquet",
            4,
            "format",
            "Input should be 'csv', 'xlsx', 'jsonl' or 'canonical'",
        ),
        ("entity: visits", "entity: visit", 9, "files[0].entity", "unknown entity 'visit'"),
        (
            "{visit_type_code: 1}",
            "{visit_id: X}",
            11,
            "files[0].constants.visit_id",
            "element(s) visit_id have both a column and a constant",
        ),
        (
            "institutions: [C07]",
            "institutions: C07",
            3,
            "institutions",
            "a list of institution codes like [C07, C08], not 'C07'",
        ),
        ('delimiter: "\\t"', 'delimiter: "||"', 6, "delimiter", "at most 1 character"),
    ],
)
def test_each_mistake_names_the_file_line_and_key(tmp_path, old, new, line, key, message):
    assert old in GOOD
    [(got_line, got_key, got_message)] = problems(write(tmp_path, GOOD.replace(old, new)))
    assert (got_line, got_key) == (line, key)
    assert message in got_message


def test_broken_yaml_and_a_missing_key_are_named_too(tmp_path):
    [(line, key, msg)] = problems(write(tmp_path, GOOD.replace("header_row: 2", "header_row: [2")))
    assert (line, key) == (8, "(yaml)") and "not valid YAML" in msg
    [(line, key, msg)] = problems(write(tmp_path, GOOD.replace("format: csv\n", "")))
    assert (line, key, msg) == (1, "format", "missing key 'format'")


def test_a_bad_yaml_stops_land_before_anything_is_landed(tmp_path, capsys):
    src = tmp_path / "sources"
    src.mkdir()
    write(src, GOOD.replace("encoding:", "encodng:"))
    inbox = tmp_path / "inbox" / "cd_chc"
    inbox.mkdir(parents=True)
    (inbox / "门诊日志_202403.txt").write_text("门诊号\nA\n", encoding="utf-8")
    assert main(["land", "--data-dir", str(tmp_path), "--sources-dir", str(src)]) == 2
    err = capsys.readouterr().err
    assert f"{src / 'src.yaml'}:5: encodng: unknown key 'encodng'" in err
    assert not (tmp_path / "warehouse" / "warehouse.duckdb").exists()


def test_sources_validate_lists_every_problem_of_every_file(tmp_path, capsys):
    write(tmp_path, GOOD, "a.yaml")
    write(tmp_path, GOOD.replace("cd_chc", "other").replace("format: csv", "format: xls"), "b.yaml")
    write(tmp_path, GOOD, "c.yaml")  # the same source_id again
    assert main(["sources", "validate", "--sources-dir", str(tmp_path), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["sources_dir"] == str(tmp_path) and out["valid"] == ["cd_chc"]
    assert [(Path(p["file"]).name, p["line"], p["key"]) for p in out["problems"]] == [
        ("b.yaml", 4, "format"),
        ("c.yaml", 1, "source_id"),
    ]
    assert "already defined in" in out["problems"][1]["message"]
    assert main(["sources", "validate", str(tmp_path / "a.yaml")]) == 0


def test_the_project_sources_are_valid(capsys):
    assert main(["sources", "validate", "--sources-dir", str(SOURCES_DIR)]) == 0
    assert f"source YAMLs in {SOURCES_DIR}:" in capsys.readouterr().out


def test_default_sources_dir_is_the_working_directory_s_then_the_project_s(tmp_path, monkeypatch):
    monkeypatch.delenv("RW_SOURCES_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_sources_dir() == SOURCES_DIR  # no ./sources here
    (tmp_path / "sources").mkdir()
    write(tmp_path / "sources", GOOD)
    assert default_sources_dir() == tmp_path / "sources"
    assert list(load_sources()) == ["cd_chc"]
    assert load_sources().sources_dir == tmp_path / "sources"
    # $RW_SOURCES_DIR is read once, by the entry point's Settings; an explicit folder beats it
    environ = {"RW_SOURCES_DIR": str(SOURCES_DIR)}
    assert Settings.from_environ(environ).sources_dir == SOURCES_DIR
    assert (
        Settings.from_environ(environ, sources_dir=tmp_path / "sources").sources_dir == tmp_path / "sources"
    )
    assert Settings.from_environ({}).sources_dir == tmp_path / "sources"


def test_a_missing_sources_folder_is_named(tmp_path):
    with pytest.raises(
        SourceConfigError, match=f"{tmp_path / 'nope'}:\\?: \\(folder\\): the sources folder does not exist"
    ):
        load_sources(tmp_path / "nope")


def test_standardize_and_run_refuse_a_bad_yaml_naming_it(tmp_path, capsys, monkeypatch):
    src = tmp_path / "sources"
    src.mkdir()
    write(src, GOOD.replace("  - entity: visits", "  - entity: visits\n    sheet: 2"))
    with pytest.raises(SystemExit) as exc:
        main(["standardize", "run", "--data-dir", str(tmp_path), "--sources-dir", str(src)])
    assert exc.value.code == 2
    assert f"{src / 'src.yaml'}:10: files[0].sheet: unknown key 'sheet'" in capsys.readouterr().err
    from pipelines.defs.cli import run_pipeline

    with pytest.raises(SystemExit, match="files\\[0\\].sheet: unknown key 'sheet'"):
        run_pipeline(str(tmp_path / "data"), sources_dir=src)
