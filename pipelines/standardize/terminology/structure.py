"""Structured reading of one diagnosis text before any matching: qualifiers and tumours.

* Qualifiers (``qualifiers.csv``): ``高血压病史`` is the condition ``高血压病`` with the qualifier
  ``history``; ``肺癌?`` / ``肺癌待查`` / ``疑似肺癌`` are ``suspected``; ``肺癌术后`` is
  ``post_operative``; ``除外肺癌`` (``rule_out``) and ``否认高血压`` (``negated``) are not diagnoses.
* Tumours (``tumour.yaml`` + ``tumour_sites.csv``): a malignant-tumour text is placed on the C code
  of its site (longest site word in the text), and its morphology (ICD-O M-code such as
  ``M814000/3 腺癌``) is kept beside it. An M-code is never a diagnosis.

Every pattern, word and code is data in ``standard/terminology/``; nothing clinical lives here.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass

import yaml

from pipelines.standardize.terminology.normalize import match_key, normalize_text
from pipelines.standardize.terminology.pack import TerminologyPack, is_morphology

EXCLUDED_QUALIFIERS = frozenset({"rule_out", "negated"})  # default; the file's keeps_diagnosis decides
# qualifiers whose diagnosis is never the principal one (default; the file's may_be_principal decides):
# a history is not the diagnosis of this visit; a suspected or post-operative one may be, flagged
NOT_PRINCIPAL_QUALIFIERS = frozenset({"history", "rule_out", "negated"})


def principal_index(diagnoses, not_principal=NOT_PRINCIPAL_QUALIFIERS) -> int | None:
    """Index of the principal diagnosis of one field: the first whose qualifier may be principal and
    whose code is a diagnosis (never an ICD-O morphology code); None when there is none (e.g. a field
    naming only histories). Works on any object with ``code`` (and optionally ``qualifier``)."""
    for i, d in enumerate(diagnoses):
        if getattr(d, "qualifier", None) in not_principal or not d.code or is_morphology(d.code):
            continue
        return i
    return None


@dataclass(frozen=True)
class QualifierRule:
    qualifier: str
    position: str  # prefix | suffix
    pattern: re.Pattern
    keeps_diagnosis: bool
    label_zh: str
    label_en: str
    may_be_principal: bool = True


class Structure:
    """Qualifier and tumour parsing over one pack's data files."""

    def __init__(self, pack: TerminologyPack):
        self.pack = pack
        directory = pack.directory
        self.rules: list[QualifierRule] = []
        q_path = directory / pack.manifest.get("qualifiers", "qualifiers.csv")
        if q_path.exists():
            with q_path.open(encoding="utf-8", newline="") as fh:
                for row in csv.DictReader(fh):
                    self.rules.append(
                        QualifierRule(
                            row["qualifier"],
                            row["position"],
                            re.compile(row["pattern"]),
                            row["keeps_diagnosis"].strip().lower() == "yes",
                            row["label_zh"],
                            row["label_en"],
                            (row.get("may_be_principal") or "").strip().lower() != "no"
                            if "may_be_principal" in row
                            else row["qualifier"] not in NOT_PRINCIPAL_QUALIFIERS,
                        )
                    )
        self.excluded = {r.qualifier for r in self.rules if not r.keeps_diagnosis} or set(EXCLUDED_QUALIFIERS)
        self.not_principal = (
            {r.qualifier for r in self.rules if not r.may_be_principal} | self.excluded
            if self.rules
            else set(NOT_PRINCIPAL_QUALIFIERS)
        )
        t_path = directory / pack.manifest.get("tumour", "tumour.yaml")
        cfg = yaml.safe_load(t_path.read_text(encoding="utf-8")) if t_path.exists() else {}
        self.tumour_version = str(cfg.get("version", ""))
        self._malignant = re.compile(cfg["malignant_pattern"]) if cfg.get("malignant_pattern") else None
        self._exclude = re.compile(cfg["exclude_pattern"]) if cfg.get("exclude_pattern") else None
        # leukaemia (pattern, code) lists: FAB subtypes first, lineages when nothing more specific
        self.subtypes = self._patterns(cfg, "subtype_patterns")
        self.lineages = self._patterns(cfg, "lineage_patterns")
        self.sites: list[tuple[str, str]] = []  # (site word key, code), longest first
        self._site_kind: dict[str, str] = {}  # malignant (an organ) | condition | skin_condition | skin
        if cfg.get("sites"):
            with (directory / cfg["sites"]).open(encoding="utf-8", newline="") as fh:
                for line_no, row in enumerate(csv.DictReader(fh), start=2):
                    code = row["target_code"].strip()
                    if code not in pack.names or is_morphology(code):
                        raise ValueError(
                            f"{cfg['sites']}:{line_no}: {code!r} is not a diagnosis code of the pack"
                        )
                    self.sites.append((match_key(row["site_word"]), code))
                    self._site_kind[match_key(row["site_word"])] = (row.get("kind") or "malignant").strip()
        self.sites.sort(key=lambda s: -len(s[0]))
        self._site_code = dict(self.sites)
        # morphology names of the pack (M-codes), longest first, plus spellings from tumour.yaml
        morph: dict[str, str] = {}
        for code, name in pack.names.items():
            if is_morphology(code):
                morph.setdefault(match_key(name), code)
        for spelling, name in (cfg.get("morphology_synonyms") or {}).items():
            code = morph.get(match_key(name))
            if code:
                morph.setdefault(match_key(spelling), code)
        self.morphology = sorted(morph.items(), key=lambda kv: -len(kv[0]))
        # names that are only a morphology (no diagnosis term has that name): 子宫内膜样腺癌 names a
        # cell type, its 子宫内膜 is no site when the text names another (右卵巢…子宫内膜样腺癌)
        self._morphology_only = [
            k for k, c in self.morphology if len(k) >= 3 and is_morphology(pack.find_name(k) or c)
        ]

    # ------------------------------------------------------------------ qualifiers
    def qualifier(self, text: str) -> tuple[str, str | None]:
        """(core text, qualifier or None). Prefix/suffix markers are removed until none is left; a
        marker that excludes the diagnosis (``keeps_diagnosis = no``: 否认, 排除 ...) names the
        qualifier whatever else is written (``否认糖尿病史`` is denied, not a history), otherwise the
        first one found does. A marker that would leave nothing is not removed, nor any marker of a
        text that is itself a name of the pack."""
        core = normalize_text(text).strip()
        found: list[str] = []
        changed = True
        while changed:
            changed = False
            for rule in self.rules:
                m = rule.pattern.search(core)
                if not m:
                    continue
                rest = (core[: m.start()] + core[m.end() :]).strip(" :-,")
                if match_key(rest) != match_key(core) and self.pack.find_name(core):
                    continue  # a name of the pack keeps its words (无菌性脑膜炎; 恶性肿瘤个人史 is Z85)
                if len(match_key(rest)) < 2:
                    continue
                core = rest
                found.append(rule.qualifier)
                changed = True
        excluding = [q for q in found if q in self.excluded]
        return core, (excluding or found or [None])[0]

    def label(self, qualifier: str | None) -> tuple[str, str] | None:
        for rule in self.rules:
            if rule.qualifier == qualifier:
                return rule.label_zh, rule.label_en
        return None

    # ------------------------------------------------------------------ tumours
    def is_malignant_text(self, normalized: str) -> bool:
        return bool(self._malignant and self._malignant.search(normalized))

    def morphology_in(self, normalized: str) -> str | None:
        """The most specific morphology term named in the text once its site word is taken out
        (``肺腺癌`` -> ``M814000/3 腺癌``; ``乳腺癌`` -> ``M801000/3 癌``, not 腺癌)."""
        if not self.is_malignant_text(normalized):
            return None
        key = match_key(normalized)
        site = self._site_match(key)
        if site is not None:
            # the site word and every site word overlapping it (右乳腺癌: 右乳 and 乳腺) are taken out,
            # not the malignant word a short form carries (乳癌 leaves 癌)
            start, end = self._site_span(*site)
            for site_key, _code in self.sites:
                pos = key.find(site_key)
                if pos >= 0:
                    a, b = self._site_span(pos, site_key)
                    if a < end and b > start:
                        start, end = min(start, a), max(end, b)
            key = key[:start] + " " + key[end:]
        for name_key, code in self.morphology:
            if name_key and name_key in key:
                return code
        return None

    def _site_span(self, pos: int, site_key: str) -> tuple[int, int]:
        m = self._malignant.search(site_key) if self._malignant else None
        return pos, pos + (m.start() if m and m.start() > 0 else len(site_key))

    def tumour_site(self, normalized: str) -> str | None:
        """The site's C code for a malignant-tumour text, or None (not a tumour text, excluded
        wording such as 转移/原位/良性, or no site word)."""
        if not self.is_malignant_text(normalized):
            return None
        if self._exclude and self._exclude.search(normalized):
            return None
        key = match_key(normalized)
        site = self._site_match(key)
        if site is None:
            return None
        subtype = next((code for pattern, code in self.subtypes if pattern.search(normalized)), None)
        specific = subtype or self._specific_site(key, *site)
        if specific is None:
            specific = next((code for pattern, code in self.lineages if pattern.search(normalized)), None)
        return specific or self._site_code[site[1]]

    def benign_site(self, normalized: str) -> str | None:
        """The site's benign-neoplasm code (D10-D36) for a text naming a site (``胃平滑肌瘤`` ->
        D13.1 胃良性肿瘤): the pack's ``<site words>良性肿瘤`` term, most specific first; None when the
        pack has none. For a benign morphology (ICD-O behaviour /0) that needs a diagnosis to sit on."""
        key = match_key(normalized)
        site = self._site_match(key)
        if site is None:
            return None
        pos, site_key = site
        best = self._longest_term_around(
            key,
            pos,
            site_key,
            lambda phrase: (phrase + "良性肿瘤",),
            lambda code: code[0] == "D",
            longer=False,
        )
        if best:
            return best
        code = self.pack.find_name(self.pack.names[self._site_code[site_key]].replace("恶性肿瘤", "良性肿瘤"))
        return code if code and code[0] == "D" else None

    def _patterns(self, cfg: dict, key: str) -> list[tuple[re.Pattern, str]]:
        out = []
        for i, rule in enumerate(cfg.get(key) or []):
            code = str(rule["code"])
            if code not in self.pack.names or is_morphology(code):
                raise ValueError(f"tumour.yaml {key}[{i}]: {code!r} is not a diagnosis code of the pack")
            out.append((re.compile(rule["pattern"]), code))
        return out

    def _specific_site(self, key: str, pos: int, site_key: str) -> str | None:
        """The most specific pack term ``<words around the site>恶性肿瘤`` the text names: laterality
        and sub-site (``右肺`` -> 右肺恶性肿瘤, ``乙状结肠`` -> 乙状结肠恶性肿瘤), or the words around the
        site themselves when they name a malignant condition (急性淋巴细胞白血病); longest first."""
        return self._longest_term_around(
            key,
            pos,
            site_key,
            lambda phrase: (phrase + "恶性肿瘤", phrase if self.is_malignant_text(phrase) else ""),
            lambda code: code[0] in "CD",
            longer=True,
        )

    def _longest_term_around(self, key, pos, site_key, names_of, accept, longer: bool) -> str | None:
        """The code of the longest phrase around the site word at ``pos`` (up to 8 characters before,
        4 after; ``longer``: only phrases longer than the site word) one of whose ``names_of(phrase)``
        is a pack name whose code is no morphology and passes ``accept``."""
        best: tuple[int, str] | None = None
        end_site = pos + len(site_key)
        for start in range(max(0, pos - 8), pos + 1):
            for end in range(end_site, min(len(key), end_site + 4) + 1):
                phrase = key[start:end]
                if longer and len(phrase) <= len(site_key):
                    continue
                for name in names_of(phrase):
                    code = self.pack.find_name(name) if name else None
                    if (
                        code
                        and not is_morphology(code)
                        and accept(code)
                        and (best is None or len(phrase) > best[0])
                    ):
                        best = (len(phrase), code)
        return best[1] if best else None

    def _site_match(self, key: str) -> tuple[int, str] | None:
        """(position, site word) of the longest site word in the key (the earliest among equals).
        A site word inside a name that is only a morphology (``子宫内膜样腺癌``) counts only when no
        other site word is written; a ``skin_condition`` word (黑色素瘤: C43 is melanoma of the skin)
        yields to an organ named beside it (``宫颈恶性黑色素瘤`` is a cervix tumour, melanoma its
        morphology)."""
        spans = [(pos, pos + len(k)) for k in self._morphology_only if (pos := key.find(k)) >= 0]
        found: list[tuple[int, int, str]] = []  # (-length, position, site word)
        inside: list[tuple[int, int, str]] = []
        for site_key, _code in self.sites:
            pos = key.find(site_key)
            if pos < 0:
                continue
            covered = any(a <= pos and pos + len(site_key) <= b for a, b in spans)
            (inside if covered else found).append((-len(site_key), pos, site_key))
        found = found or inside
        if not found:
            return None
        best = min(found)
        if self._site_kind.get(best[2]) == "skin_condition":
            lo, hi = best[1], best[1] - best[0]
            organs = [
                f
                for f in found
                if self._site_kind.get(f[2]) == "malignant" and (f[1] - f[0] <= lo or f[1] >= hi)
            ]
            if organs:
                best = min(organs)
        return best[1], best[2]
