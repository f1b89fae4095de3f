"""Dirt: what turns the clean, typed rows of one export file into the strings a source sends (date
formats of its dialect, wrong spellings, missing values, duplicates ...), with the dirt each row got
recorded for the truth (docs/generator.md)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.generate import idcard
from pipelines.generate.config import DX_NAME_KINDS, entities, entity_spec
from pipelines.generate.exports import (
    MULTI_SEPARATORS,
    WHITESPACE_FORMS,
    DxText,
    Layout,
    fullwidth,
    strftime,
    string_array,
)


@dataclass
class DirtResult:
    columns: dict  # canonical element -> pa string array (as exported, before duplicates)
    labels: np.ndarray  # object array of ';'-joined dirt kinds
    multi: np.ndarray  # bool: several diagnoses in one field
    order: np.ndarray  # row indices of the final file (duplicates included)
    dup_flags: np.ndarray  # bool per final row: this row is a duplicate
    out_of_order: np.ndarray  # bool per row (jsonl events shuffled)
    stats: dict  # kind -> [eligible, applied]
    formatted: dict  # canonical element -> dialect-formatted value before string-level dirt


def _format_dates(a: pa.Array, formats: list[str], rng: np.random.Generator) -> pa.Array:
    if len(formats) == 1:
        return strftime(a, formats[0])
    pick = rng.integers(0, len(formats), len(a))
    out = strftime(a, formats[0])
    for i, f in enumerate(formats[1:], start=1):
        m = pick == i
        if m.any():
            out = pc.if_else(pa.array(m), strftime(a, f), out)
    return out


def _replace(arr: pa.Array, mask: np.ndarray, values) -> pa.Array:
    if not mask.any():
        return arr
    return pc.replace_with_mask(arr, pa.array(mask), pa.array(list(values), pa.string()))


def apply_dirt(
    entity: str,
    clean: pa.Table,
    layout: Layout,
    rng: np.random.Generator,
    rates: dict,
    params: dict,
    dxt: DxText | None,
    skip: frozenset = frozenset(),
) -> DirtResult:
    n = clean.num_rows
    rate = {k: (0.0 if k in skip else float(v)) for k, v in rates.items()}
    stats: dict[str, list[int]] = {}
    labels = np.full(n, "", dtype=object)

    def mark(kind: str, mask: np.ndarray, eligible: np.ndarray) -> None:
        stats[kind] = [int(eligible.sum()), int(mask.sum())]
        if mask.any():
            labels[mask] = labels[mask] + (kind + ";")

    def draw(kind: str, eligible: np.ndarray) -> np.ndarray:
        m = (rng.random(n) < rate.get(kind, 0.0)) & eligible
        mark(kind, m, eligible)
        return m

    cols = {c: clean.column(c).combine_chunks() for c in entities()[entity]["columns"]}
    all_rows = np.ones(n, dtype=bool)
    # typed dirt
    period_col = entities()[entity]["period"]
    if entity in ("visits", "followups"):
        m = draw("future_date", all_rows)
        if m.any():
            shifted = pc.add(
                cols[period_col], pa.scalar(np.timedelta64(27 * 365 + 7, "D").astype("timedelta64[s]"))
            )
            cols[period_col] = pc.if_else(pa.array(m), shifted, cols[period_col])
    if entity == "visits":
        ip = (cols["visit_type_code"].to_numpy(zero_copy_only=False) == "3") & cols[
            "discharge_datetime"
        ].is_valid().to_numpy(zero_copy_only=False)
        m = draw("discharge_before_admission", ip)
        if m.any():
            adm, dis = cols["admission_datetime"], cols["discharge_datetime"]
            mm = pa.array(m)
            cols["admission_datetime"], cols["discharge_datetime"] = (
                pc.if_else(mm, dis, adm),
                pc.if_else(mm, adm, dis),
            )
    # format to the dialect
    out: dict[str, pa.Array] = {}
    for c, a in cols.items():
        if c not in layout.by_element:
            continue
        if pa.types.is_timestamp(a.type):
            out[c] = _format_dates(a, layout.formats(c), rng)
        else:
            nm = {} if layout.canonical else layout.native_map(c)
            if nm:
                keys = list(nm)
                idx = pc.index_in(a, value_set=pa.array(keys, pa.string())).to_numpy(zero_copy_only=False)
                vals = np.array([nm[k] for k in keys] + [None], dtype=object)
                idx = np.where(np.isnan(idx.astype(float)), len(keys), idx).astype(np.int64)
                out[c] = pc.if_else(a.is_valid(), string_array(vals[idx]), a)
            else:
                out[c] = a
    formatted = dict(out)
    multi = np.zeros(n, dtype=bool)
    # diagnosis text dirt
    if dxt is not None and "diagnosis_name" in out:
        d1 = clean.column("_dx").to_numpy()
        d2 = clean.column("_dx2").to_numpy()
        name = dxt.dx.name[d1].copy()
        code = dxt.dx.code[d1].copy()
        u = rng.random(n)
        lo = 0.0
        for kind in (*DX_NAME_KINDS, "dx_fullwidth", "dx_traditional"):
            hi = lo + rate.get(kind, 0.0)
            elig = dxt.eligible(kind, d1)
            m = (u >= lo) & (u < hi) & elig
            lo = hi
            mark(kind, m, elig)
            if not m.any():
                continue
            if kind in dxt.variants:
                off, cnt, flat = dxt.variants[kind]
                pick = off[d1[m]] + (rng.random(m.sum()) * cnt[d1[m]]).astype(np.int64)
                name[m] = flat[pick]
            elif kind == "dx_traditional":
                name[m] = dxt.trad[d1[m]]
            else:
                name[m] = dxt.fw_name[d1[m]]
        foreign = draw("dx_code_foreign", all_rows)
        code[foreign] = dxt.dx.foreign_code[d1[foreign]]
        fwm = np.char.find(labels.astype(str), "dx_fullwidth") >= 0
        code[fwm] = np.array([fullwidth(x) for x in code[fwm]], dtype=object)
        multi = draw("dx_multi", all_rows)
        if multi.any():
            sep = MULTI_SEPARATORS[rng.integers(0, len(MULTI_SEPARATORS), multi.sum())]
            name[multi] = name[multi] + sep + dxt.dx.name[d2[multi]]
            csep = np.where(sep == " ", " ", np.where(sep == "、", ",", ";"))
            code[multi] = code[multi] + csep + dxt.dx.code[d2[multi]]
        out["diagnosis_name"] = string_array(name)
        out["diagnosis_code"] = string_array(code)
    # identity numbers with a wrong check character
    if "patient_id_number" in out:
        elig = clean.column("patient_id_type").to_numpy(zero_copy_only=False) == "01"
        m = draw("id_check_digit", elig)
        if m.any():
            ids = clean.column("patient_id_number").to_numpy(zero_copy_only=False)[m]
            shifts = rng.integers(1, 11, m.sum())
            out["patient_id_number"] = _replace(
                out["patient_id_number"],
                m,
                [idcard.wrong_check_char(x, int(s)) for x, s in zip(ids, shifts, strict=True)],
            )
    if "sex_code" in out:
        m = draw("sex_spelling", all_rows)
        if m.any():
            native = set(layout.native_map("sex_code").values()) if not layout.canonical else {"1", "2"}
            if not native:
                native = {"1", "2"}
            sex = clean.column("sex_code").to_numpy(zero_copy_only=False)[m]
            alts = {
                s: [x for x in params["sex_spellings"]["male" if s == "1" else "female"] if x not in native]
                for s in ("1", "2")
            }
            pick = rng.random(m.sum())
            vals = [alts[s][int(p * len(alts[s]))] for s, p in zip(sex, pick, strict=True)]
            out["sex_code"] = _replace(out["sex_code"], m, vals)
    wcol = entity_spec()["whitespace_column"][entity]
    if wcol in out:
        elig = out[wcol].is_valid().to_numpy(zero_copy_only=False)
        m = draw("whitespace", elig)
        if m.any():
            vals = out[wcol].to_numpy(zero_copy_only=False)[m]
            forms = rng.integers(0, len(WHITESPACE_FORMS), m.sum())
            padded = []
            for v, f in zip(vals, forms, strict=True):
                a, b = WHITESPACE_FORMS[f]
                padded.append(a + v + b if (a or b) and f != 4 else (v[:1] + " " + v[1:]))
            out[wcol] = _replace(out[wcol], m, padded)
    req = [c for c in params["required_for_missing"][entity] if c in out]
    if req:
        elig = np.ones(n, dtype=bool)
        m = draw("missing_required", elig)
        which = rng.integers(0, len(req), n)
        for i, c in enumerate(req):
            mm = m & (which == i)
            if mm.any():
                out[c] = pc.if_else(pa.array(mm), pa.scalar(None, pa.string()), out[c])
    out_of_order = np.zeros(n, dtype=bool)
    if entity == "referrals":
        n_events = sum(
            clean.column(c).is_valid().to_numpy(zero_copy_only=False).astype(int)
            for c in ("request_datetime", "accept_datetime", "return_datetime", "arrival_datetime")
        )
        out_of_order = draw("events_out_of_order", n_events >= 2)
    # duplicate rows: a copy inserted later in the file; only the copy carries the label
    dup = (rng.random(n) < rate.get("duplicate_row", 0.0)) & all_rows
    stats["duplicate_row"] = [n, int(dup.sum())]
    order = list(range(n))
    dup_idx = np.flatnonzero(dup)
    if len(dup_idx):
        pos = dup_idx + 1 + (rng.random(len(dup_idx)) * (n - dup_idx)).astype(np.int64)
        base = np.arange(n)
        order = np.insert(base, pos, dup_idx)
        flags = np.insert(np.zeros(n, dtype=bool), pos, True)
    else:
        order = np.arange(n)
        flags = np.zeros(n, dtype=bool)
    labels = np.array([s[:-1] if s else s for s in labels], dtype=object)
    return DirtResult(out, labels, multi, np.asarray(order), flags, out_of_order, stats, formatted)
