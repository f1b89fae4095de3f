"""The guessing steps of the diagnosis standardizer: the learned matcher (calibrated candidates, the
safe threshold, a tumour site refined by a more specific learned term, the best-guess decision, the
worklist's suggestions) and the strict fuzzy match. Never a morphology code as a diagnosis: a
morphology found here goes onto the tumour diagnosis beside it."""

from __future__ import annotations

from dataclasses import replace
from difflib import SequenceMatcher

from rapidfuzz import fuzz, process

from pipelines.standardize.terminology.normalize import match_key, normalize_text, split_diagnoses
from pipelines.standardize.terminology.pack import icd10_category, is_morphology
from pipelines.standardize.terminology.results import Diagnosis, DiagnosisResult

FUZZY_THRESHOLD = 92.0  # rapidfuzz ratio (0-100) a fuzzy match must reach
FUZZY_MAX_LEN = 24  # longer text is several words, not a misspelt name: no fuzzy match
MAX_SUGGESTIONS = 3
# placements by a term's own name or a reviewed mapping: the text they come from is that term, whole
NAMED_WHOLE_METHODS = frozenset({"manual", "exact_name", "normalized_name"})


class Guessing:
    """Mixin of ``DiagnosisStandardizer``: what needs the learned matcher or fuzzy matching."""

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

    def _refine_in_category(self, core: str, code: str, method: str) -> tuple[str, str, float | None]:
        """A rule placement (a tumour site, a name) refined by the learned matcher's best diagnosis
        when that is another term of the same 3-character category and more likely right than the
        rule (its calibrated probability >= the rule method's measured precision): 急性髓系白血病 for
        a 白血病 site, 盘状狼疮 for 盘状红斑狼疮. Same category, so the warehouse's counts do not
        change. Chronic-condition categories keep their curated rules (grade / type codes)."""
        category = icd10_category(code)
        if self.learned is None or category in self._chronic:
            return code, method, None
        bar = min(getattr(self.learned, "production_threshold", 0.9), self.method_confidence.get(method, 1.0))
        for cand, _name, p in self._learned_scored(core):
            if cand is None or is_morphology(cand):
                continue
            if (
                p >= bar
                and cand != code
                and icd10_category(cand) == category
                and self._consistent(cand, core)
            ):
                return cand, "learned", p
            break  # only the best diagnosis candidate may refine the rule's placement
        return code, method, None

    def _whole_text_learned(self, text: str, found: list[Diagnosis], unmapped: list[str]) -> list[Diagnosis]:
        """The learned matcher on the whole field (as it was trained and calibrated: a whole
        CHIP-CDN text, often several diagnoses) adds its candidates at p >= the safe threshold whose
        category no diagnosis found so far has (another condition, not a variant of one already
        placed). Each is checked against the part of the field it names best (by partial ratio):
        that part's qualifier goes with it, a ruled-out / denied part gives nothing, and it must
        agree with that part's numbers and attributes. A part it covers leaves ``unmapped``."""
        if self.learned is None:
            return found
        threshold = getattr(self.learned, "production_threshold", 0.9)
        scored = self._learned_scored(normalize_text(text))
        if not scored or scored[0][2] < threshold:
            return found
        parts = self._parsed_parts(text)
        categories = {d.icd10_category for d in found}
        # a part that is, word for word, the name of a term (or a reviewed mapping) is explained
        # whole: the learned matcher adds nothing there (妊娠期高血压 is O13, not also I10)
        named = {
            match_key(self.structure.qualifier(normalize_text(d.source_text))[0])
            for d in found
            if d.mapping_method in NAMED_WHOLE_METHODS and d.source_text
        }
        out = list(found)
        for code, name, p in scored:
            if p < threshold:
                break
            if code is None or is_morphology(code) or icd10_category(code) in categories:
                continue
            part, core, qualifier, part_key = self._part_naming(parts, name)
            if qualifier in self.structure.excluded or not self._consistent(code, core) or part_key in named:
                continue
            d = self._diagnosis(code, "learned", part, None, None, normalize_text(core), confidence=p)
            out.append(replace(d, qualifier=qualifier) if qualifier else d)
            categories.add(d.icd10_category)
            if part in unmapped:
                unmapped.remove(part)
        return out

    def _parsed_parts(self, text: str) -> list[tuple[str, str, str | None, str]]:
        """(part, core, qualifier, match key of the core) for each diagnosis of the field."""
        parts = []
        for part in split_diagnoses(normalize_text(text)) or [text]:
            core, qualifier = self.structure.qualifier(part)
            parts.append((part, core, qualifier, match_key(core)))
        return parts

    @staticmethod
    def _part_naming(parts, name: str):
        """The part of the field a term's name matches best (partial ratio)."""
        key = match_key(name)
        return max(parts, key=lambda x: fuzz.partial_ratio(key, x[3]))

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
        if is_morphology(code) or not self._consistent(code, core) or not self._spelling_only(key, best[0]):
            return None
        return self._diagnosis(code, "fuzzy", source_text, None, None, normalized)

    def _spelling_only(self, key: str, name_key: str) -> bool:
        """Every character the fuzzy match adds or drops is neutral (``fuzzy_neutral_characters``)."""
        for op, a0, a1, b0, b1 in SequenceMatcher(None, key, name_key, autojunk=False).get_opcodes():
            if op != "equal" and not set(key[a0:a1] + name_key[b0:b1]) <= self._fuzzy_neutral:
                return False
        return True

    def _add_best_guess(self, result: DiagnosisResult, text: str | None) -> DiagnosisResult:
        """Best-guess mode: the learned matcher's tuned decision on the whole text (benchmark mode:
        candidates at p >= threshold, else the best one at p >= fallback) in place of the text rules'
        placements; what the code field placed (exact code, crosswalk, reviewed) stays first. Each
        morphology code in the decision goes onto a tumour diagnosis beside it (the site the text
        names when the decision has none), never on its own.
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
        morphs = list(dict.fromkeys(c for c, _ in chosen if c and is_morphology(c)))
        # each decision carries the qualifier of the part of the field it names (高血压病史 stays a
        # history), and a denied / ruled-out part gives nothing (冠心病，否认糖尿病: no diabetes)
        parts = self._parsed_parts(text)
        extra = []
        for c, p in chosen:
            if not c or is_morphology(c) or c in have:
                continue
            qualifier = self._part_naming(parts, self.pack.names[c])[2]
            if qualifier in self.structure.excluded:
                continue
            d = self._diagnosis(c, "learned", text, None, None, normalized, confidence=p)
            extra.append(replace(d, qualifier=qualifier) if qualifier else d)
        extra = in_reading_order(extra)
        if morphs and not any(is_neoplasm(d.icd10_category) for d in from_code + extra):
            # a morphology needs a tumour to sit on: the site the text names, when it names one
            site = self.structure.tumour_site(normalized)
            if site is None and all(m.endswith("/0") for m in morphs):  # benign: 胃平滑肌瘤 -> 胃良性肿瘤
                site = self.structure.benign_site(normalized)
            if site is not None and site not in have:
                extra.append(self._diagnosis(site, "tumour_site", text, None, None, normalized))
        if not extra:
            return result
        diagnoses = from_code + extra
        for morph in morphs:  # each onto the next tumour diagnosis without one (癌, 转移性癌 ...)
            diagnoses = attach_morphology(self, diagnoses, morph)
        return DiagnosisResult(result.input, "mapped", diagnoses, (), ())


def is_neoplasm(category: str | None) -> bool:
    """C00-D48: neoplasms, the diagnoses a morphology code can describe."""
    return bool(category) and (category[0] == "C" or (category[0] == "D" and category[1:3] <= "48"))


def is_secondary_malignant(category: str | None) -> bool:
    """C77-C79: secondary (metastatic) malignant neoplasms."""
    return bool(category) and "C77" <= category <= "C79"


def in_reading_order(diagnoses: list[Diagnosis]) -> list[Diagnosis]:
    """Plain diagnoses before qualified ones (history, suspected ...), and a metastasis after the
    primary tumour the field names with it (结肠癌肝转移: the colon cancer is the principal, not the
    liver metastasis); otherwise the order is kept (the sort is stable)."""
    primary = any(
        d.icd10_category and d.icd10_category[0] == "C" and not is_secondary_malignant(d.icd10_category)
        for d in diagnoses
    )
    return sorted(
        diagnoses,
        key=lambda d: (d.qualifier is not None, primary and is_secondary_malignant(d.icd10_category)),
    )


def attach_morphology(std, diagnoses: list[Diagnosis], morph: str | None) -> list[Diagnosis]:
    """Put a morphology code on the first tumour diagnosis that has none (never a diagnosis itself)."""
    if not morph:
        return diagnoses
    name = std.pack.names[morph]
    for i, d in enumerate(diagnoses):
        if is_neoplasm(d.icd10_category) and d.morphology_code is None:
            if match_key(name) not in match_key(d.name):
                diagnoses[i] = replace(d, morphology_code=morph, morphology_name=name)
            break
    return diagnoses
