"""The terminology pack, loaded from versioned data files in ``standard/terminology/``.

Nothing clinical lives in Python here: the terms, synonyms, code-system patterns, crosswalk and
attribute rules are all read from the files named in ``pack.yaml``.
"""

from __future__ import annotations

import csv
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipelines.settings import STANDARD_DIR
from pipelines.standardize.terminology.normalize import match_key, normalize_text, strip_brackets

DEFAULT_PACK_DIR = STANDARD_DIR / "terminology"
_MORPHOLOGY_RE = re.compile(r"^M\d{4,6}/\d$")
_CATEGORY_RE = re.compile(r"^([A-Z]\d{2})")


def is_morphology(code: str) -> bool:
    """An ICD-O morphology code (``M801000/3 癌``): an attribute of a tumour, never a diagnosis."""
    return bool(_MORPHOLOGY_RE.match(code or ""))


def icd10_category(code: str) -> str | None:
    """3-character ICD-10 category of a code (``I10xx05`` -> ``I10``); None for morphology codes and
    anything else without a category (NULL in the warehouse, never ``""``)."""
    if not code or is_morphology(code):
        return None
    m = _CATEGORY_RE.match(code.upper())
    return m.group(1) if m else None


def clean_code(code: str) -> str:
    """Upper-case, NFKC, no spaces: the form codes are compared on."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", code)).upper()


@dataclass(frozen=True)
class CrosswalkRow:
    source_system: str
    source_code: str
    target_code: str
    basis: str
    hypertension_grade: int | None = None  # attributes the foreign code carries (blank = none)
    risk_tier: str | None = None
    diabetes_type: str | None = None
    source: str = ""


@dataclass
class TerminologyPack:
    """Terms (code -> name) plus the curated rules, with the versions they came from."""

    pack_id: str
    version: str
    curated_version: str
    code_system: str
    directory: Path
    names: dict[str, str]  # code -> name, file order
    code_index: dict[str, str]  # clean code (and the part before '+') -> code
    name_index: dict[str, str]  # match key of name -> preferred code
    alias_index: dict[str, str]  # match key of the name without brackets -> preferred code
    synonym_rows: list[tuple[str, str, str]]  # (variant, canonical, kind), normalized
    code_systems: list[tuple[str, re.Pattern]]
    crosswalk: dict[tuple[str, str], CrosswalkRow]
    attributes: dict
    manifest: dict
    skipped_terms: tuple[str, ...] = ()  # rows of the term table whose code is not code-shaped
    _synonym_re: re.Pattern | None = field(default=None, repr=False)
    _synonym_map: dict[str, str] = field(default_factory=dict, repr=False)
    _codable: dict[str, str] | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, directory: Path | None = None, verify: bool = True) -> TerminologyPack:
        directory = Path(directory or DEFAULT_PACK_DIR)
        manifest = yaml.safe_load((directory / "pack.yaml").read_text(encoding="utf-8"))
        terms_path = directory / manifest["terms"]
        if verify and manifest.get("terms_sha256"):
            digest = hashlib.sha256(terms_path.read_bytes()).hexdigest()
            if digest != manifest["terms_sha256"]:
                raise ValueError(f"{terms_path} sha256 {digest} != pack.yaml {manifest['terms_sha256']}")
        names: dict[str, str] = {}
        # rows whose code is not a code (the v601 file has one stray row `N,N`) are not terms: they
        # would be matched, suggested and coded like one (pack.yaml `term_code_pattern`)
        code_shape = re.compile(manifest["term_code_pattern"]) if manifest.get("term_code_pattern") else None
        skipped: list[str] = []
        with terms_path.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                code = row["code"].strip()
                if code_shape is not None and not code_shape.match(code):
                    skipped.append(code)
                    continue
                names.setdefault(code, row["name"].strip())
        code_index: dict[str, str] = {}
        for code in names:
            code_index.setdefault(clean_code(code), code)
        for code in names:  # dagger/asterisk codes are also found by their first part
            code_index.setdefault(clean_code(code.split("+")[0]), code)
        name_index = _preferred_index(names, lambda n: match_key(n))
        alias_index = _preferred_index(names, lambda n: match_key(strip_brackets(normalize_text(n))))

        synonym_rows = []
        with (directory / manifest["synonyms"]).open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                synonym_rows.append(
                    (normalize_text(row["variant"]), normalize_text(row["canonical"]), row["kind"])
                )

        cs = yaml.safe_load((directory / manifest["code_systems"]).read_text(encoding="utf-8"))
        code_systems = [(s["id"], re.compile(s["regex"])) for s in cs["systems"]]

        crosswalk: dict[tuple[str, str], CrosswalkRow] = {}
        with (directory / manifest["code_crosswalk"]).open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                target = row["target_code"].strip()
                if target not in names:
                    raise ValueError(f"code_crosswalk.csv: target {target} is not in the terminology pack")
                key = (row["source_system"].strip(), clean_code(row["source_code"]))
                grade = (row.get("hypertension_grade") or "").strip()
                crosswalk[key] = CrosswalkRow(
                    key[0],
                    key[1],
                    target,
                    row["basis"],
                    int(grade) if grade else None,
                    (row.get("risk_tier") or "").strip() or None,
                    (row.get("diabetes_type") or "").strip() or None,
                    (row.get("source") or "").strip(),
                )

        attributes = yaml.safe_load((directory / manifest["attributes"]).read_text(encoding="utf-8"))
        pack = cls(
            pack_id=manifest["id"],
            version=str(manifest["version"]),
            curated_version=str(manifest.get("curated_version", "")),
            code_system=manifest.get("code_system", "beijing_v601"),
            directory=directory,
            names=names,
            code_index=code_index,
            name_index=name_index,
            alias_index=alias_index,
            synonym_rows=synonym_rows,
            code_systems=code_systems,
            crosswalk=crosswalk,
            attributes=attributes,
            manifest=manifest,
            skipped_terms=tuple(skipped),
        )
        pack._compile_synonyms()
        return pack

    def _compile_synonyms(self) -> None:
        self._synonym_map = {v: c for v, c, _ in self.synonym_rows}
        alternatives = []
        for variant in sorted(self._synonym_map, key=len, reverse=True):
            pattern = re.escape(variant)
            if variant[0].isascii() and variant[0].isalpha():
                pattern = r"(?<![a-z])" + pattern
            if variant[-1].isascii() and variant[-1].isalpha():
                pattern = pattern + r"(?![a-z])"
            alternatives.append(pattern)
        self._synonym_re = re.compile("|".join(alternatives)) if alternatives else None

    # ------------------------------------------------------------------ look-ups
    def apply_synonyms(self, normalized: str) -> str:
        """Expand abbreviations and synonyms in normalized text (one left-to-right pass, longest first)."""
        if self._synonym_re is None:
            return normalized
        return self._synonym_re.sub(lambda m: self._synonym_map[m.group(0)], normalized)

    def find_code(self, code: str) -> str | None:
        """The pack's own code for a code as written (case, spaces, dagger part tolerated)."""
        return self.code_index.get(clean_code(code))

    def code_system_of(self, code: str) -> str:
        cleaned = clean_code(code)
        if cleaned in self.code_index:
            return self.code_system
        for system_id, pattern in self.code_systems:
            if pattern.match(cleaned):
                return system_id
        return "unknown"

    def find_name(self, text: str) -> str | None:
        """Code whose name equals the text (normalized), then ignoring bracketed qualifiers."""
        key = match_key(text)
        if not key:
            return None
        return self.name_index.get(key) or self.alias_index.get(key)

    def category_code(self, category: str) -> str | None:
        return self.names.get(category) and category

    def codable(self, code: str) -> str:
        """A 3-character category that has subdivisions is not a codable diagnosis (ICD-10 codes to
        the 4th character): a name of the category (``哮喘`` J45, ``非胰岛素依赖型糖尿病`` E11) stands
        for its unspecified subdivision ``.9`` - the national edition's first leaf of it when there
        is one (J45.901 支气管哮喘, E11.901 2型糖尿病). Any other code is returned as it is."""
        if len(code) != 3 or not code[0].isalpha():
            return code
        if self._codable is None:
            leaves: dict[str, str] = {}
            for c in sorted(self.names):
                if len(c) > 5 and c[3:5] == ".9" and not is_morphology(c) and c[:3] not in leaves:
                    leaves[c[:3]] = c  # the first leaf of .9
            self._codable = {
                cat: leaves.get(cat) or (cat + ".9" if cat + ".9" in self.names else cat)
                for cat in self.names
                if len(cat) == 3
            }
        return self._codable.get(code, code)


def _preferred_index(names: dict[str, str], key_fn) -> dict[str, str]:
    """key -> code; where several codes share a name, a diagnosis code beats a morphology code
    (``淋巴瘤`` is C85.906, not M959001/3), then the most specific (longest) code wins, then the first."""
    index: dict[str, str] = {}
    for code, name in names.items():
        key = key_fn(name)
        if not key:
            continue
        current = index.get(key)
        rank = (not is_morphology(code), len(code.split("+")[0]))
        if current is None or rank > (not is_morphology(current), len(current.split("+")[0])):
            index[key] = code
    return index
