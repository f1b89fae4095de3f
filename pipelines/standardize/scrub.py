"""Free-text scrubbing at standardization (elements with ``pii_class = free_text``).

Nothing typed into a free-text element (diagnosis text, department, referral reason, discharge
plan ...) leaves the raw landing with a resident ID, a phone number or the patient's own name in it.
The engine calls this module in three places, all set-based:

1. ``row_sql``: per row, in SQL, the record's own patient name is replaced by ``[姓名]`` (the only
   step that needs the row) and full-width digits are folded; the engine then takes DISTINCT values
   of that expression as usual.
2. ``normalize``: per distinct value, resident IDs (check character verified) and phone numbers are
   replaced (``pipelines.privacy.scrub``) and the text normalizer runs; a value that was scrubbed is
   ``corrected`` with rule ``scrub_id_number`` / ``scrub_phone`` / ``scrub_name`` (joined with ``+``
   to the text rules), so ``std.value_outcomes`` counts the scrubbed rows per element and source.
3. ``outcome_raw_sql``: the raw value a value outcome shows is itself scrubbed (SQL twin).

``scrub_counts(con)`` sums those outcomes: rows scrubbed per (entity, element, source, kind).
"""

from __future__ import annotations

from pipelines import privacy
from pipelines.standardize import normalizers
from pipelines.standardize.standard import DataElement

SCRUB_RULES = {kind: f"scrub_{kind}" for kind in privacy.SCRUB_KINDS}


def applies(e: DataElement) -> bool:
    return e.pii_class == "free_text"


def row_sql(raw_sql: str, name_sql: str | None) -> str:
    """Row-level part of the scrub: fold full-width digits, replace the row's own patient name."""
    steps = privacy.scrub_sql_steps(raw_sql, None)
    folded = steps["folded"]
    if name_sql is None:
        return folded
    return privacy.name_replace_sql(folded, name_sql)


def normalize(raw: str | None) -> normalizers.Outcome:
    """Scrub one distinct (name-replaced) value, then normalize it as free text."""
    if raw is None:
        return normalizers.normalize_text(raw)
    scrubbed, found = privacy.scrub_steps(raw)
    if privacy.NAME_PLACEHOLDER in raw:  # replaced per row by row_sql
        found["name"] = True
    o = normalizers.normalize_text(scrubbed)
    rules = [SCRUB_RULES[k] for k, hit in found.items() if hit]
    if not rules:
        return o
    if o.value is None:
        return normalizers.Outcome(None, "corrected", "+".join(rules))
    text_rules = [o.rule] if o.outcome == "corrected" and o.rule else []
    return normalizers.Outcome(o.value, "corrected", "+".join(rules + text_rules))


def rules_in(text: str | None) -> list[str]:
    """The scrub rules a scrubbed text shows (its placeholders): for outcomes recorded after the
    scrub, e.g. the diagnosis standardizer's per (name, code) outcomes."""
    if not text:
        return []
    return [SCRUB_RULES[k] for k, p in privacy.SCRUB_KINDS.items() if p in text]


def with_rules(text: str | None, rule: str | None) -> str | None:
    """``rule`` prefixed with the scrub rules of ``text`` (joined with ``+``)."""
    rules = rules_in(text) + ([rule] if rule else [])
    return "+".join(rules) or None


def outcome_raw_sql(expr: str) -> str:
    """What std.value_outcomes shows as the raw value of a free-text element: scrubbed."""
    return privacy.scrub_sql(expr)


def scrub_counts(con) -> list[tuple[str, str, str, str, int]]:
    """(entity, element, source_id, kind, rows) from std.value_outcomes, kind in id_number/phone/name."""
    out = []
    for kind, rule in SCRUB_RULES.items():
        out += con.execute(
            f"SELECT entity, element, source_id, '{kind}', CAST(sum(n_rows) AS BIGINT) FROM std.value_outcomes "
            f"WHERE list_contains(string_split(rule, '+'), '{rule}') GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    return sorted(out)
