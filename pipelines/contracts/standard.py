"""The data-element standard, loaded once from ``standard/`` (data files, versioned by ``standard/VERSION``).

``data_elements.csv``  one row per (entity, element) exchanged by institutions or held in the
                       institution registry: identifier, names, type, format, domain, flags.
``derived_elements.csv`` same columns: elements the standardizer derives (person_key, mapped
                       diagnosis, age, length of stay, lineage). Kept apart so that readers of the
                       exchange format (ingest's canonical columns) never see them.
``value_domains.csv``  codes with Chinese/English names and ``|``-joined synonym spellings.
``reason_codes.csv``   the documented list of reason codes used in outcomes and the quarantine.
``entity_keys.csv``    per exported entity: its record key (``|``-joined elements) and the element
                       naming the institution that sent the row.

Read-only data access; every consumer (ingest, standardize, quality, onboarding, privacy) reads the
standard through :func:`default_standard` / :func:`standard_at`. The generated renderings
(STANDARD.md, canonical templates) are in ``pipelines/standardize/standard.py``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pipelines.settings import STANDARD_DIR

DATA_TYPES = {"string", "date", "datetime", "integer", "decimal", "code", "boolean"}
LAYERS = {"canonical", "registry", "derived"}
NORMALIZERS = {
    "identifier",
    "institution",
    "domain",
    "id_number",
    "pii_drop",
    "date",
    "datetime",
    "phone",
    "county_code",
    "text",
    "diagnosis",
    "decimal",
    "integer",
    "person_key",
    "derived",
}
# What is personal (the one declaration: pipelines/privacy.py reads it for every consumer).
# direct_identifier: never leaves the raw landing; quasi_identifier: identifies in combination
# (sex, birth date, county of residence); free_text: scrubbed at standardization; pseudonym:
# person_key; record_id: keys of person-level records (visit, referral ...); none.
PII_CLASSES = ("direct_identifier", "quasi_identifier", "free_text", "pseudonym", "record_id", "none")
SQL_TYPES = {
    "string": "VARCHAR",
    "code": "VARCHAR",
    "date": "DATE",
    "datetime": "TIMESTAMP",
    "integer": "INTEGER",
    "decimal": "DOUBLE",
    "boolean": "BOOLEAN",
}


@dataclass(frozen=True)
class DataElement:
    element: str
    entity: str
    layer: str
    de_id: str
    namespace: str
    name_zh: str
    name_en: str
    data_type: str
    format: str
    value_domain: str
    required: bool
    pii_class: str
    normalizer: str
    min: str
    max: str
    description: str

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.data_type]

    @property
    def pii(self) -> bool:
        """A direct identifier: its values never leave the raw landing."""
        return self.pii_class == "direct_identifier"


@dataclass(frozen=True)
class DomainValue:
    domain_id: str
    standard: str
    code: str
    name_zh: str
    name_en: str
    synonyms: tuple[str, ...]
    version: str
    # the stable word the warehouse's models use for the code (up/down, attended ...); empty when no
    # model's logic depends on the code
    value_key: str = ""


@dataclass(frozen=True)
class EntityKey:
    """An entity exported by institutions (a std.<entity> table): its record key and the element
    naming the sending institution."""

    entity: str
    record_key: tuple[str, ...]
    institution_element: str
    description: str

    @property
    def record_id(self) -> str:
        """The record's own number (the last element of the key): visit_id, referral_id ..."""
        return self.record_key[-1]


@dataclass(frozen=True)
class RowRule:
    """A rule across elements of one row (standard/row_rules.csv): ``element`` must not be before
    (``not_before``) or above (``not_above``) the first non-empty ``reference`` element; a row that
    breaks it is quarantined with ``reason_code``."""

    entity: str
    element: str
    reason_code: str
    comparison: str
    reference: tuple[str, ...]
    description: str


ROW_RULE_COMPARISONS = {"not_before": "<", "not_above": ">"}


@dataclass(frozen=True)
class Derivation:
    """How a derived element is computed from other elements of its row (standard/derivations.csv):
    ``method`` (its SQL lives in pipelines/standardize/writer.py, ``DERIVATIONS``) over ``inputs``."""

    entity: str
    element: str
    method: str
    inputs: tuple[str, ...]
    description: str


# method -> number of input elements (the writer has the SQL of each)
DERIVATION_METHODS = {"completed_years": 2, "calendar_days": 2, "reported_or_from_id": 1}


@dataclass(frozen=True)
class ReasonCode:
    code: str
    name_zh: str
    name_en: str
    description: str
    severity: str


class StandardError(ValueError):
    """The standard files are inconsistent (named row and problem)."""


