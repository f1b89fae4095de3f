"""Landing speed vs. DuckDB reading the same file: ``python -m tools.landing_bench --rows 1000000``.

Writes a synthetic visits export (UTF-8 CSV, Chinese headers and values, a few malformed rows) and its
GB18030 twin into a temp folder, then times, each in a fresh DuckDB file:

* limit: ``CREATE TABLE t AS SELECT * FROM read_csv(<utf-8 file>, all_varchar=true, ignore_errors=true)``
* land_utf8: ``land_inbox`` on the UTF-8 file (sha256, native read with rejects, insert, quarantine)
* land_gb18030: ``land_inbox`` on the GB18030 file (plus the streamed transcode)

and prints the times and the ratios land / limit. Nothing is downloaded; the folder is removed.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import duckdb

from pipelines.ingest import land_inbox
from pipelines.ingest.registry import parse_source
from pipelines.ingest.textstream import CHUNK_SIZE

COLUMNS = [
    "就诊流水号",
    "机构编码",
    "身份证号",
    "姓名",
    "性别",
    "就诊日期",
    "科室",
    "诊断名称",
    "费用",
    "收缩压",
]
ELEMENTS = [  # what each column is (the YAML schema accepts only elements of the standard)
    "visit_id",
    "institution_code",
    "patient_id_number",
    "patient_name",
    "sex_code",
    "visit_datetime",
    "department_name",
    "diagnosis_name",
    "total_fee",
    "systolic_bp",
]
SOURCE = {
    "source_id": "bench",
    "format": "csv",
    "encoding": "utf-8",
    "files": [
        {
            "entity": "visits",
            "pattern": "visits_*.csv",
            "columns": dict(zip(COLUMNS, ELEMENTS, strict=True)),
        }
    ],
}


def write_export(path: Path, rows: int, bad_every: int) -> None:
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(
        f"""COPY (
            SELECT 'V' || lpad(i::VARCHAR, 9, '0') AS "就诊流水号",
                   'H' || (i % 97)::VARCHAR AS "机构编码",
                   (110101199001010000 + i)::VARCHAR AS "身份证号",
                   ['张三', '李四', '王五', '赵六', '欧阳娜娜'][1 + i % 5] AS "姓名",
                   CASE WHEN i % 2 = 0 THEN '男' ELSE '女' END AS "性别",
                   strftime(DATE '2024-01-01' + INTERVAL (i % 365) DAY, '%Y年%m月%d日') AS "就诊日期",
                   ['内科', '外科', '全科', '儿科'][1 + i % 4] AS "科室",
                   ['高血压3级', '2型糖尿病', '慢性阻塞性肺疾病急性加重', '脑梗死'][1 + i % 4] AS "诊断名称",
                   round((i % 1000) * 1.37, 2)::VARCHAR AS "费用",
                   (100 + i % 80)::VARCHAR AS "收缩压"
            FROM range({rows}) t(i)
        ) TO '{path}' (HEADER, DELIMITER ',')"""
    )
    con.close()
    if bad_every:
        # malformed rows (missing fields) spread through the file: exercises the reject path
        tmp = path.with_suffix(".tmp")
        with open(path, encoding="utf-8") as fin, open(tmp, "w", encoding="utf-8") as fout:
            for n, line in enumerate(fin):
                fout.write(line)
                if n and n % bad_every == 0:
                    fout.write(f"BAD{n},H1,截断\n")
        tmp.replace(path)


def to_gb18030(src: Path, dest: Path) -> None:
    with open(src, encoding="utf-8") as fin, open(dest, "w", encoding="gb18030") as fout:
        while chunk := fin.read(CHUNK_SIZE):
            fout.write(chunk)


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run(rows: int, bad_every: int, workdir: Path, repeat: int = 3) -> dict:
    utf8 = workdir / "inbox" / "bench" / "visits_202401.csv"
    utf8.parent.mkdir(parents=True)
    write_export(utf8, rows, bad_every)
    gb_inbox = workdir / "inbox_gb" / "bench"
    gb_inbox.mkdir(parents=True)
    to_gb18030(utf8, gb_inbox / "visits_202401.csv")

    def fresh(name: str) -> duckdb.DuckDBPyConnection:
        db = workdir / f"{name}.duckdb"
        db.unlink(missing_ok=True)
        con = duckdb.connect(str(db))
        con.execute("SET enable_progress_bar = false")
        return con

    def limit() -> None:
        with fresh("limit") as con:
            con.execute(
                f"CREATE TABLE t AS SELECT * FROM read_csv('{utf8}', all_varchar=true, ignore_errors=true)"
            )

    results: dict = {
        "rows": rows,
        "bytes_utf8": utf8.stat().st_size,
        "repeat": repeat,
        "times": "best of repeat",
    }
    results["limit_s"] = min(timed(limit) for _ in range(repeat))
    for label, inbox, enc in (
        ("land_utf8", workdir / "inbox", "utf-8"),
        ("land_gb18030", workdir / "inbox_gb", "gb18030"),
    ):
        sources = {"bench": parse_source({**SOURCE, "encoding": enc})}
        best = None
        for _ in range(repeat):
            with fresh(label) as con:
                t0 = time.perf_counter()
                report = land_inbox(con, inbox, sources, log=lambda _: None)
                took = time.perf_counter() - t0
                # record i (0-based) of the export sits after i // bad_every malformed rows
                shift = f'substr("就诊流水号", 2)::BIGINT // {bad_every}' if bad_every else "0"
                misnumbered = con.execute(
                    'SELECT count(*) FROM raw."bench__visits" '
                    f'WHERE _row_number <> substr("就诊流水号", 2)::BIGINT + 1 + {shift}'
                ).fetchone()[0]
            best = took if best is None else min(best, took)
        [f] = report.files
        results[f"{label}_rows"] = {
            "read": f.rows_read,
            "landed": f.rows_landed,
            "quarantined": f.rows_quarantined,
            "misnumbered": misnumbered,
        }
        results[f"{label}_s"] = best
        results[f"{label}_ratio"] = best / results["limit_s"]
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--bad-every", type=int, default=100_000, help="insert a malformed row every N rows (0: none)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is kept")
    parser.add_argument("--workdir", type=Path, help="keep files here instead of a removed temp folder")
    args = parser.parse_args(argv)
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        out = run(args.rows, args.bad_every, args.workdir, args.repeat)
    else:
        with tempfile.TemporaryDirectory(prefix="rw-bench-") as d:
            out = run(args.rows, args.bad_every, Path(d), args.repeat)
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
