"""The quality team's reviewed mappings (``standard/mappings/reviewed_mappings.csv``): read them, and
append one confirmed row (the worklist's one-click confirm)."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from pipelines.settings import STANDARD_DIR
from pipelines.standardize.terminology.normalize import match_key
from pipelines.standardize.terminology.pack import TerminologyPack, clean_code, is_morphology

DEFAULT_REVIEWED_MAPPINGS = STANDARD_DIR / "mappings" / "reviewed_mappings.csv"


@dataclass(frozen=True)
class ReviewedMapping:
    source_text: str
    source_code: str
    target_code: str
    reviewed_by: str
    reviewed_at: str
    note: str


def load_reviewed_mappings(path: Path, pack: TerminologyPack) -> dict[tuple[str, str], ReviewedMapping]:
    """Read the quality team's reviewed mappings: (match key of text, clean code) -> mapping.

    A row with an empty ``source_code`` applies to the text whatever code comes with it. A target
    code that is not in the pack is an error (with its line number), never silently skipped.
    """
    mappings: dict[tuple[str, str], ReviewedMapping] = {}
    if not path or not Path(path).exists():
        return mappings
    with Path(path).open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        required = {"source_text", "source_code", "target_code", "reviewed_by", "reviewed_at"}
        missing = required - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: missing columns {sorted(missing)}")
        for line_no, row in enumerate(reader, start=2):
            text = (row.get("source_text") or "").strip()
            code = (row.get("source_code") or "").strip()
            target = (row.get("target_code") or "").strip()
            if not text and not code:
                continue
            found = pack.find_code(target) if target else None
            if found is None:
                raise ValueError(f"{path}:{line_no}: target_code {target!r} is not in the terminology pack")
            if not (row.get("reviewed_by") or "").strip() or not (row.get("reviewed_at") or "").strip():
                raise ValueError(f"{path}:{line_no}: reviewed_by and reviewed_at are required")
            key = (match_key(text) if text else "", clean_code(code) if code else "")
            mappings[key] = ReviewedMapping(
                text,
                code,
                found,
                row["reviewed_by"].strip(),
                row["reviewed_at"].strip(),
                row.get("note") or "",
            )
    return mappings


REVIEWED_COLUMNS = ["source_text", "source_code", "target_code", "reviewed_by", "reviewed_at", "note"]


def append_reviewed_mapping(
    path: Path,
    pack: TerminologyPack,
    source_text: str,
    target_code: str,
    reviewed_by: str,
    source_code: str = "",
    note: str = "",
    reviewed_at: str | None = None,
) -> dict:
    """Append one confirmed mapping to ``reviewed_mappings.csv`` (the worklist's one-click confirm).
    The target must be a diagnosis code of the pack (never a morphology code); who and when are
    required. Returns the row written."""
    import datetime as _dt

    found = pack.find_code(target_code or "")
    if found is None or is_morphology(found):
        raise ValueError(f"target_code {target_code!r} is not a diagnosis code of the terminology pack")
    if not (source_text or "").strip() and not (source_code or "").strip():
        raise ValueError("source_text or source_code is required")
    if not (reviewed_by or "").strip():
        raise ValueError("reviewed_by is required")
    row = {
        "source_text": (source_text or "").strip(),
        "source_code": (source_code or "").strip(),
        "target_code": found,
        "reviewed_by": reviewed_by.strip(),
        "reviewed_at": reviewed_at or _dt.date.today().isoformat(),
        "note": note,
    }
    path = Path(path)
    new_file = not path.exists() or path.stat().st_size == 0
    if not new_file:
        with path.open("rb") as fh:  # make sure the new row starts on its own line
            fh.seek(-1, 2)
            needs_newline = fh.read(1) not in (b"\n", b"\r")
    else:
        needs_newline = False
    with path.open("a", encoding="utf-8", newline="") as fh:
        if needs_newline:
            fh.write("\n")
        writer = csv.DictWriter(fh, fieldnames=REVIEWED_COLUMNS, lineterminator="\n")
        if new_file:
            writer.writeheader()
        writer.writerow(row)
    return row


def file_digest(path) -> str:

    p = Path(path)
    return hashlib.sha256(p.read_bytes()).hexdigest()[:16] if p.exists() else "absent"
