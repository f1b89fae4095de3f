"""The engine switch and the mart comparison, on hand-made tables (no Spark needed)."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.engines import UnknownEngine, resolve_engine
from pipelines.engines.compare import compare_warehouses
from pipelines.engines.spark import lake
from pipelines.settings import Settings


def test_engine_resolution():
    assert resolve_engine() == "duckdb"
    assert Settings.from_environ({}).engine == "duckdb"
    assert Settings.from_environ({"RW_ENGINE": "Spark"}).engine == "spark"
    assert Settings.from_environ({"RW_ENGINE": "Spark"}, engine="duckdb").engine == "duckdb"  # explicit wins
    with pytest.raises(UnknownEngine):
        resolve_engine("trino")
    with pytest.raises(UnknownEngine):
        Settings.from_environ({"RW_ENGINE": "trino"})


def _warehouse(path, rows):
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute(
        "create table marts.indicator_values (indicator_id varchar, period varchar, geo_id varchar, "
        "numerator double, denominator double, value double)"
    )
    con.executemany("insert into marts.indicator_values values (?, ?, ?, ?, ?, ?)", rows)
    con.close()
    return path


ROWS = [
    ("primary_care_visit_share", "2025-03", "all", 1234.0, 2000.0, 61.7),
    ("up_referrals", "2025-03", "all", 17.0, None, 17.0),
    ("hours_to_accept_median", "2025-03", "all", 3.0, None, 5.25),
]


def test_identical_marts_in_another_row_order_and_within_1e9(tmp_path):
    left = _warehouse(tmp_path / "l.duckdb", ROWS)
    shuffled = [ROWS[2], ROWS[0], (*ROWS[1][:5], 17.0 + 1e-12)]
    right = _warehouse(tmp_path / "r.duckdb", shuffled)
    (diff,) = compare_warehouses(left, right)
    assert diff.same and diff.rows_left == diff.rows_right == 3


def test_a_value_off_by_more_than_1e9_or_a_missing_row_differs(tmp_path):
    left = _warehouse(tmp_path / "l.duckdb", ROWS)
    right = _warehouse(tmp_path / "r.duckdb", [ROWS[0], ROWS[1], (*ROWS[2][:5], 5.25 + 1e-6)])
    (diff,) = compare_warehouses(left, right)
    assert not diff.same and "['value']" in diff.problems[0]
    short = _warehouse(tmp_path / "s.duckdb", ROWS[:2])
    (diff,) = compare_warehouses(left, short)
    assert diff.problems == ["row count 3 vs 2"]


def test_landing_mirror_is_partitioned_by_period_and_keeps_only_landed_files(tmp_path):
    con = duckdb.connect()
    con.execute("create schema raw")
    con.execute(
        "create table raw.files as select * from (values ('f1', 'landed', '202501'), "
        "('f2', 'landed', '202502'), ('f3', 'replaced', '202502')) t(file_id, status, period)"
    )
    con.execute(
        "create table raw.his_b__visits as select * from (values ('v1', 'f1', 1), ('v2', 'f2', 1), "
        "('v2-old', 'f3', 1)) t(就诊流水号, _file_id, _row_number)"
    )
    written = lake.write_landing(con, tmp_path, log=lambda _m: None)
    assert written == {"his_b__visits": 2}
    parts = sorted(p.name for p in (tmp_path / "raw" / "his_b__visits").iterdir())
    assert parts == ["period=202501", "period=202502"]
    back = con.execute(
        f"select 就诊流水号, period from read_parquet('{tmp_path}/raw/his_b__visits/*/*.parquet', "
        "hive_partitioning = true, hive_types_autocast = false) order by 1"
    ).fetchall()
    assert back == [("v1", "202501"), ("v2", "202502")]


def test_spark_settings_travel_from_the_environment_through_the_engine_resource(tmp_path):
    from pipelines.defs.engine import EngineResource
    from pipelines.engines.spark.session import dbt_env

    env = {
        "RW_ENGINE": "spark",
        "RW_SPARK_MASTER": "spark://m:7077",
        "RW_LAKE": str(tmp_path / "lake"),
        "RW_SPARK_EXPORT_MARTS": "indicator_values, dim_institutions",
    }
    settings = Settings.from_environ(env, data_dir=tmp_path / "data")
    engine = EngineResource.from_settings(settings)
    assert engine.resolved == "spark"
    assert engine.spark_settings == settings.spark
    assert settings.spark.export_marts == ("indicator_values", "dim_institutions")
    assert dbt_env(settings.paths, settings.spark) == {
        "RW_DBT_TARGET": "spark",
        "RW_LAKE": str(tmp_path / "lake"),
        "RW_SPARK_WAREHOUSE": str(tmp_path / "lake" / "spark-warehouse"),
        "RW_SPARK_MASTER": "spark://m:7077",
        "RW_SPARK_DRIVER_MEMORY": "3g",
        "RW_SPARK_SHUFFLE_PARTITIONS": "4",
    }
    # without RW_LAKE the lake is under the data dir
    default = Settings.from_environ({}, data_dir=tmp_path / "data")
    assert dbt_env(default.paths, default.spark)["RW_LAKE"] == str(tmp_path / "data" / "lake")
