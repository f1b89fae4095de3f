"""The attribute rules of the diagnosis standardizer (``attributes.yaml``): hypertension grade and risk
tier, diabetes type, COPD GOLD grade read from a text or a code, the graded / typed codes they lead to,
and the consistency check a learned or fuzzy candidate must pass (every number and stated attribute
of the text agrees)."""

from __future__ import annotations

import re

from pipelines.standardize.terminology.normalize import match_key
from pipelines.standardize.terminology.pack import TerminologyPack, icd10_category

_DIGITS_RE = re.compile(r"\d+")


class AttributeRules:
    """Mixin of ``DiagnosisStandardizer``: the patterns of ``attributes.yaml`` and what they decide."""

    pack: TerminologyPack

    def _init_attribute_rules(self, pack: TerminologyPack) -> None:
        dm = pack.attributes["diabetes"]
        self._dm_type_res = [re.compile(p) for p in dm.get("type_patterns", [])]
        self._dm_typed_code = {str(k): v for k, v in (dm.get("typed_code") or {}).items()}
        self._dm_rest = {match_key(x) for x in dm.get("typed_rest", [])}
        self._dm_untyped_category = dm.get("untyped_category")
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
        self._stage_strip_re = re.compile(hyp.get("stage_strip_pattern") or r"(?!)")
        self._dm_types = sorted(attrs["diabetes"]["type_by_code_prefix"].items(), key=lambda kv: -len(kv[0]))
        copd = attrs["copd"]
        self._copd_categories = set(copd["categories"])
        self._copd_grade_res = [re.compile(p) for p in copd["grade_patterns"]]
        self._copd_severity_re = re.compile(copd["severity_pattern"])
        self._copd_severity = {k: int(v) for k, v in copd["severity_words"].items()}
        self._copd_strip_re = re.compile(copd["strip_pattern"])
        self._chronic = set(attrs["chronic_categories"])

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
