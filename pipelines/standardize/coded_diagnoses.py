"""Diagnoses of the stage -> the diagnosis standardizer -> std.visit_diagnoses and the derived
diagnosis columns of std.<entity>.

Distinct (diagnosis_name, diagnosis_code) pairs go to the diagnosis standardizer
(pipelines.standardize.diagnosis) once; their outcomes are written per source into
std.value_outcomes; the principal diagnosis of each pair feeds the derived columns (DX_FIELDS).
Also ref.terminology from the standardizer's terminology pack.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipelines.contracts.standard import Standard
from pipelines.standardize import scrub
from pipelines.standardize.run_context import StandardizeRun

# derived column of std.<entity> (standard/derived_elements.csv) -> field of the principal diagnosis
DX_FIELDS = {
    "diagnosis_code_std": "code",
    "diagnosis_name_std": "name",
    "diagnosis_code_system": "code_system",
    "icd10_category": "icd10_category",
    "hypertension_grade": "hypertension_grade",
    "risk_tier": "risk_tier",
    "diabetes_type": "diabetes_type",
    "copd_grade": "copd_grade",
    "diagnosis_mapping_method": "mapping_method",
    "diagnosis_qualifier": "qualifier",
    "diagnosis_confidence": "confidence",
    "diagnosis_morphology_code": "morphology_code",
}
VISIT_DX_KEY = ("visit_id", "institution_code", "seq")


def visit_diagnosis_columns(std: Standard) -> list[tuple[str, str]]:
    """(column, SQL type) of std.visit_diagnoses after its key, as the standard declares them."""
    return [
        (e.element, e.sql_type)
        for e in std.elements
        if e.entity == "visit_diagnoses" and e.element not in VISIT_DX_KEY
    ]


def map_diagnoses(run: StandardizeRun, entity: str, stage: str) -> str | None:
    """Distinct (diagnosis_name, diagnosis_code) pairs -> the diagnosis standardizer. Returns the
    name of the pair table (key columns _dx_name, _dx_code + one row per diagnosis with seq)."""
    if run.diagnosis is None:
        return None
    con = run.con
    pairs = con.execute(
        f"SELECT diagnosis_name, diagnosis_code, count(*) AS n, string_agg(DISTINCT source_id, ',' ORDER BY source_id), "
        f"min(_received_at), max(_received_at) FROM {stage} "
        "WHERE diagnosis_name IS NOT NULL OR diagnosis_code IS NOT NULL GROUP BY ALL"
    ).fetchall()
    results = run.diagnosis.standardize_many([(p[0], p[1]) for p in pairs]) if pairs else []
    con.execute(
        f"INSERT INTO {run.value_outcomes} SELECT ?, 'diagnosis_name', source_id, NULL, NULL, 'missing', NULL, NULL, "
        f"count(*), min(_received_at), max(_received_at) FROM {stage} "
        "WHERE diagnosis_name IS NULL AND diagnosis_code IS NULL GROUP BY source_id",
        [entity],
    )
    rows: dict[str, list[Any]] = {
        c: []
        for c in ["_dx_name", "_dx_code", "seq"]
        + [c for c, _ in visit_diagnosis_columns(run.std)]
        + ["status"]
    }
    outcome_rows = []
    # the principal: first diagnosis that may be one (not a history, never a morphology code)
    from pipelines.standardize.terminology.structure import principal_index

    pick = getattr(run.diagnosis, "principal_index", None) or principal_index
    for (name, code, n, srcs, first, last), res in zip(pairs, results, strict=True):
        p_idx = pick(res.diagnoses)
        # a field naming only histories is mapped (its rows are in visit_diagnoses), with no principal
        method = res.diagnoses[p_idx or 0].mapping_method if res.diagnoses else None
        principal = res.diagnoses[p_idx].code if p_idx is not None else None
        status = "corrected" if res.status == "mapped" else "unmapped"
        for s in srcs.split(","):
            outcome_rows.append(
                (
                    entity,
                    "diagnosis_name",
                    s,
                    name if name is not None else code,
                    principal,
                    status,
                    scrub.with_rules(name, method if status == "corrected" else None),
                    None if status == "corrected" else "DIAGNOSIS_UNMAPPED",
                    n,
                    first,
                    last,
                )
            )
        for seq, d in enumerate(res.diagnoses, start=1):
            rows["_dx_name"].append(name)
            rows["_dx_code"].append(code)
            rows["seq"].append(seq)
            for c, _ in visit_diagnosis_columns(run.std):
                rows[c].append(seq - 1 == p_idx if c == "is_principal" else getattr(d, c, None))
            rows["status"].append(res.status)
    # per-source frequencies: split counts by source
    if outcome_rows:
        per_source = con.execute(
            f"SELECT diagnosis_name, diagnosis_code, source_id, count(*), min(_received_at), max(_received_at) "
            f"FROM {stage} WHERE diagnosis_name IS NOT NULL OR diagnosis_code IS NOT NULL GROUP BY ALL"
        ).fetchall()
        # count, first and last seen of each pair in each source (not across the sources)
        counts = {(a, b, s): (n, first, last) for a, b, s, n, first, last in per_source}
        fixed = []
        pair_keys = [(p[0], p[1]) for p in pairs for _ in p[3].split(",")]
        for key, row in zip(pair_keys, outcome_rows, strict=True):
            fixed.append((*row[:8], *counts[(key[0], key[1], row[2])]))
        schema = pa.schema(
            [
                ("entity", pa.string()),
                ("element", pa.string()),
                ("source_id", pa.string()),
                ("raw_value", pa.string()),
                ("normalized_value", pa.string()),
                ("outcome", pa.string()),
                ("rule", pa.string()),
                ("reason_code", pa.string()),
                ("n_rows", pa.int64()),
                ("first_seen", pa.timestamp("us")),
                ("last_seen", pa.timestamp("us")),
            ]
        )
        tbl = pa.Table.from_pylist([dict(zip(schema.names, r, strict=True)) for r in fixed], schema=schema)
        con.register("_std_dx_out", tbl)
        con.execute(f"INSERT INTO {run.value_outcomes} SELECT * FROM _std_dx_out")
        con.unregister("_std_dx_out")
    types = {
        "seq": pa.int32(),
        "hypertension_grade": pa.int32(),
        "copd_grade": pa.int32(),
        "confidence": pa.float64(),
        "is_principal": pa.bool_(),
    }
    schema = pa.schema([(c, types.get(c, pa.string())) for c in rows])
    table = f"_std_dx_{entity}"
    con.register("_std_dx_rows", pa.table(rows, schema=schema))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM _std_dx_rows")
    con.unregister("_std_dx_rows")
    return table


def load_terminology(con, diagnosis) -> int:
    """ref.terminology (code, name, icd10_category, code_system, pack_id, version) from the diagnosis
    standardizer's terminology pack; an empty, typed table when there is none."""
    from pipelines.standardize.terminology.pack import icd10_category

    pack = getattr(diagnosis, "pack", None)
    names = getattr(pack, "names", None) or {}
    codes = list(names)
    table = pa.table(
        {
            "code": pa.array(codes, pa.string()),
            "name": pa.array([names[c] for c in codes], pa.string()),
            "icd10_category": pa.array([icd10_category(c) or None for c in codes], pa.string()),
            "code_system": pa.array([getattr(pack, "code_system", None)] * len(codes), pa.string()),
            "pack_id": pa.array([getattr(pack, "pack_id", None)] * len(codes), pa.string()),
            "version": pa.array([getattr(pack, "version", None)] * len(codes), pa.string()),
        }
    )
    con.execute("CREATE SCHEMA IF NOT EXISTS ref")
    con.register("_std_terms", table)
    con.execute("CREATE OR REPLACE TABLE ref.terminology AS SELECT * FROM _std_terms")
    con.unregister("_std_terms")
    return len(codes)


