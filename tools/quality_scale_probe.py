"""Measure the std-stage checks on a synthetic ``std.visits`` of N rows (``python -m tools.quality_scale_probe``).

The table is generated in DuckDB with known defects whose counts follow from the formula:
institution codes cycle over 510 codes of which 500 are registered, every third visit is an
inpatient stay and every 1000th row (when inpatient) is discharged 6 days before admission.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb


def build(con: duckdb.DuckDBPyConnection, n: int) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS std; CREATE SCHEMA IF NOT EXISTS ref")
    con.execute(
        "CREATE OR REPLACE TABLE ref.institutions AS "
        "SELECT 'I' || lpad(CAST(i AS VARCHAR), 4, '0') AS institution_code FROM range(500) t(i)"
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE std.visits AS SELECT
          'V' || i AS visit_id, 'I' || lpad(CAST(i % 510 AS VARCHAR), 4, '0') AS institution_code,
          '01' AS patient_id_type, CAST(1 + i % 2 AS VARCHAR) AS sex_code,
          DATE '1950-01-01' + CAST(i % 20000 AS INTEGER) AS birth_date, CAST(1 + i % 3 AS VARCHAR) AS visit_type_code,
          TIMESTAMP '2025-01-01 08:00:00' + INTERVAL (i % 365) DAY AS visit_datetime,
          CASE WHEN i % 3 = 2 THEN TIMESTAMP '2025-01-01' + INTERVAL (i % 365) DAY END AS admission_datetime,
          CASE WHEN i % 3 = 2 THEN TIMESTAMP '2025-01-05' + INTERVAL (i % 365) DAY
                                   - INTERVAL (i % 1000 = 0) DAY * 10 END AS discharge_datetime,
          md5(CAST(i AS VARCHAR)) || md5(CAST(i AS VARCHAR)) AS person_key, 'src' || (i % 8) AS source_id,
          'F' || (i % 96) AS file_id, i AS row_number
        FROM range({int(n)}) t(i)"""
    )


def expected(n: int) -> dict[str, tuple[int, int]]:
    """(violating_rows, denominator) that the formula implies, computed in Python."""
    unknown = (n // 510) * 10 + max(0, n % 510 - 500)  # codes I0500..I0509 of every 510
    inpatient = n // 3  # i % 3 == 2
    negative = sum(1 for k in range((n + 999) // 1000) if (1000 * k) % 3 == 2)  # inpatient multiples of 1000
    return {
        "std_visits_institution_known": (unknown, n),
        "std_visits_discharge_after_admission": (negative, inpatient),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=int, nargs="?", default=2_000_000)
    parser.add_argument("--db", default=None, help="DuckDB file (default: a temporary file)")
    args = parser.parse_args(argv)
    from pipelines.quality import run_quality

    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(args.db or str(Path(tmp) / "probe.duckdb"))
        t = time.perf_counter()
        build(con, args.rows)
        print(f"built std.visits with {args.rows:,} rows in {time.perf_counter() - t:.1f}s")
        t = time.perf_counter()
        report = run_quality(con, "scale-probe", stage="std", sources={}, log=lambda _m: None)
        print(f"quality std stage: {time.perf_counter() - t:.1f}s (GX {report.seconds_gx:.1f}s)")
        want = expected(args.rows)
        for check_id, (bad, den) in want.items():
            r = report.overall(check_id)
            ok = (r.violating_rows, r.denominator) == (bad, den)
            print(
                f"  {check_id}: {r.violating_rows:,}/{r.denominator:,} (expected {bad:,}/{den:,}) {'OK' if ok else 'MISMATCH'}"
            )
        con.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
