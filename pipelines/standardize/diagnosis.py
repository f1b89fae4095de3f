"""Diagnosis standardization: free text and foreign codes -> the terminology pack, with attributes.

Order of evidence for one field (first that places it wins; every step is data-driven, see
``standard/terminology/`` and ``standard/mappings/``):

1. ``manual``          reviewed mapping for the text (and code) written by the quality team
2. ``exact_code``      the code is in the pack (Beijing clinical v601)
   ``code_crosswalk``  a national-clinical / insurance / other code listed in ``code_crosswalk.csv``
   ``category_only``   a foreign code that can only be placed on its 3-character ICD-10 category
3. text, whole field first, then each diagnosis of a multi-diagnosis field:
   ``exact_name`` / ``normalized_name`` (NFKC, traditional, numerals, brackets) / ``synonym``
   (abbreviations) / ``learned`` (char n-gram retrieval over labelled CHIP-CDN examples, strict
   threshold) / ``fuzzy`` (rapidfuzz, strict threshold).

A wrong mapping is worse than none: learned and fuzzy matches must agree with every number and
attribute the text states (grade, diabetes type), and text that cannot be placed is reported
``unmapped``.
"""

from __future__ import annotations

import csv
import os
import re
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from rapidfuzz import fuzz, process

from pipelines.settings import STANDARD_DIR
from pipelines.standardize.terminology.normalize import match_key, normalize_text, split_diagnoses
from pipelines.standardize.terminology.pack import TerminologyPack, clean_code, icd10_category, is_morphology
from pipelines.standardize.terminology.structure import Structure

DEFAULT_REVIEWED_MAPPINGS = STANDARD_DIR / "mappings" / "reviewed_mappings.csv"
FUZZY_THRESHOLD = 92.0  # rapidfuzz ratio (0-100) a fuzzy match must reach
FUZZY_MAX_LEN = 24  # longer text is several words, not a misspelt name: no fuzzy match
_CONNECTOR_RE = re.compile(r"(?:合并|伴有|伴|并发|并|及|和)")
_DIGITS_RE = re.compile(r"\d+")
_RULE_METHODS = {"manual", "exact_name", "normalized_name", "synonym", "structured", "tumour_site"}
# confidence of a placement by a lookup that is exact by construction; learned placements carry the
# calibrated probability, rule placements the precision measured per method on the CHIP-CDN
# calibration part (``method_confidence`` in learned_model.json; these values when it is absent)
DEFAULT_METHOD_CONFIDENCE = {
    "manual": 1.0,
    "exact_code": 1.0,
    "code_crosswalk": 1.0,
    "category_only": 0.8,
    "exact_name": 0.95,
    "normalized_name": 0.95,
    "synonym": 0.9,
    "structured": 0.9,
    "tumour_site": 0.9,
    "fuzzy": 0.8,
}
MAX_SUGGESTIONS = 3
_PLAIN_RE = re.compile(r"[\s\W_]+")


@dataclass(frozen=True)
class Diagnosis:
    code: str
    name: str
    icd10_category: str | None
    hypertension_grade: int | None
    risk_tier: str | None  # 低危/中危/高危/很高危 where stated
    diabetes_type: str | None  # "1" / "2" / "gestational" / "other"
    copd_grade: int | None  # GOLD 1-4 where stated
    mapping_method: str
    source_text: str | None
    source_code: str | None
    code_system: str | None  # beijing_v601 / national_clinical_2.0 / insurance_2.0 / icd10 / unknown
    reviewed_by: str | None = None  # set for mapping_method == "manual"
    reviewed_at: str | None = None
    morphology_code: str | None = None  # ICD-O M-code of a tumour (M814000/3), never the diagnosis itself
    morphology_name: str | None = None
    qualifier: str | None = None  # suspected / history / post_operative (see qualifiers.csv)
    confidence: float = 1.0  # calibrated probability that the code is right (0-1)

    @property
    def grade(self) -> int | None:
        return self.hypertension_grade if self.hypertension_grade is not None else self.copd_grade

    def to_json(self) -> dict:
        out = {
            "code": self.code,
            "name": self.name,
            "icd10_category": self.icd10_category,
            "grade": self.grade,
            "hypertension_grade": self.hypertension_grade,
            "risk_tier": self.risk_tier,
            "diabetes_type": self.diabetes_type,
            "copd_grade": self.copd_grade,
            "mapping_method": self.mapping_method,
            "source_text": self.source_text,
            "source_code": self.source_code,
            "code_system": self.code_system,
            "morphology_code": self.morphology_code,
            "morphology_name": self.morphology_name,
            "qualifier": self.qualifier,
            "confidence": round(float(self.confidence), 3),
        }
        if self.mapping_method == "manual":
            out["reviewed_by"] = self.reviewed_by
            out["reviewed_at"] = self.reviewed_at
        return out


