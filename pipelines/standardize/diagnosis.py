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

import re
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from pipelines.standardize.terminology.attribute_rules import AttributeRules
from pipelines.standardize.terminology.guessing import (
    FUZZY_THRESHOLD,
    Guessing,
    attach_morphology,
    in_reading_order,
    is_neoplasm,
)
from pipelines.standardize.terminology.normalize import match_key, normalize_text, split_diagnoses
from pipelines.standardize.terminology.pack import TerminologyPack, clean_code, icd10_category, is_morphology
from pipelines.standardize.terminology.results import Diagnosis, DiagnosisResult, _as_text
from pipelines.standardize.terminology.reviewed import (
    DEFAULT_REVIEWED_MAPPINGS,
    ReviewedMapping,
    append_reviewed_mapping,
    file_digest,
    load_reviewed_mappings,
)
from pipelines.standardize.terminology.structure import Structure, principal_index
from pipelines.standardize.terminology.text_forms import TextForms

# the public names of the standardizer (importable from here as before the split into modules)
__all__ = [
    "DEFAULT_REVIEWED_MAPPINGS",
    "Diagnosis",
    "DiagnosisResult",
    "DiagnosisStandardizer",
    "append_reviewed_mapping",
    "load_reviewed_mappings",
]

_CONNECTOR_RE = re.compile(r"(?:合并|伴有|伴|并发|并|及|和)")
# a modifier written in brackets after its condition: 房颤(阵发性) is 阵发性房颤
_BRACKETED_MODIFIER_RE = re.compile(r"^(.+?)\(([^()]{1,6}[性型])\)$")
# bumped with every change of the matching logic, so results cached by an earlier logic are not reused
MATCHER_VERSION = "2026.12-4"
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
_PLAIN_RE = re.compile(r"[\s\W_]+")


