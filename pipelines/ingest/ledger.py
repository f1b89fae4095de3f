"""The landing ledger: ``raw.files`` (one record per file seen), ``raw.quarantine`` and the raw
landing tables ``raw.<source_id>__<entity>``; the results a landing run reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.ingest.readers import qi

FILES_DDL = """
CREATE TABLE IF NOT EXISTS raw.files (
    file_id VARCHAR NOT NULL,
    source_id VARCHAR,
    entity VARCHAR,
    path VARCHAR NOT NULL,
    file_name VARCHAR NOT NULL,
    period VARCHAR,
    sha256 VARCHAR NOT NULL,
    size_bytes BIGINT,
    received_at TIMESTAMP,
    rows_read BIGINT,
    rows_landed BIGINT,
    rows_quarantined BIGINT,
    rows_footer BIGINT,
    status VARCHAR NOT NULL,
    reason VARCHAR,
    replaces_file_id VARCHAR
)"""

QUARANTINE_DDL = """
CREATE TABLE IF NOT EXISTS raw.quarantine (
    file_id VARCHAR NOT NULL,
    source_id VARCHAR,
    entity VARCHAR,
    row_number BIGINT,
    stage VARCHAR,
    element VARCHAR,
    raw_value VARCHAR,
    reason_code VARCHAR,
    reason VARCHAR,
    raw_record VARCHAR
)"""

# files the inbox may hold that are not exports: partial uploads, OS and Office lock files


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw/ref schemas and raw.files / raw.quarantine if missing (idempotent)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute("CREATE SCHEMA IF NOT EXISTS ref")
    con.execute(FILES_DDL)
    con.execute(QUARANTINE_DDL)


def raw_table(source_id: str, entity: str) -> str:
    """The qualified, quoted name of a source's landing table: raw."<source_id>__<entity>"."""
    return f"raw.{qi(f'{source_id}__{entity}')}"


@dataclass
class FileResult:
    file_id: str
    source_id: str
    entity: str | None
    path: Path
    status: str  # landed | rejected | duplicate | replaced (the old file, listed in `replaced`)
    reason: str | None = None
    reason_code: str | None = None
    rows_read: int = 0
    rows_landed: int = 0
    rows_quarantined: int = 0
    rows_footer: int = 0
    sha256: str = ""
    size_bytes: int = 0
    period: str | None = None
    replaces_file_id: str | None = None
    seconds: float = 0.0

    @property
    def file_name(self) -> str:
        return self.path.name


@dataclass
class LandingReport:
    files: list[FileResult] = field(default_factory=list)  # one per file recorded by this run
    unchanged: int = 0  # files already recorded with the same bytes at the same path (skipped)

    @property
    def results(self) -> list[FileResult]:
        return self.files

    @property
    def totals(self) -> dict[str, int]:
        out = {
            "files": len(self.files),
            "unchanged": self.unchanged,
            "rows_read": sum(f.rows_read for f in self.files),
            "rows_landed": sum(f.rows_landed for f in self.files),
            "rows_quarantined": sum(f.rows_quarantined for f in self.files),
            "rows_footer": sum(f.rows_footer for f in self.files),
        }
        for status in ("landed", "rejected", "duplicate"):
            out[status] = sum(f.status == status for f in self.files)
        out["replacements"] = sum(f.replaces_file_id is not None for f in self.files)
        return out

    def by_status(self, status: str) -> list[FileResult]:
        return [f for f in self.files if f.status == status]


def table_columns(con: duckdb.DuckDBPyConnection, name: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'raw' AND table_name = ? "
            "ORDER BY column_index",
            [name],
        ).fetchall()
    ]


def ensure_raw_table(
    con: duckdb.DuckDBPyConnection, table: str, name: str, columns: list[str], existing: list[str]
) -> list[str]:
    """Create raw.<name> or add the declared columns it lacks; returns its columns."""
    if not existing:
        cols = ", ".join(f"{qi(c)} VARCHAR" for c in columns)
        con.execute(
            f"CREATE TABLE {table} ({cols}{', ' if cols else ''}_file_id VARCHAR NOT NULL, "
            "_row_number BIGINT NOT NULL, _extra VARCHAR)"
        )
        return [*columns, "_file_id", "_row_number", "_extra"]
    out = list(existing)
    for c in columns:
        if c not in out:
            con.execute(f"ALTER TABLE {table} ADD COLUMN {qi(c)} VARCHAR")
            out.append(c)
    return out


@dataclass
class KnownFile:
    """One raw.files record, as the ledger keeps it in memory."""

    file_id: str
    sha256: str
    path: str
    source_id: str | None
    file_name: str
    status: str


class FileLedger:
    """raw.files in memory for the run (one query instead of several per file); kept in step with
    every committed write."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.rows = [
            KnownFile(*r)
            for r in con.execute(
                "SELECT file_id, sha256, path, source_id, file_name, status FROM raw.files"
            ).fetchall()
        ]

    def find(self, **where) -> list[KnownFile]:
        return [k for k in self.rows if all(getattr(k, a) == v for a, v in where.items())]

    def unchanged(self, sha256: str, rel: str) -> bool:
        return any(k.status in ("landed", "duplicate") for k in self.find(sha256=sha256, path=rel))

    def original(self, sha256: str, rel: str) -> KnownFile | None:
        return next((k for k in self.find(sha256=sha256, status="landed") if k.path != rel), None)

    def landed_under_name(self, source_id: str, file_name: str, sha256: str) -> KnownFile | None:
        hits = self.find(source_id=source_id, file_name=file_name, status="landed")
        return next((k for k in hits if k.sha256 != sha256), None)

    def record(self, res: FileResult, rel: str) -> None:
        self.rows = [k for k in self.rows if not (k.path == rel and k.status == "rejected")]
        if res.status == "landed":
            self.rows = [k for k in self.rows if not (k.file_id == res.file_id and k.status == "replaced")]
        if res.replaces_file_id:
            for k in self.find(file_id=res.replaces_file_id, status="landed"):
                k.status = "replaced"
        self.rows.append(KnownFile(res.file_id, res.sha256, rel, res.source_id, res.path.name, res.status))
