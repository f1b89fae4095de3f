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

import re
from collections.abc import Callable, Iterable
from pathlib import Path

import duckdb

from pipelines.ingest.file_lander import FileLander, canonical_columns, yaml_of
from pipelines.ingest.ledger import FileResult, LandingReport, ensure_schema, raw_table
from pipelines.ingest.periods import may_hold_months, normalize_months, period_of, refresh_held_back
from pipelines.ingest.reasons import sentence
from pipelines.ingest.registry import SourceConfig
from pipelines.ingest.textstream import fingerprint

__all__ = [
    "FileResult",
    "LandingReport",
    "canonical_columns",
    "ensure_schema",
    "land_inbox",
    "period_of",
    "raw_table",
]

IGNORED_NAME = re.compile(r"^(\.|~\$)|\.(part|tmp|crdownload|swp)$", re.IGNORECASE)


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
    month_set = normalize_months(months)
    report = LandingReport()
    lander = FileLander(con, inbox, sources, log)
    try:
        for source_id, path in inbox_files(inbox):
            if wanted is not None and source_id not in wanted:
                continue
            if month_set is not None and not may_hold_months(path.name, sources.get(source_id), month_set):
                continue
            try:
                res = lander.land(path, source_id)
            except Exception as exc:  # an unexpected failure on one file must not stop the run
                if not path.is_file():  # moved away while we read it: the next run sees it where it is
                    log(
                        f"skipped {path.relative_to(inbox).as_posix()}: gone while landing ({type(exc).__name__})"
                    )
                    continue
                fingerprint_ = fingerprint(path)
                res = FileResult(
                    file_id=fingerprint_.file_id,
                    source_id=source_id,
                    entity=None,
                    path=path,
                    status="rejected",
                    sha256=fingerprint_.sha256,
                    size_bytes=fingerprint_.size_bytes,
                    period=period_of(path.name),
                    reason_code="unreadable_file",
                )
                rel = path.relative_to(inbox).as_posix()
                res.reason = sentence(
                    "file",
                    "unreadable_file",
                    file=rel,
                    source_id=source_id,
                    yaml=yaml_of(sources.get(source_id) if source_id else None, source_id),
                    error=f"{type(exc).__name__}: {exc}"[:500],
                )
                lander.record(res, rel)
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


def _log_line(res: FileResult, inbox: Path) -> str:
    rel = res.path.relative_to(inbox).as_posix()
    if res.status == "landed":
        extra = f" (replaces {res.replaces_file_id})" if res.replaces_file_id else ""
        return (
            f"landed {rel}: {res.rows_landed} rows, {res.rows_quarantined} quarantined, "
            f"{res.rows_footer} footer, {res.seconds:.2f}s{extra}"
        )
    return f"{res.status} {rel}: {res.reason}"
