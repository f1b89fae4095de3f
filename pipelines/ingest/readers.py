"""Readers per format. Each stages one (UTF-8 or xlsx) file into DuckDB temp tables and describes
how to select its landed rows; malformed rows come back as :class:`RowReject`.

* csv / canonical: DuckDB's native ``read_csv`` with explicit VARCHAR columns, ``strict_mode`` and
  ``store_rejects`` (malformed lines come back with their line numbers; the good rows are read in
  parallel and in order).
* jsonl: lines read as text by the same native reader, ``json_valid`` decides, the JSON paths of the
  source YAML are extracted in SQL (:mod:`pipelines.ingest.jsonpath`).
* xlsx: openpyxl in read-only mode, streamed into Arrow record batches of ``XLSX_BATCH_ROWS`` rows.

Row numbers (``_row_number``) are 1-based positions of the data record in the file, header, title
rows and empty lines not counted (for jsonl: the line number). Limitation: for csv they are derived
from physical line numbers when a file has malformed rows, so a quoted value spanning lines before a
malformed row shifts the numbers after it.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import itertools
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from pipelines.contracts.sql import quote_identifier, quote_literal
from pipelines.ingest import jsonpath
from pipelines.ingest.reasons import FileRejected
from pipelines.ingest.textstream import blank_lines
from pipelines.ingest.workbook import scan_xlsx

XLSX_BATCH_ROWS = 50_000


qi = quote_identifier
ql = quote_literal


@dataclass
class RowReject:
    row_number: int
    line: int
    reason_code: str
    detail: str
    raw_record: str | None


@dataclass
class Staged:
    """One file staged in DuckDB temp tables named ``_stage_<file_id>*`` (dropped by the caller):
    ``select_sql`` yields the rows to land with these columns."""

    columns: list[str]  # column names as received (header cells, or JSON paths for jsonl)
    select_sql: str  # SELECT producing `columns`, _row_number and _extra (VARCHAR JSON or NULL)
    rows_staged: int  # rows select_sql yields
    rejects: list[RowReject] = field(default_factory=list)
    rows_footer: int = 0
    extra_columns: list[str] = field(default_factory=list)  # kept in _extra
    # the independent count of the file's data records (footers included), from a pass that is not
    # this reader: rows_staged + len(rejects) + rows_footer must equal it, or the file is refused
    expected_records: int | None = None
    notes: list[tuple[str, dict]] = field(default_factory=list)  # (note code, sentence parameters)


HeaderCheck = Callable[[list[str]], list[str]]  # returns the declared columns; raises FileRejected


def unique_names(cells: list[str | None]) -> list[str]:
    """Header cells -> unique, non-empty column names (blank -> column_<n>, repeats -> name_2)."""
    out: list[str] = []
    seen: set[str] = set()
    for i, cell in enumerate(cells, start=1):
        name = (cell or "").replace("\ufeff", "").strip() or f"column_{i}"
        base, n = name, 1
        while name in seen:
            n += 1
            name = f"{base}_{n}"
        seen.add(name)
        out.append(name)
    return out


def _extra_sql(extra: list[str], source: Callable[[str], str]) -> str:
    if not extra:
        return "NULL::VARCHAR"
    args = ", ".join(f"{ql(c)}, {source(c)}" for c in extra)
    return f"json_object({args})::VARCHAR"


CASE_LIMIT = 64  # up to this many distinct gaps a CASE chain is cheaper than an ASOF join


def _number_landed(con: duckdb.DuckDBPyConnection, tmp: str, reject_idx: list[int]) -> tuple[str, str]:
    """Row numbers of landed rows when the rejected records sit at ``reject_idx`` (1-based record
    positions): the k-th landed row is the k-th position not taken by a reject, i.e. k + the number of
    rejects r_j (j-th smallest) with r_j - j < k. Returns (FROM clause fragment to append, row-number
    expression) for a staged table aliased ``s`` whose ``rowid`` is the read order."""
    if not reject_idx:
        return "", "(s.rowid + 1)"
    best: dict[int, int] = {}  # g = landed rows before the reject -> rejects so far
    for rk, idx in enumerate(sorted(set(reject_idx)), start=1):
        best[idx - rk] = rk
    if len(best) <= CASE_LIMIT:
        whens = " ".join(f"WHEN s.rowid + 1 > {g} THEN {rk}" for g, rk in sorted(best.items(), reverse=True))
        return "", f"(s.rowid + 1 + CASE {whens} ELSE 0 END)"
    gaps = f"{tmp}_gaps"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {gaps} (g BIGINT, rk BIGINT)")
    con.executemany(f"INSERT INTO {gaps} VALUES (?, ?)", list(best.items()))
    return f" ASOF LEFT JOIN {gaps} ON (s.rowid + 1) > {gaps}.g", f"(s.rowid + 1 + coalesce({gaps}.rk, 0))"


_CSV_ERROR_CODES = {
    "MISSING COLUMNS": "wrong_field_count",
    "TOO MANY COLUMNS": "wrong_field_count",
    "UNQUOTED VALUE": "malformed_quoting",
    "INVALID STATE": "malformed_quoting",
    "LINE SIZE OVER MAXIMUM": "line_too_long",
    "INVALID ENCODING": "invalid_encoding",
}


def _read_csv_rejects(con: duckdb.DuckDBPyConnection, rejects_table: str) -> list[tuple[int, str, str, str]]:
    rows = con.execute(
        f"SELECT line, any_value(error_type::VARCHAR ORDER BY column_idx), "
        f"any_value(error_message ORDER BY column_idx), any_value(csv_line ORDER BY column_idx) "
        f"FROM {rejects_table} GROUP BY line ORDER BY line"
    ).fetchall()
    return [(int(line), et, msg or "", raw) for line, et, msg, raw in rows]


def stage_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    tmp: str,
    *,
    delimiter: str,
    header_row: int,
    footer_regex: str | None,
    ends_with_newline: bool,
    check_header: HeaderCheck,
) -> Staged:
    """``path`` is UTF-8 (original or transcoded)."""
    with open(path, encoding="utf-8", newline="") as fh:
        head = list(itertools.islice(csv.reader(fh, delimiter=delimiter), header_row))
    if len(head) < header_row or not any((c or "").strip() for c in head[-1]):
        raise FileRejected("empty_file", detail=f"no header on row {header_row}")
    header = unique_names(head[-1])
    # trailing empty header cells (a trailing delimiter) are still columns to DuckDB: keep them
    declared = check_header(header)
    cols = "{" + ", ".join(f"{ql(c)}: 'VARCHAR'" for c in header) + "}"
    rj, rs = f"{tmp}_rejects", f"{tmp}_scans"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {tmp} AS SELECT * FROM read_csv({ql(str(path))}, columns={cols}, "
        f"header=true, skip={header_row - 1}, auto_detect=false, delim={ql(delimiter)}, quote='\"', "
        f"escape='\"', strict_mode=true, null_padding=false, store_rejects=true, "
        f"rejects_table={ql(rj)}, rejects_scan={ql(rs)})"
    )
    n_staged = con.execute(f"SELECT count(*) FROM {tmp}").fetchone()[0]
    raw_rejects = _read_csv_rejects(con, rj)
    con.execute(f"DROP TABLE IF EXISTS {rj}")
    con.execute(f"DROP TABLE IF EXISTS {rs}")

    footer = re.compile(footer_regex) if footer_regex else None
    n_records = n_staged + len(raw_rejects)
    rejects: list[RowReject] = []
    reject_idx: list[int] = []
    rows_footer = 0
    # DuckDB skips empty lines but counts them in reject line numbers: find them (only when needed)
    blanks = [b for b in blank_lines(path) if b > header_row] if raw_rejects else []
    for line, etype, msg, raw in raw_rejects:
        idx = line - header_row - bisect.bisect_left(blanks, line)
        reject_idx.append(idx)
        raw = (raw or "").strip("\r\n")
        first = next(csv.reader([raw], delimiter=delimiter), [""])
        if footer and first and footer.search((first[0] or "").strip()):
            rows_footer += 1
            continue
        code = _CSV_ERROR_CODES.get(etype, "wrong_field_count")
        if idx == n_records and not ends_with_newline and code in ("wrong_field_count", "malformed_quoting"):
            code = "truncated_row"
        rejects.append(RowReject(idx, line, code, f"{etype}: {msg[:300]}", raw))

    join, rownum = _number_landed(con, tmp, reject_idx)
    where = "TRUE"
    staged_footers = 0
    if footer:
        cond = f"regexp_matches(trim(coalesce(s.{qi(header[0])}, '')), {ql(footer_regex)})"
        staged_footers = con.execute(f"SELECT count(*) FROM {tmp} s WHERE {cond}").fetchone()[0]
        rows_footer += staged_footers
        where = f"NOT {cond}"
    extra = [c for c in header if c not in declared]
    select = (
        f"SELECT {', '.join('s.' + qi(c) for c in header)}, {rownum} AS _row_number, "
        f"{_extra_sql(extra, lambda c: 's.' + qi(c))} AS _extra FROM {tmp} s{join} WHERE {where}"
    )
    return Staged(
        columns=header,
        select_sql=select,
        rows_staged=n_staged - staged_footers,
        rejects=rejects,
        rows_footer=rows_footer,
        extra_columns=extra,
    )


def stage_jsonl(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    tmp: str,
    *,
    paths: list[str],
    ends_with_newline: bool,
    check_header: HeaderCheck,
) -> Staged:
    lines, ok = f"{tmp}_lines", tmp
    rj, rs = f"{tmp}_rejects", f"{tmp}_scans"
    # one VARCHAR per physical line: a delimiter and quote that cannot occur in valid JSON text
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {lines} AS SELECT * FROM read_csv({ql(str(path))}, "
        f"columns={{'line': 'VARCHAR'}}, header=false, auto_detect=false, delim=chr(31), quote='', "
        f"escape='', strict_mode=true, store_rejects=true, rejects_table={ql(rj)}, rejects_scan={ql(rs)})"
    )
    raw_rejects = _read_csv_rejects(con, rj)
    con.execute(f"DROP TABLE IF EXISTS {rj}")
    con.execute(f"DROP TABLE IF EXISTS {rs}")
    join, rownum = _number_landed(con, lines, [line for line, *_ in raw_rejects])
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {ok} AS SELECT {rownum} AS ln, s.line, "
        f"CASE WHEN json_valid(s.line) THEN json_type(s.line) = 'OBJECT' ELSE false END AS good "
        f"FROM {lines} s{join} "
        f"WHERE trim(coalesce(s.line, '')) <> ''"
    )
    con.execute(f"DROP TABLE IF EXISTS {lines}")
    n_lines = con.execute(f"SELECT max(ln) FROM {ok}").fetchone()[0] or 0
    last_line = max([n_lines] + [line for line, *_ in raw_rejects])
    rejects: list[RowReject] = []
    for line, etype, msg, raw in raw_rejects:
        code = "line_too_long" if etype == "LINE SIZE OVER MAXIMUM" else "malformed_json"
        rejects.append(RowReject(line, line, code, f"{etype}: {msg[:300]}", raw))
    for ln, text in con.execute(f"SELECT ln, line FROM {ok} WHERE NOT good ORDER BY ln").fetchall():
        detail = _json_error(text)
        code = "truncated_row" if ln == last_line and not ends_with_newline else "malformed_json"
        rejects.append(RowReject(ln, ln, code, detail, text))
    rejects.sort(key=lambda r: r.row_number)
    # JSON functions raise on invalid text and filters are not guaranteed to run first: keep only good lines
    con.execute(f"DELETE FROM {ok} WHERE NOT good")
    if not con.execute(f"SELECT count(*) FROM {ok}").fetchone()[0] and not rejects:
        raise FileRejected("empty_file", detail="no JSON lines")
    keys = [
        k
        for (k,) in con.execute(
            f"SELECT DISTINCT unnest(json_keys(line)) AS k FROM {ok} ORDER BY k"
        ).fetchall()
    ]
    declared = check_header(keys)
    declared_tops = {jsonpath.top_key(p) for p in declared}
    extra = [k for k in keys if k not in declared_tops]
    n_good = con.execute(f"SELECT count(*) FROM {ok}").fetchone()[0]
    exprs = ", ".join(f"{jsonpath.to_sql(p, 'line')} AS {qi(p)}" for p in paths)
    select = (
        f"SELECT {exprs}, ln AS _row_number, "
        f"{_extra_sql(extra, lambda k: 'json_extract(line, ' + ql(chr(36) + '.' + chr(34) + k + chr(34)) + ')')} "
        f"AS _extra FROM {ok}"
    )
    return Staged(
        columns=list(paths),
        select_sql=select,
        rows_staged=n_good,
        rejects=rejects,
        extra_columns=extra,
    )


def _json_error(text: str) -> str:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"{exc.msg} at column {exc.colno}"
    return f"a JSON {type(value).__name__}, not an object"


def cell_text(value: object) -> str | None:
    """An xlsx cell as the text a person sees (dates ISO-8601, integral floats without '.0')."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def stage_xlsx(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    tmp: str,
    *,
    header_row: int,
    footer_regex: str | None,
    check_header: HeaderCheck,
    sheets: tuple[str | int, ...] | None = None,
) -> Staged:
    """A workbook (.xlsx, or legacy .xls) read with python-calamine: every sheet whose header on
    ``header_row`` passes ``check_header`` (or the ``sheets`` the YAML names), records numbered on
    across sheets. Formula cells land their cached value; a row with a formula that has no cached
    value is quarantined (``formula_without_value``). For .xlsx the expected record count comes from
    :func:`pipelines.ingest.workbook.scan_xlsx` (the sheet XML, not this reader)."""
    from python_calamine import CalamineWorkbook

    scans = None
    if zipfile.is_zipfile(path):
        try:
            scans = scan_xlsx(path)
        except Exception as exc:  # BadZipFile, KeyError (no workbook part), ParseError ...
            raise FileRejected("unreadable_workbook", error=f"{type(exc).__name__}: {exc}") from None
    try:
        wb = CalamineWorkbook.from_path(str(path))
        names = list(wb.sheet_names)
    except Exception as exc:
        raise FileRejected("unreadable_workbook", error=f"{type(exc).__name__}: {exc}") from None
    if not names:
        raise FileRejected("unreadable_workbook", error="no worksheet")
    if sheets:
        chosen = []
        for item in sheets:  # a sheet name, or its 1-based position
            if item in names:
                name = item
            elif str(item).isdigit() and 1 <= int(item) <= len(names):
                name = names[int(item) - 1]
            else:
                raise FileRejected("missing_sheets", sheet=item, sheets=", ".join(names))
            chosen.append(name)
    else:
        chosen = names
    footer = re.compile(footer_regex) if footer_regex else None
    staged = Staged(columns=[], select_sql="", rows_staged=0)
    expected = 0 if scans is not None else None
    record = 0
    selects: list[str] = []
    read: list[str] = []
    skipped: list[str] = []
    first_rejection: FileRejected | None = None
    for idx, name in enumerate(chosen):
        try:
            rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
        except Exception as exc:
            raise FileRejected(
                "unreadable_workbook", error=f"sheet {name}: {type(exc).__name__}: {exc}"
            ) from None
        head = rows[:header_row]
        cells = [cell_text(c) for c in head[-1]] if len(head) == header_row else []
        while cells and not (cells[-1] or "").strip():
            cells.pop()
        if not any((c or "").strip() for c in cells):
            skipped.append(f"{name}（第 {header_row} 行无表头 / no header on row {header_row}）")
            continue
        header = unique_names(cells)
        try:
            declared = check_header(header)
        except FileRejected as rej:
            if sheets:
                raise
            first_rejection = first_rejection or rej
            skipped.append(f"{name}（表头不符 / header does not match: {', '.join(header[:8])}）")
            continue
        scan = scans.get(name) if scans is not None else None
        if expected is not None:
            expected += scan.records_after(header_row) if scan else 0
        no_value = scan.formulas_without_value if scan else {}
        t = f"{tmp}_s{idx}"
        before = record
        record = _stage_sheet(con, t, name, rows, header, header_row, record, footer, no_value, staged)
        extra = [c for c in header if c not in declared]
        staged.extra_columns += [c for c in extra if c not in staged.extra_columns]
        staged.columns += [c for c in header if c not in staged.columns]
        selects.append(
            f"SELECT {', '.join('s.' + qi(c) for c in header)}, s._row_number, "
            f"{_extra_sql(extra, lambda c: 's.' + qi(c))} AS _extra FROM {t} s"
        )
        read.append(f"{name} ({record - before})")
    if not selects:
        if first_rejection is not None:
            raise first_rejection
        raise FileRejected("empty_file", detail=f"no header on row {header_row}")
    staged.select_sql = " UNION ALL BY NAME ".join(selects)
    staged.expected_records = expected
    if len(read) > 1 or skipped:
        staged.notes.append(("sheets", {"read": ", ".join(read), "skipped": "; ".join(skipped) or "-"}))
    return staged


