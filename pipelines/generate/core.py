"""Orchestration: windows of events -> export files per source -> truth, manifest, registry.

Public API:
    generate(out, scale="small", seed=42, **overrides) -> dict   (the manifest)
    generate_day(out, day, scale="small", seed=42, **overrides) -> dict
"""

from __future__ import annotations

import csv
import json
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.generate.config import (
    CONDITIONS,
    entities,
    load_dx_table,
    load_params,
    load_vocab,
)
from pipelines.generate.events import Ctx
from pipelines.generate.exports import (
    DxText,
    strftime,
)
from pipelines.generate.generation_run import ENTITY_ORDER, GenerationRun, Plan
from pipelines.generate.region import build_region, rng_for
from pipelines.generate.window import window_events
from pipelines.ingest.registry import load_sources
from pipelines.settings import SOURCES_DIR

GENERATOR_VERSION = "1.0"


def _windows_of_period(params: dict) -> list[tuple[str, np.datetime64, int]]:
    start = np.datetime64(params["period"]["start"], "M")
    out = []
    for m in range(int(params["period"]["months"])):
        ms = start + m
        d0 = ms.astype("datetime64[D]")
        n_days = int(((ms + 1).astype("datetime64[D]") - d0).astype(np.int64))
        out.append((str(ms).replace("-", ""), d0, n_days))
    return out


def _prepare(out: Path, scale: str, seed: int, overrides: dict, truth_dir: Path) -> GenerationRun:
    params = load_params(scale, overrides)
    vocab = load_vocab()
    region = build_region(params, seed, vocab)
    dx = load_dx_table()
    ctx = Ctx(params, vocab, region, dx, np.datetime64(params["period"]["start"], "D"))
    sources = load_sources(SOURCES_DIR)
    return GenerationRun(
        out=out, params=params, seed=seed, ctx=ctx, sources=sources, dxt=DxText(dx), truth_dir=truth_dir
    )


def _run_windows(run: GenerationRun, windows, delivery: str, count_stats: bool = True) -> None:
    """Generate each window; rows whose period falls in a later window wait in a spool."""
    spool: dict[int, dict[str, list]] = {}
    starts = np.array([w[1] for w in windows] + [windows[-1][1] + windows[-1][2]], dtype="datetime64[D]")
    for wi, (wkey, start, n_days) in enumerate(windows):
        rng = rng_for(run.seed, "events", wkey)
        evs = window_events(run.ctx, rng, wkey, start, n_days)
        for entity, d in evs.items():
            if not d:
                continue
            pcol = entities()[entity]["period"]
            day = d[pcol].astype("datetime64[D]")
            wix = np.searchsorted(starts, day, side="right") - 1
            wix = np.maximum(wix, wi)
            beyond = wix >= len(windows)
            run.count(entity, "after_period", int(beyond.sum()))
            for j in np.unique(wix[~beyond]):
                m = wix == j
                spool.setdefault(int(j), {}).setdefault(entity, []).append({k: v[m] for k, v in d.items()})
        run.flush(wkey, spool.pop(wi, {}), delivery, count_stats)


def _write_registry(run: GenerationRun) -> None:
    reg = run.out / "registry"
    reg.mkdir(parents=True, exist_ok=True)
    inst = run.ctx.region.institutions
    cols = ["institution_code", "institution_name", "level_code", "type_code", "county_code", "county_name"]
    inst[cols].to_csv(reg / "institutions.csv", index=False, encoding="utf-8", lineterminator="\n")
    run.ctx.region.alliances.to_csv(
        reg / "alliance_memberships.csv", index=False, encoding="utf-8", lineterminator="\n"
    )


def _write_persons(run: GenerationRun, path: Path) -> None:
    r = run.ctx.region.res
    codes = run.ctx.codes
    counties = run.ctx.region.counties.county_code.to_numpy().astype(object)
    cols = {
        "patient_id_type": pa.array(r["id_type"], pa.string()),
        "patient_id_number": r["id_number_pa"],
        "patient_name": r["name_pa"],
        "sex_code": pa.array(r["sex"].astype(str), pa.string()),
        "birth_date": strftime(r["birth_pa"], "%Y-%m-%d"),
        "phone": r["phone_pa"],
        "residence_county_code": pa.array(counties[r["county"]], pa.string()),
        "home_institution_code": pa.array(codes[r["home_small"]], pa.string()),
        "home_centre_code": pa.array(codes[r["home_centre"]], pa.string()),
        "family_doctor_institution_code": pa.array(
            np.where(r["signed"], codes[np.maximum(r["contract_inst"], 0)], None), pa.string()
        ),
        "family_doctor_id": pa.array(np.where(r["signed"], r["doctor_id"], None), pa.string()),
    }
    for j, c in enumerate(CONDITIONS):
        cols[c] = pa.array(r["cond"][:, j].astype(np.int8))
    cols["hypertension_grade"] = pa.array(
        np.where(r["htn_grade"] > 0, r["htn_grade"].astype(str), None), pa.string()
    )
    pq.write_table(pa.table(cols), path, compression="zstd")


