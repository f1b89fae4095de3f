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
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from rapidfuzz import fuzz, process

from pipelines.settings import STANDARD_DIR
from pipelines.standardize.terminology.normalize import match_key, normalize_text, split_diagnoses
from pipelines.standardize.terminology.pack import TerminologyPack, clean_code, icd10_category

DEFAULT_REVIEWED_MAPPINGS = STANDARD_DIR / "mappings" / "reviewed_mappings.csv"
FUZZY_THRESHOLD = 92.0  # rapidfuzz ratio (0-100) a fuzzy match must reach
FUZZY_MAX_LEN = 24  # longer text is several words, not a misspelt name: no fuzzy match
_CONNECTOR_RE = re.compile(r"(?:合并|伴有|伴|并发|并|及|和)")
_DIGITS_RE = re.compile(r"\d+")
_RULE_METHODS = {"manual", "exact_name", "normalized_name", "synonym"}
_PLAIN_RE = re.compile(r"[\s\W_]+")


@dataclass(frozen=True)
class Diagnosis:
    code: str
    name: str
    icd10_category: str
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

    def to_json(self) -> dict:
        return {
            "input": self.input,
            "status": self.status,
            "diagnoses": [d.to_json() for d in self.diagnoses],
        }


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
        self.learned = learned
        self.fuzzy_threshold = fuzzy_threshold
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
        self._cache: dict[tuple[str | None, str | None], DiagnosisResult] = {}
        self._learned_cache: dict[str, list[str]] = {}  # one diagnosis text -> learned codes

    # ------------------------------------------------------------------ construction
    @classmethod
    def default(cls, reviewed_mappings: Path | None = None) -> DiagnosisStandardizer:
        """The standardizer over the default pack (cached per reviewed-mappings path)."""
        key = Path(reviewed_mappings).resolve() if reviewed_mappings else None
        with cls._default_lock:
            if key not in cls._defaults:
                pack = TerminologyPack.load()
                from pipelines.standardize.terminology.learned import LearnedMatcher

                learned = LearnedMatcher.load_default(pack)
                cls._defaults[key] = cls(
                    pack, reviewed_mappings=key or DEFAULT_REVIEWED_MAPPINGS, learned=learned
                )
            return cls._defaults[key]

    # ------------------------------------------------------------------ public API
    def standardize(self, text: str | None, code: str | None = None) -> DiagnosisResult:
        text, code = _as_text(text), _as_text(code)
        key = (text, code)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._standardize(text, code)
            if len(self._cache) < 500_000:
                self._cache[key] = hit
        return hit

    def standardize_many(self, pairs: Iterable[tuple[str | None, str | None]]) -> list[DiagnosisResult]:
        return [self.standardize(t, c) for t, c in pairs]

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
    ) -> Diagnosis:
        category = icd10_category(code)
        hyp_grade = self._hyp_grade_codes.get(code)
        risk = None
        if category in self._hyp_categories:
            if hyp_grade is None and category != "I10":
                hyp_grade = self.hypertension_grade_in(normalized)
            risk = self.risk_tier_in(normalized)
        copd = self.copd_grade_in(normalized) if category in self._copd_categories else None
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
        )

    # ------------------------------------------------------------------ codes
    def _looks_like_code(self, value: str) -> bool:
        """A code written in the text field (``I10xx05``, ``E11.900``, ``I10.x00x002``)."""
        return self.pack.find_code(value) is not None or self.pack.code_system_of(value) != "unknown"

    def _from_code(self, code: str, text: str | None) -> Diagnosis | None:
        system = self.pack.code_system_of(code)
        found = self.pack.find_code(code)
        normalized = normalize_text(text) if text else ""
        if found:
            return self._diagnosis(found, "exact_code", text, code, system, normalized)
        row = self.pack.crosswalk.get((system, clean_code(code)))
        if row:
            return self._diagnosis(row.target_code, "code_crosswalk", text, code, system, normalized)
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

    def _match_part(self, raw: str, source_text: str, guess: bool = True) -> list[Diagnosis]:
        """Place one diagnosis text (a whole field or one part of it); [] when it cannot be placed.
        ``guess=False``: rules only (reviewed, names, synonyms), no learned or fuzzy match."""
        normalized = normalize_text(raw)
        reviewed = self.reviewed.get((match_key(raw), ""))
        if reviewed:
            return [
                self._diagnosis(reviewed.target_code, "manual", source_text, None, None, normalized, reviewed)
            ]
        core = self._copd_strip_re.sub("", self._risk_strip_re.sub("", normalized)).strip() or normalized
        code = self.pack.find_name(core)
        method = None
        if code:
            plain = _PLAIN_RE.sub("", raw.lower())
            method = (
                "exact_name"
                if plain == _PLAIN_RE.sub("", self.pack.names[code].lower())
                else "normalized_name"
            )
        else:
            expanded = self.pack.apply_synonyms(core)
            if expanded != core:
                code = self.pack.find_name(expanded)
            if code is None:
                code = self._graded_hypertension(expanded)
            method = "synonym" if code else None
        if code is not None:
            code = self._refine_hypertension(code, normalized)
            return [self._diagnosis(code, method, source_text, None, None, normalized)]
        if not guess:
            return []
        if self.learned is not None:
            found = []
            candidates = self._learned_cache.get(core)
            if candidates is None:
                candidates = self._learned_cache[core] = self.learned.candidates(core)
            for candidate in candidates:
                # every learned code must agree with the numbers/attributes of the text it came from
                if self._consistent(candidate, core):
                    found.append(self._diagnosis(candidate, "learned", source_text, None, None, normalized))
            if found:
                return found
        fuzzy = self._fuzzy(core, source_text, normalized)
        return [fuzzy] if fuzzy else []

    def _graded_hypertension(self, expanded: str) -> str | None:
        grade = self.hypertension_grade_in(expanded)
        if grade is None:
            return None
        rest = match_key(re.sub(r"[123](?:[级期]|$)", "", expanded))
        if rest in {"高血压", "原发性高血压", "特发性高血压"}:
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
        if not self._consistent(code, core):
            return None
        return self._diagnosis(code, "fuzzy", source_text, None, None, normalized)

    def _from_text(self, text: str) -> tuple[list[Diagnosis], list[str]]:
        """Whole field by rules; else each part by rules, then connector pieces by rules, then the
        part by learned/fuzzy matching."""
        parts = split_diagnoses(normalize_text(text))
        whole = self._match_part(text, text, guess=False)
        if whole:
            return whole, []
        found: list[Diagnosis] = []
        unmapped: list[str] = []
        for part in parts:
            diags = self._match_part(part, part, guess=False)
            if not diags:
                pieces = [p for p in _CONNECTOR_RE.split(part) if p.strip()]
                if len(pieces) > 1:
                    sub = [self._match_part(p, p, guess=False) for p in pieces]
                    if all(sub):
                        diags = [d for ds in sub for d in ds]
            if not diags:
                diags = self._match_part(part, part if len(parts) > 1 else text)
            if diags:
                found.extend(diags)
            else:
                unmapped.append(part)
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
        return DiagnosisResult(label, "mapped" if unique else "unmapped", unique, tuple(unmapped))


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


def _less_specific(coded: Diagnosis, texted: Diagnosis) -> bool:
    """The code names a generic term of the category, the text a graded/typed one."""
    return (coded.hypertension_grade is None and texted.hypertension_grade is not None) or (
        coded.diabetes_type is None and texted.diabetes_type is not None
    )
