"""Raw landing: every inbox file recorded in ``raw.files``, its rows kept as text in
``raw.<source_id>__<entity>``, malformed rows in ``raw.quarantine`` (docs/design.md, docs/ingestion.md).

Rules:
* file_id = first 16 hex characters of the file's sha256.
* A file already recorded with the same bytes at the same path is skipped (``unchanged``); a file whose
  bytes already landed under another path is recorded ``duplicate`` and lands no rows.
* A file with the same (source_id, file_name) as a landed file but other bytes is a corrected re-send:
  in ONE transaction the old rows (and their quarantine rows) are deleted, the new ones inserted, the
  old file's status becomes ``replaced`` and the new record's ``replaces_file_id`` points at it.
* A file that cannot be read is recorded ``rejected`` with a documented code and a sentence (zh/en)
  that names the file and what to do; rejected files are retried on the next run (a fixed source
  YAML then lands them, and their rejected record is superseded).
* Per file: rows_read = rows_landed + rows_quarantined; footer/totals rows are counted in rows_footer.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import duckdb

from pipelines.ingest import jsonpath
from pipelines.ingest.readers import Staged, qi, ql, stage_csv, stage_jsonl, stage_xlsx
from pipelines.ingest.reasons import FileRejected, catalog, sentence
from pipelines.ingest.registry import SourceConfig
from pipelines.ingest.textstream import (
    BinaryFileError,
    NormalizedText,
    UndecodableError,
    fingerprint,
    normalize_text,
)
from pipelines.settings import STANDARD_DIR

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
IGNORED_NAME = re.compile(r"^(\.|~\$)|\.(part|tmp|crdownload|swp)$", re.IGNORECASE)
PERIOD = re.compile(r"(?<!\d)(20\d{2}(?:0[1-9]|1[0-2]))(?:\d{2})?(?!\d)")


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw/ref schemas and raw.files / raw.quarantine if missing (idempotent)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute("CREATE SCHEMA IF NOT EXISTS ref")
    con.execute(FILES_DDL)
    con.execute(QUARANTINE_DDL)


def raw_table(source_id: str, entity: str) -> str:
    """The qualified, quoted name of a source's landing table: raw."<source_id>__<entity>"."""
    return f"raw.{qi(f'{source_id}__{entity}')}"


def _yaml_of(cfg, source_id: str | None) -> str:
    """The source's YAML file, as reasons name it (the path it was read from)."""
    if cfg is not None and getattr(cfg, "path", None):
        return str(cfg.path)
    return f"sources/{source_id}.yaml"


def period_of(file_name: str) -> str | None:
    """The YYYYMM period in a file name (``visits_202401.csv`` -> ``202401``; daily names too)."""
    m = PERIOD.search(file_name)
    return m.group(1) if m else None


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


def _standard_elements(standard_dir: Path) -> dict[str, list[tuple[str, bool]]]:
    path = standard_dir / "data_elements.csv"
    if not path.exists():
        return {}
    return _read_standard_elements(path, path.stat().st_mtime_ns)  # re-read when the file changes


@cache
def _read_standard_elements(path: Path, _mtime_ns: int) -> dict[str, list[tuple[str, bool]]]:
    out: dict[str, list[tuple[str, bool]]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            entity, element = (row.get("entity") or "").strip(), (row.get("element") or "").strip()
            layer = (row.get("layer") or "canonical").strip()
            if entity and element and layer == "canonical":
                required = (row.get("required") or "").strip().upper() in ("Y", "YES", "1", "TRUE")
                out.setdefault(entity, []).append((element, required))
    return out


def canonical_columns(entity: str, standard_dir: Path = STANDARD_DIR) -> tuple[list[str] | None, list[str]]:
    """(declared columns or None when the standard is not there yet, required columns) of a canonical
    export: from standard/data_elements.csv, else the primary key from reasons.yaml."""
    elements = _standard_elements(Path(standard_dir)).get(entity)
    if elements:
        return [e for e, _ in elements], [e for e, req in elements if req]
    pk = catalog()["canonical_primary_keys"].get(entity)
    return None, [pk] if pk else []


def _declared(cfg: SourceConfig, spec, header: list[str]) -> tuple[list[str], list[str]]:
    """(declared columns of the raw table, required columns) for this file."""
    if cfg.is_canonical:
        columns, required = canonical_columns(spec.entity)
        return (columns if columns is not None else list(header)), required
    return [c.source_column for c in spec.columns], list(spec.required_columns)


def _table_columns(con: duckdb.DuckDBPyConnection, name: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'raw' AND table_name = ? "
            "ORDER BY column_index",
            [name],
        ).fetchall()
    ]


