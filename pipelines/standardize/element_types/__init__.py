"""Element types: the registry of what each ``normalizer`` of the standard does, side by side.

One entry per value of the ``normalizer`` column of ``standard/data_elements.csv``:

- ``normalizer``  the Python normalizer of one distinct raw value (the specification, in
                  :mod:`pipelines.standardize.normalizers`), built for an element and its binding;
- ``fast_sql``    optional set-based DuckDB SQL that maps the well-shaped distinct values first
                  (:mod:`pipelines.standardize.fastpaths`; for any value it maps it returns what the
                  Python normalizer returns: tests check it);
- ``valid_sql``   optional SQL predicate proving a raw value is already canonical, so the row needs
                  no mapping at all (the high-cardinality types); must imply the normalizer returns
                  ``Outcome(raw, 'valid')``;
- ``cached``      mapped values may be kept in std.normalizer_cache (never for personal data);
- ``high_cardinality`` value outcomes aggregate the valid values (one row, raw_value NULL).

Adding an element of an existing type is one CSV row; a new type is one entry here plus its
normalizer (and optionally its SQL twins).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipelines.contracts.bindings import Binding
from pipelines.standardize import fastpaths as sql_twins
from pipelines.standardize import normalizers, scrub

# max = received in the standard: not after the file's received_at (else FUTURE_DATE, a row rule)
RECEIVED = "received"

Normalizer = Callable[[str], normalizers.Outcome]


@dataclass(frozen=True)
class Lookups:
    """Run-wide data a normalizer may need: value-domain synonyms and the institution registry."""

    synonyms: dict[str, dict[str, str]]
    institutions: dict[str, str]


@dataclass(frozen=True)
class ElementType:
    name: str
    normalizer: Callable[[Binding, Lookups], Normalizer]
    fast_sql: Callable[[str, Binding], str] | None = None  # (distinct-value table, binding) -> SQL
    valid_sql: Callable[[str, Binding], str] | None = None  # (raw value SQL, binding) -> predicate
    cached: bool = False
    high_cardinality: bool = False


def upper_bound(binding: Binding) -> str:
    """The element's max as a fixed bound ('' when it is the file's arrival, checked per row)."""
    return "" if binding.element.max == RECEIVED else binding.element.max


def _datetime_type(kind: str) -> ElementType:
    return ElementType(
        kind,
        normalizer=lambda b, _: (
            lambda raw: normalizers.normalize_datetime(
                raw, kind=kind, formats=b.date_formats, lo=b.element.min, hi=upper_bound(b)
            )
        ),
        fast_sql=lambda dist, b: sql_twins.datetime_fastpath_sql(
            dist, kind, b.date_formats, b.element.min, upper_bound(b)
        ),
        valid_sql=lambda x, b: sql_twins.datetime_valid_sql(
            x, kind, b.date_formats, b.element.min, upper_bound(b)
        ),
        cached=True,
        high_cardinality=True,
    )


def _number_type(kind: str) -> ElementType:
    return ElementType(
        kind,
        normalizer=lambda b, _: (
            lambda raw: normalizers.normalize_number(raw, kind=kind, lo=b.element.min, hi=b.element.max)
        ),
        valid_sql=lambda x, b: sql_twins.number_valid_sql(x, kind, b.element.min, b.element.max),
        cached=True,
        high_cardinality=True,
    )


def _plain(normalize: Normalizer) -> Callable[[Binding, Lookups], Normalizer]:
    return lambda _b, _l: normalize


ELEMENT_TYPES: dict[str, ElementType] = {
    t.name: t
    for t in (
        _datetime_type("date"),
        _datetime_type("datetime"),
        _number_type("integer"),
        _number_type("decimal"),
        ElementType(
            "id_number",  # resident IDs; other document types are mapped too (see OTHER_DOCUMENT)
            normalizer=_plain(normalizers.normalize_resident_id),
            fast_sql=lambda dist, _b: sql_twins.resident_id_fastpath_sql(dist),
            valid_sql=lambda x, _b: sql_twins.resident_id_valid_sql(x),
            high_cardinality=True,
        ),
        ElementType(
            "identifier",
            normalizer=_plain(normalizers.normalize_identifier),
            valid_sql=lambda x, _b: sql_twins.identifier_valid_sql(x),
            high_cardinality=True,
        ),
        ElementType(
            "domain",
            normalizer=lambda b, lookups: (
                lambda raw: normalizers.normalize_code(
                    raw, lookups.synonyms[b.element.value_domain], b.value_map
                )
            ),
            cached=True,
        ),
        ElementType(
            "institution",
            normalizer=lambda _b, lookups: (
                lambda raw: normalizers.normalize_institution(raw, lookups.institutions)
            ),
            cached=True,
        ),
        ElementType("county_code", normalizer=_plain(normalizers.normalize_county_code), cached=True),
        ElementType(
            "phone",
            normalizer=_plain(normalizers.normalize_phone),
            valid_sql=lambda x, _b: sql_twins.phone_valid_sql(x),
        ),
        ElementType(
            "pii_drop",
            normalizer=_plain(normalizers.normalize_present),
            valid_sql=lambda x, _b: sql_twins.present_valid_sql(x),
        ),
        ElementType("text", normalizer=_plain(normalizers.normalize_text), high_cardinality=True),
        # diagnosis texts are mapped per (name, code) pair by the diagnosis standardizer
        ElementType("diagnosis", normalizer=_plain(normalizers.normalize_text)),
    )
}
# free text (pii_class free_text): IDs, phones and the patient's name scrubbed per distinct value
FREE_TEXT = ElementType("free_text", normalizer=_plain(scrub.normalize), high_cardinality=True)
# the second mapping of an ID number: as a document other than a resident ID (chosen per row by type)
OTHER_DOCUMENT = ElementType("other_document", normalizer=_plain(normalizers.normalize_other_document))


def element_type(binding: Binding) -> ElementType:
    """The type that maps ``binding``'s element (free text first, whatever its normalizer)."""
    if scrub.applies(binding.element):
        return FREE_TEXT
    return ELEMENT_TYPES.get(binding.element.normalizer, ELEMENT_TYPES["text"])


def cache_parameters(binding: Binding) -> list[Any]:
    """What, besides the raw value, decides a cached normalizer's outcome."""
    e = binding.element
    return [e.normalizer, e.value_domain, e.min, e.max, binding.date_formats, binding.value_map]