def default_diagnosis(log, cache_dir: Path | None = None):
    """The real diagnosis standardizer; ``cache_dir`` (the run's ``<data dir>/cache``) keeps its results
    across runs, None caches nothing."""
    try:
        from pipelines.standardize.diagnosis import DiagnosisStandardizer
    except ImportError as exc:  # the diagnosis module is another part of the project
        log(f"standardize: diagnosis standardizer unavailable ({exc}); diagnosis columns stay empty")
        return None
    return DiagnosisStandardizer.default(cache_dir=cache_dir)


def terminology_version(diagnosis: Any) -> str:
    """The pack (id@version) and a digest of everything else a diagnosis result depends on (the
    standardizer's ``version()``: matching logic, curated files, learned model, reviewed mappings),
    so that a reviewed mapping the quality team adds, or new matching rules, re-map the rows already
    standardized (a full run) instead of only the next files."""
    pack = getattr(diagnosis, "pack", None) if diagnosis is not None else None
    if diagnosis is None:
        return "none"
    out = f"{getattr(pack, 'pack_id', None)}@{getattr(pack, 'version', None)}"
    version = getattr(diagnosis, "version", None)
    if callable(version):
        out += "+" + hashlib.sha256(version().encode("utf-8")).hexdigest()[:12]
    return out