@dataclass(frozen=True)
class DiagnosisResult:
    input: str
    status: str  # "mapped" | "unmapped"
    diagnoses: list[Diagnosis]  # first = principal
    unmapped_parts: tuple[str, ...] = ()  # diagnoses in the field that could not be placed
    # up to three ranked {code, name, score} for an unmapped field (for the quality team's worklist)
    suggestions: tuple[dict, ...] = ()

    def to_json(self, internal: bool = False) -> dict:
        out = {
            "input": self.input,
            "status": self.status,
            "diagnoses": [d.to_json() for d in self.diagnoses],
        }
        if self.status == "unmapped" or (internal and self.suggestions):
            out["suggestions"] = [dict(s) for s in self.suggestions]
        if internal:
            out["unmapped_parts"] = list(self.unmapped_parts)
        return out

    @classmethod
    def from_json(cls, data: dict, pack=None, text=None, code=None) -> DiagnosisResult:
        """The inverse of ``to_json(internal=True)`` (the persistent cache stores that form)."""
        diagnoses = []
        for d in data["diagnoses"]:
            d = dict(d)
            d.pop("grade", None)
            diagnoses.append(Diagnosis(**d))
        label = text if text is not None else (code or data["input"])
        return cls(
            label,
            data["status"],
            diagnoses,
            tuple(data.get("unmapped_parts", ())),
            tuple(data.get("suggestions", ())),
        )


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