class DiagnosisStandardizer(AttributeRules, Guessing, TextForms):
    """Maps (text, code) pairs to the terminology pack. Thread-safe for reading; results are cached."""

    _default_lock = threading.Lock()
    _defaults: dict[tuple[Path | None, Path | None], DiagnosisStandardizer] = {}

    def __init__(
        self,
        pack: TerminologyPack,
        reviewed_mappings: Path | None = DEFAULT_REVIEWED_MAPPINGS,
        learned=None,
        fuzzy_threshold: float = FUZZY_THRESHOLD,
    ):
        self.pack = pack
        self.reviewed = load_reviewed_mappings(reviewed_mappings, pack) if reviewed_mappings else {}
        self.reviewed_digest = file_digest(reviewed_mappings) if reviewed_mappings else "none"
        self.learned = learned
        self.fuzzy_threshold = fuzzy_threshold
        self.structure = Structure(pack)
        self.method_confidence = dict(DEFAULT_METHOD_CONFIDENCE)
        self.method_confidence.update(getattr(learned, "method_confidence", None) or {})
        self._init_attribute_rules(pack)
        # fuzzy candidates sorted by length: ratio >= threshold bounds the length difference, so a
        # query only meets the slice of names of a compatible length
        self._fuzzy_keys = sorted(pack.name_index, key=len)
        # attributes.yaml: what a fuzzy match may add or drop; generic complications after a connector
        self._fuzzy_neutral = frozenset(pack.attributes.get("fuzzy_neutral_characters", ""))
        self._complication_keys = frozenset(
            match_key(w) for w in pack.attributes.get("complication_words") or ()
        )
        self._fuzzy_len_start: dict[int, int] = {}
        for i, name_key in enumerate(self._fuzzy_keys):
            self._fuzzy_len_start.setdefault(len(name_key), i)
        self._cache: dict[tuple[str | None, str | None, bool], DiagnosisResult] = {}
        self._learned_cache: dict[str, list[tuple[str, str, float]]] = {}  # text -> (code, name, p)
        self.persistent = None  # a ResultCache (diagnosis_cache.py) when standardize_many should use one

    # ------------------------------------------------------------------ construction
    def use_persistent_cache(self, cache_dir: Path) -> DiagnosisStandardizer:
        """Keep results across runs in ``<cache_dir>/diagnosis_cache.sqlite`` (standardize_many)."""
        from pipelines.standardize.terminology.cache import CACHE_FILE, ResultCache

        self.persistent = ResultCache(Path(cache_dir) / CACHE_FILE)
        return self

    @classmethod
    def default(
        cls, reviewed_mappings: Path | None = None, cache_dir: Path | None = None
    ) -> DiagnosisStandardizer:
        """The standardizer over the default pack (cached per reviewed-mappings path and cache dir).
        ``cache_dir``: keep results across runs there (the warehouse passes ``<data dir>/cache``);
        None: no persistent cache."""
        key = (
            Path(reviewed_mappings).resolve() if reviewed_mappings else None,
            Path(cache_dir).resolve() if cache_dir else None,
        )
        with cls._default_lock:
            if key not in cls._defaults:
                pack = TerminologyPack.load()
                from pipelines.standardize.terminology.learned import LearnedMatcher

                learned = LearnedMatcher.load_default(pack)
                std = cls(pack, reviewed_mappings=key[0] or DEFAULT_REVIEWED_MAPPINGS, learned=learned)
                if cache_dir is not None:
                    try:
                        std.use_persistent_cache(cache_dir)
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

    def principal_index(self, diagnoses) -> int | None:
        """Index of the field's principal diagnosis (docs/diagnosis.md "The principal diagnosis"):
        the first that is not a history (``qualifiers.csv`` may_be_principal) and not a morphology
        code; a suspected or post-operative one may be principal, its qualifier flagged beside it."""
        return principal_index(diagnoses, self.structure.not_principal)

    def standardize_many(
        self, pairs: Iterable[tuple[str | None, str | None]], best_guess: bool = False
    ) -> list[DiagnosisResult]:
        pairs = list(pairs)
        if self.persistent is not None and not best_guess:
            return self.persistent.standardize_many(self, pairs)
        return [self.standardize(t, c, best_guess) for t, c in pairs]

    @property
    def version(self) -> str:
        """What a cached result depends on: the matching logic, pack, curated files, learned model,
        reviewed mappings."""
        parts = [MATCHER_VERSION, self.pack.pack_id, self.pack.version, self.pack.curated_version]
        parts.append(getattr(self.learned, "model_digest", "") or "no-learned")
        parts.append(self.reviewed_digest)
        return "|".join(parts)

    # ------------------------------------------------------------------ attributes

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
        if source_code is None and reviewed is None:
            code = self.pack.codable(code)  # a category read from text -> its unspecified subdivision
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
            is_neoplasm(category)
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
        m = _BRACKETED_MODIFIER_RE.match(core)
        if m:
            code, method = self._rule_code(raw, m.group(2) + m.group(1))
            if code:
                return code, method if method == "structured" else "normalized_name"
        return None, None

    def _match_part(self, raw: str, source_text: str, guess: bool = True) -> list[Diagnosis]:
        """Place one diagnosis text (a whole field or one part of it); [] when it cannot be placed.
        ``guess=False``: rules only (reviewed, names, synonyms, structure), no learned or fuzzy match."""
        normalized = normalize_text(raw)
        reviewed = self.reviewed.get((match_key(raw), ""))
        if reviewed:
            return [
                self._diagnosis(reviewed.target_code, "manual", source_text, None, None, normalized, reviewed)
            ]
        # risk / stage / GOLD wording is read, then removed before matching - unless the text is a
        # name as written (高危妊娠监督, 唐氏高危: the risk is the diagnosis)
        stripped = self._stage_strip_re.sub("", self._risk_strip_re.sub("", normalized))
        core = self._copd_strip_re.sub("", stripped).strip() or normalized
        if core != normalized and self.pack.find_name(normalized):
            core = normalized
        code, method = self._rule_code(raw, core)
        morph = self.structure.morphology_in(normalized)
        if code is not None and is_morphology(code):  # the text names a morphology: only an attribute
            morph, code, method = morph or code, None, None
        if code is None:
            site = self.structure.tumour_site(normalized)
            if site is not None:
                code, method = site, "tumour_site"
        if code is not None:
            code = self._refine_hypertension(code, normalized)
            # a confident learned term of the same category is more specific (急性髓系白血病 for 白血病)
            code, method, confidence = self._refine_in_category(core, code, method)
            return [
                self._diagnosis(
                    code, method, source_text, None, None, normalized, confidence=confidence, morphology=morph
                )
            ]
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
            return attach_morphology(self, found, morph)
        fuzzy = self._fuzzy(core, source_text, normalized)
        return [fuzzy] if fuzzy else []

    def _from_text(self, text: str) -> tuple[list[Diagnosis], list[str]]:
        """Whole field by rules; else each part (qualifier read and removed first) by rules, then
        connector pieces by rules, then the part by learned/fuzzy matching. Qualified diagnoses
        (suspected, history, post-operative) come after the plain ones; ruled-out and denied ones are
        not diagnoses."""
        parts = self._latin_phrases(split_diagnoses(normalize_text(text)))
        whole_core, whole_q = self.structure.qualifier(text)
        if whole_q in self.structure.excluded:
            return [], []
        whole = self._match_part(whole_core if whole_q else text, text, guess=False)
        if len(parts) > 1 and any(d.mapping_method == "tumour_site" for d in whole):
            whole = []  # a site word in a field of several diagnoses names one of them, not the field
        if whole:
            whole = [replace(d, qualifier=whole_q) for d in whole] if whole_q else whole
            if all(d.icd10_category in self._chronic for d in whole):
                return whole, []  # a chronic condition placed whole by its curated rules: the fast path
            return self._whole_text_learned(text, whole, []), []
        found: list[Diagnosis] = []
        unmapped: list[str] = []
        for part in parts:
            core, qualifier = self.structure.qualifier(part)
            if qualifier in self.structure.excluded:
                continue
            source = part if len(parts) > 1 else text
            diags = self._match_part(core, source, guess=False)
            unplaced: list[str] = [part]
            if not diags:
                pieces = [p for p in _CONNECTOR_RE.split(core) if p.strip()]
                combined = self._combination(pieces)
                if combined:
                    diags = [
                        self._diagnosis(combined, "normalized_name", source, None, None, normalize_text(core))
                    ]
                sub = [
                    [] if self._is_complication(p) else self._match_part(p, source, guess=False)
                    for p in (pieces if len(pieces) > 1 and not combined else [])
                ]
                if sub and all(sub):
                    diags = [d for ds in sub for d in ds]
                if not diags:
                    diags = self._match_part(core, source)
                if not diags and any(sub):
                    # 2型糖尿病伴周围神经病变: the condition the rules place is kept, the rest is unmapped
                    diags = [d for ds in sub for d in ds]
                    unplaced = [p for p, ds in zip(pieces, sub, strict=True) if not ds]
            if diags:
                found.extend(replace(d, qualifier=qualifier) if qualifier else d for d in diags)
                if unplaced != [part]:
                    unmapped.extend(unplaced)
            else:
                unmapped.append(part)
        found = self._whole_text_learned(text, found, unmapped)
        if any(self._is_complication(p) for part in parts for p in _CONNECTOR_RE.split(part)[1:]):
            # 足部软组织损伤伴感染: a learned 感染 alone is not a diagnosis beside 足软组织感染
            found = [d for d in found if not self._is_complication(d.name)]
        return in_reading_order(found), unmapped

    def _standardize(self, text: str | None, code: str | None) -> DiagnosisResult:
        text_in = text.strip() if text else ""
        code_in = code.strip() if code else ""
        label = text if text is not None else (code or "")
        if text_in and not code_in and self._looks_like_code(text_in):
            text_in, code_in = "", text_in
        elif text_in and not code_in:
            text_in, code_in = self._embedded_code(text_in)
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
        if (
            from_code is not None
            and text_in
            and from_code.icd10_category in self._excluded_categories(text_in)
        ):
            # the code says I10, the text 否认高血压: contradictory evidence is a question for the
            # quality team, not a diagnosis
            return DiagnosisResult(label, "unmapped", [], (text_in,), self.suggestions_for(text_in))
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
            if same and same[0].qualifier and principal.qualifier is None:
                # 高血压病史 with I10xx02: the code names the condition, the text says it is a history
                principal = replace(principal, qualifier=same[0].qualifier)
            diagnoses.append(principal)
            # the text's terms of the principal's category describe the same condition: not repeated;
            # nor does a diabetes with no type beside a typed one (糖尿病 + E11.900)
            same_condition = {principal.icd10_category}
            if principal.diabetes_type is not None:
                same_condition.add(self._dm_untyped_category)
            from_text = [d for d in from_text if d.icd10_category not in same_condition]
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


def _less_specific(coded: Diagnosis, texted: Diagnosis) -> bool:
    """The code names a generic term of the category, the text a graded/typed one."""
    return (coded.hypertension_grade is None and texted.hypertension_grade is not None) or (
        coded.diabetes_type is None and texted.diabetes_type is not None
    )