def _stage_sheet(con, t, sheet, rows, header, header_row, record, footer, no_value, staged: Staged) -> int:
    width = len(header)
    names = header + ["_row_number"]
    schema = pa.schema([pa.field(n, pa.string()) for n in header] + [pa.field("_row_number", pa.int64())])
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {t} ({', '.join(qi(n) + ' VARCHAR' for n in header)}, _row_number BIGINT)"
    )
    batch: list[list[str | None]] = [[] for _ in names]

    def flush() -> None:
        if not batch[0]:
            return
        tbl = pa.Table.from_arrays(
            [pa.array(col, type=f.type) for col, f in zip(batch, schema, strict=True)], schema=schema
        )
        con.register("_xlsx_batch", tbl)
        con.execute(f"INSERT INTO {t} SELECT * FROM _xlsx_batch")
        con.unregister("_xlsx_batch")
        for col in batch:
            col.clear()

    for sheet_row, values in enumerate(rows[header_row:], start=header_row + 1):
        texts = [cell_text(v) for v in values]
        while texts and texts[-1] is None:
            texts.pop()
        if sheet_row in no_value:
            record += 1
            cells = ", ".join(f"{ref} {formula}" for ref, formula in no_value[sheet_row])
            staged.rejects.append(
                RowReject(
                    record,
                    sheet_row,
                    "formula_without_value",
                    f"sheet {sheet}: {cells}",
                    json.dumps(texts, ensure_ascii=False),
                )
            )
            continue
        if not texts:
            continue  # blank row: not a record
        record += 1
        if footer and footer.search((texts[0] or "").strip()):
            staged.rows_footer += 1
            continue
        if len(texts) > width:
            staged.rejects.append(
                RowReject(
                    record,
                    sheet_row,
                    "wrong_field_count",
                    f"sheet {sheet}: {len(texts)} cells under a header of {width} columns",
                    json.dumps(texts, ensure_ascii=False),
                )
            )
            continue
        texts += [None] * (width - len(texts))
        for col, v in zip(batch, texts, strict=False):
            col.append(v)
        batch[-1].append(record)
        staged.rows_staged += 1
        if len(batch[0]) >= XLSX_BATCH_ROWS:
            flush()
    flush()
    return record
