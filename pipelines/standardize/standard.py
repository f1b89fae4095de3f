"""Generated renderings of the standard (STANDARD.md, canonical templates) and its ref.* tables.

The standard itself is loaded in :mod:`pipelines.contracts.standard` (the one place); its names are
re-exported here for the standardizer's callers.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.contracts.standard import (  # noqa: F401  (re-exported)
    DATA_TYPES,
    LAYERS,
    NORMALIZERS,
    PII_CLASSES,
    SQL_TYPES,
    DataElement,
    DomainValue,
    EntityKey,
    ReasonCode,
    Standard,
    StandardError,
    default_standard,
    load_standard,
    record_keys,
)

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
        "Generated from `standard/data_elements.csv`, `standard/value_domains.csv`, `standard/entity_keys.csv`,",
        "`standard/row_rules.csv`, `standard/derivations.csv` and `standard/reason_codes.csv` by `referral-warehouse standardize render`. Do not edit by hand.",
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
        "## 记录主键 Record keys (`entity_keys.csv`)",
        "",
        "A second row with the same key is quarantined as `DUPLICATE_KEY` (the newest file wins).",
        "",
        "| entity | record key | sending institution | note |",
        "|---|---|---|---|",
    ]
    for k in std.entity_keys:
        lines.append(
            f"| {k.entity} | {', '.join(f'`{e}`' for e in k.record_key)} | `{k.institution_element}` "
            f"| {_md_escape(k.description)} |"
        )
    lines += [
        "",
        "## 行规则 Row rules (`row_rules.csv`)",
        "",
        "| entity | element | must be | reference (first present) | reason code | note |",
        "|---|---|---|---|---|---|",
    ]
    for r in std.row_rules:
        must = {"not_before": "not before", "not_above": "not above"}[r.comparison]
        lines.append(
            f"| {r.entity} | `{r.element}` | {must} | {', '.join(f'`{e}`' for e in r.reference)} "
            f"| `{r.reason_code}` | {_md_escape(r.description)} |"
        )
    lines += [
        "",
        "## 派生规则 Derivations (`derivations.csv`)",
        "",
        "| entity | element | method | inputs | note |",
        "|---|---|---|---|---|",
    ]
    for dv in std.derivations:
        lines.append(
            f"| {dv.entity} | `{dv.element}` | `{dv.method}` | {', '.join(f'`{e}`' for e in dv.inputs)} "
            f"| {_md_escape(dv.description)} |"
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