class DiagnosisStandardizer:
    """Maps (text, code) pairs to the terminology pack. Thread-safe for reading; results are cached."""

    _default_lock = threading.Lock()
    _defaults: dict[Path | None, DiagnosisStandardizer] = {}

    def __init__(
        self,
        pack: TerminologyPack,
        reviewed_mappings: Path | None = DEFAULT_REVIEWED_MAPPINGS,
        learned=None,
        fuzzy_threshold: float = FUZZY_THRESHOLD,
    ):
        self.pack = pack
        self.reviewed = load_reviewed_mappings(reviewed_mappings, pack) if reviewed_mappings else {}
        self.reviewed_digest = _file_digest(reviewed_mappings) if reviewed_mappings else "none"
        self.learned = learned
        self.fuzzy_threshold = fuzzy_threshold
        self.structure = Structure(pack)
        self.method_confidence = dict(DEFAULT_METHOD_CONFIDENCE)
        self.method_confidence.update(getattr(learned, "method_confidence", None) or {})
        dm = pack.attributes["diabetes"]
        self._dm_type_res = [re.compile(p) for p in dm.get("type_patterns", [])]
        self._dm_typed_code = {str(k): v for k, v in (dm.get("typed_code") or {}).items()}
        self._dm_rest = {match_key(x) for x in dm.get("typed_rest", [])}
        self._hyp_rest = {
            match_key(x)
            for x in pack.attributes["hypertension"].get("graded_rest", ["高血压", "原发性高血压"])
        }
        attrs = pack.attributes
        hyp = attrs["hypertension"]
        self._hyp_categories = set(hyp["categories"])
        self._hyp_grade_res = [re.compile(p) for p in hyp["grade_patterns"]]
        self._hyp_grade_codes = {k: int(v) for k, v in hyp["grade_codes"].items()}
        self._hyp_graded_code = {int(k): v for k, v in hyp["graded_code"].items()}
        self._risk_tiers = sorted(hyp["risk_tiers"].items(), key=lambda kv: -len(kv[0]))
        self._risk_strip_re = re.compile(hyp["risk_strip_pattern"])
        self._dm_types = sorted(attrs["diabetes"]["type_by_code_prefix"].items(), key=lambda kv: -len(kv[0]))
        copd = attrs["copd"]
        self._copd_categories = set(copd["categories"])
        self._copd_grade_res = [re.compile(p) for p in copd["grade_patterns"]]
        self._copd_severity_re = re.compile(copd["severity_pattern"])
        self._copd_severity = {k: int(v) for k, v in copd["severity_words"].items()}
        self._copd_strip_re = re.compile(copd["strip_pattern"])
        self._chronic = set(attrs["chronic_categories"])
        # fuzzy candidates sorted by length: ratio >= threshold bounds the length difference, so a
        # query only meets the slice of names of a compatible length
        self._fuzzy_keys = sorted(pack.name_index, key=len)
        self._fuzzy_len_start: dict[int, int] = {}
        for i, name_key in enumerate(self._fuzzy_keys):
            self._fuzzy_len_start.setdefault(len(name_key), i)
        self._cache: dict[tuple[str | None, str | None, bool], DiagnosisResult] = {}
        self._learned_cache: dict[str, list[tuple[str, str, float]]] = {}  # text -> (code, name, p)
        self.persistent = None  # a ResultCache (diagnosis_cache.py) when standardize_many should use one

    # ------------------------------------------------------------------ construction
    def use_persistent_cache(self, data_dir: Path | None = None) -> DiagnosisStandardizer:
        """Keep results across runs in ``<data dir>/cache/diagnosis_cache.sqlite`` (standardize_many)."""
        from pipelines.settings import paths
        from pipelines.standardize.terminology.cache import CACHE_FILE, ResultCache

        base = Path(data_dir) if data_dir else paths().data_dir
        self.persistent = ResultCache(base / "cache" / CACHE_FILE)
        return self

    @classmethod
    def default(cls, reviewed_mappings: Path | None = None) -> DiagnosisStandardizer:
        """The standardizer over the default pack (cached per reviewed-mappings path)."""
        key = Path(reviewed_mappings).resolve() if reviewed_mappings else None
        with cls._default_lock:
            if key not in cls._defaults:
                pack = TerminologyPack.load()
                from pipelines.standardize.terminology.learned import LearnedMatcher

                learned = LearnedMatcher.load_default(pack)
                std = cls(pack, reviewed_mappings=key or DEFAULT_REVIEWED_MAPPINGS, learned=learned)
                if os.environ.get("RW_DIAGNOSIS_CACHE", "on").lower() not in {"off", "0", "no"}:
                    try:  # results kept across runs in the data dir (RW_DIAGNOSIS_CACHE=off: never)
                        std.use_persistent_cache()
                    except (OSError, sqlite3.Error):
                        std.persistent = None
                cls._defaults[key] = std
            return cls._defaults[key]

    # ------------------------------------------------------------------ public API
    def standardize(
        self, text: str | None, code: str | None = None, best_guess: bool = False
    ) -> DiagnosisResult:
        """Safe mode (default): prefer ``unmapped`` to a wrong answer. ``best_guess``: add the learned
        matcher's tuned decision (the benchmark mode) for what the rules did not place."""
        text, code = _as_text(text), _as_text(code)
        key = (text, code, best_guess)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._standardize(text, code)
            if best_guess:
                hit = self._add_best_guess(hit, text)
            if len(self._cache) < 500_000:
                self._cache[key] = hit
        return hit

    def standardize_many(
        self, pairs: Iterable[tuple[str | None, str | None]], best_guess: bool = False
    ) -> list[DiagnosisResult]:
        pairs = list(pairs)
        if self.persistent is not None and not best_guess:
            return self.persistent.standardize_many(self, pairs)
        return [self.standardize(t, c, best_guess) for t, c in pairs]

    @property
    def version(self) -> str:
        """What a cached result depends on: pack, curated files, learned model, reviewed mappings."""
        parts = [self.pack.pack_id, self.pack.version, self.pack.curated_version]
        parts.append(getattr(self.learned, "model_digest", "") or "no-learned")
        parts.append(self.reviewed_digest)
        return "|".join(parts)

    # ------------------------------------------------------------------ attributes
    def hypertension_grade_in(self, normalized: str) -> int | None:
        grades = {int(m.group(1)) for r in self._hyp_grade_res for m in r.finditer(normalized)}
        return grades.pop() if len(grades) == 1 else None

    def risk_tier_in(self, normalized: str) -> str | None:
        for spelling, tier in self._risk_tiers:
            if spelling in normalized:
                return tier
        return None

    def copd_grade_in(self, normalized: str) -> int | None:
        grades = {int(m.group(1)) for r in self._copd_grade_res for m in r.finditer(normalized)}
        m = self._copd_severity_re.search(normalized)
        if m:
            grades.add(self._copd_severity[m.group(1)])
        return grades.pop() if len(grades) == 1 else None

    def diabetes_type_of(self, code: str) -> str | None:
        for prefix, dm_type in self._dm_types:
            if code.upper().startswith(prefix.upper()):
                return str(dm_type)
        return None

    def _diagnosis(
        self,
        code: str,
        method: str,
        source_text: str | None,
        source_code: str | None,
        code_system: str | None,
        normalized: str = "",
        reviewed: ReviewedMapping | None = None,
        confidence: float | None = None,
        morphology: str | None = None,
        crosswalk=None,
    ) -> Diagnosis:
        if is_morphology(code):  # never a diagnosis: callers convert; this is the last guard
            raise ValueError(f"morphology code {code} cannot be a diagnosis")
        category = icd10_category(code)
        hyp_grade = self._hyp_grade_codes.get(code)
        risk = None
        if category in self._hyp_categories:
            if hyp_grade is None and category != "I10":
                hyp_grade = self.hypertension_grade_in(normalized)
            risk = self.risk_tier_in(normalized)
        if crosswalk is not None:
            hyp_grade = crosswalk.hypertension_grade or hyp_grade
            risk = risk or crosswalk.risk_tier
        copd = self.copd_grade_in(normalized) if category in self._copd_categories else None
        if morphology and not (
            _is_neoplasm(category)
            and match_key(self.pack.names[morphology]) not in match_key(self.pack.names[code])
        ):
            morphology = (
                None  # only a tumour carries a morphology, and only one its name does not already say
            )
        if confidence is None:
            confidence = self.method_confidence.get(method, 0.5)
        return Diagnosis(
            code=code,
            name=self.pack.names[code],
            icd10_category=category,
            hypertension_grade=hyp_grade,
            risk_tier=risk,
            diabetes_type=self.diabetes_type_of(code),
            copd_grade=copd,
            mapping_method=method,
            source_text=source_text,
            source_code=source_code,
            code_system=code_system,
            reviewed_by=reviewed.reviewed_by if reviewed else None,
            reviewed_at=reviewed.reviewed_at if reviewed else None,
            morphology_code=morphology,
            morphology_name=self.pack.names[morphology] if morphology else None,
            confidence=float(confidence),
        )

    # ------------------------------------------------------------------ codes
    def _looks_like_code(self, value: str) -> bool:
        """A code written in the text field (``I10xx05``, ``E11.900``, ``I10.x00x002``)."""
        return self.pack.find_code(value) is not None or self.pack.code_system_of(value) != "unknown"

    def _from_code(self, code: str, text: str | None) -> Diagnosis | None:
        system = self.pack.code_system_of(code)
        found = self.pack.find_code(code)
        normalized = normalize_text(text) if text else ""
        if found and is_morphology(found):
            site = self.structure.tumour_site(normalized) if normalized else None
            if site is None:
                return None
            return self._diagnosis(site, "tumour_site", text, code, system, normalized, morphology=found)
        if found:
            return self._diagnosis(found, "exact_code", text, code, system, normalized)
        row = self.pack.crosswalk.get((system, clean_code(code)))
        if row:
            return self._diagnosis(
                row.target_code, "code_crosswalk", text, code, system, normalized, crosswalk=row
            )
        category = icd10_category(clean_code(code))
        if category and system != "unknown" and category in self.pack.names:
            return self._diagnosis(category, "category_only", text, code, system, normalized)
        return None

    # ------------------------------------------------------------------ text
    def _consistent(self, code: str, normalized: str) -> bool:
        """A learned/fuzzy candidate must agree with every number and stated attribute of the text."""
        name_key = match_key(self.pack.names[code])
        text_key = match_key(normalized)
        if set(_DIGITS_RE.findall(name_key)) != set(_DIGITS_RE.findall(text_key)):
            return False
        category = icd10_category(code)
        if category in self._chronic:
            grade = self.hypertension_grade_in(normalized)
            if grade is not None and self._hyp_grade_codes.get(code) != grade:
                return False
            dm = self.diabetes_type_of(code)
            stated = "1" if "1型" in text_key else "2" if "2型" in text_key else None
            if dm is not None and stated is not None and dm != stated:
                return False
            if stated is not None and category in {"E10", "E11", "E14"} and dm != stated:
                return False
        return True

    def _rule_code(self, raw: str, core: str) -> tuple[str | None, str | None]:
        """(code, method) by names, synonyms and the structured grade/type rules; (None, None)."""
        code = self.pack.find_name(core)
        if code:
            plain = _PLAIN_RE.sub("", raw.lower())
            exact = plain == _PLAIN_RE.sub("", self.pack.names[code].lower())
            return code, "exact_name" if exact else "normalized_name"
        expanded = self.pack.apply_synonyms(core)
        if expanded != core:
            code = self.pack.find_name(expanded)
            if code:
                return code, "synonym"
        code = self._graded_hypertension(expanded) or self._typed_diabetes(expanded)
        if code:
            return code, "structured"
        return None, None

    def _learned_scored(self, core: str) -> list[tuple[str | None, str, float]]:
        """(code or None, name, calibrated p) of the learned matcher's candidates, best first."""
        if self.learned is None:
            return []
        hit = self._learned_cache.get(core)
        if hit is None:
            hit = [(self.learned.name_code.get(n), n, p) for n, p in self.learned.score(core)]
            if len(self._learned_cache) < 200_000:
                self._learned_cache[core] = hit
        return hit

    def _match_part(self, raw: str, source_text: str, guess: bool = True) -> list[Diagnosis]:
        """Place one diagnosis text (a whole field or one part of it); [] when it cannot be placed.
        ``guess=False``: rules only (reviewed, names, synonyms, structure), no learned or fuzzy match."""
        normalized = normalize_text(raw)
        reviewed = self.reviewed.get((match_key(raw), ""))
        if reviewed:
            return [
                self._diagnosis(reviewed.target_code, "manual", source_text, None, None, normalized, reviewed)
            ]
        core = self._copd_strip_re.sub("", self._risk_strip_re.sub("", normalized)).strip() or normalized
        code, method = self._rule_code(raw, core)
        morph = self.structure.morphology_in(normalized)
        if code is not None and is_morphology(code):  # the text names a morphology: only an attribute
            morph, code, method = morph or code, None, None
        if code is None:
            site = self.structure.tumour_site(normalized)
            if site is not None:
                code, method = site, "tumour_site"
                # a confident learned term of the same site category is more specific (急性髓系白血病)
                code, method, confidence = self._refine_site(core, code)
                if method == "learned":
                    return [
                        self._diagnosis(
                            code,
                            method,
                            source_text,
                            None,
                            None,
                            normalized,
                            confidence=confidence,
                            morphology=morph,
                        )
                    ]
        if code is not None:
            code = self._refine_hypertension(code, normalized)
            return [self._diagnosis(code, method, source_text, None, None, normalized, morphology=morph)]
        if not guess:
            return []
        found: list[Diagnosis] = []
        threshold = getattr(self.learned, "production_threshold", 0.9)
        for cand, _name, p in self._learned_scored(core):
            if p < threshold:
                break
            if cand is None:
                continue
            if is_morphology(cand):
                morph = morph or cand
                continue
            # every learned code must agree with the numbers/attributes of the text it came from
            if self._consistent(cand, core):
                found.append(
                    self._diagnosis(cand, "learned", source_text, None, None, normalized, confidence=p)
                )
        if found:
            return _attach_morphology(self, found, morph)
        fuzzy = self._fuzzy(core, source_text, normalized)
        return [fuzzy] if fuzzy else []

    def _refine_site(self, core: str, site_code: str) -> tuple[str, str, float | None]:
        threshold = getattr(self.learned, "production_threshold", 0.9)
        category = icd10_category(site_code)
        for cand, _name, p in self._learned_scored(core):
            if p < threshold:
                break
            same_site = cand and not is_morphology(cand) and icd10_category(cand) == category
            if same_site and cand != site_code and self._consistent(cand, core):
                return cand, "learned", p
        return site_code, "tumour_site", None

    def suggestions_for(self, text: str, exclude: set[str] = frozenset()) -> tuple[dict, ...]:
        """Up to three ranked diagnosis codes (never a morphology code) for the quality team."""
        out: list[dict] = []
        core = normalize_text(text)
        for code, _name, p in self._learned_scored(core):
            if code is None or is_morphology(code) or code in exclude:
                continue
            if any(s["code"] == code for s in out):
                continue
            out.append({"code": code, "name": self.pack.names[code], "score": round(float(p), 3)})
            if len(out) == MAX_SUGGESTIONS:
                break
        return tuple(out)

    def _typed_diabetes(self, expanded: str) -> str | None:
        """糖尿病 with a stated type in any order/bracketing (糖尿病(2型), 2型-糖尿病) -> the typed code."""
        types = {m.group(1) for r in self._dm_type_res for m in r.finditer(expanded)}
        if len(types) != 1:
            return None
        dm_type = types.pop()
        rest = match_key(re.sub(r"[12]型", "", expanded))
        if rest in self._dm_rest:
            return self._dm_typed_code.get(dm_type)
        return None

    def _graded_hypertension(self, expanded: str) -> str | None:
        grade = self.hypertension_grade_in(expanded)
        if grade is None:
            return None
        rest = match_key(re.sub(r"[123](?:[级期]|$)", "", expanded))
        if rest in self._hyp_rest:
            return self._hyp_graded_code.get(grade)
        return None

    def _refine_hypertension(self, code: str, normalized: str) -> str:
        """`高血压` found, text also states the grade -> the graded code."""
        if icd10_category(code) == "I10" and self._hyp_grade_codes.get(code) is None:
            grade = self.hypertension_grade_in(normalized)
            if grade is not None and code in {"I10xx02", "I10xx11", "I10xx10", "I10", "I10.x"}:
                return self._hyp_graded_code.get(grade, code)
        return code

    def _fuzzy(self, core: str, source_text: str, normalized: str) -> Diagnosis | None:
        key = match_key(self.pack.apply_synonyms(core))
        if not 4 <= len(key) <= FUZZY_MAX_LEN:
            return None
        # ratio = 2*matches/(len_a+len_b)*100 >= t  requires  len_b in [len_a*t/(200-t), len_a*(200-t)/t]
        t = self.fuzzy_threshold
        lo, hi = int(len(key) * t / (200 - t)), int(len(key) * (200 - t) / t) + 1
        start = next(
            (self._fuzzy_len_start[n] for n in range(lo, hi + 1) if n in self._fuzzy_len_start), None
        )
        if start is None:
            return None
        end = next(
            (self._fuzzy_len_start[n] for n in range(hi + 1, hi + 200) if n in self._fuzzy_len_start),
            len(self._fuzzy_keys),
        )
        choices = self._fuzzy_keys[start:end]
        best = process.extractOne(key, choices, scorer=fuzz.ratio, score_cutoff=t)
        if not best:
            return None
        code = self.pack.name_index[best[0]]
        if is_morphology(code) or not self._consistent(code, core):
            return None
        return self._diagnosis(code, "fuzzy", source_text, None, None, normalized)

    def _from_text(self, text: str) -> tuple[list[Diagnosis], list[str]]:
        """Whole field by rules; else each part (qualifier read and removed first) by rules, then
        connector pieces by rules, then the part by learned/fuzzy matching. Qualified diagnoses
        (suspected, history, post-operative) come after the plain ones; ruled-out and denied ones are
        not diagnoses."""
        parts = split_diagnoses(normalize_text(text))
        whole_core, whole_q = self.structure.qualifier(text)
        if whole_q in self.structure.excluded:
            return [], []
        whole = self._match_part(whole_core if whole_q else text, text, guess=False)
        if whole:
            return [replace(d, qualifier=whole_q) for d in whole] if whole_q else whole, []
        found: list[Diagnosis] = []
        unmapped: list[str] = []
        for part in parts:
            core, qualifier = self.structure.qualifier(part)
            if qualifier in self.structure.excluded:
                continue
            source = part if len(parts) > 1 else text
            diags = self._match_part(core, source, guess=False)
            if not diags:
                pieces = [p for p in _CONNECTOR_RE.split(core) if p.strip()]
                if len(pieces) > 1:
                    sub = [self._match_part(p, source, guess=False) for p in pieces]
                    if all(sub):
                        diags = [d for ds in sub for d in ds]
            if not diags:
                diags = self._match_part(core, source)
            if diags:
                found.extend(replace(d, qualifier=qualifier) if qualifier else d for d in diags)
            else:
                unmapped.append(part)
        found.sort(key=lambda d: d.qualifier is not None)  # stable: plain diagnoses first
        return found, unmapped

    def _standardize(self, text: str | None, code: str | None) -> DiagnosisResult:
        text_in = text.strip() if text else ""
        code_in = code.strip() if code else ""
        label = text if text is not None else (code or "")
        if text_in and not code_in and self._looks_like_code(text_in):
            text_in, code_in = "", text_in
        if code_in:
            reviewed = self.reviewed.get((match_key(text_in) if text_in else "", clean_code(code_in)))
            if reviewed:
                system = self.pack.code_system_of(code_in)
                diag = self._diagnosis(
                    reviewed.target_code,
                    "manual",
                    text_in or None,
                    code_in,
                    system,
                    normalize_text(text_in),
                    reviewed,
                )
                return DiagnosisResult(label, "mapped", [diag])
        from_code = self._from_code(code_in, text_in or None) if code_in else None
        from_text, unmapped = self._from_text(text_in) if text_in else ([], [])
        diagnoses: list[Diagnosis] = []
        if from_code is not None:
            principal = from_code
            same = [d for d in from_text if d.icd10_category == from_code.icd10_category]
            # The text names a term of the code's category. It becomes the principal when the code
            # only gives the category, when the text is more specific, or when the text was placed by
            # rules and says something else (the same extension code means different diseases in
            # different code versions; what the doctor wrote is the safer evidence) - unless the code
            # carries a grade/type the text lacks.
            if same and same[0].code == from_code.code:
                principal = replace(from_code, risk_tier=from_code.risk_tier or same[0].risk_tier)
            elif same and (
                from_code.mapping_method == "category_only"
                or _less_specific(from_code, same[0])
                or (same[0].mapping_method in _RULE_METHODS and not _less_specific(same[0], from_code))
            ):
                principal = replace(same[0], source_code=code_in, code_system=from_code.code_system)
            diagnoses.append(principal)
            # the text's terms of the principal's category describe the same condition: not repeated
            from_text = [d for d in from_text if d.icd10_category != principal.icd10_category]
        diagnoses.extend(from_text)
        unique: list[Diagnosis] = []
        seen: set[str] = set()
        for d in diagnoses:
            if d.code not in seen:
                seen.add(d.code)
                unique.append(d)
        if not unique and code_in and not text_in:
            unmapped = [code_in]
        suggestions = self.suggestions_for(text_in) if not unique and text_in else ()
        return DiagnosisResult(
            label, "mapped" if unique else "unmapped", unique, tuple(unmapped), suggestions
        )

    def _add_best_guess(self, result: DiagnosisResult, text: str | None) -> DiagnosisResult:
        """Best-guess mode: the learned matcher's tuned decision on the whole text (benchmark mode:
        candidates at p >= threshold, else the best one at p >= fallback) in place of the text rules'
        placements; what the code field placed (exact code, crosswalk, reviewed) stays first. A
        morphology code in the decision goes onto the tumour diagnosis beside it, never on its own.
        With no usable decision (or a ruled-out/denied text) the safe result is returned."""
        if not text or not text.strip() or self.learned is None:
            return result
        if self.structure.qualifier(text)[1] in self.structure.excluded:
            return result
        threshold = getattr(self.learned, "benchmark_threshold", 0.5)
        fallback = getattr(self.learned, "benchmark_fallback", 0.3)
        normalized = normalize_text(text)
        scored = self._learned_scored(normalized)
        chosen = [(c, p) for c, _n, p in scored if p >= threshold]
        if not chosen and scored and scored[0][2] >= fallback:
            chosen = [(scored[0][0], scored[0][2])]
        from_code = [d for d in result.diagnoses if d.source_code is not None]
        have = {d.code for d in from_code}
        morph = next((c for c, _ in chosen if c and is_morphology(c)), None)
        extra = [
            self._diagnosis(c, "learned", text, None, None, normalized, confidence=p)
            for c, p in chosen
            if c and not is_morphology(c) and c not in have
        ]
        if not extra:
            return result
        diagnoses = _attach_morphology(self, from_code + extra, morph)
        return DiagnosisResult(result.input, "mapped", diagnoses, (), ())


