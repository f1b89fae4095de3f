"""std.quarantine: the rows that do not enter std.<entity>, one row per problem.

A row is quarantined when a required element is missing or invalid, when it breaks a row rule of
the standard (standard/row_rules.csv), when it names an institution its source may not send
(``institutions`` of the source YAML), or when it repeats the record key (standard/entity_keys.csv)
of a newer row. Personal values are masked (shape only); the raw row stays in the raw landing.
"""

from __future__ import annotations

from pipelines.contracts.sql import quote_identifier as qi
from pipelines.contracts.sql import quote_literal as ql
from pipelines.contracts.standard import ROW_RULE_COMPARISONS, DataElement, Standard
from pipelines.privacy import mask_sql
from pipelines.standardize.run_context import NeedsFullRebuild, StandardizeRun

QUARANTINE_DDL = """
CREATE TABLE IF NOT EXISTS std.quarantine (
    file_id VARCHAR, source_id VARCHAR, entity VARCHAR, row_number BIGINT, stage VARCHAR,
    element VARCHAR, raw_value VARCHAR, reason_code VARCHAR, reason VARCHAR, raw_record VARCHAR
)"""


def row_rule_conditions(std: Standard, entity: str) -> list[tuple[str, str, str]]:
    """(element, reason code, SQL condition of a violating row) of the standard's row rules."""
    out = []
    for rule in std.row_rules:
        if rule.entity != entity:
            continue
        refs = [qi(r) for r in rule.reference]
        reference = refs[0] if len(refs) == 1 else f"coalesce({', '.join(refs)})"
        condition = f"{qi(rule.element)} {ROW_RULE_COMPARISONS[rule.comparison]} {reference}"
        out.append((rule.element, rule.reason_code, condition))
    return out


def rule_elements(std: Standard, entity: str) -> set[str]:
    """Elements a row rule may quarantine a row for (their raw value is kept in the stage)."""
    return {r.element for r in std.row_rules if r.entity == entity}


def quarantine_rows(run: StandardizeRun, entity: str, stage: str, elements: list[DataElement]) -> None:
    con = run.con
    parts = []
    for e in elements:
        if not e.required:
            continue
        n = e.element
        raw = f"{qi(n + '__raw')}"
        if e.pii or e.normalizer == "id_number":
            raw = mask_sql(raw)
        parts.append(
            f"SELECT source_id, file_id, row_number, {ql(n)} AS element, {raw} AS raw_value, "
            f"CASE WHEN {qi(n + '__oc')} = 'missing' THEN 'MISSING_REQUIRED' ELSE "
            f"coalesce({qi(n + '__rc')}, 'INVALID_FORMAT') END AS reason_code "
            f"FROM {stage} WHERE {qi(n + '__oc')} NOT IN ('valid', 'corrected')"
        )
    names = {e.element for e in elements}
    rules = row_rule_conditions(run.std, entity)
    rules += institution_rules(run, entity, names)
    for element, code, cond in rules:
        parts.append(
            f"SELECT source_id, file_id, row_number, {ql(element)}, {qi(element + '__raw')}, {ql(code)} "
            f"FROM {stage} WHERE {cond}"
        )
    problems = f"_std_problems_{entity}"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {problems} AS " + " UNION ALL ".join(parts))
    # duplicate record keys among the rows without another problem: the newest file wins, and in it
    # the first row
    key = run.std.record_keys[entity]
    con.execute(
        f"""INSERT INTO {problems}
        SELECT source_id, file_id, row_number, {ql(key[-1])}, {qi(key[-1] + "__raw")}, 'DUPLICATE_KEY'
        FROM (
            SELECT s.source_id, s.file_id, s.row_number, s.{qi(key[-1] + "__raw")},
                   row_number() OVER (PARTITION BY {", ".join("s." + qi(k) for k in key)}
                                      ORDER BY s._received_at DESC NULLS LAST, s.file_id, s.row_number) AS rn
            FROM {stage} s ANTI JOIN {problems} p
              ON s.source_id = p.source_id AND s.file_id = p.file_id AND s.row_number = p.row_number
        ) WHERE rn > 1"""
    )
    if run.scope:
        # a new row with the record key of a row already in std.<entity>: which one wins depends on
        # both files, so the entity is rebuilt in full
        match = " AND ".join(f"t.{qi(k)} IS NOT DISTINCT FROM s.{qi(k)}" for k in key)
        clash = con.execute(
            f"SELECT count(*) FROM {stage} s ANTI JOIN {problems} p ON s.source_id = p.source_id "
            "AND s.file_id = p.file_id AND s.row_number = p.row_number "
            f"WHERE EXISTS (SELECT 1 FROM std.{qi(entity)} t WHERE {match})"
        ).fetchall()[0][0]
        if clash:
            raise NeedsFullRebuild(f"{clash} new rows repeat the record key of earlier files' rows")
        con.execute(
            f"DELETE FROM std.quarantine WHERE entity = ? AND file_id IN (SELECT file_id FROM {run.scope})",
            [entity],
        )
    else:
        con.execute("DELETE FROM std.quarantine WHERE entity = ?", [entity])
    con.execute(
        f"""INSERT INTO std.quarantine
        SELECT p.file_id, p.source_id, {ql(entity)}, p.row_number, 'standardize', p.element, p.raw_value,
               p.reason_code, coalesce(rc.name_en || ' (' || rc.name_zh || ')', p.reason_code), NULL
        FROM {problems} p LEFT JOIN ref.reason_codes rc ON rc.code = p.reason_code
        ORDER BY p.source_id, p.file_id, p.row_number, p.element"""
    )


def institution_rules(run: StandardizeRun, entity: str, names: set[str]) -> list[tuple[str, str, str]]:
    """A source whose YAML lists its ``institutions`` may send only those: a row naming another
    registered institution is quarantined (INSTITUTION_NOT_IN_SOURCE). Referrals: the sending or
    the receiving institution must be one of them."""
    out = []
    for source_id, cfg in sorted(run.sources.items()):
        if cfg.institutions is None:
            continue
        allowed = ", ".join(ql(c) for c in cfg.institutions)
        pairs = [("from_institution_code", "to_institution_code")] if entity == "referrals" else []
        singles = [n for n in ("institution_code", "booking_institution_code") if n in names]
        for n in singles:
            out.append(
                (
                    n,
                    "INSTITUTION_NOT_IN_SOURCE",
                    f"source_id = {ql(source_id)} AND {qi(n)} NOT IN ({allowed})",
                )
            )
        for a, b in pairs:
            if {a, b} <= names:
                out.append(
                    (
                        a,
                        "INSTITUTION_NOT_IN_SOURCE",
                        f"source_id = {ql(source_id)} AND coalesce({qi(a)} NOT IN ({allowed}), true) "
                        f"AND coalesce({qi(b)} NOT IN ({allowed}), true) AND ({qi(a)} IS NOT NULL OR {qi(b)} IS NOT NULL)",
                    )
                )
    return out
