"""The Parquet lake the Spark engine reads and writes, and the way back into DuckDB.

Layout under the lake directory (``RW_LAKE``, default ``<data dir>/lake``; on a cluster a shared
path such as ``hdfs://`` or ``s3a://`` that the Spark cluster mounts, see docs/scale-out.md):

- ``raw/<source_id>__<entity>/period=<YYYYMM>/*.parquet``: the landed rows (all columns text, as
  in ``raw.<source_id>__<entity>``), partitioned by source (directory) and file period, only rows
  of files whose status is ``landed``;
- ``std/<table>/``, ``ref/<table>/``: the standardized tables and the standard, one directory
  per dbt source table (registered by the dbt macro ``register_lake_sources``);
- ``spark-warehouse/<schema>.db/<table>/``: what dbt-spark builds (staging, intermediate, marts,
  seeds), Parquet.

DuckDB writes and reads Parquet natively, so moving tables between the embedded warehouse and the
lake needs no Spark job and no extra copy through Python.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb

from pipelines.contracts.sql import quote_identifier, quote_literal

# The dbt schemas dbt-spark writes into the Spark warehouse directory.
DBT_SCHEMAS = ("seeds", "staging", "intermediate", "marts", "reporting")


_q = quote_identifier
_lit = quote_literal


def _tables(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = ? "
            "and table_type = 'BASE TABLE' and table_catalog = current_database() order by table_name",
            [schema],
        ).fetchall()
    ]


def _reset(directory: Path) -> None:
    if directory.exists():
        shutil.rmtree(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)


def write_landing(
    con: duckdb.DuckDBPyConnection, lake: Path, log: Callable[[str], None] = print
) -> dict[str, int]:
    """Mirror every landing table ``raw.<source>__<entity>`` to Parquet, partitioned by period.

    Returns rows written per table. Rows of files that are no longer ``landed`` (replaced by a
    corrected re-send) are left out, as standardization leaves them out.
    """
    written: dict[str, int] = {}
    if "files" not in _tables(con, "raw"):
        return written
    for table in _tables(con, "raw"):
        if "__" not in table:
            continue
        target = lake / "raw" / table
        _reset(target)
        select = (
            f"select r.*, f.period from raw.{_q(table)} as r "
            "join (select distinct file_id, period from raw.files where status = 'landed') as f "
            "on r._file_id = f.file_id"
        )
        n = con.execute(f"select count(*) from ({select})").fetchone()[0]
        if n == 0:
            continue
        con.execute(f"copy ({select}) to {_lit(target)} (format parquet, partition_by (period))")
        written[table] = int(n)
    log(f"lake: landing mirrored to {lake / 'raw'} ({len(written)} tables, {sum(written.values())} rows)")
    return written


def write_sources(
    con: duckdb.DuckDBPyConnection,
    lake: Path,
    schemas: tuple[str, ...] = ("std", "ref"),
    log: Callable[[str], None] = print,
) -> dict[str, int]:
    """Write every table of the dbt source schemas (std.*, ref.*) to ``lake/<schema>/<table>/``."""
    written: dict[str, int] = {}
    for schema in schemas:
        for table in _tables(con, schema):
            target = lake / schema / table
            _reset(target)
            target.mkdir(parents=True)
            con.execute(
                f"copy (select * from {schema}.{_q(table)}) to {_lit(target / 'part-0.parquet')} (format parquet)"
            )
            written[f"{schema}.{table}"] = int(
                con.execute(f"select count(*) from {schema}.{_q(table)}").fetchone()[0]
            )
    log(f"lake: {len(written)} source tables written to {lake}")
    return written


def reset_dbt_schemas(spark_warehouse: Path) -> None:
    """A full build recreates every dbt table: clear their directories first (the local session
    uses an in-memory catalog, so a directory left from the previous run would block the CTAS)."""
    for schema in DBT_SCHEMAS:
        d = spark_warehouse / f"{schema}.db"
        if d.exists():
            shutil.rmtree(d)


def built_tables(spark_warehouse: Path, schema: str = "marts") -> list[str]:
    d = spark_warehouse / f"{schema}.db"
    if not d.is_dir():
        return []
    return sorted(p.name for p in d.iterdir() if p.is_dir() and any(p.glob("*.parquet")))


def import_tables(
    con: duckdb.DuckDBPyConnection,
    spark_warehouse: Path,
    schema: str = "marts",
    tables: list[str] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, int]:
    """Copy tables dbt-spark built (Parquet) into the DuckDB warehouse, replacing them.

    Spark writes its TIMESTAMP (session time zone UTC) as UTC-adjusted Parquet timestamps, which
    DuckDB reads as TIMESTAMPTZ: they are turned back into the naive TIMESTAMPs of the contract.
    """
    con.execute("set TimeZone = 'UTC'")
    con.execute(f"create schema if not exists {schema}")
    names = built_tables(spark_warehouse, schema) if tables is None else tables
    counts: dict[str, int] = {}
    for table in names:
        files = _lit(spark_warehouse / f"{schema}.db" / table / "*.parquet")
        columns = con.execute(f"describe select * from read_parquet({files})").fetchall()
        select = ", ".join(
            f"cast({_q(c[0])} as timestamp) as {_q(c[0])}"
            if c[1].upper().startswith("TIMESTAMP WITH TIME ZONE")
            else _q(c[0])
            for c in columns
        )
        con.execute(
            f"create or replace table {schema}.{_q(table)} as select {select} from read_parquet({files})"
        )
        counts[table] = int(con.execute(f"select count(*) from {schema}.{_q(table)}").fetchone()[0])
    log(f"spark: {len(counts)} {schema} tables imported into the DuckDB warehouse")
    return counts