def _ensure_raw_table(
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
class _Known:
    file_id: str
    sha256: str
    path: str
    source_id: str | None
    file_name: str
    status: str


class _FileIndex:
    """raw.files in memory for the run (one query instead of several per file); kept in step with
    every committed write."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.rows = [
            _Known(*r)
            for r in con.execute(
                "SELECT file_id, sha256, path, source_id, file_name, status FROM raw.files"
            ).fetchall()
        ]

    def find(self, **where) -> list[_Known]:
        return [k for k in self.rows if all(getattr(k, a) == v for a, v in where.items())]

    def unchanged(self, sha256: str, rel: str) -> bool:
        return any(k.status in ("landed", "duplicate") for k in self.find(sha256=sha256, path=rel))

    def original(self, sha256: str, rel: str) -> _Known | None:
        return next((k for k in self.find(sha256=sha256, status="landed") if k.path != rel), None)

    def landed_under_name(self, source_id: str, file_name: str, sha256: str) -> _Known | None:
        hits = self.find(source_id=source_id, file_name=file_name, status="landed")
        return next((k for k in hits if k.sha256 != sha256), None)

    def record(self, res: FileResult, rel: str) -> None:
        self.rows = [k for k in self.rows if not (k.path == rel and k.status == "rejected")]
        if res.status == "landed":
            self.rows = [k for k in self.rows if not (k.file_id == res.file_id and k.status == "replaced")]
        if res.replaces_file_id:
            for k in self.find(file_id=res.replaces_file_id, status="landed"):
                k.status = "replaced"
        self.rows.append(_Known(res.file_id, res.sha256, rel, res.source_id, res.path.name, res.status))


class _Lander:
    def __init__(self, con, inbox: Path, sources: dict[str, SourceConfig], log: Callable[[str], None]):
        self.con = con
        self.inbox = inbox
        self.sources = sources
        self.log = log
        self.tmpdir = tempfile.TemporaryDirectory(prefix="rw-landing-")
        self._columns: dict[str, list[str]] = {}  # raw table -> its columns, as of the last commit
        self.index = _FileIndex(con)

    # ---------------------------------------------------------------- one file
    def land(self, path: Path, source_id: str) -> FileResult | None:
        try:
            return self._land(path, source_id)
        finally:
            self._cleanup()

    def _cleanup(self) -> None:
        """Drop this file's staging tables and its transcoded copy (also after a failure)."""
        for (name,) in self.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE temporary AND starts_with(table_name, '_stage_')"
        ).fetchall():
            self.con.execute(f"DROP TABLE IF EXISTS temp.{qi(name)}")
        for leftover in Path(self.tmpdir.name).iterdir():
            leftover.unlink(missing_ok=True)

    def _land(self, path: Path, source_id: str) -> FileResult | None:
        t0 = time.perf_counter()
        rel = path.relative_to(self.inbox).as_posix()
        cfg = self.sources.get(source_id) if source_id else None
        spec = cfg.file_spec_for(path.name) if cfg else None
        text_format = cfg is not None and cfg.format in ("csv", "jsonl", "canonical")
        check_utf8 = text_format and cfg.encoding in ("utf-8", "utf-8-sig", "auto")
        fp = fingerprint(path, check_utf8=check_utf8)
        res = FileResult(
            file_id=fp.file_id,
            source_id=source_id,
            entity=spec.entity if spec else None,
            path=path,
            status="landed",
            sha256=fp.sha256,
            size_bytes=fp.size_bytes,
            period=period_of(path.name),
        )
        if self.index.unchanged(fp.sha256, rel):
            return None
        params = {
            "file": rel,
            "source_id": source_id or "(inbox)",
            "entity": res.entity,
            "yaml": _yaml_of(cfg, source_id),
        }
        try:
            if cfg is None:
                raise FileRejected(
                    "unknown_source", sources_dir=getattr(self.sources, "sources_dir", None) or "sources"
                )
            if spec is None:
                raise FileRejected("no_matching_pattern", patterns=", ".join(f.pattern for f in cfg.files))
            original = self.index.original(fp.sha256, rel)
            if original:
                res.status = "duplicate"
                res.reason_code = "duplicate"
                res.reason = sentence(
                    "note", "duplicate", original=original.path, original_id=original.file_id, **params
                )
                self._record(res, rel)
                return res
            if fp.size_bytes == 0:
                raise FileRejected("empty_file", detail="0 bytes")
            staged = self._stage(path, cfg, spec, fp, params)
            _check_whole(staged)
            self._commit(res, rel, cfg, spec, staged, params)
        except FileRejected as rej:
            res.status = "rejected"
            res.replaces_file_id = None
            res.rows_read = res.rows_landed = res.rows_quarantined = res.rows_footer = 0
            res.reason_code = rej.code
            res.reason = sentence("file", rej.code, **{**params, **rej.params})
            self._record(res, rel)
            res.seconds = time.perf_counter() - t0
            return res
        res.seconds = time.perf_counter() - t0
        return res

    def _stage(self, path: Path, cfg: SourceConfig, spec, fp, params) -> Staged:
        tmp = f"_stage_{fp.file_id}"

        def check_header(header: list[str]) -> list[str]:
            declared, required = _declared(cfg, spec, header)
            if cfg.format == "jsonl":
                present = set(header)
                missing = [c for c in required if jsonpath.top_key(c) not in present]
            else:
                missing = [c for c in required if c not in header]
            if missing:
                raise FileRejected(
                    "missing_required_columns", missing=", ".join(missing), header=", ".join(header[:40])
                )
            return declared

        if cfg.format == "xlsx":
            return stage_xlsx(
                self.con,
                path,
                tmp,
                header_row=cfg.header_row,
                footer_regex=cfg.footer_regex,
                check_header=check_header,
                sheets=getattr(spec, "sheets", None) or cfg.sheets,
            )
        kind = "lines" if cfg.format == "jsonl" else "csv"
        text = self._normalize(path, cfg, fp, kind)
        if cfg.format == "jsonl":
            staged = stage_jsonl(
                self.con,
                text.path,
                tmp,
                paths=[c.source_column for c in spec.columns],
                ends_with_newline=text.ends_with_newline,
                check_header=check_header,
            )
        else:
            staged = stage_csv(
                self.con,
                text.path,
                tmp,
                delimiter=cfg.delimiter,
                header_row=cfg.header_row,
                footer_regex=cfg.footer_regex,
                ends_with_newline=text.ends_with_newline,
                check_header=check_header,
            )
        staged.expected_records = text.records
        staged.notes.extend(_text_notes(text))
        return staged

    def _normalize(self, path: Path, cfg: SourceConfig, fp, kind: str) -> NormalizedText:
        """A UTF-8, LF-only copy of the text file in the temp dir, with its independent record count."""
        enc = cfg.encoding
        if enc == "auto":
            codec, label = ("utf-8" if fp.utf8_error is None else "gb18030"), "UTF-8 或 GB18030 (auto)"
        else:
            codec, label = enc, enc.upper()
        dest = Path(self.tmpdir.name) / f"{fp.file_id}.utf8"
        try:
            return normalize_text(
                path,
                dest,
                codec,
                kind=kind,
                delimiter=cfg.delimiter,
                header_rows=0 if kind == "lines" else cfg.header_row,
            )
        except UndecodableError as exc:
            raise self._undecodable(exc, label) from None
        except BinaryFileError as exc:
            raise FileRejected("binary_file", what=exc.what) from None

    @staticmethod
    def _undecodable(exc: UndecodableError, label: str) -> FileRejected:
        return FileRejected(
            "undecodable_bytes", encoding=label, line=exc.line, offset=exc.offset, bytes=exc.bad.hex(" ")
        )

    # ---------------------------------------------------------------- writes
    def _record(self, res: FileResult, rel: str) -> None:
        """Record a file that lands no rows (rejected / duplicate), superseding an earlier rejection."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            self._supersede_rejection(res, rel)
            self._insert_file(res, rel)
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise
        self.index.record(res, rel)

    def _supersede_rejection(self, res: FileResult, rel: str) -> None:
        """The file now at ``rel`` supersedes an earlier rejection of that path (same bytes retried,
        or new bytes sent under the same name)."""
        if self.index.find(path=rel, status="rejected"):
            self.con.execute("DELETE FROM raw.files WHERE path = ? AND status = 'rejected'", [rel])

    def _insert_file(self, res: FileResult, rel: str) -> None:
        try:
            mtime = dt.datetime.fromtimestamp(res.path.stat().st_mtime, dt.UTC).replace(tzinfo=None)
        except OSError:
            mtime = None
        self.con.execute(
            "INSERT INTO raw.files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                res.file_id,
                res.source_id,
                res.entity,
                rel,
                res.path.name,
                res.period,
                res.sha256,
                res.size_bytes,
                mtime,
                res.rows_read,
                res.rows_landed,
                res.rows_quarantined,
                res.rows_footer,
                res.status,
                res.reason,
                res.replaces_file_id,
            ],
        )

    def _row_periods(self, table: str, file_id: str, cfg: SourceConfig, spec, declared: list[str]) -> dict:
        """{YYYYMM or None: rows} of the file's landed rows, from the entity's period element."""
        element = period_config()["period_elements"].get(spec.entity)
        if not element:
            return {}
        if cfg.is_canonical:
            column = element if element in declared else None
        else:
            column = next((c.source_column for c in spec.columns if c.element == element), None)
        if column is None or column not in declared:
            return {}
        pat = ql(period_config()["period_pattern"])
        x = qi(column)
        return dict(
            self.con.execute(
                f"SELECT CASE WHEN regexp_matches({x}, {pat}) THEN regexp_extract({x}, {pat}, 1) || "
                f"lpad(regexp_extract({x}, {pat}, 2) || regexp_extract({x}, {pat}, 3), 2, '0') END AS p, count(*) FROM {table} "
                "WHERE _file_id = ? GROUP BY p",
                [file_id],
            ).fetchall()
        )

    def _record_periods(self, res: FileResult, periods: dict, notes: list[str], params) -> None:
        """raw.file_periods (the split of the file's rows by month); a file without YYYYMM in its name
        takes its period from its rows (the earliest, when they span months)."""
        self.con.execute(FILE_PERIODS_DDL)
        self.con.execute("DELETE FROM raw.file_periods WHERE file_id = ?", [res.file_id])
        known = {p: n for p, n in periods.items() if p}
        for p, n in sorted(periods.items(), key=lambda kv: kv[0] or ""):
            self.con.execute(
                "INSERT INTO raw.file_periods VALUES (?, ?, ?, ?)", [res.file_id, res.source_id, p, n]
            )
        from_name = res.period
        if from_name is None and known:
            res.period = min(known)
        if len(known) > 1 or (from_name is None and known):
            order = sorted(periods.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
            split = ", ".join(f"{p or '?'}: {n}" for p, n in order)
            notes.append(sentence("note", "periods_from_rows", periods=split, period=res.period, **params))

    def _commit(self, res: FileResult, rel: str, cfg: SourceConfig, spec, staged: Staged, params) -> None:
        con = self.con
        name = f"{cfg.source_id}__{spec.entity}"
        table = raw_table(cfg.source_id, spec.entity)
        declared, _ = _declared(cfg, spec, staged.columns)
        present = set(staged.columns)
        notes = []
        if staged.extra_columns:
            notes.append(sentence("note", "extra_columns", columns=", ".join(staged.extra_columns), **params))
        absent = [c for c in declared if c not in present] if cfg.format != "jsonl" else []
        if absent:
            notes.append(sentence("note", "missing_optional_columns", columns=", ".join(absent), **params))
        notes.extend(sentence("note", code, **{**params, **p}) for code, p in staged.notes)
        old = self.index.landed_under_name(cfg.source_id, path_name(rel), res.sha256)
        leftovers = bool(self.index.find(file_id=res.file_id, status="replaced"))
        con.execute("BEGIN TRANSACTION")
        try:
            if name not in self._columns:
                self._columns[name] = _table_columns(con, name)
            columns = _ensure_raw_table(con, table, name, declared, self._columns[name])
            if old:
                old_id = old.file_id
                con.execute(f"DELETE FROM {table} WHERE _file_id = ?", [old_id])
                con.execute("DELETE FROM raw.quarantine WHERE file_id = ? AND stage = 'land'", [old_id])
                con.execute(
                    "UPDATE raw.files SET status = 'replaced', reason = ? WHERE file_id = ? AND status = 'landed'",
                    [sentence("note", "replaced_by", new_id=res.file_id, **params), old_id],
                )
                res.replaces_file_id = old_id
                notes.insert(0, sentence("note", "replaces", old_id=old_id, **params))
            if leftovers:  # the same bytes landed once before and were replaced since (A -> B -> A):
                # the stale record goes, so that a file_id names one landed-or-replaced record
                con.execute(f"DELETE FROM {table} WHERE _file_id = ?", [res.file_id])
                con.execute("DELETE FROM raw.quarantine WHERE file_id = ? AND stage = 'land'", [res.file_id])
                con.execute("DELETE FROM raw.files WHERE file_id = ? AND status = 'replaced'", [res.file_id])
            cols = ", ".join(qi(c) for c in declared)
            sel = ", ".join(f"st.{qi(c)}" if c in present else "NULL" for c in declared)
            sep = ", " if declared else ""
            landed = con.execute(
                f"INSERT INTO {table} ({cols}{sep}_file_id, _row_number, _extra) "
                f"SELECT {sel}{sep}{ql(res.file_id)}, st._row_number, st._extra FROM ({staged.select_sql}) st"
            ).fetchone()[0]
            if staged.rejects:
                con.executemany(
                    "INSERT INTO raw.quarantine VALUES (?, ?, ?, ?, 'land', NULL, NULL, ?, ?, ?)",
                    [
                        (
                            res.file_id,
                            cfg.source_id,
                            spec.entity,
                            r.row_number,
                            r.reason_code,
                            sentence(
                                "row", r.reason_code, row=r.row_number, line=r.line, detail=r.detail, **params
                            ),
                            r.raw_record,
                        )
                        for r in staged.rejects
                    ],
                )
            if int(landed) != staged.rows_staged:  # the INSERT itself lost or added rows
                raise FileRejected(
                    "record_count_mismatch",
                    expected=staged.expected_records if staged.expected_records is not None else "?",
                    read=int(landed) + len(staged.rejects) + staged.rows_footer,
                )
            res.rows_landed = int(landed)
            res.rows_quarantined = len(staged.rejects)
            res.rows_read = res.rows_landed + res.rows_quarantined
            res.rows_footer = staged.rows_footer
            periods = self._row_periods(table, res.file_id, cfg, spec, declared)
            self._record_periods(res, periods, notes, params)
            res.reason = " | ".join(notes) or None
            res.reason_code = "replaces" if old else ("extra_columns" if staged.extra_columns else None)
            self._supersede_rejection(res, rel)
            self._insert_file(res, rel)
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            self._columns.pop(name, None)  # the DDL may have been rolled back too
            raise
        self._columns[name] = columns
        self.index.record(res, rel)


def _check_whole(staged: Staged) -> None:
    """A file is read whole or refused: the records the reader accounted for (landed + quarantined +
    totals rows) must equal the independent count, and a file with data bytes but no records is not
    landed."""
    read = staged.rows_staged + len(staged.rejects) + staged.rows_footer
    if staged.expected_records is not None and read != staged.expected_records:
        raise FileRejected("record_count_mismatch", expected=staged.expected_records, read=read)
    if staged.rows_staged + len(staged.rejects) == 0:
        detail = f"{staged.rows_footer} totals rows only" if staged.rows_footer else "header only"
        raise FileRejected("no_records", detail=detail)


def _text_notes(text: NormalizedText) -> list[tuple[str, dict]]:
    out: list[tuple[str, dict]] = []
    if len(text.line_endings) > 1 or text.cr:
        out.append(("line_endings_normalized", {"endings": " + ".join(text.line_endings)}))
    if text.controls_removed:
        out.append(("control_bytes_removed", {"n": text.controls_removed}))
    if text.decoded_as.startswith("utf-16"):
        out.append(("decoded_utf16", {}))
    return out


def path_name(rel: str) -> str:
    return rel.rsplit("/", 1)[-1]


def _normalize_months(months: Iterable[str] | None) -> set[str] | None:
    if months is None:
        return None
    return {str(m).replace("-", "").strip()[:6] for m in months}


def _may_hold_months(name: str, cfg: SourceConfig | None, months: set[str]) -> bool:
    """Under a ``--month`` filter: a file whose name has one of the months, or an export of a known
    layout whose name has no YYYYMM (its periods come from its rows, so it is read)."""
    named = period_of(name)
    if named is not None:
        return named in months
    return cfg is not None and cfg.file_spec_for(name) is not None


def inbox_files(inbox: Path) -> list[tuple[str, Path]]:
    """(source_id, path) of every candidate export: ``inbox/<source_id>/<file>``; files directly in
    the inbox get source_id ''. Hidden files, Office lock files and partial uploads are ignored."""
    out: list[tuple[str, Path]] = []
    if not inbox.exists():
        return out
    for p in sorted(inbox.iterdir()):
        if IGNORED_NAME.search(p.name):
            continue
        if p.is_file():
            out.append(("", p))
        elif p.is_dir():
            out.extend(
                (p.name, f) for f in sorted(p.iterdir()) if f.is_file() and not IGNORED_NAME.search(f.name)
            )
    return out


def land_inbox(
    con: duckdb.DuckDBPyConnection,
    inbox: Path,
    sources: dict[str, SourceConfig],
    source_ids: Iterable[str] | None = None,
    months: Iterable[str] | None = None,
    log: Callable[[str], None] = print,
) -> LandingReport:
    """Land every new file of ``inbox/<source_id>/`` (all sources, or ``source_ids``; all periods, or
    the YYYYMM ``months``). Unknown folders are recorded as rejected only when ``source_ids`` is None.
    Never raises for a bad file: it is recorded and the run goes on."""
    inbox = Path(inbox).resolve()
    ensure_schema(con)
    wanted = None if source_ids is None else set(source_ids)
    month_set = _normalize_months(months)
    report = LandingReport()
    lander = _Lander(con, inbox, sources, log)
    try:
        for source_id, path in inbox_files(inbox):
            if wanted is not None and source_id not in wanted:
                continue
            if month_set is not None and not _may_hold_months(path.name, sources.get(source_id), month_set):
                continue
            try:
                res = lander.land(path, source_id)
            except Exception as exc:  # an unexpected failure on one file must not stop the run
                if not path.is_file():  # moved away while we read it: the next run sees it where it is
                    log(
                        f"skipped {path.relative_to(inbox).as_posix()}: gone while landing ({type(exc).__name__})"
                    )
                    continue
                fp = fingerprint(path)
                res = FileResult(
                    file_id=fp.file_id,
                    source_id=source_id,
                    entity=None,
                    path=path,
                    status="rejected",
                    sha256=fp.sha256,
                    size_bytes=fp.size_bytes,
                    period=period_of(path.name),
                    reason_code="unreadable_file",
                )
                rel = path.relative_to(inbox).as_posix()
                res.reason = sentence(
                    "file",
                    "unreadable_file",
                    file=rel,
                    source_id=source_id,
                    yaml=_yaml_of(sources.get(source_id) if source_id else None, source_id),
                    error=f"{type(exc).__name__}: {exc}"[:500],
                )
                lander._record(res, rel)
            if res is None:
                report.unchanged += 1
                continue
            report.files.append(res)
            log(_log_line(res, inbox))
    finally:
        lander.tmpdir.cleanup()
    held = refresh_held_back(con, inbox)
    for h in held:
        log(
            f"held back: {h['source_id']} period {h['period'] or '?'} ({h['files_withheld']} landed files, "
            f"{h['rows_withheld']} rows) because {h['file_name']} was refused: {h['reason_code']}"
        )
    t = report.totals
    log(
        f"landing: {t['landed']} landed, {t['duplicate']} duplicate, {t['rejected']} rejected, "
        f"{t['unchanged']} unchanged; rows read {t['rows_read']}, landed {t['rows_landed']}, "
        f"quarantined {t['rows_quarantined']}, footer {t['rows_footer']}"
    )
    return report


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


def _log_line(res: FileResult, inbox: Path) -> str:
    rel = res.path.relative_to(inbox).as_posix()
    if res.status == "landed":
        extra = f" (replaces {res.replaces_file_id})" if res.replaces_file_id else ""
        return (
            f"landed {rel}: {res.rows_landed} rows, {res.rows_quarantined} quarantined, "
            f"{res.rows_footer} footer, {res.seconds:.2f}s{extra}"
        )
    return f"{res.status} {rel}: {res.reason}"
