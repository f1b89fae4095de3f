"""Periods: the YYYYMM month of a file (its name, else its rows) and the held-back rule (a refused
file holds back its source's landed rows of the same period; docs/ingestion.md)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import duckdb

from pipelines.ingest.ledger import ensure_schema
from pipelines.ingest.reasons import catalog
from pipelines.ingest.registry import SourceConfig

PERIOD = re.compile(r"(?<!\d)(20\d{2}(?:0[1-9]|1[0-2]))(?:\d{2})?(?!\d)")


def period_of(file_name: str) -> str | None:
    """The YYYYMM period in a file name (``visits_202401.csv`` -> ``202401``; daily names too)."""
    m = PERIOD.search(file_name)
    return m.group(1) if m else None


def normalize_months(months: Iterable[str] | None) -> set[str] | None:
    if months is None:
        return None
    return {str(m).replace("-", "").strip()[:6] for m in months}


def may_hold_months(name: str, cfg: SourceConfig | None, months: set[str]) -> bool:
    """Under a ``--month`` filter: a file whose name has one of the months, or an export of a known
    layout whose name has no YYYYMM (its periods come from its rows, so it is read)."""
    named = period_of(name)
    if named is not None:
        return named in months
    return cfg is not None and cfg.file_spec_for(name) is not None


FILE_PERIODS_DDL = """
CREATE TABLE IF NOT EXISTS raw.file_periods (file_id VARCHAR, source_id VARCHAR, period VARCHAR, n_rows BIGINT)"""


@cache
def period_config() -> dict:
    import yaml

    with (Path(__file__).with_name("periods.yaml")).open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


HELD_BACK_DDL = """
CREATE TABLE IF NOT EXISTS raw.held_back (
    source_id VARCHAR, period VARCHAR, file_id VARCHAR, entity VARCHAR, file_name VARCHAR,
    reason_code VARCHAR, reason VARCHAR, received_at TIMESTAMP, files_withheld BIGINT, rows_withheld BIGINT
)"""


def refresh_held_back(con: duckdb.DuckDBPyConnection, inbox: Path) -> list[dict]:
    """The held-back rule (docs/ingestion.md): every refused file of a registered source that is
    still in the inbox holds back its source's landed rows of the same period (all entities), until
    a good file replaces it. Rewrites ``raw.held_back`` (one row per refused file) and
    ``raw.held_back_files`` (the landed files withheld, which standardization leaves out)."""
    ensure_schema(con)
    con.execute(HELD_BACK_DDL)
    free = set(catalog().get("not_holding_back", []))
    refused = [
        r
        for r in con.execute(
            "SELECT source_id, period, file_id, entity, file_name, split_part(reason, ':', 1), reason, "
            "received_at, path FROM raw.files WHERE status = 'rejected' AND coalesce(source_id, '') <> '' "
            "ORDER BY source_id, period, file_name"
        ).fetchall()
        if r[5] not in free and (Path(inbox) / r[8]).is_file()
    ]
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM raw.held_back")
        con.execute(
            "CREATE OR REPLACE TABLE raw.held_back_files (file_id VARCHAR, source_id VARCHAR, period VARCHAR)"
        )
        out = []
        for source_id, period, file_id, entity, name, code, reason, received, _ in refused:
            con.execute(FILE_PERIODS_DDL)
            withheld = con.execute(
                "SELECT file_id, coalesce(rows_landed, 0) FROM raw.files f WHERE status = 'landed' "
                "AND source_id = ? AND (period = ? OR EXISTS (SELECT 1 FROM raw.file_periods p "
                "WHERE p.file_id = f.file_id AND p.period = ?))",
                [source_id, period, period],
            ).fetchall()
            for fid, _ in withheld:
                con.execute(
                    "INSERT INTO raw.held_back_files SELECT ?, ?, ? WHERE NOT EXISTS "
                    "(SELECT 1 FROM raw.held_back_files WHERE file_id = ?)",
                    [fid, source_id, period, fid],
                )
            row = {
                "source_id": source_id,
                "period": period,
                "file_id": file_id,
                "entity": entity,
                "file_name": name,
                "reason_code": code,
                "reason": reason,
                "received_at": received,
                "files_withheld": len(withheld),
                "rows_withheld": sum(n for _, n in withheld),
            }
            con.execute("INSERT INTO raw.held_back VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", list(row.values()))
            out.append(row)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return out
