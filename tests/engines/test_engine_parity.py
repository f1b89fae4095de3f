"""Same answers on both engines: the tiny generated region through `referral-warehouse run
--engine spark` (landing mirrored to the Parquet lake, dbt-spark, marts imported back, quality,
publish), then the same standardized tables built with dbt-duckdb; every mart is compared row for
row (floating-point values to 1e-9), and the dashboards' snapshot answers `indicators`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines.engines.compare import compare_warehouses
from pipelines.settings import DBT_PROJECT_DIR

# A Spark session per dbt invocation and ~250 dbt nodes as Spark jobs: minutes, not seconds.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

# the marts the reporting models and the indicator pages are built from (compared engine to engine)
MARTS_THE_DASHBOARDS_READ = {
    "indicator_registry",
    "indicator_values",
    "dim_institutions",
    "fct_referrals",
    "fct_visits",
    "fct_slot_bookings",
    "fct_slot_pools",
    "fct_undertreated_cases",
}
# what the published snapshot serves outside `restricted`: the indicator tables and the aggregates
SNAPSHOT_MARTS = {"indicator_registry", "indicator_values", "dim_institutions"}
REPORTING_MODELS = {p.stem for p in (Path(DBT_PROJECT_DIR) / "models" / "reporting").glob("*.sql")}
ROW_LEVEL_FACTS = {t for t in MARTS_THE_DASHBOARDS_READ if t.startswith("fct_")}


@pytest.fixture(scope="module")
def spark_run(tmp_path_factory):
    if shutil.which("java") is None:
        pytest.fail("no Java runtime: `make test` installs openjdk-17-jre-headless (scripts/ensure-java.sh)")
    from pipelines.generate import generate

    data = tmp_path_factory.mktemp("spark_region")
    generate(data, scale="tiny", seed=7)
    saved = dict(os.environ)  # the run command points the process at its data dir: undo it after
    os.environ["RW_DATA_DIR"] = str(data)
    os.environ["DAGSTER_HOME"] = str(data / "dagster_home")
    try:
        from pipelines.defs.cli import run_pipeline

        ok = run_pipeline(str(data), engine="spark")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert ok is True
    return data


@pytest.fixture(scope="module")
def duckdb_build(spark_run, tmp_path_factory):
    """The same std.*/ref.* tables, the marts rebuilt by dbt-duckdb in a copy of the warehouse."""
    work = tmp_path_factory.mktemp("duckdb_build")
    warehouse = work / "warehouse.duckdb"
    shutil.copy(spark_run / "warehouse" / "warehouse.duckdb", warehouse)
    con = duckdb.connect(str(warehouse))
    con.execute("drop schema if exists marts cascade")
    con.close()
    dbt = Path(sys.executable).parent / "dbt"
    env = {k: v for k, v in os.environ.items() if k not in ("RW_DBT_TARGET", "RW_ENGINE")}
    env["RW_WAREHOUSE"] = str(warehouse)
    proc = subprocess.run(
        [
            str(dbt) if dbt.exists() else "dbt",
            "build",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(work / "target"),
            "--log-path",
            str(work / "logs"),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    return warehouse


def test_spark_run_writes_the_lake_partitioned_by_source_and_period(spark_run):
    raw = spark_run / "lake" / "raw"
    tables = {p.name for p in raw.iterdir()}
    assert any(t.endswith("__visits") for t in tables)
    periods = {p.name for p in raw.glob("*__visits/period=*")}
    assert periods and all(len(p) == len("period=202501") for p in periods)
    # dbt-spark built the marts as Parquet in the Spark warehouse directory
    built = spark_run / "lake" / "spark-warehouse" / "marts.db"
    assert {"indicator_values", "fct_referrals"} <= {p.name for p in built.iterdir()}


def test_every_mart_is_identical_on_both_engines(spark_run, duckdb_build):
    diffs = compare_warehouses(duckdb_build, spark_run / "warehouse" / "warehouse.duckdb")
    names = {d.table for d in diffs}
    assert names >= MARTS_THE_DASHBOARDS_READ
    different = {d.table: d.problems for d in diffs if not d.same}
    assert different == {}
    values = next(d for d in diffs if d.table == "indicator_values")
    assert values.rows_left == values.rows_right > 0


def test_dashboards_snapshot_and_indicators_work_unchanged(spark_run):
    snapshot = spark_run / "published" / "current.duckdb"
    con = duckdb.connect(str(snapshot), read_only=True)
    schemas: dict[str, set[str]] = {}
    for schema, table in con.execute(
        "select table_schema, table_name from information_schema.tables"
    ).fetchall():
        schemas.setdefault(schema, set()).add(table)
    tables = schemas.get("marts", set())
    types = dict(
        con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'indicator_values'"
        ).fetchall()
    )
    con.close()
    assert tables >= SNAPSHOT_MARTS
    assert len(REPORTING_MODELS) == 11 and schemas.get("reporting", set()) >= REPORTING_MODELS
    assert tables & ROW_LEVEL_FACTS == set()  # row-level facts only in restricted, masked
    assert schemas.get("restricted", set()) >= ROW_LEVEL_FACTS
    assert types["value"] == "DOUBLE" and types["period"] == "VARCHAR"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "indicators",
            "--data-dir",
            str(spark_run),
            "--level",
            "region",
            "--json",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "indicator_values" in tables and '"indicator_id"' in proc.stdout
