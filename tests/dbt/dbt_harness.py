"""Test harness for the dbt project: load the hand-made std.*/ref.* fixture CSVs into a fresh DuckDB
file (the tables standardize writes) and run dbt against it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.contracts.standard import default_standard
from pipelines.settings import DBT_PROJECT_DIR
from pipelines.standardize.standard import load_ref_tables

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def load_fixture_warehouse(db_path: Path, fixtures: Path = FIXTURES, schema_dir: Path = FIXTURES) -> Path:
    """Create std.* and ref.* in ``db_path`` from ``schema_dir/schema.sql`` and the
    ``fixtures/<schema>__<table>.csv`` files."""
    con = duckdb.connect(str(db_path))
    try:
        con.execute((schema_dir / "schema.sql").read_text(encoding="utf-8"))
        # the standard's code lists come from standard/ itself, as the standardizer loads them
        load_ref_tables(con, default_standard())
        for csv in sorted(fixtures.glob("*__*.csv")):
            schema, table = csv.stem.split("__", 1)
            con.execute(
                f"insert into {schema}.{table} by name "
                "select * from read_csv(?, header = true, all_varchar = true)",
                [str(csv)],
            )
    finally:
        con.close()
    return db_path


@dataclass
class DbtRun:
    success: bool
    statuses: dict[str, str]  # unique_id -> status
    resource_types: dict[str, str]  # unique_id -> resource type


def run_dbt(args: list[str], warehouse: Path, work: Path) -> DbtRun:
    """Run dbt (a subprocess: dbt-duckdb keeps its connection open in-process) against ``warehouse``
    with target/log paths under ``work``; statuses come from target/run_results.json."""
    dbt = Path(sys.executable).parent / "dbt"
    env = {**os.environ, "RW_WAREHOUSE": str(warehouse)}
    proc = subprocess.run(
        [
            str(dbt) if dbt.exists() else "dbt",
            *args,
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(work / "target"),
            "--log-path",
            str(work / "logs"),
            "--threads",
            "1",
        ],  # fmt: skip
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    statuses: dict[str, str] = {}
    types: dict[str, str] = {}
    results_file = work / "target" / "run_results.json"
    if results_file.exists():
        for r in json.loads(results_file.read_text(encoding="utf-8"))["results"]:
            statuses[r["unique_id"]] = r["status"]
            types[r["unique_id"]] = r["unique_id"].split(".", 1)[0]
    if proc.returncode != 0:
        print(proc.stdout[-5000:], proc.stderr[-2000:])
    return DbtRun(proc.returncode == 0, statuses, types)
