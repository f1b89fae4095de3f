"""Landing one file: fingerprint, duplicate and re-send detection, staging through the format's
reader, the whole-file checks, and the commit into ``raw.*`` in one transaction."""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pipelines.contracts.standard import standard_at
from pipelines.ingest import jsonpath
from pipelines.ingest.ledger import FileLedger, FileResult, ensure_raw_table, raw_table, table_columns
from pipelines.ingest.periods import FILE_PERIODS_DDL, period_config, period_of
from pipelines.ingest.readers import Staged, qi, ql, stage_csv, stage_jsonl, stage_xlsx
from pipelines.ingest.reasons import FileRejected, sentence
from pipelines.ingest.registry import SourceConfig
from pipelines.ingest.textstream import (
    BinaryFileError,
    NormalizedText,
    UndecodableError,
    fingerprint,
    normalize_text,
)
from pipelines.settings import STANDARD_DIR


def yaml_of(cfg, source_id: str | None) -> str:
    """The source's YAML file, as reasons name it (the path it was read from)."""
    if cfg is not None and getattr(cfg, "path", None):
        return str(cfg.path)
    return f"sources/{source_id}.yaml"


def canonical_columns(entity: str, standard_dir: Path = STANDARD_DIR) -> tuple[list[str] | None, list[str]]:
    """(declared columns, required columns) of a canonical export of ``entity``: the canonical layer
    of the standard (pipelines.contracts), in its order; (None, []) for an entity the standard does
    not declare (then the file's own header is taken)."""
    elements = [e for e in standard_at(standard_dir).entity_elements(entity, ("canonical",))]
    if not elements:
        return None, []
    return [e.element for e in elements], [e.element for e in elements if e.required]


def declared_columns(cfg: SourceConfig, spec, header: list[str]) -> tuple[list[str], list[str]]:
    """(declared columns of the raw table, required columns) for this file."""
    if cfg.is_canonical:
        columns, required = canonical_columns(spec.entity)
        return (columns if columns is not None else list(header)), required
    return [c.source_column for c in spec.columns], list(spec.required_columns)


class FileLander:
    """Lands one inbox file at a time into the warehouse (staging, checks, one transaction)."""

    def __init__(self, con, inbox: Path, sources: dict[str, SourceConfig], log: Callable[[str], None]):
        self.con = con
        self.inbox = inbox
        self.sources = sources
        self.log = log
        self.tmpdir = tempfile.TemporaryDirectory(prefix="rw-landing-")
        self._columns: dict[str, list[str]] = {}  # raw table -> its columns, as of the last commit
        self.index = FileLedger(con)

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
        fingerprint_ = fingerprint(path, check_utf8=check_utf8)
        res = FileResult(
            file_id=fingerprint_.file_id,
            source_id=source_id,
            entity=spec.entity if spec else None,
            path=path,
            status="landed",
            sha256=fingerprint_.sha256,
            size_bytes=fingerprint_.size_bytes,
            period=period_of(path.name),
        )
        if self.index.unchanged(fingerprint_.sha256, rel):
            return None
        params = {
            "file": rel,
            "source_id": source_id or "(inbox)",
            "entity": res.entity,
            "yaml": yaml_of(cfg, source_id),
        }
        try:
            if cfg is None:
                raise FileRejected(
                    "unknown_source", sources_dir=getattr(self.sources, "sources_dir", None) or "sources"
                )
            if spec is None:
                raise FileRejected("no_matching_pattern", patterns=", ".join(f.pattern for f in cfg.files))
            original = self.index.original(fingerprint_.sha256, rel)
            if original:
                res.status = "duplicate"
                res.reason_code = "duplicate"
                res.reason = sentence(
                    "note", "duplicate", original=original.path, original_id=original.file_id, **params
                )
                self.record(res, rel)
                return res
            if fingerprint_.size_bytes == 0:
                raise FileRejected("empty_file", detail="0 bytes")
            staged = self._stage(path, cfg, spec, fingerprint_, params)
            check_whole(staged)
            self._commit(res, rel, cfg, spec, staged, params)
        except FileRejected as rej:
            res.status = "rejected"
            res.replaces_file_id = None
            res.rows_read = res.rows_landed = res.rows_quarantined = res.rows_footer = 0
            res.reason_code = rej.code
            res.reason = sentence("file", rej.code, **{**params, **rej.params})
            self.record(res, rel)
            res.seconds = time.perf_counter() - t0
            return res
        res.seconds = time.perf_counter() - t0
        return res

    def _stage(self, path: Path, cfg: SourceConfig, spec, fingerprint_, params) -> Staged:
        tmp = f"_stage_{fingerprint_.file_id}"

        def check_header(header: list[str]) -> list[str]:
            declared, required = declared_columns(cfg, spec, header)
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
        text = self._normalize(path, cfg, fingerprint_, kind)
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

    def _normalize(self, path: Path, cfg: SourceConfig, fingerprint_, kind: str) -> NormalizedText:
        """A UTF-8, LF-only copy of the text file in the temp dir, with its independent record count."""
        enc = cfg.encoding
        if enc == "auto":
            codec, label = (
                ("utf-8" if fingerprint_.utf8_error is None else "gb18030"),
                "UTF-8 或 GB18030 (auto)",
            )
        else:
            codec, label = enc, enc.upper()
        dest = Path(self.tmpdir.name) / f"{fingerprint_.file_id}.utf8"
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
    def record(self, res: FileResult, rel: str) -> None:
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
        declared, _ = declared_columns(cfg, spec, staged.columns)
        present = set(staged.columns)
        notes = []
        if staged.extra_columns:
            notes.append(sentence("note", "extra_columns", columns=", ".join(staged.extra_columns), **params))
        absent = [c for c in declared if c not in present] if cfg.format != "jsonl" else []
        if absent:
            notes.append(sentence("note", "missing_optional_columns", columns=", ".join(absent), **params))
        notes.extend(sentence("note", code, **{**params, **p}) for code, p in staged.notes)
        old = self.index.landed_under_name(cfg.source_id, rel.rsplit("/", 1)[-1], res.sha256)
        leftovers = bool(self.index.find(file_id=res.file_id, status="replaced"))
        con.execute("BEGIN TRANSACTION")
        try:
            if name not in self._columns:
                self._columns[name] = table_columns(con, name)
            columns = ensure_raw_table(con, table, name, declared, self._columns[name])
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


def check_whole(staged: Staged) -> None:
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
