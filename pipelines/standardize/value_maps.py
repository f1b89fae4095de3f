"""Distinct raw values -> mapping tables (raw, value, outcome, rule, reason_code).

Each element's raw values are reduced to their DISTINCT values in DuckDB (staging); here each
distinct value is mapped once: the element type's SQL fast path, then std.normalizer_cache, then the
element type's Python normalizer for the rest (pipelines.standardize.element_types).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from pipelines.contracts.bindings import Binding
from pipelines.contracts.sql import quote_literal as ql
from pipelines.standardize import normalizers
from pipelines.standardize.element_types import (
    ELEMENT_TYPES,
    OTHER_DOCUMENT,
    Lookups,
    cache_parameters,
    element_type,
)
from pipelines.standardize.fastpaths import OUTCOME_COLUMNS
from pipelines.standardize.run_context import VALID_SENTINEL, StandardizeRun

OUTCOME_SCHEMA = pa.schema([(c, pa.string()) for c in OUTCOME_COLUMNS])


def map_distinct_values(
    run: StandardizeRun,
    dist: str,
    map_table: str,
    fn: Callable[[str], normalizers.Outcome],
    fast_sql: str | None = None,
    cache_key: str | None = None,
):
    """Map the distinct raw values of ``dist``: the SQL fast path, then std.normalizer_cache (values
    mapped by an earlier run with the same normalizer, parameters, standard and engine version),
    then the Python normalizer for the rest, whose outcomes are added to the cache."""
    con = run.con
    if fast_sql:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {map_table} AS {fast_sql}")
    else:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {map_table} (raw VARCHAR, value VARCHAR, outcome VARCHAR, "
            "rule VARCHAR, reason_code VARCHAR)"
        )
    key = f"{run.cache_prefix}|{cache_key}" if cache_key else None
    if key:
        con.execute(
            f"INSERT INTO {map_table} SELECT c.raw, c.value, c.outcome, c.rule, c.reason_code "
            f"FROM std.normalizer_cache c SEMI JOIN {dist} d ON d.raw = c.raw WHERE c.cache_key = ? "
            f"AND NOT EXISTS (SELECT 1 FROM {map_table} m WHERE m.raw = c.raw)",
            [key],
        )
    rest = con.execute(
        f"SELECT d.raw FROM {dist} d WHERE d.raw IS NOT NULL AND d.raw <> {ql(VALID_SENTINEL)} AND NOT EXISTS "
        f"(SELECT 1 FROM {map_table} m WHERE m.raw = d.raw)"
    ).fetchall()
    if rest:
        cols: dict[str, list[Any]] = {c: [] for c in OUTCOME_COLUMNS}
        for (raw,) in rest:
            o = fn(raw)
            cols["raw"].append(raw)
            cols["value"].append(o.value)
            cols["outcome"].append(o.outcome)
            cols["rule"].append(o.rule)
            cols["reason_code"].append(o.reason_code)
        arrow = pa.table(cols, schema=OUTCOME_SCHEMA)
        con.register("_std_rest", arrow)
        con.execute(f"INSERT INTO {map_table} SELECT * FROM _std_rest")
        if key:
            con.execute("INSERT INTO std.normalizer_cache SELECT ?, * FROM _std_rest", [key])
        con.unregister("_std_rest")


def build_value_map(run: StandardizeRun, dist: str, binding: Binding) -> str:
    """The mapping table of the distinct values in ``dist`` for ``binding``'s element. An ID number
    gets a second table (``<name>_other``): the values read as another document type."""
    e = binding.element
    kind = element_type(binding)
    lookups = Lookups(run.synonyms, run.institutions)
    mapping = run.tmp("map")
    # std.normalizer_cache holds raw values: only for elements that carry no personal data
    cache_key = (
        json.dumps(cache_parameters(binding), sort_keys=True, default=str)
        if kind.cached and not e.pii
        else None
    )
    fast = kind.fast_sql(dist, binding) if kind.fast_sql else None
    map_distinct_values(run, dist, mapping, kind.normalizer(binding, lookups), fast, cache_key)
    if kind.name == "id_number":
        map_distinct_values(run, dist, mapping + "_other", OTHER_DOCUMENT.normalizer(binding, lookups))
    return mapping


def valid_predicate(binding: Binding, x: str) -> str | None:
    """SQL proving the raw value ``x`` is already canonical (None: every value is mapped)."""
    kind = ELEMENT_TYPES.get(binding.element.normalizer)
    return kind.valid_sql(x, binding) if kind and kind.valid_sql else None
