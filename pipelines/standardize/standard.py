"""The data-element standard, loaded from ``standard/`` (data files, versioned by ``standard/VERSION``).

``data_elements.csv``  one row per (entity, element) exchanged by institutions or held in the
                       institution registry: identifier, names, type, format, domain, flags.
``derived_elements.csv`` same columns: elements the standardizer derives (person_key, mapped
                       diagnosis, age, length of stay, lineage). Kept apart so that readers of the
                       exchange format (ingest's canonical columns) never see them.
``value_domains.csv``  codes with Chinese/English names and ``|``-joined synonym spellings.
``reason_codes.csv``   the documented list of reason codes used in outcomes and the quarantine.

Everything here is read-only data access plus the generated renderings (STANDARD.md and the
canonical header-only CSV templates).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pipelines.settings import STANDARD_DIR

DATA_TYPES = {"string", "date", "datetime", "integer", "decimal", "code"}
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
# Entities exported by institutions (std.<entity> tables) and the record key of each.
RECORD_KEYS: dict[str, tuple[str, ...]] = {
    "visits": ("institution_code", "visit_id"),
    "referrals": ("referral_id",),
    "followups": ("institution_code", "followup_id"),
    "contracts": ("contract_id",),
    "slot_pools": ("pool_id",),
    "slot_bookings": ("booking_id",),
}
SQL_TYPES = {
    "string": "VARCHAR",
    "code": "VARCHAR",
    "date": "DATE",
    "datetime": "TIMESTAMP",
    "integer": "INTEGER",
    "decimal": "DOUBLE",
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
    return Standard(version, tuple(elements), tuple(values), reasons, d)


@cache
def default_standard() -> Standard:
    return load_standard(STANDARD_DIR)


# ---------------------------------------------------------------------------------------------
# Generated renderings
# ---------------------------------------------------------------------------------------------


def _md_escape(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def render_markdown(std: Standard) -> str:
    """The readable rendering of the standard for the quality team (standard/STANDARD.md)."""
    lines = [
        f"# 数据元标准 Data-element standard v{std.version}",
        "",
        "Generated from `standard/data_elements.csv`, `standard/value_domains.csv` and",
        "`standard/reason_codes.csv` by `referral-warehouse standardize render`. Do not edit by hand.",
        "",
        f"- {len(std.elements)} data elements ({sum(e.layer == 'canonical' for e in std.elements)} exported by "
        f"institutions, {sum(e.layer == 'registry' for e in std.elements)} in the institution registry, "
        f"{sum(e.layer == 'derived' for e in std.elements)} derived during standardization), "
        f"{len({e.element for e in std.elements})} distinct element names",
        f"- {len({v.domain_id for v in std.domain_values})} value domains with {len(std.domain_values)} codes",
        f"- {len(std.reason_codes)} reason codes",
        "",
        "Identifiers: `DE..` = WS/T 363 data element; `LDE..` = local namespace of this commission, used where "
        "no national identifier was confirmed. Value domains: `GBT2261.1`, `CV..` = WS 364; `LCV..` = local.",
        "",
        "Required (必填): a row whose required element is missing or invalid goes to the quarantine. "
        "PII (个人信息, `pii_class`): `direct_identifier` never leaves the raw landing (persons are keyed by "
        "`person_key`, HMAC-SHA256, class `pseudonym`); `free_text` is scrubbed of resident IDs, phone numbers "
        "and the patient's own name at standardization; `quasi_identifier` and `record_id` stay in the "
        "`restricted` schema of the published snapshot.",
        "",
    ]
    for entity in dict.fromkeys(e.entity for e in std.elements):
        els = [e for e in std.elements if e.entity == entity]
        lines += [
            f"## {entity}",
            "",
            "| element | 标识符 | 中文名 | English name | type | format | value domain | 必填 | PII | range | layer |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for e in els:
            rng = f"{e.min}–{e.max}" if (e.min or e.max) else ""
            lines.append(
                f"| `{e.element}` | {e.de_id} | {_md_escape(e.name_zh)} | {_md_escape(e.name_en)} | {e.data_type} "
                f"| {_md_escape(e.format)} | {e.value_domain} | {'Y' if e.required else ''} "
                f"| {'' if e.pii_class == 'none' else e.pii_class} | {rng} | {e.layer} |"
            )
        lines.append("")
    lines += ["## 值域 Value domains", ""]
    for domain_id in dict.fromkeys(v.domain_id for v in std.domain_values):
        vals = std.domain(domain_id)
        lines += [
            f"### {domain_id} ({_md_escape(vals[0].standard)}, version {vals[0].version})",
            "",
            "| code | 名称 | name | accepted spellings |",
            "|---|---|---|---|",
        ]
        for v in vals:
            syn = ", ".join(f"`{s}`" for s in v.synonyms)
            lines.append(
                f"| `{v.code}` | {_md_escape(v.name_zh)} | {_md_escape(v.name_en)} | {_md_escape(syn)} |"
            )
        lines.append("")
    lines += [
        "## 原因代码 Reason codes",
        "",
        "| code | 名称 | name | severity | description |",
        "|---|---|---|---|---|",
    ]
    for r in std.reason_codes:
        lines.append(
            f"| `{r.code}` | {_md_escape(r.name_zh)} | {_md_escape(r.name_en)} | {r.severity} "
            f"| {_md_escape(r.description)} |"
        )
    lines.append("")
    return "\n".join(lines)


def canonical_templates(std: Standard) -> dict[str, str]:
    """entity -> header line of the canonical CSV a conforming HIS exports (layer canonical/registry)."""
    out = {}
    for entity in std.entities:
        cols = [e.element for e in std.entity_elements(entity)]
        out[entity] = ",".join(cols) + "\n"
    return out


def render_all(std: Standard, out_dir: Path | None = None) -> list[Path]:
    """Write STANDARD.md and canonical/<entity>.csv; returns the files written."""
    out_dir = Path(out_dir or std.directory)
    written = []
    md = out_dir / "STANDARD.md"
    md.write_text(render_markdown(std), encoding="utf-8")
    written.append(md)
    canon = out_dir / "canonical"
    canon.mkdir(parents=True, exist_ok=True)
    for entity, header in canonical_templates(std).items():
        p = canon / f"{entity}.csv"
        p.write_text(header, encoding="utf-8")
        written.append(p)
    return written


def load_ref_tables(con, std: Standard) -> None:
    """(Re)build ref.data_elements, ref.value_domains and ref.reason_codes in DuckDB."""
    import pandas as pd

    con.execute("CREATE SCHEMA IF NOT EXISTS ref")
    de = pd.DataFrame(
        [{**e.__dict__, "required": e.required, "pii": e.pii, "version": std.version} for e in std.elements]
    )
    vd = pd.DataFrame(
        [
            {**v.__dict__, "synonyms": "|".join(v.synonyms), "standard_version": std.version}
            for v in std.domain_values
        ]
    )
    rc = pd.DataFrame([{**r.__dict__, "version": std.version} for r in std.reason_codes])
    for name, df in (("data_elements", de), ("value_domains", vd), ("reason_codes", rc)):
        con.register("_ref_df", df)
        con.execute(f"CREATE OR REPLACE TABLE ref.{name} AS SELECT * FROM _ref_df")
        con.unregister("_ref_df")