def _manifest(run: GenerationRun, scale: str, seed: int, extra: dict) -> dict:
    inst = run.ctx.region.institutions
    dirt = {}
    for kind, rate in run.params["dirt"].items():
        by = run.dirt_stats.get(kind, {})
        elig = sum(v[0] for v in by.values())
        appl = sum(v[1] for v in by.values())
        dirt[kind] = {
            "rate": rate,
            "eligible": elig,
            "applied": appl,
            "observed_rate": round(appl / elig, 6) if elig else None,
            "by_entity": {e: {"eligible": v[0], "applied": v[1]} for e, v in sorted(by.items())},
        }
    return {
        "generator_version": GENERATOR_VERSION,
        "scale": scale,
        "seed": seed,
        "period": run.params["period"],
        "params": run.params,
        "region": {
            "counties": run.ctx.region.counties[["county_code", "county_name", "kind"]].to_dict("records"),
            "institutions_by_type": {k: int(v) for k, v in sorted(inst.type_code.value_counts().items())},
            "institutions_by_source": {k: int(v) for k, v in sorted(inst.source_id.value_counts().items())},
            "alliances": int(run.ctx.region.alliances.alliance_id.nunique()),
            "residents": int(run.ctx.region.n_res),
        },
        "counts": {e: run.counts.get(e, {}) for e in ENTITY_ORDER},
        "dirt": dirt,
        "files": len(run.files),
        **extra,
    }


def _write_files_csv(run: GenerationRun, path: Path) -> None:
    fields = [
        "delivery",
        "source_id",
        "entity",
        "file_name",
        "path",
        "period",
        "rows",
        "size_bytes",
        "sha256",
        "dirt",
        "duplicate_of",
        "note",
    ]
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        for row in sorted(run.files, key=lambda r: (r["delivery"], r["source_id"], r["file_name"])):
            w.writerow(row)


def generate(out: Path | str, scale: str = "small", seed: int = 42, **overrides) -> dict:
    """Write a whole region-year under ``out`` (inbox/, later/, registry/, truth/) and return the
    manifest. ``overrides`` deep-merge into the scale's parameters (e.g. ``visits=5000``,
    ``dirt={"id_check_digit": 0.1}``, ``period={"months": 2}``)."""
    out = Path(out)
    for sub in ("inbox", "later", "registry", "truth"):
        if (out / sub).exists():
            shutil.rmtree(out / sub)
    run = _prepare(out, scale, seed, overrides, out / "truth" / "records")
    windows = _windows_of_period(run.params)
    wkeys = [w[0] for w in windows]
    last = wkeys[-1]
    second = wkeys[min(1, len(wkeys) - 1)]
    third = wkeys[min(2, len(wkeys) - 1)]
    run.plan = Plan(
        truncated=("his_a", "visits", last),
        unknown_column=("his_a", "visits", second),
        corrected_resend=("his_a", "visits", third) if third != second else ("his_a", "followups", third),
        duplicate_file=("his_b", "visits", second),
        unknown_source=("his_a", "visits", wkeys[0]),
    )
    _run_windows(run, windows, "inbox")
    # the next day's files, delivered later
    next_day = windows[-1][1] + windows[-1][2]
    nd = str(next_day).replace("-", "")
    _run_windows(run, [(nd, next_day, 1)], "later", count_stats=False)
    run.close()
    _write_registry(run)
    _write_persons(run, out / "truth" / "persons.parquet")
    _write_files_csv(run, out / "truth" / "files.csv")
    manifest = _manifest(run, scale, seed, {"later_day": str(next_day), "next_day": str(next_day + 1)})
    (out / "truth" / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True, default=str) + "\n",
        encoding="utf-8",
    )
    return manifest


def generate_day(out: Path | str, day: date | str, scale: str = "small", seed: int = 42, **overrides) -> dict:
    """One more day of files for the region of (scale, seed): ``out/inbox/<source>/<entity>_<YYYYMMDD>.<ext>``,
    truth under ``out/truth/days/<YYYYMMDD>/``. Leaves everything else in ``out`` alone."""
    out = Path(out)
    d = np.datetime64(str(day), "D")
    dkey = str(d).replace("-", "")
    tdir = out / "truth" / "days" / dkey
    if tdir.exists():
        shutil.rmtree(tdir)
    run = _prepare(out, scale, seed, overrides, tdir / "records")
    _run_windows(run, [(dkey, d, 1)], "inbox")
    run.close()
    _write_files_csv(run, tdir / "files.csv")
    manifest = _manifest(run, scale, seed, {"day": str(d)})
    (tdir / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True, default=str) + "\n",
        encoding="utf-8",
    )
    return manifest