@dataclass(frozen=True)
class Standard:
    version: str
    elements: tuple[DataElement, ...]
    domain_values: tuple[DomainValue, ...]
    reason_codes: tuple[ReasonCode, ...]
    directory: Path
    entity_keys: tuple[EntityKey, ...] = ()
    row_rules: tuple[RowRule, ...] = ()
    derivations: tuple[Derivation, ...] = ()

    @property
    def record_keys(self) -> dict[str, tuple[str, ...]]:
        """entity -> record key, for every entity exported by institutions (in the standard's order)."""
        return {k.entity: k.record_key for k in self.entity_keys}

    @property
    def exported_entities(self) -> tuple[str, ...]:
        return tuple(k.entity for k in self.entity_keys)

    def canonical_columns(self) -> dict[str, tuple[str, ...]]:
        """{entity: (element, ...)} of the canonical layer (what a conforming export carries)."""
        out: dict[str, list[str]] = {}
        for e in self.elements:
            if e.layer == "canonical":
                out.setdefault(e.entity, []).append(e.element)
        return {k: tuple(v) for k, v in out.items()}

    def entity_elements(
        self, entity: str, layers: tuple[str, ...] = ("canonical", "registry")
    ) -> list[DataElement]:
        return [e for e in self.elements if e.entity == entity and e.layer in layers]

    def element(self, entity: str, element: str) -> DataElement:
        for e in self.elements:
            if e.entity == entity and e.element == element:
                return e
        raise KeyError(f"{entity}.{element} is not in the standard")

    def domain(self, domain_id: str) -> list[DomainValue]:
        return [v for v in self.domain_values if v.domain_id == domain_id]

    def synonym_map(self, domain_id: str) -> dict[str, str]:
        """spelling -> code, for codes, Chinese names, English names and synonyms. Exact spelling first;
        a case-folded spelling is added when it is not ambiguous."""
        exact: dict[str, str] = {}
        folded: dict[str, set[str]] = {}
        for v in self.domain(domain_id):
            for s in (v.code, v.name_zh, v.name_en, *v.synonyms):
                s = s.strip()
                if not s:
                    continue
                exact.setdefault(s, v.code)
                folded.setdefault(s.casefold(), set()).add(v.code)
        out = dict(exact)
        for s, codes in folded.items():
            if len(codes) == 1 and s not in out:
                out[s] = next(iter(codes))
        return out

    @property
    def entities(self) -> list[str]:
        return list(dict.fromkeys(e.entity for e in self.elements if e.layer != "derived"))

    def reason(self, code: str) -> ReasonCode:
        for r in self.reason_codes:
            if r.code == code:
                return r
        raise KeyError(code)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def load_standard(directory: Path | str | None = None) -> Standard:
    """Read and validate the standard. Raises StandardError naming the offending row."""
    d = Path(directory or STANDARD_DIR)
    version = (d / "VERSION").read_text(encoding="utf-8").strip()
    elements = []
    seen: set[tuple[str, str]] = set()
    rows = [("data_elements.csv", i, r) for i, r in enumerate(_read_csv(d / "data_elements.csv"), start=2)]
    rows += [
        ("derived_elements.csv", i, r) for i, r in enumerate(_read_csv(d / "derived_elements.csv"), start=2)
    ]
    for fname, i, r in rows:
        where = f"{fname} line {i} ({r.get('entity')}.{r.get('element')})"
        if (fname == "derived_elements.csv") != (r["layer"] == "derived"):
            raise StandardError(f"{where}: derived elements belong in derived_elements.csv, others not")
        if r["data_type"] not in DATA_TYPES:
            raise StandardError(f"{where}: data_type {r['data_type']!r} not in {sorted(DATA_TYPES)}")
        if r["layer"] not in LAYERS:
            raise StandardError(f"{where}: layer {r['layer']!r} not in {sorted(LAYERS)}")
        if r["normalizer"] not in NORMALIZERS:
            raise StandardError(f"{where}: normalizer {r['normalizer']!r} unknown")
        if r["required"] not in ("Y", "N"):
            raise StandardError(f"{where}: required must be Y or N")
        if r["pii_class"] not in PII_CLASSES:
            raise StandardError(f"{where}: pii_class {r['pii_class']!r} not in {list(PII_CLASSES)}")
        key = (r["entity"], r["element"])
        if key in seen:
            raise StandardError(f"{where}: duplicate (entity, element)")
        seen.add(key)
        elements.append(
            DataElement(
                **{k: r[k] for k in r if k != "required"},
                required=r["required"] == "Y",
            )
        )
    values = [
        DomainValue(
            domain_id=r["domain_id"],
            standard=r["standard"],
            code=r["code"],
            name_zh=r["name_zh"],
            name_en=r["name_en"],
            synonyms=tuple(s for s in r["synonyms"].split("|") if s),
            version=r["version"],
            value_key=(r.get("value_key") or "").strip(),
        )
        for r in _read_csv(d / "value_domains.csv")
    ]
    domain_ids = {v.domain_id for v in values}
    for e in elements:
        if e.value_domain and e.value_domain not in domain_ids:
            raise StandardError(
                f"{e.entity}.{e.element}: value_domain {e.value_domain!r} not in value_domains.csv"
            )
        if e.normalizer == "domain" and not e.value_domain:
            raise StandardError(f"{e.entity}.{e.element}: a domain element needs a value_domain")
    reasons = tuple(ReasonCode(**r) for r in _read_csv(d / "reason_codes.csv"))
    keys = []
    names = {(e.entity, e.element) for e in elements}
    if (d / "entity_keys.csv").exists():
        for i, r in enumerate(_read_csv(d / "entity_keys.csv"), start=2):
            key = EntityKey(
                r["entity"], tuple(r["record_key"].split("|")), r["institution_element"], r["description"]
            )
            for element in (*key.record_key, key.institution_element):
                if (key.entity, element) not in names:
                    raise StandardError(f"entity_keys.csv line {i}: {key.entity}.{element} is not an element")
            keys.append(key)
    rules = []
    if (d / "row_rules.csv").exists():
        codes = {r.code for r in reasons}
        for i, r in enumerate(_read_csv(d / "row_rules.csv"), start=2):
            rule = RowRule(
                r["entity"], r["element"], r["reason_code"], r["comparison"], tuple(r["reference"].split("|")),
                r["description"],
            )  # fmt: skip
            where = f"row_rules.csv line {i}"
            if rule.comparison not in ROW_RULE_COMPARISONS:
                raise StandardError(
                    f"{where}: comparison {rule.comparison!r} not in {list(ROW_RULE_COMPARISONS)}"
                )
            if rule.reason_code not in codes:
                raise StandardError(f"{where}: reason_code {rule.reason_code!r} not in reason_codes.csv")
            for element in (rule.element, *rule.reference):
                if (rule.entity, element) not in names:
                    raise StandardError(f"{where}: {rule.entity}.{element} is not an element")
            rules.append(rule)
    derivations = []
    if (d / "derivations.csv").exists():
        layer = {(e.entity, e.element): e.layer for e in elements}
        for i, r in enumerate(_read_csv(d / "derivations.csv"), start=2):
            dv = Derivation(
                r["entity"], r["element"], r["method"], tuple(r["inputs"].split("|")), r["description"]
            )
            where = f"derivations.csv line {i} ({dv.entity}.{dv.element})"
            if layer.get((dv.entity, dv.element)) != "derived":
                raise StandardError(f"{where}: not a derived element (derived_elements.csv)")
            if dv.method not in DERIVATION_METHODS:
                raise StandardError(f"{where}: method {dv.method!r} not in {sorted(DERIVATION_METHODS)}")
            if len(dv.inputs) != DERIVATION_METHODS[dv.method]:
                raise StandardError(f"{where}: {dv.method} takes {DERIVATION_METHODS[dv.method]} input(s)")
            for element in dv.inputs:
                if layer.get((dv.entity, element)) not in ("canonical", "registry"):
                    raise StandardError(
                        f"{where}: input {element!r} is not an exchanged element of {dv.entity}"
                    )
            derivations.append(dv)
    return Standard(
        version, tuple(elements), tuple(values), reasons, d, tuple(keys), tuple(rules), tuple(derivations)
    )


@cache
def default_standard() -> Standard:
    """The project's standard (``standard/``), read once per process."""
    return load_standard(STANDARD_DIR)


def standard_at(directory: Path | str | None = None) -> Standard:
    """The standard in ``directory`` (default: the project's), re-read when its element files change."""
    d = Path(directory or STANDARD_DIR).resolve()
    if d == Path(STANDARD_DIR).resolve():
        return default_standard()
    stamp = tuple(
        (d / f).stat().st_mtime_ns if (d / f).exists() else 0
        for f in (
            "VERSION",
            "data_elements.csv",
            "derived_elements.csv",
            "value_domains.csv",
            "entity_keys.csv",
            "row_rules.csv",
            "derivations.csv",
        )
    )
    return _standard_at(d, stamp)


@cache
def _standard_at(directory: Path, _stamp: tuple[int, ...]) -> Standard:
    return load_standard(directory)


def record_keys() -> dict[str, tuple[str, ...]]:
    """entity -> record key of every entity exported by institutions (standard/entity_keys.csv)."""
    return default_standard().record_keys
