"""``referral-warehouse sources draft FILE``: a first source YAML for an unseen export, with a
comment on every guess. The engineer reads it, fixes what is wrong, then runs ``sources check``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.contracts.standard import standard_at
from pipelines.ingest.registry import canonical_elements
from pipelines.onboarding.sniff import Sniffed, detect_date_formats, match_header, norm_header, sniff
from pipelines.settings import STANDARD_DIR

ENTITY_WORDS = {
    "visits": ("visit", "门诊", "就诊", "住院", "急诊", "outpatient", "encounter"),
    "referrals": ("referral", "转诊", "上转", "下转"),
    "followups": ("followup", "follow", "随访"),
    "contracts": ("contract", "签约"),
    "slot_pools": ("slot_pool", "pool", "号源", "排班"),
    "slot_bookings": ("booking", "预约"),
}


@dataclass
class ColumnGuess:
    header: str
    element: str | None
    how: str
    date_formats: list[str] = field(default_factory=list)
    date_note: str = ""
    value_map: dict[str, str] = field(default_factory=dict)
    value_note: str = ""


@dataclass
class Draft:
    sniffed: Sniffed
    source_id: str
    entity: str
    pattern: str
    columns: list[ColumnGuess]
    yaml_text: str

    @property
    def mapping(self) -> dict[str, str | None]:
        return {c.header: c.element for c in self.columns}


def _elements_info(standard_dir: Path = STANDARD_DIR) -> dict[tuple[str, str], dict[str, str]]:
    """(entity, element) -> the element's fields as text (as in data_elements.csv), canonical layer."""
    std = standard_at(standard_dir)
    return {
        (e.entity, e.element): {**e.__dict__, "required": "Y" if e.required else "N"}
        for e in std.elements
        if e.layer == "canonical"
    }


def _domain_values(standard_dir: Path = STANDARD_DIR) -> dict[str, list[dict[str, str]]]:
    """domain_id -> its codes as rows of value_domains.csv (synonyms ``|``-joined)."""
    out: dict[str, list[dict[str, str]]] = {}
    for v in standard_at(standard_dir).domain_values:
        out.setdefault(v.domain_id, []).append({**v.__dict__, "synonyms": "|".join(v.synonyms)})
    return out


def guess_code(raw: str, domain: list[dict[str, str]]) -> str | None:
    """A value-domain code for a spelling the domain does not know: the code whose name is contained
    in it (or contains it). None when nothing or several fit."""
    s = raw.strip()
    hits = {
        v["code"]
        for v in domain
        if v["name_zh"] and (v["name_zh"] in s or (len(s) >= 2 and s in v["name_zh"]))
    }
    return hits.pop() if len(hits) == 1 else None


def _known_spelling(raw: str, domain: list[dict[str, str]]) -> bool:
    s = raw.strip()
    return any(s == v["code"] or s in v["synonyms"].split("|") for v in domain)


def choose_entity(headers: list[str], file_name: str) -> str:
    scores = {}
    name = file_name.lower()
    for entity, elements in canonical_elements().items():
        matched = {match_header(h, elements)[0] for h in headers} - {None}
        word = any(w in name for w in ENTITY_WORDS.get(entity, ()))
        scores[entity] = (len(matched) + (3 if word else 0), -list(canonical_elements()).index(entity))
    return max(scores, key=lambda e: scores[e])


def file_pattern(name: str) -> str:
    return re.sub(r"\d{6,8}(?:[-_至~]\d{6,8})?", "*", name) if re.search(r"\d{6}", name) else name


def _q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _key(s: str) -> str:
    """A YAML mapping key: bare when safe, else quoted."""
    if re.fullmatch(r"[\w\u3400-\u9fff()（）/%]+", s) and not re.fullmatch(
        r"[\d.]+|true|false|null|yes|no|on|off", s, re.I
    ):
        return s
    return _q(s)


