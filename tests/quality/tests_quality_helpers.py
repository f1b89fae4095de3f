"""Hand-made warehouse tables in the contract shapes (docs/design.md), with known defects.

Every defect is listed next to the row that carries it; the tests assert the exact counts.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from pipelines.ingest.registry import parse_source

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def make_id(area: str, birth: str, seq: str) -> str:
    """A resident ID with the right GB 11643 check character (17 digits given)."""
    body = f"{area}{birth}{seq}"
    assert len(body) == 17
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11]


# Documented valid IDs (shared/docs/domain.md): male 1991-01-01 and female 1988-06-01.
ID_M = "360426199101010071"
ID_F = "120103198806018241"
ID_BAD = "360426199101010072"  # check character wrong
AS_OF = dt.datetime(2024, 6, 30, 12, 0, 0)

SOURCES = {
    "his_t": parse_source(
        {
            "source_id": "his_t",
            "format": "csv",
            "files": [
                {
                    "entity": "visits",
                    "pattern": "visits_*.csv",
                    "columns": {
                        "就诊流水号": "visit_id",
                        "机构编码": "institution_code",
                        "证件类型": "patient_id_type",
                        "身份证号": "patient_id_number",
                        "性别": "sex_code",
                        "就诊日期": "visit_datetime",
                    },
                },
                {
                    "entity": "referrals",
                    "pattern": "referrals_*.csv",
                    "columns": {"转诊单号": "referral_id", "身份证号": "patient_id_number"},
                },
            ],
        }
    ),
    "canon": parse_source(
        {"source_id": "canon", "format": "canonical", "files": [{"entity": "visits", "pattern": "*"}]}
    ),
}


def _table(
    con: duckdb.DuckDBPyConnection, name: str, df: pd.DataFrame, types: dict[str, str] | None = None
) -> None:
    schema = name.split(".")[0]
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    con.register("_df", df)
    cols = ", ".join(f'CAST("{c}" AS {(types or {}).get(c, "VARCHAR")}) AS "{c}"' for c in df.columns)
    con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT {cols} FROM _df")
    con.unregister("_df")


def build_base(con: duckdb.DuckDBPyConnection) -> None:
    """Registry, raw landing of two sources, std tables: the known-bad warehouse (run 1)."""
    _table(con, "ref.institutions", pd.DataFrame({"institution_code": ["A001", "B001", "C001"],
                                                  "level_code": ["3", "1", "1"]}))  # fmt: skip
    _table(
        con,
        "raw.files",
        pd.DataFrame(
            {"file_id": ["F0", "F1", "F2", "R1"], "source_id": ["his_t", "his_t", "canon", "his_t"],
             "entity": ["visits", "visits", "visits", "referrals"],
             "file_name": ["visits_202406.csv", "visits_202406.csv", "visits_202406.csv", "referrals_202406.csv"],
             "period": ["202406"] * 4, "rows_landed": [1, 5, 2, 2],
             "status": ["replaced", "landed", "landed", "landed"]}
        ),
        {"rows_landed": "BIGINT"},
    )  # fmt: skip
    # raw.his_t__visits: F0 was replaced (its rows are not checked); F1 has 5 rows.
    raw_t = pd.DataFrame(
        [
            # 就诊流水号, 机构编码, 证件类型, 身份证号, 性别, 就诊日期, _file_id, _row_number
            ["V0", "A001", "", ID_BAD, "男", "2024/06/01", "F0", 1],  # replaced file: ignored
            ["V1", "A001", "", ID_M, "男", "2024/06/01", "F1", 1],
            ["V2", "A001", "", ID_F, "男", "2024/06/02", "F1", 2],  # sex 男 but ID female
            ["V3", "B001", "01", ID_BAD, "女", "2024/06/03", "F1", 3],  # bad check character
            ["", "B001", "", "  ", "女", "2024/06/04", "F1", 4],  # no visit number, no ID
            ["V5", "B001", "03", "E12345678", "男", "2024/06/05", "F1", 5],  # passport: checksum n/a
        ],
        columns=[
            "就诊流水号",
            "机构编码",
            "证件类型",
            "身份证号",
            "性别",
            "就诊日期",
            "_file_id",
            "_row_number",
        ],
    )
    raw_t["_extra"] = None
    _table(con, "raw.his_t__visits", raw_t, {"_row_number": "BIGINT"})
    id_c1 = make_id("110101", "19500315", "003")  # male, born 1950-03-15
    raw_c = pd.DataFrame(
        {"visit_id": ["C1", "C2"], "institution_code": ["C001", "C001"], "patient_id_type": ["01", "01"],
         "patient_id_number": [id_c1, "11010119500315004"],  # C2: 17 characters
         "sex_code": ["1", "2"], "visit_datetime": ["2024-06-01 08:00:00", "2024-06-02 09:00:00"],
         "_file_id": ["F2", "F2"], "_row_number": [1, 2], "_extra": [None, None]}
    )  # fmt: skip
    _table(con, "raw.canon__visits", raw_c, {"_row_number": "BIGINT"})
    _table(
        con,
        "raw.his_t__referrals",
        pd.DataFrame({"转诊单号": ["R1", "R2"], "身份证号": [ID_M, ID_F], "_file_id": ["R1", "R1"],
                      "_row_number": [1, 2], "_extra": [None, None]}),
        {"_row_number": "BIGINT"},
    )  # fmt: skip
    # std.visits: the 4 his_t rows that standardization kept (V3 quarantined for its ID) + canon C1
    std_v = pd.DataFrame(
        [
            # visit_id, inst, id_type, sex, birth, type, visit_dt, adm, dis, person_key, source, file, row
            ["V1", "A001", "01", "1", "1991-01-02", "3", "2024-06-01 08:00:00", "2024-06-01 08:00:00",
             "2024-05-30 10:00:00", "a" * 64, "his_t", "F1", 1],  # birth != ID; discharge < admission
            ["V2", "A001", "01", "1", "1988-06-01", "1", "2024-06-02 09:00:00", None, None, "b" * 64,
             "his_t", "F1", 2],  # sex 1 but ID female
            [None, "Z999", "01", "2", "1970-01-01", "1", "2099-01-01 00:00:00", None, None, None,
             "his_t", "F1", 4],  # no visit_id, unknown institution, future date, no person_key
            ["V5", "B001", "03", "1", "1980-01-01", None, "2024-06-05 10:00:00", None, None, "c" * 64,
             "his_t", "F1", 5],  # no visit type; passport: identity checks n/a
            ["C1", "C001", "01", "1", "1950-03-15", "3", "2024-06-01 08:00:00", "2024-06-01 08:00:00",
             "2024-06-05 10:00:00", "d" * 64, "canon", "F2", 1],  # clean
        ],
        columns=["visit_id", "institution_code", "patient_id_type", "sex_code", "birth_date", "visit_type_code",
                 "visit_datetime", "admission_datetime", "discharge_datetime", "person_key", "source_id",
                 "file_id", "row_number"],
    )  # fmt: skip
    # the diagnosis as sent; the no-visit-id row's text could not be placed at all, so the
    # standardizer wrote no std.visit_diagnoses row for it (the mapped check must still see it)
    std_v["diagnosis_name"] = ["高血压3级", "头疼待查", "左侧肢体乏力伴言语含糊", "糖尿病", "慢阻肺;不明"]
    std_v["diagnosis_code"] = [None, None, None, "E11.900", None]
    ts = {"birth_date": "DATE", "visit_datetime": "TIMESTAMP", "admission_datetime": "TIMESTAMP",
          "discharge_datetime": "TIMESTAMP", "row_number": "BIGINT"}  # fmt: skip
    _table(con, "std.visits", std_v, ts)
    _table(
        con,
        "std.visit_diagnoses",
        pd.DataFrame(
            {"visit_id": ["V1", "V2", "V5", "C1", "C1"], "institution_code": ["A001", "A001", "B001", "C001", "C001"],
             "seq": [1, 1, 1, 1, 2], "source_text": ["高血压3级", "头疼待查", "糖尿病", "慢阻肺", "不明"],
             "source_code": [None, None, "E11.900", None, None],
             "code": ["I10xx05", None, "E11.900", "J44.901", None],
             "mapping_method": ["synonym", None, "crosswalk", "synonym", None],
             "is_principal": [True, True, True, True, False]}
        ),
        {"seq": "INTEGER", "is_principal": "BOOLEAN"},
    )  # fmt: skip
    _table(
        con,
        "std.referrals",
        pd.DataFrame(
            {"referral_id": ["R1", "R2"], "from_institution_code": ["B001", "A001"],
             "to_institution_code": ["A001", "B001"], "direction_code": ["1", "2"], "sex_code": ["1", "2"],
             "birth_date": ["1991-01-01", "1988-06-01"], "patient_id_type": ["01", "01"],
             "request_datetime": ["2024-06-01 08:00:00", "2024-06-02 08:00:00"],
             "accept_datetime": ["2024-06-01 09:00:00", "2024-06-01 08:00:00"],  # R2 accepted before request
             "return_datetime": [None, None], "arrival_datetime": ["2024-06-01 12:00:00", None],
             "person_key": ["a" * 64, "b" * 64], "source_id": ["his_t", "his_t"], "file_id": ["R1", "R1"],
             "row_number": [1, 2]}
        ),
        {"birth_date": "DATE", "request_datetime": "TIMESTAMP", "accept_datetime": "TIMESTAMP",
         "return_datetime": "TIMESTAMP", "arrival_datetime": "TIMESTAMP", "row_number": "BIGINT"},
    )  # fmt: skip
    # standardization quarantined his_t row 3 (bad check character) and canon row 2 (17 characters)
    _table(
        con,
        "std.quarantine",
        pd.DataFrame(
            {"file_id": ["F1", "F2"], "source_id": ["his_t", "canon"], "entity": ["visits", "visits"],
             "row_number": [3, 2], "stage": ["standardize"] * 2, "element": ["patient_id_number"] * 2,
             "raw_value": ["(masked)"] * 2, "reason_code": ["ID_BAD_CHECKSUM", "ID_BAD_LENGTH"],
             "reason": ["check digit", "length"], "raw_record": [None, None]}
        ),
        {"row_number": "BIGINT"},
    )  # fmt: skip
    _table(
        con,
        "std.value_outcomes",
        pd.DataFrame(
            {"entity": ["visits"] * 5, "element": ["sex_code"] * 3 + ["visit_datetime"] * 2,
             "source_id": ["his_t", "his_t", "canon", "his_t", "his_t"],
             "raw_value": ["男", "1", "1", "2024/06/01", "坏日期"], "normalized_value": ["1", "1", "1", "2024-06-01", None],
             "outcome": ["corrected", "valid", "valid", "corrected", "invalid"], "rule": [None] * 5,
             "reason_code": [None] * 5, "n_rows": [3, 1, 2, 4, 1]}
        ),
        {"n_rows": "BIGINT"},
    )  # fmt: skip
