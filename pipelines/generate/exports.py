"""From generated events to export files and truth rows.

``materialize`` joins person and institution columns into a window's events; ``Layout`` is how a
source lays out an entity (read from ``sources/<source_id>.yaml``; ``dirt.apply_dirt`` turns the clean
rows into the strings that source sends); ``export_table`` and ``*_bytes`` / ``write_xlsx`` put the
file on disk.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from opencc import OpenCC

from pipelines.generate.config import DX_NAME_KINDS, DxTable, date_elements, entities
from pipelines.ingest.registry import SourceConfig

if TYPE_CHECKING:
    from pipelines.generate import dirt

TRUTH_EXTRA = {
    "visits": [
        "diagnosis_code_std",
        "icd10_category",
        "hypertension_grade",
        "diagnosis_codes_all",
        "truth_referral_id",
    ],
    "referrals": [
        "diagnosis_code_std",
        "icd10_category",
        "hypertension_grade",
        "diagnosis_codes_all",
        "truth_origin_visit_id",
        "truth_receiving_visit_id",
        "truth_fd_contact",
    ],
}
MULTI_SEPARATORS = np.array([";", "，", "、", " ", "；"], dtype=object)
WHITESPACE_FORMS = ((" ", ""), ("", "  "), ("\t", ""), ("\u3000", ""), (" ", " "))
XLSX_EPOCH = datetime(2025, 1, 1)


def fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if 0x21 <= ord(c) <= 0x7E else c for c in s)


@dataclass
class DxText:
    """Per diagnosis index: every text form the exports may use."""

    dx: DxTable
    trad: np.ndarray = field(init=False)
    fw_name: np.ndarray = field(init=False)
    fw_code: np.ndarray = field(init=False)
    variants: dict = field(init=False)  # kind -> (offsets, counts, flat values)

    def __post_init__(self) -> None:
        cc = OpenCC("s2t")
        self.trad = np.array([cc.convert(x) for x in self.dx.name], dtype=object)
        self.fw_name = np.array([fullwidth(x) for x in self.dx.name], dtype=object)
        self.fw_code = np.array([fullwidth(x) for x in self.dx.code], dtype=object)
        self.variants = {}
        for kind in DX_NAME_KINDS:
            lists = self.dx.variants[kind]
            counts = np.array([len(v) for v in lists], dtype=np.int64)
            offsets = np.r_[0, np.cumsum(counts)[:-1]]
            flat = np.array([x for v in lists for x in v] or [""], dtype=object)
            self.variants[kind] = (offsets, counts, flat)

    def eligible(self, kind: str, dxi: np.ndarray) -> np.ndarray:
        if kind in self.variants:
            return self.variants[kind][1][dxi] > 0
        if kind == "dx_traditional":
            return (self.trad != self.dx.name)[dxi]
        if kind == "dx_fullwidth":
            return (self.fw_name != self.dx.name)[dxi] | (self.fw_code != self.dx.code)[dxi]
        return np.ones(len(dxi), dtype=bool)


# ----------------------------------------------------------------------------- materialize
def _ts(a: np.ndarray) -> pa.Array:
    return pa.array(a.astype("datetime64[s]"), pa.timestamp("s"), from_pandas=True)


def _num_str(values: np.ndarray, decimals: int) -> pa.Array:
    """Fixed-decimal strings (nulls for NaN) without a per-row Python loop."""
    v = np.asarray(values, dtype=float)
    nan = np.isnan(v)
    scaled = np.round(np.where(nan, 0, v) * 10**decimals).astype(np.int64)
    whole = pc.cast(pa.array(scaled // 10**decimals), pa.string())
    if decimals:
        frac = pc.utf8_lpad(pc.cast(pa.array(scaled % 10**decimals), pa.string()), decimals, "0")
        whole = pc.binary_join_element_wise(whole, frac, ".")
    return pc.if_else(pa.array(nan), pa.scalar(None, pa.string()), whole)


def string_array(a: np.ndarray) -> pa.Array:
    return pa.array(a, pa.string(), from_pandas=True)


def materialize(entity: str, ev: dict, ctx) -> pa.Table:
    """Canonical columns (typed: timestamps for date/datetime elements, strings otherwise) plus
    internal columns ``_source``, ``_dx``, ``_dx2`` and truth links."""
    r = ctx.region.res
    inst_src = ctx.region.institutions.source_id.to_numpy().astype(object)
    cols: dict[str, pa.Array] = {}
    res = ev.get("_res")

    def person():
        cols["patient_id_type"] = string_array(r["id_type"][res])
        cols["patient_id_number"] = r["id_number_pa"].take(pa.array(res))
        if entity in ("visits", "referrals"):
            cols["patient_name"] = r["name_pa"].take(pa.array(res))
            cols["sex_code"] = string_array(r["sex"][res].astype(str).astype(object))
            cols["birth_date"] = r["birth_pa"].take(pa.array(res))
            cols["phone"] = r["phone_pa"].take(pa.array(res))

    codes = ctx.codes
    if entity == "visits":
        cols["visit_id"] = string_array(ev["visit_id"])
        cols["institution_code"] = string_array(codes[ev["_inst"]])
        person()
        cols["residence_county_code"] = string_array(
            ctx.region.counties.county_code.to_numpy().astype(object)[r["county"][res]]
        )
        cols["visit_type_code"] = string_array(ev["visit_type_code"])
        for c in ("visit_datetime", "admission_datetime", "discharge_datetime"):
            cols[c] = _ts(ev[c])
        cols["department_name"] = string_array(ev["department_name"])
        cols["diagnosis_code"] = string_array(ctx.dx.code[ev["_dx"]])
        cols["diagnosis_name"] = string_array(ctx.dx.name[ev["_dx"]])
        cols["discharge_disposition_code"] = string_array(ev["discharge_disposition_code"])
        cols["payment_type_code"] = string_array(ev["payment_type_code"])
        cols["total_fee"] = _num_str(ev["total_fee"], 2)
        cols["systolic_bp"] = _num_str(ev["systolic_bp"], 0)
        cols["diastolic_bp"] = _num_str(ev["diastolic_bp"], 0)
        cols["fasting_glucose"] = _num_str(ev["fasting_glucose"], 1)
        cols["major_exam_code"] = string_array(ev["major_exam_code"])
        src = inst_src[ev["_inst"]]
        cols["truth_referral_id"] = string_array(ev["_referral_id"])
    elif entity == "referrals":
        cols["referral_id"] = string_array(ev["referral_id"])
        person()
        cols["from_institution_code"] = string_array(codes[ev["_from"]])
        cols["to_institution_code"] = string_array(codes[ev["_to"]])
        for c in ("direction_code", "setting_code", "green_channel_flag", "referral_reason"):
            cols[c] = string_array(ev[c])
        cols["diagnosis_code"] = string_array(ctx.dx.code[ev["_dx"]])
        cols["diagnosis_name"] = string_array(ctx.dx.name[ev["_dx"]])
        cols["request_datetime"] = _ts(ev["request_datetime"])
        cols["status_code"] = string_array(ev["status_code"])
        cols["accept_datetime"] = _ts(ev["accept_datetime"])
        cols["return_datetime"] = _ts(ev["return_datetime"])
        cols["return_reason_code"] = string_array(ev["return_reason_code"])
        cols["arrival_datetime"] = _ts(ev["arrival_datetime"])
        cols["discharge_plan"] = string_array(ev["discharge_plan"])
        src = np.full(len(res), "referral_platform", dtype=object)
        cols["truth_origin_visit_id"] = string_array(ev["_origin_visit_id"])
        cols["truth_receiving_visit_id"] = string_array(ev["_receiving_visit_id"])
        cols["truth_fd_contact"] = string_array(ev["_fd_contact"])
    elif entity == "followups":
        cols["followup_id"] = string_array(ev["followup_id"])
        cols["institution_code"] = string_array(codes[ev["_inst"]])
        person()
        cols["followup_datetime"] = _ts(ev["followup_datetime"])
        cols["followup_type_code"] = string_array(ev["followup_type_code"])
        cols["doctor_id"] = string_array(ev["doctor_id"])
        cols["referral_id"] = string_array(ev["referral_id"])
        cols["systolic_bp"] = _num_str(ev["systolic_bp"], 0)
        cols["diastolic_bp"] = _num_str(ev["diastolic_bp"], 0)
        cols["fasting_glucose"] = _num_str(ev["fasting_glucose"], 1)
        src = inst_src[ev["_inst"]]
    elif entity == "contracts":
        cols["contract_id"] = string_array(ev["contract_id"])
        person()
        cols["institution_code"] = string_array(codes[ev["_inst"]])
        cols["doctor_id"] = string_array(ev["doctor_id"])
        cols["sign_date"] = _ts(ev["sign_date"])
        cols["end_date"] = _ts(ev["end_date"])
        src = inst_src[ev["_inst"]]
    elif entity == "slot_pools":
        cols["pool_id"] = string_array(ev["pool_id"])
        cols["institution_code"] = string_array(codes[ev["_inst"]])
        cols["department_name"] = string_array(ev["department_name"])
        cols["clinic_date"] = _ts(ev["clinic_date"])
        cols["total_slots"] = pc.cast(pa.array(ev["total_slots"]), pa.string())
        cols["reserved_slots"] = pc.cast(pa.array(ev["reserved_slots"]), pa.string())
        cols["release_datetime"] = _ts(ev["release_datetime"])
        src = np.full(len(ev["pool_id"]), "std_export", dtype=object)
    elif entity == "slot_bookings":
        cols["booking_id"] = string_array(ev["booking_id"])
        cols["pool_id"] = string_array(ev["pool_id"])
        cols["booking_institution_code"] = string_array(codes[ev["_inst"]])
        person()
        cols["booking_datetime"] = _ts(ev["booking_datetime"])
        cols["booking_status_code"] = string_array(ev["booking_status_code"])
        src = np.full(len(ev["booking_id"]), "referral_platform", dtype=object)
    else:  # pragma: no cover
        raise ValueError(entity)
    cols["_source"] = string_array(src)
    if "_dx" in ev:
        cols["_dx"] = pa.array(ev["_dx"], pa.int64())
        cols["_dx2"] = pa.array(ev["_dx2"], pa.int64())
    return pa.table(cols)


# ----------------------------------------------------------------------------- truth
_TOKEN_SLICES = {"Y": (0, 4), "m": (5, 7), "d": (8, 10), "H": (11, 13), "M": (14, 16), "S": (17, 19)}


def strftime(arr: pa.Array, fmt: str) -> pa.Array:
    """``pc.strftime`` for the directives %Y %m %d %H %M %S only, ~8x faster: slices of Arrow's
    own ISO cast (``YYYY-MM-DD HH:MM:SS``) joined with the literal text. Nulls stay null."""
    base = pc.cast(arr, pa.string())
    if fmt == "%Y-%m-%d %H:%M:%S":
        return base
    pieces: list = []
    i = 0
    lit = ""
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt):
            tok = fmt[i + 1]
            if tok not in _TOKEN_SLICES:
                return pc.strftime(arr, format=fmt)
            if lit:
                pieces.append(lit)
                lit = ""
            a, b = _TOKEN_SLICES[tok]
            pieces.append(pc.utf8_slice_codeunits(base, a, b))
            i += 2
        else:
            lit += fmt[i]
            i += 1
    if lit:
        pieces.append(lit)
    if len(pieces) == 1 and not isinstance(pieces[0], str):
        return pieces[0]
    if all(isinstance(p, str) for p in pieces):
        return pc.if_else(base.is_valid(), pa.scalar("".join(pieces)), pa.scalar(None, pa.string()))
    return pc.binary_join_element_wise(*pieces, "")


def iso(arr: pa.Array, element: str) -> pa.Array:
    fmt = "%Y-%m-%d" if element in date_elements() else "%Y-%m-%d %H:%M:%S"
    return strftime(arr, fmt)


def truth_table(entity: str, clean: pa.Table, dx: DxTable, multi: np.ndarray) -> pa.Table:
    """Clean values of every canonical element as strings, plus truth extras."""
    spec = entities()[entity]
    out = {}
    for c in spec["columns"]:
        a = clean.column(c)
        out[c] = iso(a, c) if pa.types.is_timestamp(a.type) else a
    if entity in TRUTH_EXTRA:
        d1 = clean.column("_dx").to_numpy()
        d2 = clean.column("_dx2").to_numpy()
        out["diagnosis_code_std"] = string_array(dx.code[d1])
        out["icd10_category"] = string_array(dx.category[d1])
        grade = dx.grade[d1]
        out["hypertension_grade"] = string_array(np.where(grade == "", None, grade))
        out["diagnosis_codes_all"] = string_array(
            np.where(multi, dx.code[d1] + ";" + dx.code[d2], dx.code[d1])
        )
        for c in TRUTH_EXTRA[entity][4:]:
            out[c] = clean.column(c)
    return pa.table(out)


class Layout:
    """How one source lays out one entity: ordered (source column, element, hints)."""

    def __init__(self, source: SourceConfig | None, entity: str):
        self.entity = entity
        self.canonical = source is None or source.is_canonical
        if self.canonical:
            self.columns = [(c, c, (), {}) for c in entities()[entity]["columns"]]
        else:
            spec = next(f for f in source.files if f.entity == entity)
            self.columns = [(c.source_column, c.element, c.date_formats, c.value_map) for c in spec.columns]
        self.by_element = {e: (s, f, vm) for s, e, f, vm in self.columns}

    def native_map(self, element: str) -> dict:
        _s, _f, vm = self.by_element[element]
        inv: dict[str, str] = {}
        for k, v in vm.items():
            inv.setdefault(v, k)
        return inv

    def formats(self, element: str) -> list[str]:
        _s, f, _vm = self.by_element[element]
        if f:
            return list(f)
        return ["%Y-%m-%d"] if element in date_elements() else ["%Y-%m-%d %H:%M:%S"]


# ----------------------------------------------------------------------------- writers
def export_table(
    layout: Layout, dr: dirt.DirtResult, extra_column: tuple[str, list] | None = None
) -> pa.Table:
    """The final file content as a table of source columns, in file row order."""
    take = pa.array(dr.order)
    cols = {}
    for s, e, _f, _vm in layout.columns:
        cols[s] = dr.columns[e].take(take)
    if extra_column:
        cols[extra_column[0]] = pa.array(extra_column[1], pa.string())
    return pa.table(cols)


def csv_bytes(tbl: pa.Table, encoding: str, chunk_rows: int = 200_000) -> bytes:
    buf = io.BytesIO()
    for start in range(0, max(tbl.num_rows, 1), chunk_rows):
        part = tbl.slice(start, chunk_rows)
        b = io.BytesIO()
        pacsv.write_csv(
            part, b, pacsv.WriteOptions(include_header=start == 0, quoting_style="needed", delimiter=",")
        )
        data = b.getvalue()
        if encoding not in ("utf-8", "utf-8-sig"):
            data = data.decode("utf-8").encode(encoding)
        buf.write(data)
    return buf.getvalue()


def write_xlsx(path: Path, tbl: pa.Table, title: str, footer_fee_col: str | None) -> None:
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False})
    wb.set_properties({"created": XLSX_EPOCH, "author": "HIS", "title": title})
    ws = wb.add_worksheet("明细")
    ncol = tbl.num_columns
    ws.merge_range(0, 0, 0, max(ncol - 1, 1), title)
    ws.write_row(1, 0, tbl.column_names)
    cols = [c.to_pylist() for c in tbl.columns]
    write = ws.write_string
    for i in range(tbl.num_rows):
        for j, col in enumerate(cols):
            v = col[i]
            if v is not None and v != "":
                write(i + 2, j, v)
    total = ["合计", f"{tbl.num_rows}条"]
    if footer_fee_col and footer_fee_col in tbl.column_names:
        j = tbl.column_names.index(footer_fee_col)
        fees = pc.sum(
            pc.cast(pc.utf8_trim_whitespace(tbl.column(footer_fee_col)), pa.float64(), safe=False)
        ).as_py()
        total += [""] * (j - 2) + [f"{fees or 0:.2f}"]
    ws.write_row(tbl.num_rows + 2, 0, total)
    wb.close()


def jsonl_bytes(tbl: pa.Table, layout: Layout, out_of_order: np.ndarray) -> bytes:
    """One JSON object per row, nested by the layout's JSON paths; events[] in time order unless
    the row is marked out of order (then reversed)."""
    lines = []
    names = tbl.column_names
    cols = [c.to_pylist() for c in tbl.columns]
    paths = []
    for s in names:
        if s.startswith("events[type="):
            etype = s[len("events[type=") : s.index("]")]
            paths.append(("event", etype, s[s.index("].") + 2 :]))
        else:
            paths.append(("obj", s.split("."), None))
    event_order = ["request", "accept", "return", "arrive"]
    for i in range(tbl.num_rows):
        obj: dict = {}
        events: dict[str, dict] = {}
        for (kind, p, field_), col in zip(paths, cols, strict=True):
            v = col[i]
            if kind == "event":
                if v is None and field_ != "time":
                    continue
                if v is None and p not in events:
                    continue
                events.setdefault(p, {"type": p})[field_] = v
            else:
                d = obj
                for k in p[:-1]:
                    d = d.setdefault(k, {})
                d[p[-1]] = v
        if events or any(x[0] == "event" for x in paths):
            ev = [events[t] for t in event_order if t in events and events[t].get("time") is not None]
            ev += [
                events[t]
                for t in event_order
                if t in events and events[t].get("time") is None and t == "request"
            ]
            if out_of_order[i]:
                ev = ev[::-1]
            obj["events"] = ev
        lines.append(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
    return ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8")