def draft(path: Path, source_id: str | None = None, entity: str | None = None) -> Draft:
    if entity is not None and entity not in canonical_elements():
        raise ValueError(f"unknown entity {entity!r}; known: {', '.join(canonical_elements())}")
    s = sniff(path)
    entity = entity or choose_entity(s.header, path.name)
    elements = canonical_elements()[entity]
    info = _elements_info()
    domains = _domain_values()
    guesses: list[ColumnGuess] = []
    taken: set[str] = set()
    for i, h in enumerate(s.header):
        if not h:
            continue
        el, how = match_header(h, elements)
        if el in taken:  # one column per element: the first wins, the others are kept in _extra
            how = f"also looks like {el}, which an earlier column took"
            el = None
        g = ColumnGuess(h, el, how)
        if el:
            taken.add(el)
            meta = info[(entity, el)]
            values = s.column(i)
            if meta["normalizer"] in ("date", "datetime"):
                fmts, share, serial = detect_date_formats(values[:300])
                g.date_formats = [
                    f for f in fmts if f not in ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S")
                ]  # ISO: built in
                g.date_note = f"{share:.0%} of {len(values[:300])} sample values read" + (
                    "; Excel serial day numbers are read without a format" if serial else ""
                )
            elif meta["normalizer"] == "domain" and meta["value_domain"] in domains:
                dom = domains[meta["value_domain"]]
                unknown = sorted({v for v in values if not _known_spelling(v, dom)})
                for v in unknown[:30]:
                    code = guess_code(v, dom)
                    if code is not None:
                        g.value_map[v] = code
                left = [v for v in unknown if v not in g.value_map]
                if g.value_map or left:
                    g.value_note = "value_map guessed from the value domain's names" + (
                        f"; not placed: {', '.join(left[:8])}" if left else ""
                    )
        guesses.append(g)
    sid = source_id or re.sub(r"[^A-Za-z0-9_]+", "_", path.parent.name).strip("_").lower() or "new_source"
    if not re.match(r"^[A-Za-z0-9]", sid):
        sid = "new_source"
    pattern = file_pattern(path.name)
    text = _render(s, sid, entity, pattern, guesses, info)
    return Draft(s, sid, entity, pattern, guesses, text)


def _render(s: Sniffed, sid: str, entity: str, pattern: str, guesses: list[ColumnGuess], info) -> str:
    mapped = [g for g in guesses if g.element]
    required = [
        g.header
        for g in mapped
        if info[(entity, g.element)]["required"] == "Y" and g.element != "institution_code"
    ]
    L = [
        f"# DRAFT written by `referral-warehouse sources draft {s.path.name}`: every line marked",
        "# `# guess` is a guess. Check it, then run `referral-warehouse sources check` on the file.",
        f"source_id: {sid}                      # guess: = the inbox folder data/inbox/{sid}/",
        f"name: {_q(sid + ' (draft)')}",
        "version: 1",
        "institutions: any                    # or the list of institution codes this source sends",
        f"format: {s.format}",
    ]
    if s.encoding:
        L.append(
            f"encoding: {s.encoding}{' ' * max(1, 22 - len(s.encoding))}# guess: detected from the bytes"
        )
    if s.format == "csv":
        d = {"\t": "\\t"}.get(s.delimiter or ",", s.delimiter or ",")
        L.append(f'delimiter: "{d}"                      # guess: detected')
    L.append(f"header_row: {s.header_row}                        # guess: the row that looks like a header")
    if s.format == "xlsx" and s.notes and s.sheet:
        L.append(
            f"sheets: [{_q(s.sheet)}]              # guess: the sheet with the most rows (the others look like notes)"
        )
    if s.footer:
        L.append('footer_regex: "^(合计|总计|小计|共计)"   # guess: a totals row was found at the end')
    for note in s.notes:
        L.append(f"# note: {note}")
    L += ["files:", f"  - entity: {entity}                  # guess: from the headers and the file name"]
    L.append(f"    pattern: {_q(pattern)}")
    if required:
        L.append(
            f"    required_columns: [{', '.join(_key(h) for h in required)}]   # guess: the required elements found"
        )
    L.append("    columns:")
    for g in guesses:
        if not g.element:
            L.append(
                f"      # {_key(g.header)}: ?      # not matched ({g.how}): kept in _extra; map it by hand if needed"
            )
            continue
        parts = [f"element: {g.element}"]
        if g.date_formats:
            parts.append("date_formats: [" + ", ".join(_q(f) for f in g.date_formats) + "]")
        if g.value_map:
            parts.append(
                "value_map: {" + ", ".join(f"{_key(k)}: {_q(v)}" for k, v in g.value_map.items()) + "}"
            )
        notes = [f"guess: {g.how}"] + [n for n in (g.date_note, g.value_note) if n]
        L.append(f"      {_key(g.header)}: {{{', '.join(parts)}}}   # {'; '.join(notes)}")
    elements = {g.element for g in mapped}
    todo = []
    if "institution_code" in canonical_elements()[entity] and "institution_code" not in elements:
        todo.append(
            'institution_code: "<code>"   # no institution column: give the code (or list ONE code under '
            "institutions:, which then becomes the constant)"
        )
    if entity == "visits" and "visit_type_code" not in elements:
        todo.append('visit_type_code: "1"          # no visit-type column: 1 门诊, 2 急诊, 3 住院')
    if todo:
        L.append(
            "    # constants:                 # the value of every row (defaults: where the column is empty)"
        )
        L += [f"    #   {t}" for t in todo]
    return "\n".join(L) + "\n"


def score(mapping: dict[str, str | None], expected: dict[str, str | None]) -> tuple[int, int]:
    """(columns mapped right, columns) against a hand-written answer (None = should stay unmapped)."""
    right = sum(1 for h, el in expected.items() if mapping.get(h) == el)
    return right, len(expected)


__all__ = ["Draft", "draft", "score", "norm_header"]
