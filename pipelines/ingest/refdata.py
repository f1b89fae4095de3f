"""The commission's institution registry (``data/registry/*.csv``, canonical columns) -> ``ref.*``."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.ingest.readers import qi, ql

# table -> (file, [(column, DuckDB type)]) as in docs/design.md "Entities and canonical columns"
REGISTRY_TABLES: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "institutions": (
        "institutions.csv",
        [
            ("institution_code", "VARCHAR"),
            ("institution_name", "VARCHAR"),
            ("level_code", "VARCHAR"),
            ("type_code", "VARCHAR"),
            ("county_code", "VARCHAR"),
            ("county_name", "VARCHAR"),
        ],
    ),
    "alliance_memberships": (
        "alliance_memberships.csv",
        [
            ("alliance_id", "VARCHAR"),
            ("alliance_name", "VARCHAR"),
            ("alliance_type", "VARCHAR"),
            ("institution_code", "VARCHAR"),
            ("is_lead", "INTEGER"),
            ("start_date", "DATE"),
            ("end_date", "DATE"),
        ],
    ),
}


class RegistryError(ValueError):
    """A registry CSV that is missing or lacks canonical columns, with the file named."""


def load_registry(con: duckdb.DuckDBPyConnection, registry_dir: Path) -> dict[str, int]:
    """Create or replace ref.institutions and ref.alliance_memberships from the registry CSVs (UTF-8,
    header = canonical columns; extra columns ignored; empty end_date = open). Both tables are
    replaced in one transaction. Returns {table: rows}."""
    registry_dir = Path(registry_dir)
    plans = []
    for table, (file_name, columns) in REGISTRY_TABLES.items():
        path = registry_dir / file_name
        if not path.exists():
            raise RegistryError(
                f"registry file {path} is missing (expected columns: {', '.join(c for c, _ in columns)})"
            )
        header = [
            r[0]
            for r in con.execute(
                f"DESCRIBE SELECT * FROM read_csv({ql(str(path))}, header=true, all_varchar=true)"
            ).fetchall()
        ]
        missing = [c for c, _ in columns if c not in header]
        if missing:
            raise RegistryError(f"registry file {path} lacks columns {missing} (header: {header})")
        select = ", ".join(
            f"CAST(nullif(trim({qi(c)}), '') AS {t}) AS {qi(c)}"
            if t != "VARCHAR"
            else f"nullif(trim({qi(c)}), '') AS {qi(c)}"
            for c, t in columns
        )
        plans.append((table, path, select))
    con.execute("CREATE SCHEMA IF NOT EXISTS ref")
    counts: dict[str, int] = {}
    con.execute("BEGIN TRANSACTION")
    try:
        for table, path, select in plans:
            con.execute(
                f"CREATE OR REPLACE TABLE ref.{table} AS SELECT {select} FROM "
                f"read_csv({ql(str(path))}, header=true, all_varchar=true)"
            )
            counts[table] = con.execute(f"SELECT count(*) FROM ref.{table}").fetchone()[0]
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return counts
