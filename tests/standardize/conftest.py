"""Hand-made raw landing for the standardizer tests (the raw table shape of docs/design.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pytest

from pipelines.ingest.registry import parse_source

SECRET = b"0123456789abcdef0123456789abcdef"

# canonical source: columns are element names
# fmt: off
CANON_COLUMNS = [
    "visit_id", "institution_code", "patient_id_type", "patient_id_number", "patient_name", "sex_code",
    "birth_date", "phone", "visit_type_code", "visit_datetime", "admission_datetime", "discharge_datetime",
    "diagnosis_name", "diagnosis_code", "payment_type_code", "total_fee",
]
CANON_VISITS = [
    ("V1", "H001", "01", "360426199101010071", "张三", "1", "1991-01-01", "13800138000", "1",
     "2025-03-01 09:00:00", None, None, "高血压", "I10", "01", "120.50"),
    ("V2", "h001", None, "120103198806018241", "李四", "男", None, "010-12345678", "1",
     "2025/3/2", None, None, "糖尿病", None, "居民医保", "1,200"),
    ("V3", "H001", "01", "360426199101010072", "王五", "1", "1991-01-01", None, "1",
     "2025-03-01 10:00:00", None, None, "高血压", "I10", "01", "80"),
    ("V4", "H001", "01", "360426199101010071", "张三", "1", "1991-01-01", None, "1",
     "2025-02-30 10:00:00", None, None, None, None, None, None),
    ("V5", "X999", "01", "360426199101010071", "张三", "1", "1991-01-01", None, "1",
     "2025-03-01 11:00:00", None, None, None, None, None, None),
    ("V1", "H001", "01", "360426199101010071", "张三", "1", "1991-01-01", None, "1",
     "2025-03-01 09:00:00", None, None, "高血压", "I10", "01", "120.50"),
    ("V7", "H001", "01", "120103198806018241", "李四", "2", "1988-06-01", None, "住院",
     "2025-03-05 10:00:00", "2025-03-05 10:00:00", "2025-03-04 10:00:00", "高血压", None, "01", "9000"),
    ("V8", "H001", "01", "120103198806018241", "李四", "2", "1988-06-01", None, "1",
     "2099-01-01 00:00:00", None, None, None, None, None, None),
    ("V9", "H001", "01", None, "无名", "2", None, None, "1",
     "2025-03-06 10:00:00", None, None, None, None, None, None),
    ("V10", "H001", "01", "120103198806018241", "李四", "未知性别?", "1988-06-02", "12345", "2",
     "2025-03-07 10:00:00", None, None, "头痛待查", None, "Z9", "abc"),
]
HISB_COLUMNS = ["就诊流水号", "机构编码", "身份证号", "性别", "就诊日期", "就诊类型", "诊断"]
HISB_VISITS = [
    ("B1", "C001", "360426910101007", "男", "2025年3月3日 08时30分", "门诊", "糖尿病"),
    ("B2", "C001", " 120103198806018241 ", "女", "20250304", "门诊", "高血压;糖尿病"),
]
# fmt: on

SOURCES = {
    "canon": parse_source(
        {
            "source_id": "canon",
            "format": "canonical",
            "files": [{"entity": "visits", "pattern": "visits_*.csv"}],
        }
    ),
    "hisb": parse_source(
        {
            "source_id": "hisb",
            "format": "csv",
            "files": [
                {
                    "entity": "visits",
                    "pattern": "visits_*.csv",
                    "columns": {
                        "就诊流水号": {"element": "visit_id"},
                        "机构编码": {"element": "institution_code"},
                        "身份证号": {"element": "patient_id_number"},
                        "性别": {"element": "sex_code", "value_map": {"男": "1", "女": "2"}},
                        "就诊日期": {"element": "visit_datetime", "date_formats": ["%Y年%m月%d日 %H时%M分"]},
                        "就诊类型": {"element": "visit_type_code"},
                        "诊断": {"element": "diagnosis_name"},
                    },
                }
            ],
        }
    ),
}


def _q(c: str) -> str:
    return '"' + c + '"'


def make_raw(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA raw; CREATE SCHEMA ref")
    con.execute(
        "CREATE TABLE raw.files (file_id VARCHAR, source_id VARCHAR, entity VARCHAR, path VARCHAR, file_name VARCHAR, "
        "period VARCHAR, sha256 VARCHAR, size_bytes BIGINT, received_at TIMESTAMP, rows_read BIGINT, "
        "rows_landed BIGINT, rows_quarantined BIGINT, rows_footer BIGINT, status VARCHAR, reason VARCHAR, "
        "replaces_file_id VARCHAR)"
    )
    con.execute(
        "INSERT INTO raw.files VALUES ('fa', 'canon', 'visits', 'canon/visits_202503.csv', 'visits_202503.csv', "
        "'202503', 'x', 1, TIMESTAMP '2025-04-01 00:00:00', 10, 10, 0, 0, 'landed', NULL, NULL), "
        "('fb', 'hisb', 'visits', 'hisb/visits_202503.csv', 'visits_202503.csv', '202503', 'y', 1, "
        "TIMESTAMP '2025-04-02 00:00:00', 2, 2, 0, 0, 'landed', NULL, NULL)"
    )
    con.execute(
        "CREATE TABLE ref.institutions (institution_code VARCHAR, institution_name VARCHAR, level_code VARCHAR, "
        "type_code VARCHAR, county_code VARCHAR, county_name VARCHAR)"
    )
    con.execute(
        "INSERT INTO ref.institutions VALUES ('H001', '市第一人民医院', '3', 'tertiary_hospital', '370202', '市南区'), "
        "('C001', '城东社区卫生服务中心', '1', 'community_hc', '370202', '市南区')"
    )
    for table, cols, rows, file_id in (
        ("canon__visits", CANON_COLUMNS, CANON_VISITS, "fa"),
        ("hisb__visits", HISB_COLUMNS, HISB_VISITS, "fb"),
    ):
        con.execute(
            f"CREATE TABLE raw.{table} ({', '.join(_q(c) + ' VARCHAR' for c in cols)}, _file_id VARCHAR, "
            "_row_number BIGINT, _extra VARCHAR)"
        )
        for i, r in enumerate(rows, start=1):
            con.execute(
                f"INSERT INTO raw.{table} VALUES ({', '.join('?' for _ in cols)}, ?, ?, NULL)",
                [*r, file_id, i],
            )


@dataclass(frozen=True)
class FakeDiagnosis:
    code: str
    name: str
    icd10_category: str
    hypertension_grade: int | None = None
    risk_tier: str | None = None
    diabetes_type: str | None = None
    copd_grade: int | None = None
    mapping_method: str = "synonym"
    source_text: str | None = None
    source_code: str | None = None
    code_system: str | None = "beijing_v601"


@dataclass(frozen=True)
class FakeResult:
    input: str
    status: str
    diagnoses: list = field(default_factory=list)


class FakeDiagnosisStandardizer:
    """Test double with the DiagnosisStandardizer interface: a fixed text -> code table, ';' splits."""

    TABLE = {
        "高血压": ("I10xx01", "原发性高血压", "I10", None, None),
        "糖尿病": ("E11.900", "2型糖尿病", "E11", None, "2"),
    }

    def __init__(self):
        self.calls: list[tuple] = []

    def standardize_many(self, pairs):
        pairs = list(pairs)
        self.calls.append(tuple(pairs))
        out = []
        for text, code in pairs:
            diags = []
            ok = True
            for part in (text or "").split(";"):
                hit = self.TABLE.get(part)
                if hit is None:
                    ok = False
                    continue
                c, n, cat, grade, dtype = hit
                diags.append(FakeDiagnosis(c, n, cat, grade, None, dtype, None, "synonym", part, code))
            out.append(FakeResult(text or "", "mapped" if ok and diags else "unmapped", diags))
        return out


@pytest.fixture()
def raw_con(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    make_raw(con)
    yield con
    con.close()
