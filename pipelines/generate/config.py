"""Loading the generator's data files: parameters, vocabulary, diagnoses and their variants.

Nothing here is a Python literal of domain data: codes, names, rates and spellings come from
``params.yaml`` and ``data/*.{csv,yaml}``; diagnosis names come from the Beijing v601 terminology.
"""

from __future__ import annotations

import copy
import csv
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from pipelines.settings import SHARED_REFERENCE_DIR, STANDARD_DIR

HERE = Path(__file__).resolve().parent
PARAMS_PATH = HERE / "params.yaml"
DATA_DIR = HERE / "data"
TERMINOLOGY_FILE = "icd10_beijing_clinical_v601.csv"
CONDITIONS = ("hypertension", "diabetes", "copd", "af", "stroke", "chd")
DX_NAME_KINDS = ("dx_synonym", "dx_abbreviation", "dx_numeral", "dx_grade_risk_words")


@functools.cache
def entity_spec() -> dict:
    """``data/entities.yaml``: each entity's canonical columns, record key and period element, and
    which elements are dates and date-times (read once, when first needed)."""
    with (DATA_DIR / "entities.yaml").open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def entities() -> dict:
    return entity_spec()["entities"]


def date_elements() -> set[str]:
    return set(entity_spec()["date_elements"])


def deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in (override or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def load_params(scale: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The resolved parameters of a scale: defaults, then the scale section, then ``overrides``."""
    with PARAMS_PATH.open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    if scale not in raw["scales"]:
        raise ValueError(f"unknown scale {scale!r}; one of {sorted(raw['scales'])}")
    params = deep_merge(raw["defaults"], raw["scales"][scale])
    params["period"] = dict(raw["period"])
    params["params_version"] = raw["version"]
    params["scale"] = scale
    params = deep_merge(params, overrides or {})
    mult = float(params.get("dirt_multiplier", 1.0))
    params["dirt"] = {k: round(min(1.0, float(v) * mult), 6) for k, v in params["dirt"].items()}
    return params


def load_vocab() -> dict[str, Any]:
    with (DATA_DIR / "vocab.yaml").open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def terminology_path() -> Path:
    """The v601 terminology: a copy under standard/terminology/ wins over the shared reference."""
    for cand in (
        sorted((STANDARD_DIR / "terminology").glob("*v601*.csv"))
        if (STANDARD_DIR / "terminology").is_dir()
        else []
    ):
        return cand
    return SHARED_REFERENCE_DIR / TERMINOLOGY_FILE


def load_terminology(path: Path | None = None) -> dict[str, str]:
    path = path or terminology_path()
    with path.open(encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return {row["code"]: row["name"] for row in reader}


@dataclass(frozen=True)
class DxTable:
    """The diagnoses the generator draws, indexed 0..n-1, with their text variants."""

    code: np.ndarray  # str
    name: np.ndarray  # clean v601 name
    condition: np.ndarray  # hypertension/diabetes/.../acute
    grade: np.ndarray  # hypertension grade as str ('' otherwise)
    category: np.ndarray  # 3-character ICD-10 category
    op_weight: np.ndarray
    ip_weight: np.ndarray
    green_channel: np.ndarray  # bool
    foreign_code: np.ndarray
    department: np.ndarray
    variants: dict[str, list[list[str]]]  # kind -> per dx index list of variants

    def index(self, code: str) -> int:
        hits = np.flatnonzero(self.code == code)
        if len(hits) != 1:
            raise KeyError(code)
        return int(hits[0])


def load_dx_table(terminology: dict[str, str] | None = None) -> DxTable:
    terminology = terminology or load_terminology()
    with (DATA_DIR / "diagnoses.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    missing = [r["code"] for r in rows if r["code"] not in terminology]
    if missing:
        raise ValueError(f"diagnoses.csv codes not in the v601 terminology: {missing}")
    codes = [r["code"] for r in rows]
    pos = {c: i for i, c in enumerate(codes)}
    variants: dict[str, list[list[str]]] = {k: [[] for _ in rows] for k in DX_NAME_KINDS}
    with (DATA_DIR / "dx_variants.csv").open(encoding="utf-8") as fh:
        for v in csv.DictReader(fh):
            kind = "dx_" + v["kind"]
            if kind not in variants or v["code"] not in pos:
                raise ValueError(f"dx_variants.csv: bad row {v}")
            variants[kind][pos[v["code"]]].append(v["variant"])
    return DxTable(
        code=np.array(codes, dtype=object),
        name=np.array([terminology[c] for c in codes], dtype=object),
        condition=np.array([r["condition"] for r in rows], dtype=object),
        grade=np.array([r["grade"] for r in rows], dtype=object),
        category=np.array([r["category"] for r in rows], dtype=object),
        op_weight=np.array([float(r["op_weight"]) for r in rows]),
        ip_weight=np.array([float(r["ip_weight"]) for r in rows]),
        green_channel=np.array([r["green_channel"] == "1" for r in rows]),
        foreign_code=np.array([r["foreign_code"] for r in rows], dtype=object),
        department=np.array([r["department"] for r in rows], dtype=object),
        variants=variants,
    )
