"""How clinicians write around the diagnosis names: codes beside a name, English phrases split on
spaces, negated texts, a condition with its complication (``支气管扩张伴感染``). A mixin of ``DiagnosisStandardizer`` (it uses the pack, the structure parser and
the rule placements of the standardizer)."""

from __future__ import annotations

import re

from pipelines.standardize.terminology.normalize import match_key, normalize_text, split_diagnoses
from pipelines.standardize.terminology.pack import is_morphology

# a part of Latin words (split on spaces): consecutive ones are tried as one phrase (type 2 diabetes)
_LATIN_WORD_RE = re.compile(r"^[a-z0-9][a-z0-9'\-]*$")
_LONGEST_LATIN_PHRASE = 6
# a code written beside the name in the text field (高血压I10xx05, 2型糖尿病(E11.900), I10.x00x032 高血压)
_EMBEDDED_CODE_RE = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z][0-9]{2}(?:\.[0-9A-Za-z]+|[xX]{2}[0-9]+)(?:[+*][A-Za-z0-9.*]*)?(?![A-Za-z0-9])"
)  # with its subcategory part: a bare T12 / B12 in a text is a vertebra or a vitamin, not a code


class TextForms:
    def _embedded_code(self, text: str) -> tuple[str, str]:
        """(text, code) when the text field holds one diagnosis name and one code of a known system
        beside it (``高血压I10xx05``, ``2型糖尿病（E11.900）``); the names without the codes when it
        holds several; else (text, "")."""
        codes = [m for m in _EMBEDDED_CODE_RE.finditer(text) if self._looks_like_code(m.group(0))]
        if not codes:
            return text, ""
        rest = text
        for m in reversed(codes):
            rest = rest[: m.start()] + rest[m.end() :]
        rest = re.sub(r"[\(（\[【]\s*[\)）\]】]", "", rest).strip(" :：,，;；-")
        if not match_key(rest):
            return text, ""
        if len(codes) > 1 or len(split_diagnoses(normalize_text(rest))) != 1:
            # several names or codes: which code is for which name is unknown, the names are the evidence
            return rest, ""
        return rest, codes[0].group(0)

    def _latin_phrases(self, parts: list[str]) -> list[str]:
        """Join consecutive Latin-word parts back into the longest phrase the rules place
        (``type``, ``2``, ``diabetes`` -> ``type 2 diabetes``); other parts are unchanged."""
        out: list[str] = []
        i = 0
        while i < len(parts):
            joined = None
            if _LATIN_WORD_RE.match(parts[i]):
                last = min(len(parts), i + _LONGEST_LATIN_PHRASE)
                for j in range(last, i + 1, -1):
                    if all(_LATIN_WORD_RE.match(p) for p in parts[i:j]):
                        phrase = " ".join(parts[i:j])
                        if self._rule_code(phrase, phrase)[0]:
                            joined = (phrase, j)
                            break
            if joined:
                out.append(joined[0])
                i = joined[1]
            else:
                out.append(parts[i])
                i += 1
        return out

    def _excluded_categories(self, text: str) -> set[str]:
        """ICD-10 categories a denied / ruled-out text names (否认高血压 -> {I10}); empty otherwise."""
        core, qualifier = self.structure.qualifier(text)
        if qualifier not in self.structure.excluded:
            return set()
        return {d.icd10_category for d in self._match_part(core, text, guess=False) if d.icd10_category}

    def _combination(self, pieces: list[str]) -> str | None:
        """The pack's one term for a condition and its complication written with a connector
        (``急性化脓性胆管炎伴胆总管结石`` -> K80.301 胆总管结石伴急性化脓性胆管炎), either order."""
        if len(pieces) != 2:
            return None
        a, b = (p.strip() for p in pieces)
        for name in (a + "伴" + b, a + "合并" + b, b + "伴" + a, "未特指的" + a + "伴" + b):
            for candidate in (name, self.pack.apply_synonyms(name)):
                code = self.pack.find_name(candidate)
                if code and not is_morphology(code):
                    return code
        return None

    def _is_complication(self, piece: str) -> bool:
        """A generic complication after a connector (``并感染``, ``伴出血``): a state of the condition
        before it, no diagnosis of its own (``complication_words`` in attributes.yaml)."""
        return match_key(piece) in self._complication_keys
