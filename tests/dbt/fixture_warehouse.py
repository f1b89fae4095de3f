"""Load the hand-made std.*/ref.* fixture CSVs into a fresh DuckDB file (the tables standardize writes)."""

from __future__ import annotations

from pathlib import Path

import duckdb

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def load_fixture_warehouse(db_path: Path, fixtures: Path = FIXTURES) -> Path:
    """Create std.* and ref.* in ``db_path`` from ``fixtures/schema.sql`` and ``<schema>__<table>.csv``."""
    con = duckdb.connect(str(db_path))
    try:
        con.execute((fixtures / "schema.sql").read_text(encoding="utf-8"))
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