def _as_text(value) -> str | None:
    """None, NaN/NA (pandas) -> None; anything else -> str."""
    if value is None or isinstance(value, str):
        return value
    try:
        if value != value:  # NaN
            return None
    except (TypeError, ValueError):  # pandas.NA compares ambiguously
        return None
    return str(value)


def _is_neoplasm(category: str | None) -> bool:
    """C00-D48: neoplasms, the diagnoses a morphology code can describe."""
    return bool(category) and (category[0] == "C" or (category[0] == "D" and category[1:3] <= "48"))


def _attach_morphology(
    std: DiagnosisStandardizer, diagnoses: list[Diagnosis], morph: str | None
) -> list[Diagnosis]:
    """Put a morphology code on the first tumour diagnosis that has none (never a diagnosis itself)."""
    if not morph:
        return diagnoses
    name = std.pack.names[morph]
    for i, d in enumerate(diagnoses):
        if _is_neoplasm(d.icd10_category) and d.morphology_code is None:
            if match_key(name) not in match_key(d.name):
                diagnoses[i] = replace(d, morphology_code=morph, morphology_name=name)
            break
    return diagnoses


def _file_digest(path) -> str:
    import hashlib

    p = Path(path)
    return hashlib.sha256(p.read_bytes()).hexdigest()[:16] if p.exists() else "absent"


def _less_specific(coded: Diagnosis, texted: Diagnosis) -> bool:
    """The code names a generic term of the category, the text a graded/typed one."""
    return (coded.hypertension_grade is None and texted.hypertension_grade is not None) or (
        coded.diabetes_type is None and texted.diabetes_type is not None
    )
