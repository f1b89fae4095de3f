"""One generation in progress: export files per source written with their dirt, the truth rows of
each file, the file list and the counts the manifest reports."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.generate.config import entities
from pipelines.generate.dirt import DirtResult, apply_dirt
from pipelines.generate.events import Ctx, concat
from pipelines.generate.exports import (
    TRUTH_EXTRA,
    DxText,
    Layout,
    csv_bytes,
    export_table,
    jsonl_bytes,
    materialize,
    truth_table,
    write_xlsx,
)
from pipelines.generate.region import rng_for

ENTITY_ORDER = ["visits", "referrals", "followups", "contracts", "slot_pools", "slot_bookings"]
EXT = {"csv": "csv", "canonical": "csv", "xlsx": "xlsx", "jsonl": "jsonl"}
UNKNOWN_SOURCE = "his_x"
CORRECTED_KINDS = frozenset({"id_check_digit", "missing_required", "sex_spelling"})


def truth_schema(entity: str) -> pa.Schema:
    fields = [
        pa.field("delivery", pa.string()),
        pa.field("source_id", pa.string()),
        pa.field("file_name", pa.string()),
        pa.field("row_number", pa.int64()),
        pa.field("record_key", pa.string()),
    ]
    fields += [pa.field(c, pa.string()) for c in entities()[entity]["columns"]]
    fields += [pa.field(c, pa.string()) for c in TRUTH_EXTRA.get(entity, [])]
    fields.append(pa.field("dirt", pa.string()))
    return pa.schema(fields)


@dataclass
class Plan:
    """Which files get file-level dirt (chosen deterministically from the window keys)."""

    truncated: tuple | None = None  # (source, entity, wkey)
    unknown_column: tuple | None = None
    corrected_resend: tuple | None = None
    duplicate_file: tuple | None = None
    unknown_source: tuple | None = None


@dataclass
class GenerationRun:
    """One generation in progress: writes each export file with its truth rows, counts and file records."""

    out: Path
    params: dict
    seed: int
    ctx: Ctx
    sources: dict
    dxt: DxText
    truth_dir: Path
    plan: Plan = field(default_factory=Plan)
    writers: dict = field(default_factory=dict)
    files: list = field(default_factory=list)
    dirt_stats: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ truth
    def truth_write(self, entity: str, tbl: pa.Table) -> None:
        w = self.writers.get(entity)
        if w is None:
            self.truth_dir.mkdir(parents=True, exist_ok=True)
            w = pq.ParquetWriter(
                self.truth_dir / f"{entity}.parquet", truth_schema(entity), compression="zstd"
            )
            self.writers[entity] = w
        w.write_table(tbl.cast(truth_schema(entity)))

    def close(self) -> None:
        for e in ENTITY_ORDER:  # every entity has a truth file, possibly empty
            if e not in self.writers:
                self.truth_dir.mkdir(parents=True, exist_ok=True)
                self.writers[e] = pq.ParquetWriter(
                    self.truth_dir / f"{e}.parquet", truth_schema(e), compression="zstd"
                )
        for w in self.writers.values():
            w.close()
        self.writers = {}

    def count(self, entity: str, key: str, n: int) -> None:
        self.counts.setdefault(entity, {}).setdefault(key, 0)
        self.counts[entity][key] += int(n)

    # ------------------------------------------------------------------ files
    def record_file(
        self, delivery, source_id, entity, wkey, path: Path, rows, dirt="", duplicate_of="", note=""
    ):
        data = path.read_bytes()
        self.files.append(
            {
                "delivery": delivery,
                "source_id": source_id,
                "entity": entity,
                "file_name": path.name,
                "path": str(path.relative_to(self.out)),
                "period": wkey,
                "rows": rows,
                "size_bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "dirt": dirt,
                "duplicate_of": duplicate_of,
                "note": note,
            }
        )

    def write_source_file(
        self,
        delivery,
        source_id,
        entity,
        wkey,
        clean,
        dr: DirtResult,
        keep: np.ndarray | None,
        labels: np.ndarray,
        extra_col=None,
        file_dirt=(),
        note="",
    ):
        """Write one export file and its truth rows. ``keep`` filters the final row order."""
        src = self.sources[source_id]
        layout = Layout(src, entity)
        order = dr.order if keep is None else dr.order[keep]
        flags = dr.dup_flags if keep is None else dr.dup_flags[keep]
        dr2 = DirtResult(dr.columns, labels, dr.multi, order, flags, dr.out_of_order, dr.stats, dr.formatted)
        fmt = "csv" if src.is_canonical else src.format
        name = f"{entity}_{wkey}.{EXT[src.format]}"
        path = self.out / delivery / source_id / name
        path.parent.mkdir(parents=True, exist_ok=True)
        n_rows = len(order)
        extra = None
        if extra_col:
            extra = (extra_col, [("复诊" if i % 3 == 0 else "") for i in range(n_rows)])
        tbl = export_table(layout, dr2, extra)
        file_dirt = list(file_dirt)
        truncated = False
        if fmt == "csv":
            data = csv_bytes(tbl, src.encoding)
            if self.plan.truncated == (source_id, entity, wkey) and delivery == "inbox" and n_rows:
                body = data.rstrip(b"\n")
                start = body.rfind(b"\n") + 1
                cut = start
                for _ in range(3):  # cut right after the third delimiter of the last line
                    cut = body.index(b",", cut) + 1
                data = body[:cut]
                truncated = True
                file_dirt.append("truncated")
            path.write_bytes(data)
        elif fmt == "xlsx":
            v = self.ctx.vocab
            period = f"{wkey[:4]}年{wkey[4:6]}月" + (f"{wkey[6:]}日" if len(wkey) == 8 else "")
            title = f"{v['city']['name']}{v['xlsx_titles'][entity]}（{period}）"
            fee_col = next((s for s, e, _f, _v in layout.columns if e == "total_fee"), None)
            write_xlsx(path, tbl, title, fee_col)
            file_dirt += ["title_row", "totals_row"]
        else:
            path.write_bytes(jsonl_bytes(tbl, layout, dr.out_of_order[order]))
        if extra_col:
            file_dirt.append("unknown_column")
        # truth rows
        tt = truth_table(entity, clean, self.ctx.dx, dr.multi).take(pa.array(order))
        lab = labels[order]
        lab = np.where(flags, np.where(lab == "", "duplicate_row", lab + ";duplicate_row"), lab)
        if truncated:
            lab[-1] = (lab[-1] + ";" if lab[-1] else "") + "truncated_line"
        key = entities()[entity]["key"]
        meta = {
            "delivery": pa.array([delivery] * n_rows, pa.string()),
            "source_id": pa.array([source_id] * n_rows, pa.string()),
            "file_name": pa.array([name] * n_rows, pa.string()),
            "row_number": pa.array(np.arange(1, n_rows + 1), pa.int64()),
            "record_key": tt.column(key),
        }
        truth = pa.table(
            {**meta, **{c: tt.column(c) for c in tt.column_names}, "dirt": pa.array(lab, pa.string())}
        )
        self.truth_write(entity, truth)
        self.record_file(delivery, source_id, entity, wkey, path, n_rows, ";".join(file_dirt), note=note)
        self.count(entity, f"rows_{delivery}", n_rows)
        return path, truth, data if fmt == "csv" else None

    # ------------------------------------------------------------------ windows
    def flush(self, wkey: str, chunks: dict, delivery: str, count_stats: bool = True) -> None:
        for entity in ENTITY_ORDER:
            parts = chunks.get(entity) or []
            evd = concat(parts)
            if not evd:
                continue
            clean = materialize(entity, evd, self.ctx)
            spec = entities()[entity]
            idx = pc.sort_indices(
                clean, sort_keys=[(spec["period"], "ascending"), (spec["key"], "ascending")]
            )
            clean = clean.take(idx)
            self.count(entity, "records", clean.num_rows)
            srcs = clean.column("_source").to_numpy(zero_copy_only=False)
            for source_id in sorted(set(srcs)):
                sub = clean.filter(pa.array(srcs == source_id))
                self.write_entity_source(wkey, entity, source_id, sub, delivery, count_stats)

    def write_entity_source(self, wkey, entity, source_id, sub, delivery, count_stats) -> None:
        src = self.sources[source_id]
        layout = Layout(src, entity)
        rng = rng_for(self.seed, "dirt", delivery, source_id, entity, wkey)
        dxt = self.dxt if entity in ("visits", "referrals") else None
        dr = apply_dirt(entity, sub, layout, rng, self.params["dirt"], self.params, dxt)
        if count_stats:
            for kind, (elig, applied) in dr.stats.items():
                st = self.dirt_stats.setdefault(kind, {}).setdefault(entity, [0, 0])
                st[0] += elig
                st[1] += applied
        target = (source_id, entity, wkey)
        keep = None
        if delivery == "inbox" and self.plan.corrected_resend == target:
            k = int(self.params["files"]["held_back_rows"])
            n = sub.num_rows
            keep = dr.order < max(0, n - k)
        extra = None
        if delivery == "inbox" and self.plan.unknown_column == target:
            extra = (
                "remark" if not src.is_canonical and src.format == "csv" and source_id == "his_a" else "备注"
            )
        path, truth, data = self.write_source_file(
            delivery, source_id, entity, wkey, sub, dr, keep, dr.labels, extra
        )
        if delivery != "inbox":
            return
        if self.plan.corrected_resend == target:
            # the corrected re-send: same name, corrected values, plus the held-back rows
            cols = dict(dr.columns)
            lab = dr.labels.copy()
            fix = np.array([any(k in CORRECTED_KINDS for k in s.split(";")) for s in lab])
            for c in ("patient_id_number", "sex_code", *self.params["required_for_missing"][entity]):
                if c in cols and fix.any():
                    cols[c] = pc.if_else(pa.array(fix), dr.formatted[c], cols[c])
            lab = np.array(
                [";".join(k for k in s.split(";") if k and k not in CORRECTED_KINDS) for s in lab],
                dtype=object,
            )
            dr_fixed = DirtResult(
                cols, lab, dr.multi, dr.order, dr.dup_flags, dr.out_of_order, dr.stats, dr.formatted
            )
            self.write_source_file(
                "later",
                source_id,
                entity,
                wkey,
                sub,
                dr_fixed,
                None,
                lab,
                file_dirt=("corrected_resend",),
                note=f"corrects {path.relative_to(self.out)}; adds {int((~keep).sum())} held-back rows",
            )
        if self.plan.duplicate_file == target:
            dup = self.out / "later" / source_id / f"{path.stem}_resend{path.suffix}"
            dup.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dup)
            t2 = truth.set_column(0, "delivery", pa.array(["later"] * truth.num_rows, pa.string()))
            t2 = t2.set_column(2, "file_name", pa.array([dup.name] * truth.num_rows, pa.string()))
            t2 = t2.set_column(t2.num_columns - 1, "dirt", add_label(t2.column("dirt"), "duplicate_file"))
            self.truth_write(entity, t2)
            self.record_file(
                "later",
                source_id,
                entity,
                wkey,
                dup,
                truth.num_rows,
                "duplicate_file",
                duplicate_of=str(path.relative_to(self.out)),
            )
        if self.plan.unknown_source == target and data is not None:
            k = int(self.params["files"]["unknown_source_rows"])
            lines = data.split(b"\n")
            body = b"\n".join(lines[: k + 1]) + b"\n"
            up = self.out / "inbox" / UNKNOWN_SOURCE / path.name
            up.parent.mkdir(parents=True, exist_ok=True)
            up.write_bytes(body)
            t3 = truth.slice(0, k)
            t3 = t3.set_column(1, "source_id", pa.array([UNKNOWN_SOURCE] * t3.num_rows, pa.string()))
            t3 = t3.set_column(t3.num_columns - 1, "dirt", add_label(t3.column("dirt"), "unknown_source"))
            self.truth_write(entity, t3)
            self.record_file(
                "inbox",
                UNKNOWN_SOURCE,
                entity,
                wkey,
                up,
                t3.num_rows,
                "unknown_source",
                note="a source folder with no sources/*.yaml",
            )


def add_label(col, label: str) -> pa.Array:
    vals = col.to_pylist()
    return pa.array([(v + ";" + label) if v else label for v in vals], pa.string())
