"""Drill-down: the rows behind a failing check, with personal data masked.

Rows are recomputed from the current warehouse with the same SQL that counted them, so what is
listed is exactly what was counted. Resident ID numbers, names and phone numbers are never
returned: an ID is shown only as its shape (``pipelines.privacy.mask``) and length, free text
scrubbed (``pipelines.privacy.scrub``), a ``person_key`` only as
its first 8 hex characters, a birth date only as year-month.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from pipelines.ingest.registry import SourceConfig, load_sources
from pipelines.privacy import mask_sql, personal_data, scrub_sql
from pipelines.quality.catalogue import Catalogue, load_catalogue
from pipelines.quality.relations import relations_for_suite
from pipelines.quality.rules import PII_ELEMENTS, frame_sql, lit, q, referenced_elements

PERSON_KEY_CHARS = 8


def _masked_select(columns: list[str], available: set[str]) -> list[str]:
    out, seen = [], set()
    for col in columns:
        if col not in available:
            continue
        if col == "_source_id":
            name, expr = "source_id", "_source_id"
        elif col == "_institution":
            name, expr = "institution_code", "_institution"
        elif col == "person_key":
            name, expr = "person_key", f"left(CAST(person_key AS VARCHAR), {PERSON_KEY_CHARS}) || '…'"
        elif col == "_std_reasons":
            name, expr = "quarantine_reasons", "array_to_string(_std_reasons, ',')"
        elif col == "birth_date":
            name, expr = "birth_month", "strftime(TRY_CAST(birth_date AS DATE), '%Y-%m')"
        elif col in PII_ELEMENTS:
            continue
        elif col in personal_data().free_text:
            name, expr = col, scrub_sql(q(col))
        else:
            name, expr = col, q(col)
        if name in seen:
            continue
        seen.add(name)
        out.append(f"{expr} AS {q(name)}")
    return out


def violating_rows(
    con: duckdb.DuckDBPyConnection,
    check_id: str,
    limit: int = 100,
    *,
    source_id: str | None = None,
    as_of: dt.datetime | None = None,
    sources: dict[str, SourceConfig] | None = None,
    catalogue: Catalogue | None = None,
    per_source: bool = False,
) -> pd.DataFrame:
    """Up to ``limit`` rows violating ``check_id`` (optionally of one source), masked.

    ``per_source=True``: up to ``limit`` rows for each source (one pass over the table).

    Columns: the row's lineage (source_id, file_id, row_number, institution_code, record key),
    the elements the rule reads, and for resident-ID rules ``id_shape`` / ``id_length`` /
    ``id_birth_month`` / ``id_sex`` derived from the ID instead of the ID itself.
    """
    cat = catalogue or load_catalogue()
    check = cat.check(check_id)
    suite = cat.suites[check.suite]
    srcs = load_sources() if sources is None else sources
    as_of_s = (as_of or dt.datetime.now()).strftime("%Y-%m-%d %H:%M:%S")
    parts = []
    for rel in relations_for_suite(con, cat, suite, srcs):
        if source_id is not None and rel.source_id is not None and rel.source_id != source_id:
            continue
        frame = frame_sql(con, rel, [check], cat, as_of_s)
        available = set(con.sql(f"SELECT * FROM ({frame}) LIMIT 0").columns)
        cols = list(rel.context_columns) + [
            e for e in referenced_elements(check) if e not in rel.context_columns
        ]
        select = _masked_select(cols, available)
        if "_id" in available:
            select += [
                f"{mask_sql('_id')} AS id_shape",
                "length(_id) AS id_length",
                "strftime(try_strptime(substr(_id, 7, 8), '%Y%m%d'), '%Y-%m') AS id_birth_month",
                "CASE WHEN regexp_full_match(substr(_id, 17, 1), '[0-9]') THEN "
                "CASE WHEN CAST(substr(_id, 17, 1) AS INTEGER) % 2 = 1 THEN '1' ELSE '2' END END AS id_sex",
            ]
        where = f"{q(check.flag_column)} = false"
        if source_id is not None:
            where += f" AND _source_id = {lit(source_id)}"
        parts.append(
            f"SELECT {', '.join(select)}, {lit(rel.table)} AS table_name, _order AS _sort FROM ({frame}) WHERE {where}"
        )
    if not parts:
        return pd.DataFrame()
    if per_source:
        tail = f"QUALIFY row_number() OVER (PARTITION BY _source_id ORDER BY _order) <= {int(limit)} ORDER BY _sort"
    else:
        tail = f"ORDER BY _sort LIMIT {int(limit)}"
    frames = [con.sql(f"{p} {tail}").df() for p in parts]
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    df = df.drop(columns=["_sort"])
    if not per_source:
        df = df.head(int(limit))
    return df.reset_index(drop=True)
