"""Accuracy against a hand-made truth, through the library and through the CLI."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from pipelines.cli import main
from pipelines.standardize import standardize_all
from pipelines.standardize.accuracy import accuracy_by_field, summary

from .conftest import SECRET, SOURCES, make_raw

T_COLS = ["source_id", "file_name", "row_number", "record_key", "visit_id", "institution_code", "patient_id_type",
          "patient_id_number", "sex_code", "birth_date", "visit_type_code", "visit_datetime", "dirt"]  # fmt: skip
A, B = "360426199101010071", "120103198806018241"
TRUTH = [
    (
        "canon",
        "visits_202503.csv",
        1,
        "V1",
        "V1",
        "H001",
        "01",
        A,
        "1",
        "1991-01-01",
        "1",
        "2025-03-01 09:00:00",
        "",
    ),
    (
        "canon",
        "visits_202503.csv",
        2,
        "V2",
        "V2",
        "H001",
        "01",
        B,
        "2",
        "1988-06-01",
        "1",
        "2025-03-02 00:00:00",
        "sex_spelling",
    ),  # fmt: skip
    (
        "canon",
        "visits_202503.csv",
        3,
        "V3",
        "V3",
        "H001",
        "01",
        A,
        "1",
        "1991-01-01",
        "1",
        "2025-03-01 10:00:00",
        "id_check_digit",
    ),  # fmt: skip
    (
        "hisb",
        "visits_202503.csv",
        1,
        "B1",
        "B1",
        "C001",
        "01",
        A,
        "1",
        "1991-01-01",
        "1",
        "2025-03-03 08:30:00",
        "",
    ),
    (
        "hisb",
        "visits_202503.csv",
        2,
        "B2",
        "B2",
        "C001",
        "01",
        B,
        "2",
        "1988-06-01",
        "1",
        "2025-03-04 00:00:00",
        "whitespace",
    ),  # fmt: skip
]
# (element, records, correct_before, correct_after, recoverable, correct_after_recoverable), worked out by hand
EXPECTED = {
    "canon": [
        ("(record)", 3, 1, 2, 1, 1),
        ("birth_date", 3, 2, 2, 1, 1),  # V2 sent no birth date: derived from the ID, but not "recoverable"
        ("institution_code", 3, 2, 2, 2, 2),  # h001
        ("patient_id_number", 3, 2, 2, 2, 2),  # V3: wrong check digit, fatal
        ("patient_id_type", 3, 2, 2, 1, 1),
        ("sex_code", 3, 2, 2, 2, 2),
        ("visit_datetime", 3, 2, 2, 2, 2),
        ("visit_id", 3, 3, 2, 2, 2),
        ("visit_type_code", 3, 3, 2, 2, 2),
    ],
    "hisb": [
        ("(record)", 2, 0, 2, 0, 0),
        ("birth_date", 2, 0, 2, 0, 0),  # not exported by hisb: from the ID
        ("institution_code", 2, 2, 2, 2, 2),
        ("patient_id_number", 2, 1, 2, 2, 2),  # a 15-digit ID; trim() already fixes the padded one
        ("patient_id_type", 2, 0, 2, 0, 0),
        ("sex_code", 2, 0, 2, 2, 2),
        ("visit_datetime", 2, 0, 2, 2, 2),
        ("visit_id", 2, 2, 2, 2, 2),
        ("visit_type_code", 2, 0, 2, 2, 2),
    ],
}


def write_truth(truth_dir, with_files_csv: bool):
    (truth_dir / "records").mkdir(parents=True)
    rows = list(TRUTH)
    if with_files_csv:
        # the same bytes sent again under another name (the landing records it as a duplicate): its
        # truth rows must not be counted against the landed file
        rows += [(r[0], "visits_202503_again.csv", *r[2:]) for r in TRUTH if r[0] == "canon"]
    table = pa.table({c: [r[i] for r in rows] for i, c in enumerate(T_COLS)})
    if with_files_csv:
        table = table.append_column("delivery", pa.array(["inbox"] * len(rows)))
        (truth_dir / "files.csv").write_text(
            "delivery,source_id,entity,file_name,sha256\ninbox,canon,visits,visits_202503.csv,x\n"
            "inbox,canon,visits,visits_202503_again.csv,x\n"
            "inbox,hisb,visits,visits_202503.csv,y\nlater,hisb,visits,visits_202503.csv,z\n",
            encoding="utf-8",
        )
    pq.write_table(table, truth_dir / "records" / "visits.parquet")


def check(con):
    got = con.execute(
        "SELECT source_id, element, records, correct_before, correct_after, recoverable, correct_after_recoverable "
        "FROM std.accuracy_by_field ORDER BY source_id, element"
    ).fetchall()
    assert got == [(s, *row) for s in ("canon", "hisb") for row in EXPECTED[s]]
    assert summary(con) == {
        "values": 40,
        "value_accuracy_before": round(23 / 40, 4),
        "value_accuracy_after": round(32 / 40, 4),
        "recoverable_values": 26,
        "recoverable_accuracy_after": 1.0,
        "records": 5,
        "record_accuracy_before": 0.2,
        "record_accuracy_after": 0.8,
        "recoverable_records": 1,
        "recoverable_record_accuracy_after": 1.0,
    }


def test_accuracy_by_field_with_and_without_delivery_tracking(tmp_path):
    for with_files in (False, True):
        con = duckdb.connect()
        make_raw(con)
        standardize_all(con, SOURCES, SECRET, entities=["visits"], diagnosis=False, log=lambda m: None)
        truth = tmp_path / f"truth_{with_files}"
        write_truth(truth, with_files)
        df = accuracy_by_field(con, truth, SOURCES, SECRET)
        assert len(df) == 18
        assert (
            df.loc[(df.source_id == "canon") & (df.element == "birth_date"), "accuracy_before"].item()
            == 0.6667
        )
        check(con)
        con.close()


def test_cli_run_and_accuracy(tmp_path, capsys):
    data = tmp_path / "data"
    (data / "warehouse").mkdir(parents=True)
    con = duckdb.connect(str(data / "warehouse" / "warehouse.duckdb"))
    make_raw(con)
    con.close()
    write_truth(data / "truth", True)
    sources_dir = tmp_path / "sources"
    sources_dir.mkdir()
    (sources_dir / "canon.yaml").write_text(
        yaml.safe_dump(
            {"source_id": "canon", "format": "canonical", "files": [{"entity": "visits", "pattern": "v*"}]}
        ),
        encoding="utf-8",
    )
    hisb = SOURCES["hisb"].files[0]
    cols = {
        c.source_column: {
            "element": c.element,
            "date_formats": list(c.date_formats),
            "value_map": c.value_map,
        }
        for c in hisb.columns
    }
    (sources_dir / "hisb.yaml").write_text(
        yaml.safe_dump(
            {
                "source_id": "hisb",
                "format": "csv",
                "files": [{"entity": "visits", "pattern": "v*", "columns": cols}],
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    args = ["--data-dir", str(data), "--sources-dir", str(sources_dir)]
    assert main(["standardize", "run", *args, "--entity", "visits", "--no-diagnosis"]) == 0
    assert "visits: landed 12 = std 5 + quarantined 7" in capsys.readouterr().out
    assert (data / "secrets" / "person_key.secret").exists()
    assert main(["standardize", "accuracy", *args]) == 0
    out = capsys.readouterr().out
    assert "values: 40  accuracy before 57.50%  after 80.00%  | recoverable 26: after 100.00%" in out
    assert "records: 5  accuracy before 20.00%  after 80.00%  | recoverable 1: after 100.00%" in out
    con = duckdb.connect(str(data / "warehouse" / "warehouse.duckdb"), read_only=True)
    check(con)
    con.close()
