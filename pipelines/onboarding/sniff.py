"""Looking at an unseen export: encoding, delimiter, header row, sample rows, column-header synonyms,
date formats. Used by ``sources draft`` (to write a YAML) and ``sources check`` (detected vs declared).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.settings import STANDARD_DIR

SAMPLE_BYTES = 1 << 20  # the first MB is enough to sniff
DELIMITERS = [",", "\t", "|", ";"]
NO_ELEMENT = "-"  # column_synonyms.csv: headers (and words) that name no element
FOOTER = re.compile(r"^\s*(合计|总计|小计|共计|总数|Total|TOTAL)")


@dataclass
class Sniffed:
    path: Path
    format: str  # csv | xlsx | jsonl
    encoding: str | None = None  # csv/jsonl: utf-8 | utf-8-sig | gb18030
    delimiter: str | None = None
    header_row: int = 1  # 1-based
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)  # data rows after the header (sample)
    footer: bool = False  # a totals row at the end of the sample
    sheet: str | None = None
    notes: list[str] = field(default_factory=list)

    def column(self, i: int) -> list[str]:
        return [r[i].strip() for r in self.rows if i < len(r) and r[i] is not None and str(r[i]).strip()]


# ---------------------------------------------------------------------------------------------
# Header synonyms (standard/column_synonyms.csv)
# ---------------------------------------------------------------------------------------------


def norm_header(text: str) -> str:
    """Header text as compared with the synonyms: NFKC (full-width -> ASCII), lower case, units in
    brackets and spaces/underscores/hyphens/dots removed."""
    s = unicodedata.normalize("NFKC", str(text or "")).strip().lower()
    s = re.sub(r"[(\[（【].*?[)\]）】]", "", s)
    return re.sub(r"[\s_\-.:：/*#]+", "", s)


@functools.cache
def header_synonyms(standard_dir: Path = STANDARD_DIR) -> dict[str, list[str]]:
    """{normalized header: [elements]} from standard/column_synonyms.csv."""
    out: dict[str, list[str]] = {}
    with (standard_dir / "column_synonyms.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            out.setdefault(norm_header(row["header"]), [])
            if row["element"] not in out[norm_header(row["header"])]:
                out[norm_header(row["header"])].append(row["element"])
        return out


_SELECTOR = re.compile(r"\[\w+=([^\]]+)\]\.?(.*)$")


def match_header(text: str, elements: tuple[str, ...] | list[str]) -> tuple[str | None, str]:
    """(element, how) for one header cell among the entity's ``elements``: an exact synonym, the
    element name itself, or the longest synonym contained in the header. A JSON path with a
    selector (``events[type=accept].time``) is matched as ``accept time``."""
    sel = _SELECTOR.search(str(text))
    if sel:
        el, how = match_header(f"{sel.group(1)} {sel.group(2)}", elements)
        if el:
            return el, f"{how} (as '{sel.group(1)} {sel.group(2)}')"
    key = norm_header(text)
    if not key:
        return None, "empty header"
    syn = header_synonyms()
    allowed = set(elements) | {NO_ELEMENT}
    if key in allowed - {NO_ELEMENT}:
        return key, "element name"
    for el in syn.get(key, []):
        if el in allowed:
            return (None, "a known header that is no element") if el == NO_ELEMENT else (el, "synonym")
    # the longest synonym contained in the header; a no-element word (医生, 联系人 ...) wins a tie,
    # so 医生姓名 is not the patient's name
    best: tuple[int, int, str, str] | None = None
    for s, els in syn.items():
        if len(s) >= 2 and s in key:
            for el in els:
                cand = (len(s), el == NO_ELEMENT, el, s)
                if el in allowed and (best is None or cand[:2] > best[:2]):
                    best = cand
    if best and best[2] != NO_ELEMENT:
        return best[2], f"contains synonym '{best[3]}'"
    if best:
        return None, f"contains '{best[3]}', a word of headers that are no element"
    return None, "no synonym"


# ---------------------------------------------------------------------------------------------
# Reading a sample
# ---------------------------------------------------------------------------------------------


def detect_encoding(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(raw) - 3:  # a character cut by the sample's end
            return "utf-8"
    return "gb18030"


def detect_delimiter(lines: list[str]) -> str:
    """The candidate that splits the most lines into the same number (> 1) of fields."""
    best, score = ",", -1.0
    for d in DELIMITERS:
        counts = [len(next(csv.reader([ln], delimiter=d))) for ln in lines if ln.strip()]
        if not counts:
            continue
        common, n = Counter(counts).most_common(1)[0]
        if common < 2:
            continue
        s = n * common
        if s > score:
            best, score = d, s
    return best


def _header_score(cells: list[str]) -> float:
    """How much a row looks like a header: many non-empty, non-numeric, distinct cells, bonus for
    known synonyms."""
    vals = [str(c).strip() for c in cells if c is not None and str(c).strip()]
    if len(vals) < 2:
        return 0.0
    syn = header_synonyms()
    known = sum(1 for v in vals if norm_header(v) in syn)
    numeric = sum(1 for v in vals if re.fullmatch(r"[\d.,:/\- ]+", unicodedata.normalize("NFKC", v)))
    return len(set(vals)) - 2 * numeric + 3 * known


def detect_header_row(rows: list[list[str]]) -> int:
    """0-based index of the header among the first rows: the best-scoring row whose width matches
    the data rows below it (a title row is one cell wide)."""
    width = Counter(len([c for c in r if c not in (None, "")]) for r in rows[:50] if any(r)).most_common(1)
    best, score = 0, -1.0
    for i, r in enumerate(rows[:15]):
        s = _header_score(r)
        filled = len([c for c in r if c not in (None, "")])
        if width and filled < width[0][0] / 2:
            continue
        if s > score:
            best, score = i, s
    return best


def _cell(v) -> str:
    if v is None:
        return ""
    if hasattr(v, "strftime"):
        return (
            v.strftime("%Y-%m-%d %H:%M:%S")
            if getattr(v, "hour", 0) or getattr(v, "minute", 0)
            else v.strftime("%Y-%m-%d")
        )
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def sniff(path: Path, sheet: str | None = None) -> Sniffed:
    path = Path(path)
    ext = path.suffix.lower()
    with path.open("rb") as fh:
        magic = fh.read(8)
    if ext == ".xls" or magic == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":  # OLE2: the old Excel format
        raise ValueError(
            f"{path.name} is an old binary Excel workbook (.xls): the draft reads .xlsx, csv and jsonl; "
            "save it as .xlsx (or csv) to draft its YAML"
        )
    if ext in (".xlsx", ".xlsm"):
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            # the sheet with the most data rows: a notes / 说明 sheet is short
            best = None
            for ws in wb.worksheets:
                if sheet and ws.title != sheet:
                    continue
                rows = [
                    [_cell(c) for c in r]
                    for _, r in zip(range(400), ws.iter_rows(values_only=True), strict=False)
                ]
                n = sum(1 for r in rows if any(x.strip() for x in r))
                if best is None or n > best[2]:
                    best = (ws.title, rows, n)
            title, rows = best[:2] if best else (None, [])
            s = Sniffed(path, "xlsx", sheet=title)
            if len(wb.worksheets) > 1:
                s.notes.append(
                    f"workbook has {len(wb.worksheets)} sheets ({', '.join(w.title for w in wb.worksheets)}); "
                    f"the data is on '{title}'"
                )
        finally:
            wb.close()
    elif ext in (".jsonl", ".ndjson", ".json"):
        raw = path.read_bytes()[:SAMPLE_BYTES]
        enc = detect_encoding(raw)
        s = Sniffed(path, "jsonl", encoding=enc)
        keys: list[str] = []
        recs = []
        for line in raw.decode(enc, errors="replace").splitlines()[:200]:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                flat = _flatten(obj)
                recs.append(flat)
                keys += [k for k in flat if k not in keys]
        s.header = keys
        s.rows = [[r.get(k, "") for k in keys] for r in recs]
        return s
    else:
        raw = path.read_bytes()[:SAMPLE_BYTES]
        enc = detect_encoding(raw)
        text = raw.decode("utf-8-sig" if enc == "utf-8-sig" else enc, errors="replace")
        lines = text.splitlines()[:400]
        if len(raw) == SAMPLE_BYTES and lines:
            lines = lines[:-1]  # possibly cut
        delim = detect_delimiter(lines[:60])
        rows = [r for r in csv.reader(io.StringIO("\n".join(lines)), delimiter=delim)]
        s = Sniffed(path, "csv", encoding=enc, delimiter=delim)
    h = detect_header_row(rows)
    s.header_row = h + 1  # the sheet row / the line (blank lines included, as landing counts them)
    s.header = [str(c).strip() for c in rows[h]] if rows else []
    body = [r for r in rows[h + 1 :] if any(str(c).strip() for c in r)]
    if body and body[-1] and FOOTER.match(str(body[-1][0] or "")):
        s.footer = True
        body = body[:-1]
    s.rows = body
    return s


_DISCRIMINATORS = ("type", "kind", "event", "code")


def _flatten(obj, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        elif isinstance(v, list):
            kinds = [x.get(k2) for x in v if isinstance(x, dict) for k2 in _DISCRIMINATORS if k2 in x][
                : len(v)
            ]
            if v and all(isinstance(x, dict) for x in v) and kinds and len(set(kinds)) == len(v):
                # a list of typed events: one path per type (events[type=accept].time)
                disc = next(k2 for k2 in _DISCRIMINATORS if k2 in v[0])
                for x in v:
                    rest = {k3: y for k3, y in x.items() if k3 != disc}
                    out.update(_flatten(rest, f"{key}[{disc}={x[disc]}]."))
            elif v and isinstance(v[0], dict):
                out.update(_flatten(v[0], f"{key}[0]."))
            else:
                out[key] = json.dumps(v, ensure_ascii=False)
        else:
            out[key] = "" if v is None else str(v)
    return out


# ---------------------------------------------------------------------------------------------
# Date formats
# ---------------------------------------------------------------------------------------------

# Tried (with normalizers.BUILTIN_FORMATS) on a column's values; the formats that read them are
# written into the draft.
EXTRA_DATE_FORMATS = (
    "%Y-%m-%d %p%I:%M",
    "%Y-%m-%d %p%I:%M:%S",
    "%Y-%m-%d %p %I:%M",
    "%Y-%m-%d %p %I:%M:%S",
    "%Y/%m/%d %p%I:%M",
    "%Y/%m/%d %p%I:%M:%S",
    "%Y/%m/%d %p %I:%M",
    "%Y/%m/%d %p %I:%M:%S",
    "%Y年%m月%d日 %p%I:%M",
    "%Y年%m月%d日 %p%I时%M分",
    "%Y年%m月%d日%p%I时%M分",
    "%Y.%m.%d %H:%M",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%Y%m%d %H%M",
)


def detect_date_formats(values: list[str]) -> tuple[list[str], float, bool]:
    """(formats needed, share of values read, any Excel serial numbers)."""
    from pipelines.standardize.normalizers import BUILTIN_FORMATS, _parse_with, _prepare, parse_datetime

    used: Counter[str] = Counter()
    read = 0
    serial = False
    vals = [v for v in values if v]
    for v in vals:
        s, _ = _prepare(v)
        if s is None:
            continue
        hit = None
        for fmt in (*BUILTIN_FORMATS, *EXTRA_DATE_FORMATS):
            if _parse_with(s, fmt) is not None:
                hit = fmt
                break
        if hit:
            used[hit] += 1
            read += 1
        elif parse_datetime(s):
            serial = True
            read += 1
    return [f for f, _ in used.most_common()], (read / len(vals) if vals else 0.0), serial
