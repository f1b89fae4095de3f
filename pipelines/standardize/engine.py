"""The standardizer: raw.<source_id>__<entity> landing tables -> std.* tables on the standard.

Per entity and source: every mapped raw column is reduced to its DISTINCT values in DuckDB; each
distinct value is normalized once (a DuckDB fast path for the well-shaped ones, the Python
normalizer for the rest) into a mapping table; ONE ``CREATE TABLE AS SELECT ... LEFT JOIN map ...``
per entity joins the mappings back. Row rules (ID cross-checks, date order, duplicate keys,
required elements) run in SQL on that stage; rows with a problem go to std.quarantine (one row per
problem), all others to std.<entity>. Nothing is dropped: landed = std rows + quarantined rows.

Tables written (docs/design.md "DuckDB warehouse"), with these additions to the design's columns:
- std.<entity>: canonical columns typed, without patient_id_number/patient_name/phone, plus person_key,
  the derived elements of standard/derived_elements.csv and lineage (source_id, file_id, row_number).
- std.quarantine: raw_value is masked for PII elements (shape only: pipelines.privacy.mask); raw_record is NULL (the raw row
  stays in raw.<source>__<entity>, found by file_id and row_number).
- std.value_outcomes: + first_seen/last_seen (raw.files.received_at); outcome also 'missing'; valid
  values of high-cardinality elements (IDs, date-times, numbers, identifiers) and every outcome of PII
  elements are aggregated (raw_value NULL). Per (entity, element, source) n_rows sums to the landed
  rows (diagnosis_name: one row per distinct (name, code) pair).
- std.row_outcomes (entity, element, source_id, outcome, rule, reason_code, n_rows, first_seen,
  last_seen): corrections that act on a row after the value outcomes: sex/birth date taken from a valid
  resident ID (ID_SEX_MISMATCH, ID_BIRTHDATE_MISMATCH when they contradicted it), ID type inferred,
  FUTURE_DATE.
- ref.reason_codes (standard/reason_codes.csv) next to ref.data_elements and ref.value_domains;
  ref.terminology from the diagnosis standardizer's pack.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from pipelines.contracts.bindings import Binding, bindings_for
from pipelines.contracts.sql import quote_identifier as qi
from pipelines.contracts.sql import quote_literal as ql
from pipelines.contracts.standard import DataElement, Standard, default_standard, record_keys
from pipelines.ingest.registry import SourceConfig
from pipelines.privacy import mask_sql
from pipelines.standardize import fastpaths as fp
from pipelines.standardize import normalizers as nz
from pipelines.standardize import scrub
from pipelines.standardize.secret import hmac_pads
from pipelines.standardize.standard import load_ref_tables


def __getattr__(name: str):
    if name == "ENTITIES":  # the exported entities (standard/entity_keys.csv), read on first use
        return tuple(record_keys())
    raise AttributeError(name)


OK_OUTCOMES = ("valid", "corrected")
# Element types whose distinct values grow with the data: value outcomes keep their valid values
# aggregated (one row with raw_value NULL) instead of one row per distinct value.
HIGH_CARDINALITY = {"identifier", "id_number", "datetime", "date", "decimal", "integer", "text"}
RECEIVED = "received"
VALID_SENTINEL = "\x00canonical"  # the distinct-value group of rows a valid predicate proved canonical
RULE_ELEMENTS = {
    "discharge_datetime",
    "end_date",
    "reserved_slots",
}  # quarantined by a row rule  # max = received: not after the file's received_at (else FUTURE_DATE)
DX_COLUMNS = {
    "diagnosis_code_std": ("code", "VARCHAR"),
    "diagnosis_name_std": ("name", "VARCHAR"),
    "diagnosis_code_system": ("code_system", "VARCHAR"),
    "icd10_category": ("icd10_category", "VARCHAR"),
    "hypertension_grade": ("hypertension_grade", "INTEGER"),
    "risk_tier": ("risk_tier", "VARCHAR"),
    "diabetes_type": ("diabetes_type", "VARCHAR"),
    "copd_grade": ("copd_grade", "INTEGER"),
    "diagnosis_mapping_method": ("mapping_method", "VARCHAR"),
    "diagnosis_qualifier": ("qualifier", "VARCHAR"),
    "diagnosis_confidence": ("confidence", "DOUBLE"),
    "diagnosis_morphology_code": ("morphology_code", "VARCHAR"),
}
VISIT_DX_COLUMNS = [
    ("source_text", "VARCHAR"),
    ("source_code", "VARCHAR"),
    ("code_system", "VARCHAR"),
    ("code", "VARCHAR"),
    ("name", "VARCHAR"),
    ("icd10_category", "VARCHAR"),
    ("hypertension_grade", "INTEGER"),
    ("risk_tier", "VARCHAR"),
    ("diabetes_type", "VARCHAR"),
    ("copd_grade", "INTEGER"),
    ("mapping_method", "VARCHAR"),
    ("confidence", "DOUBLE"),
    ("qualifier", "VARCHAR"),
    ("morphology_code", "VARCHAR"),
    ("is_principal", "BOOLEAN"),
]
QUARANTINE_DDL = """
CREATE TABLE IF NOT EXISTS std.quarantine (
    file_id VARCHAR, source_id VARCHAR, entity VARCHAR, row_number BIGINT, stage VARCHAR,
    element VARCHAR, raw_value VARCHAR, reason_code VARCHAR, reason VARCHAR, raw_record VARCHAR
)"""
OUTCOMES_DDL = """
CREATE TABLE IF NOT EXISTS std.value_outcomes (
    entity VARCHAR, element VARCHAR, source_id VARCHAR, raw_value VARCHAR, normalized_value VARCHAR,
    outcome VARCHAR, rule VARCHAR, reason_code VARCHAR, n_rows BIGINT,
    first_seen TIMESTAMP, last_seen TIMESTAMP
)"""
ROW_OUTCOMES_DDL = """
CREATE TABLE IF NOT EXISTS std.row_outcomes (
    entity VARCHAR, element VARCHAR, source_id VARCHAR, outcome VARCHAR, rule VARCHAR, reason_code VARCHAR,
    n_rows BIGINT, first_seen TIMESTAMP, last_seen TIMESTAMP
)"""
OUTCOME_SCHEMA = pa.schema([(c, pa.string()) for c in fp.OUTCOME_COLUMNS])
# Bump when a change of this module changes what a given raw row standardizes to: the next run is
# then a full rebuild (std.standardize_runs), like a change of the standard's or terminology's version.
ENGINE_VERSION = "1"
RUNS_DDL = """
CREATE TABLE IF NOT EXISTS std.standardize_runs (
    run_id BIGINT, started_at TIMESTAMP, finished_at TIMESTAMP, mode VARCHAR, reason VARCHAR,
    standard_version VARCHAR, terminology_version VARCHAR, engine_version VARCHAR,
    files_new BIGINT, files_removed BIGINT, detail VARCHAR
)"""
LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS std.standardized_files (entity VARCHAR, source_id VARCHAR, file_id VARCHAR)"""
CACHE_DDL = """
CREATE TABLE IF NOT EXISTS std.normalizer_cache (
    cache_key VARCHAR, raw VARCHAR, value VARCHAR, outcome VARCHAR, rule VARCHAR, reason_code VARCHAR
)"""


CACHED_NORMALIZERS = {"domain", "institution", "county_code", "date", "datetime", "integer", "decimal"}


class _NeedsFull(Exception):
    """An incremental entity run found rows it cannot add without touching earlier files' rows."""


@dataclass
class EntityReport:
    entity: str
    landed: int = 0
    std_rows: int = 0
    quarantined_rows: int = 0
    problems: int = 0
    sources: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def reconciles(self) -> bool:
        return self.landed == self.std_rows + self.quarantined_rows


@dataclass
class StandardizeReport:
    standard_version: str
    entities: dict[str, EntityReport] = field(default_factory=dict)
    visit_diagnoses: int = 0
    unmapped_terms: int = 0
    diagnosis_available: bool = True
    seconds: float = 0.0
    mode: str = "full"
    mode_reason: str = ""
    detail: list[str] = field(default_factory=list)

    @property
    def reconciles(self) -> bool:
        return all(e.reconciles for e in self.entities.values())

    def __str__(self) -> str:
        parts = [
            f"{e.entity}: landed {e.landed} = std {e.std_rows} + quarantined {e.quarantined_rows}"
            f"{'' if e.reconciles else ' (DOES NOT RECONCILE)'}"
            for e in self.entities.values()
        ]
        return (
            f"standard v{self.standard_version}; "
            + "; ".join(parts)
            + f"; visit_diagnoses {self.visit_diagnoses}; "
            f"unmapped terms {self.unmapped_terms}; {self.seconds:.1f}s"
        )


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------


class _Run:
    def __init__(self, con, sources, secret, std: Standard, log, diagnosis):
        self.con = con
        self.sources = sources
        self.secret = secret
        self.std = std
        self.log = log
        self.diagnosis = diagnosis
        self.n = 0
        self.synonyms = {v.domain_id: std.synonym_map(v.domain_id) for v in std.domain_values}
        self.institutions = self._institution_lookup()
        # incremental entity runs: the temp table of the file ids to stage (None: every landed row),
        # and where their value/row outcomes go before they are merged into std.*
        self.scope: str | None = None
        self.vo = "std.value_outcomes"
        self.ro = "std.row_outcomes"
        inst = hashlib.sha256(json.dumps(sorted(self.institutions.items())).encode()).hexdigest()[:16]
        self.cache_prefix = f"{ENGINE_VERSION}|{std.version}|inst:{inst}"

    def tmp(self, prefix: str) -> str:
        self.n += 1
        return f"_std_{prefix}_{self.n}"

    def table_exists(self, schema: str, name: str) -> bool:
        return bool(
            self.con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                [schema, name],
            ).fetchall()[0][0]
        )

    def _institution_lookup(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if not self.table_exists("ref", "institutions"):
            self.log(
                "standardize: ref.institutions is missing; every institution code will be INSTITUTION_UNKNOWN"
            )
            return out
        for code, name in self.con.execute(
            "SELECT institution_code, institution_name FROM ref.institutions"
        ).fetchall():
            if code is None:
                continue
            out[code] = code
            out.setdefault(code.upper(), code)
            if name:
                out.setdefault(name.strip(), code)
        return out

    # -- distinct values -> mapping tables -------------------------------------------------------

    def python_map(
        self,
        dist: str,
        map_table: str,
        fn: Callable[[str], nz.Outcome],
        fast_sql: str | None = None,
        cache_key: str | None = None,
    ):
        """Map the distinct raw values of ``dist``: the SQL fast path, then std.normalizer_cache (values
        mapped by an earlier run with the same normalizer, parameters, standard and engine version),
        then the Python normalizer for the rest, whose outcomes are added to the cache."""
        con = self.con
        if fast_sql:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {map_table} AS {fast_sql}")
        else:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {map_table} (raw VARCHAR, value VARCHAR, outcome VARCHAR, "
                "rule VARCHAR, reason_code VARCHAR)"
            )
        key = f"{self.cache_prefix}|{cache_key}" if cache_key else None
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
            cols: dict[str, list[Any]] = {c: [] for c in fp.OUTCOME_COLUMNS}
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

    def build_map(self, dist: str, b: Binding, entity: str) -> str:
        e = b.element
        m = self.tmp("map")
        kind = e.normalizer
        hi = "" if e.max == RECEIVED else e.max
        # std.normalizer_cache holds raw values: only for elements that carry no personal data
        ck = (
            json.dumps(
                [kind, e.value_domain, e.min, e.max, b.date_formats, b.value_map], sort_keys=True, default=str
            )
            if kind in CACHED_NORMALIZERS and not e.pii
            else None
        )
        if scrub.applies(e):  # free text: IDs and phones scrubbed per distinct value
            self.python_map(dist, m, scrub.normalize)
        elif kind in ("date", "datetime"):
            fast = fp.datetime_fastpath_sql(dist, kind, b.date_formats, e.min, hi)
            self.python_map(
                dist,
                m,
                lambda r: nz.normalize_datetime(r, kind=kind, formats=b.date_formats, lo=e.min, hi=hi),
                fast,
                ck,
            )
        elif kind == "id_number":
            self.python_map(dist, m, nz.normalize_resident_id, fp.resident_id_fastpath_sql(dist), ck)
            other = m + "_other"
            self.python_map(dist, other, nz.normalize_other_document, cache_key=None)
        elif kind == "identifier":
            self.python_map(dist, m, nz.normalize_identifier, cache_key=ck)
        elif kind in ("integer", "decimal"):
            self.python_map(
                dist, m, lambda r: nz.normalize_number(r, kind=kind, lo=e.min, hi=e.max), cache_key=ck
            )
        elif kind == "domain":
            syn = self.synonyms[e.value_domain]
            self.python_map(dist, m, lambda r: nz.normalize_code(r, syn, b.value_map), cache_key=ck)
        elif kind == "institution":
            self.python_map(dist, m, lambda r: nz.normalize_institution(r, self.institutions), cache_key=ck)
        elif kind == "phone":
            self.python_map(dist, m, nz.normalize_phone, cache_key=ck)
        elif kind == "county_code":
            self.python_map(dist, m, nz.normalize_county_code, cache_key=ck)
        elif kind == "pii_drop":
            self.python_map(dist, m, nz.normalize_present, cache_key=ck)
        else:  # text, diagnosis (diagnosis texts are mapped per (name, code) pair later)
            self.python_map(dist, m, nz.normalize_text, cache_key=ck)
        return m

    def valid_predicate(self, e: DataElement, b: Binding, x: str) -> str | None:
        """SQL proving a raw value is already canonical, so the row needs no mapping (the high-cardinality
        types). Must imply: the Python normalizer returns Outcome(raw, 'valid') (tests check)."""
        kind = e.normalizer
        if kind == "identifier":
            return fp.identifier_valid_sql(x)
        if kind in ("integer", "decimal"):
            return fp.number_valid_sql(x, kind, e.min, e.max)
        if kind in ("date", "datetime"):
            return fp.datetime_valid_sql(x, kind, b.date_formats, e.min, "" if e.max == RECEIVED else e.max)
        if kind == "id_number":
            return fp.resident_id_valid_sql(x)
        if kind == "phone":
            return fp.phone_valid_sql(x)
        if kind == "pii_drop":
            return fp.present_valid_sql(x)
        return None

    # -- value outcomes ----------------------------------------------------------------------------

    def record_outcomes(self, entity: str, source_id: str, e: DataElement, dist: str, m: str) -> None:
        sentinel = ql(VALID_SENTINEL)
        raw = scrub.outcome_raw_sql("d.raw") if scrub.applies(e) else "d.raw"
        base = (
            f"SELECT {ql(entity)} AS entity, {ql(e.element)} AS element, {ql(source_id)} AS source_id, "
            f"CASE WHEN d.raw = {sentinel} THEN NULL ELSE {raw} END AS raw, m.value, "
            f"CASE WHEN d.raw = {sentinel} THEN 'valid' ELSE coalesce(m.outcome, 'missing') END AS outcome, "
            f"m.rule, m.reason_code, d.n, d.first_seen, d.last_seen FROM {dist} d LEFT JOIN {m} m ON d.raw = m.raw"
        )
        if e.pii or e.normalizer == "id_number":
            sql = (
                "SELECT entity, element, source_id, NULL, NULL, outcome, rule, reason_code, sum(n), "
                f"min(first_seen), max(last_seen) FROM ({base}) GROUP BY ALL"
            )
        elif e.normalizer in HIGH_CARDINALITY:
            sql = (
                f"SELECT entity, element, source_id, CASE WHEN outcome = 'valid' THEN NULL ELSE raw END, "
                "CASE WHEN outcome = 'valid' THEN NULL ELSE value END, outcome, rule, reason_code, sum(n), "
                f"min(first_seen), max(last_seen) FROM ({base}) GROUP BY ALL"
            )
        else:
            sql = base
        self.con.execute(f"INSERT INTO {self.vo} {sql}")

    # -- one entity ----------------------------------------------------------------------------------

    def source_select(self, entity: str, source_id: str, raw_name: str, bindings: dict[str, Binding]) -> str:
        """One SELECT over a raw table producing the stage columns for every element of the entity."""
        elements = self.std.entity_elements(entity, ("canonical",))
        joins = []
        preds: list[str] = []
        cols = [
            f"{ql(source_id)} AS source_id",
            "r._file_id AS file_id",
            "CAST(r._row_number AS BIGINT) AS row_number",
            "r._std_received_at AS _received_at",
        ]
        for e in elements:
            name = e.element
            b = bindings.get(name)
            if b is None:
                cols += [
                    f"CAST(NULL AS {e.sql_type}) AS {qi(name)}",
                    f"'missing' AS {qi(name + '__oc')}",
                    f"CAST(NULL AS VARCHAR) AS {qi(name + '__rc')}",
                    f"CAST(NULL AS VARCHAR) AS {qi(name + '__raw')}",
                ]
                if e.normalizer == "id_number":
                    cols += [
                        f"CAST(NULL AS VARCHAR) AS {qi(name + '__ovalue')}",
                        f"'missing' AS {qi(name + '__ooc')}",
                        f"CAST(NULL AS VARCHAR) AS {qi(name + '__orc')}",
                    ]
                continue
            x = b.raw_sql
            if scrub.applies(e):  # free text: the row's own patient name replaced before DISTINCT
                nb = bindings.get("patient_name")
                x = scrub.row_sql(x, nb.raw_sql if nb else None)
            pred_sql = self.valid_predicate(e, b, x)
            dist = self.tmp("dist")
            # values the predicate proves canonical are counted in one sentinel group, never mapped
            key = f"CASE WHEN {pred_sql} THEN {ql(VALID_SENTINEL)} ELSE {x} END" if pred_sql else x
            pred = None
            if pred_sql:  # evaluated once per row in the inner select, used by several stage columns
                pred = f"r._std_p{len(preds)}"
                preds.append(f"{pred_sql} AS _std_p{len(preds)}")
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {dist} AS SELECT {key} AS raw, count(*) AS n, "
                f"min(r._std_received_at) AS first_seen, max(r._std_received_at) AS last_seen "
                f"FROM {self.with_files(raw_name)} r GROUP BY ALL"
            )
            m = self.build_map(dist, b, entity)
            if not (
                e.element == "diagnosis_name" and self.diagnosis is not None
            ):  # recorded per (name, code)
                self.record_outcomes(entity, source_id, e, dist, m)
            alias = f"m{len(joins)}"
            joins.append(f"LEFT JOIN {m} {alias} ON {x} = {alias}.raw")
            keep_raw = e.required or name in RULE_ELEMENTS or name in self.std.record_keys[entity]
            if pred:
                cols += [
                    f"CASE WHEN {pred} THEN TRY_CAST({x} AS {e.sql_type}) ELSE TRY_CAST({alias}.value AS {e.sql_type}) "
                    f"END AS {qi(name)}",
                    f"CASE WHEN {x} IS NULL THEN 'missing' WHEN {pred} THEN 'valid' ELSE {alias}.outcome END "
                    f"AS {qi(name + '__oc')}",
                ]
            else:
                cols += [
                    f"TRY_CAST({alias}.value AS {e.sql_type}) AS {qi(name)}",
                    f"CASE WHEN {x} IS NULL THEN 'missing' ELSE {alias}.outcome END AS {qi(name + '__oc')}",
                ]
            cols += [
                f"{alias}.reason_code AS {qi(name + '__rc')}",
                f"{x if keep_raw else 'CAST(NULL AS VARCHAR)'} AS {qi(name + '__raw')}",
            ]
            if e.normalizer == "id_number":
                o = f"m{len(joins)}"
                joins.append(f"LEFT JOIN {m}_other {o} ON {x} = {o}.raw")
                if pred:
                    ovalue = f"CASE WHEN {pred} THEN {x} ELSE {o}.value END"
                    ooc = (
                        f"CASE WHEN {x} IS NULL THEN 'missing' WHEN {pred} THEN 'valid' ELSE {o}.outcome END"
                    )
                else:
                    ovalue = f"{o}.value"
                    ooc = f"CASE WHEN {x} IS NULL THEN 'missing' ELSE {o}.outcome END"
                cols += [
                    f"{ovalue} AS {qi(name + '__ovalue')}",
                    f"{ooc} AS {qi(name + '__ooc')}",
                    f"{o}.reason_code AS {qi(name + '__orc')}",
                ]
        return (
            f"SELECT {', '.join(cols)} FROM (SELECT r.*"
            + "".join(", " + p for p in preds)
            + f" FROM {self.with_files(raw_name)} r) r "
            + " ".join(joins)
        )

    def with_files(self, raw_name: str) -> str:
        """The raw rows with their file's arrival time and name (YAML constants can depend on it); in an
        incremental entity run only the rows of the files in scope."""
        where = f" WHERE r._file_id IN (SELECT file_id FROM {self.scope})" if self.scope else ""
        return (
            f"(SELECT r.*, f.received_at AS _std_received_at, f.file_name AS _std_file_name "
            f"FROM {raw_name} r LEFT JOIN _std_files f ON r._file_id = f.file_id{where})"
        )

    def run_entity(self, entity: str) -> EntityReport:
        t0 = time.perf_counter()
        con = self.con
        rep = EntityReport(entity)
        elements = self.std.entity_elements(entity, ("canonical",))
        selects = []
        for source_id, cfg in sorted(self.sources.items()):
            raw_name_plain = f"{source_id}__{entity}"
            if not self.table_exists("raw", raw_name_plain):
                continue
            raw_name = f"raw.{qi(raw_name_plain)}"
            if self.table_exists("raw", "held_back_files"):  # refused files hold back their source-period
                raw_name = f"(SELECT * FROM {raw_name} WHERE _file_id NOT IN (SELECT file_id FROM raw.held_back_files))"
            raw_columns = [
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = ?",
                    [raw_name_plain],
                ).fetchall()
            ]
            bindings = bindings_for(cfg, entity, raw_columns, elements)
            selects.append(self.source_select(entity, source_id, raw_name, bindings))
            rep.sources.append(source_id)
            rep.landed += con.execute(f"SELECT count(*) FROM {raw_name}").fetchall()[0][0]
        if not selects:  # no data yet: an empty, correctly typed stage
            empty = ", ".join(
                [
                    "NULL::VARCHAR AS source_id",
                    "NULL::VARCHAR AS file_id",
                    "NULL::BIGINT AS row_number",
                    "NULL::TIMESTAMP AS _received_at",
                ]
                + [
                    f"NULL::{e.sql_type} AS {qi(e.element)}, 'missing' AS {qi(e.element + '__oc')}, "
                    f"NULL::VARCHAR AS {qi(e.element + '__rc')}, NULL::VARCHAR AS {qi(e.element + '__raw')}"
                    + (
                        f", NULL::VARCHAR AS {qi(e.element + '__ovalue')}, 'missing' AS {qi(e.element + '__ooc')}, "
                        f"NULL::VARCHAR AS {qi(e.element + '__orc')}"
                        if e.normalizer == "id_number"
                        else ""
                    )
                    for e in elements
                ]
            )
            selects.append(f"SELECT {empty} WHERE false")
        stage0 = f"_std_stage0_{entity}"
        con.execute(f"CREATE OR REPLACE TEMP VIEW {stage0} AS " + " UNION ALL BY NAME ".join(selects))
        stage = f"_std_stage_{entity}"
        con.execute(f"CREATE OR REPLACE TEMP TABLE {stage} AS {self.resolve_sql(entity, stage0, elements)}")
        con.execute(f"DROP VIEW {stage0}")
        self.row_outcomes(entity, stage, elements)
        dx = self.diagnosis_maps(entity, stage) if self._has(elements, "diagnosis_name") else None
        self.quarantine(entity, stage, elements)
        self.write_std(entity, stage, elements, dx)
        rep.std_rows = con.execute(f"SELECT count(*) FROM std.{qi(entity)}").fetchall()[0][0]
        rep.quarantined_rows, rep.problems = con.execute(
            "SELECT count(DISTINCT (source_id, file_id, row_number)), count(*) FROM std.quarantine WHERE entity = ?",
            [entity],
        ).fetchall()[0]
        con.execute(f"DROP TABLE {stage}")
        rep.seconds = time.perf_counter() - t0
        return rep

    def raw_files(self, entity: str) -> set[tuple[str, str]]:
        """(source_id, file_id) of every file with rows in the entity's raw tables."""
        out: set[tuple[str, str]] = set()
        for source_id in sorted(self.sources):
            if self.table_exists("raw", f"{source_id}__{entity}"):
                raw_name = f"raw.{qi(source_id + '__' + entity)}"
                out |= {
                    (source_id, f)
                    for (f,) in self.con.execute(f"SELECT DISTINCT _file_id FROM {raw_name}").fetchall()
                }
        return out

    def unchanged_report(self, entity: str) -> EntityReport:
        """The report of an entity no new or removed file touched: its std rows stay as they are."""
        rep = EntityReport(entity)
        for source_id in sorted(self.sources):
            if self.table_exists("raw", f"{source_id}__{entity}"):
                rep.sources.append(source_id)
                rep.landed += self.con.execute(
                    f"SELECT count(*) FROM raw.{qi(source_id + '__' + entity)}"
                ).fetchall()[0][0]
        rep.std_rows = self.con.execute(f"SELECT count(*) FROM std.{qi(entity)}").fetchall()[0][0]
        rep.quarantined_rows, rep.problems = self.con.execute(
            "SELECT count(DISTINCT (source_id, file_id, row_number)), count(*) FROM std.quarantine WHERE entity = ?",
            [entity],
        ).fetchall()[0]
        return rep

    def run_entity_full(self, entity: str) -> EntityReport:
        self.scope, self.vo, self.ro = None, "std.value_outcomes", "std.row_outcomes"
        self.con.execute("DELETE FROM std.value_outcomes WHERE entity = ?", [entity])
        self.con.execute("DELETE FROM std.row_outcomes WHERE entity = ?", [entity])
        rep = self.run_entity(entity)
        _reaggregate_outcomes(self.con, entity)
        return rep

    def run_entity_incremental(self, entity: str, new_files: set[tuple[str, str]]) -> EntityReport:
        """Stage only the rows of ``new_files``; append them to std.<entity>, std.quarantine and the
        outcome tables. Raises _NeedsFull (nothing written) when a new row repeats an earlier key."""
        con = self.con
        con.execute("CREATE OR REPLACE TEMP TABLE _std_scope (source_id VARCHAR, file_id VARCHAR)")
        con.executemany("INSERT INTO _std_scope VALUES (?, ?)", sorted(new_files))
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _std_vo_new AS SELECT * FROM std.value_outcomes WHERE false"
        )
        con.execute("CREATE OR REPLACE TEMP TABLE _std_ro_new AS SELECT * FROM std.row_outcomes WHERE false")
        self.scope, self.vo, self.ro = "_std_scope", "_std_vo_new", "_std_ro_new"
        try:
            rep = self.run_entity(entity)
        finally:
            self.scope, self.vo, self.ro = None, "std.value_outcomes", "std.row_outcomes"
            for t in ("_std_stage_" + entity, "_std_stage0_" + entity):
                con.execute(f"DROP TABLE IF EXISTS {t}")
        con.execute("INSERT INTO std.value_outcomes SELECT * FROM _std_vo_new")
        con.execute("INSERT INTO std.row_outcomes SELECT * FROM _std_ro_new")
        _reaggregate_outcomes(con, entity)
        return rep

    @staticmethod
    def _has(elements: list[DataElement], name: str) -> bool:
        return any(e.element == name for e in elements)

    # -- row-level resolution: ID type, ID number, sex and birth date cross-checks ----------------------

    def resolve_sql(self, entity: str, stage0: str, elements: list[DataElement]) -> str:
        names = [e.element for e in elements]
        replace: list[str] = []
        extra: list[str] = []
        if "patient_id_number" in names:
            t = "patient_id_type"
            has_type = t in names
            type_expr = (
                f"coalesce({qi(t)}, CASE WHEN patient_id_number__oc IN ('valid', 'corrected') THEN '01' END)"
                if has_type
                else "CASE WHEN patient_id_number__oc IN ('valid', 'corrected') THEN '01' END"
            )
            resident = f"({type_expr} IS NULL OR {type_expr} = '01')"
            replace += [
                f"{type_expr} AS patient_id_type" if has_type else None,
                f"CASE WHEN {resident} THEN patient_id_number ELSE patient_id_number__ovalue END AS patient_id_number",
                f"CASE WHEN {resident} THEN patient_id_number__oc ELSE patient_id_number__ooc END "
                "AS patient_id_number__oc",
                f"CASE WHEN {resident} THEN patient_id_number__rc ELSE patient_id_number__orc END "
                "AS patient_id_number__rc",
            ]
            if has_type:
                extra.append(f"({qi(t)} IS NULL AND {type_expr} = '01') AS _type_inferred")
            id_ok = f"({resident} AND patient_id_number__oc IN ('valid', 'corrected'))"
            id_sex = f"CASE WHEN {id_ok} THEN CASE WHEN CAST(substr(patient_id_number, 17, 1) AS INTEGER) % 2 = 1 THEN '1' ELSE '2' END END"
            id_birth = (
                f"CASE WHEN {id_ok} THEN TRY_CAST(substr(patient_id_number, 7, 4) || '-' || "
                "substr(patient_id_number, 11, 2) || '-' || substr(patient_id_number, 13, 2) AS DATE) END"
            )
            if "sex_code" in names:
                replace.append(f"coalesce({id_sex}, sex_code) AS sex_code")
                extra += [
                    f"(sex_code IS NOT NULL AND {id_sex} IS NOT NULL AND sex_code <> {id_sex}) AS _sex_mismatch",
                    f"(sex_code IS NULL AND {id_sex} IS NOT NULL) AS _sex_from_id",
                ]
            if "birth_date" in names:
                replace.append(f"coalesce({id_birth}, birth_date) AS birth_date")
                extra += [
                    f"(birth_date IS NOT NULL AND {id_birth} IS NOT NULL AND birth_date <> {id_birth}) AS _birth_mismatch",
                    f"(birth_date IS NULL AND {id_birth} IS NOT NULL) AS _birth_from_id",
                ]
            if "residence_county_code" in names:
                # no county sent: GB 11643 digits 1-6 (the area where the ID was issued) as a proxy,
                # marked derived (std.<entity>.residence_county_basis, std.row_outcomes)
                id_area = f"CASE WHEN {id_ok} AND regexp_full_match(substr(patient_id_number, 1, 6), '[1-9][0-9]{{5}}') THEN substr(patient_id_number, 1, 6) END"
                derive = f"(residence_county_code__oc = 'missing' AND {id_area} IS NOT NULL)"
                replace.append(
                    f"CASE WHEN {derive} THEN {id_area} ELSE residence_county_code END AS residence_county_code"
                )
                extra.append(f"{derive} AS _county_from_id")
        # date-times after the file arrived are impossible (max = received in the standard)
        for e in elements:
            if e.max == RECEIVED:
                n = e.element
                future = f"({qi(n)} > coalesce(_received_at, current_timestamp::TIMESTAMP))"
                replace += [
                    f"CASE WHEN {future} THEN NULL ELSE {qi(n)} END AS {qi(n)}",
                    f"CASE WHEN {future} THEN 'invalid' ELSE {qi(n + '__oc')} END AS {qi(n + '__oc')}",
                    f"CASE WHEN {future} THEN 'FUTURE_DATE' ELSE {qi(n + '__rc')} END AS {qi(n + '__rc')}",
                ]
        replace = [r for r in replace if r]
        select = "* REPLACE (" + ", ".join(replace) + ")" if replace else "*"
        return f"SELECT {select}{''.join(', ' + x for x in extra)} FROM {stage0}"

    def stage_columns(self, stage: str) -> set[str]:
        return {
            r[0]
            for r in self.con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [stage]
            ).fetchall()
        }

    def row_outcomes(self, entity: str, stage: str, elements: list[DataElement]) -> None:
        """Row-level corrections (sex/birth date from the ID, inferred ID type, future dates) into
        std.row_outcomes: they act after the value-level outcomes of std.value_outcomes."""
        con = self.con
        cols = {
            r[0]
            for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [stage]
            ).fetchall()
        }
        checks = [
            ("_sex_mismatch", "sex_code", "corrected", "sex_from_id", "ID_SEX_MISMATCH"),
            ("_sex_from_id", "sex_code", "corrected", "sex_from_id", None),
            ("_birth_mismatch", "birth_date", "corrected", "birth_date_from_id", "ID_BIRTHDATE_MISMATCH"),
            ("_birth_from_id", "birth_date", "corrected", "birth_date_from_id", None),
            ("_type_inferred", "patient_id_type", "corrected", "id_type_inferred", None),
            ("_county_from_id", "residence_county_code", "derived", "county_from_id_area_code", None),
        ]
        for flag, element, outcome, rule, reason in checks:
            if flag not in cols:
                continue
            con.execute(
                f"INSERT INTO {self.ro} SELECT ?, ?, source_id, ?, ?, ?, count(*), "
                f"min(_received_at), max(_received_at) FROM {stage} WHERE {flag} GROUP BY source_id",
                [entity, element, outcome, rule, reason],
            )
        for e in elements:
            if e.max == RECEIVED:
                con.execute(
                    f"INSERT INTO {self.ro} SELECT ?, ?, source_id, 'invalid', NULL, "
                    f"'FUTURE_DATE', count(*), min(_received_at), max(_received_at) FROM {stage} "
                    f"WHERE {qi(e.element + '__rc')} = 'FUTURE_DATE' GROUP BY source_id",
                    [entity, e.element],
                )

    # -- diagnoses ------------------------------------------------------------------------------

    def diagnosis_maps(self, entity: str, stage: str) -> str | None:
        """Distinct (diagnosis_name, diagnosis_code) pairs -> the diagnosis standardizer. Returns the
        name of the pair table (key columns _dx_name, _dx_code + one row per diagnosis with seq)."""
        if self.diagnosis is None:
            return None
        con = self.con
        pairs = con.execute(
            f"SELECT diagnosis_name, diagnosis_code, count(*) AS n, string_agg(DISTINCT source_id, ',' ORDER BY source_id), "
            f"min(_received_at), max(_received_at) FROM {stage} "
            "WHERE diagnosis_name IS NOT NULL OR diagnosis_code IS NOT NULL GROUP BY ALL"
        ).fetchall()
        results = self.diagnosis.standardize_many([(p[0], p[1]) for p in pairs]) if pairs else []
        con.execute(
            f"INSERT INTO {self.vo} SELECT ?, 'diagnosis_name', source_id, NULL, NULL, 'missing', NULL, NULL, "
            f"count(*), min(_received_at), max(_received_at) FROM {stage} "
            "WHERE diagnosis_name IS NULL AND diagnosis_code IS NULL GROUP BY source_id",
            [entity],
        )
        rows: dict[str, list[Any]] = {
            c: [] for c in ["_dx_name", "_dx_code", "seq"] + [c for c, _ in VISIT_DX_COLUMNS] + ["status"]
        }
        outcome_rows = []
        # the principal: first diagnosis that may be one (not a history, never a morphology code)
        from pipelines.standardize.terminology.structure import principal_index

        pick = getattr(self.diagnosis, "principal_index", None) or principal_index
        for (name, code, n, srcs, first, last), res in zip(pairs, results, strict=True):
            p_idx = pick(res.diagnoses)
            # a field naming only histories is mapped (its rows are in visit_diagnoses), with no principal
            method = res.diagnoses[p_idx or 0].mapping_method if res.diagnoses else None
            principal = res.diagnoses[p_idx].code if p_idx is not None else None
            status = "corrected" if res.status == "mapped" else "unmapped"
            for s in srcs.split(","):
                outcome_rows.append(
                    (
                        entity,
                        "diagnosis_name",
                        s,
                        name if name is not None else code,
                        principal,
                        status,
                        scrub.with_rules(name, method if status == "corrected" else None),
                        None if status == "corrected" else "DIAGNOSIS_UNMAPPED",
                        n,
                        first,
                        last,
                    )
                )
            for seq, d in enumerate(res.diagnoses, start=1):
                rows["_dx_name"].append(name)
                rows["_dx_code"].append(code)
                rows["seq"].append(seq)
                for c, _ in VISIT_DX_COLUMNS:
                    rows[c].append(seq - 1 == p_idx if c == "is_principal" else getattr(d, c, None))
                rows["status"].append(res.status)
        # per-source frequencies: split counts by source
        if outcome_rows:
            per_source = con.execute(
                f"SELECT diagnosis_name, diagnosis_code, source_id, count(*), min(_received_at), max(_received_at) "
                f"FROM {stage} WHERE diagnosis_name IS NOT NULL OR diagnosis_code IS NOT NULL GROUP BY ALL"
            ).fetchall()
            # count, first and last seen of each pair in each source (not across the sources)
            counts = {(a, b, s): (n, first, last) for a, b, s, n, first, last in per_source}
            fixed = []
            pair_keys = [(p[0], p[1]) for p in pairs for _ in p[3].split(",")]
            for key, row in zip(pair_keys, outcome_rows, strict=True):
                fixed.append((*row[:8], *counts[(key[0], key[1], row[2])]))
            schema = pa.schema(
                [
                    ("entity", pa.string()),
                    ("element", pa.string()),
                    ("source_id", pa.string()),
                    ("raw_value", pa.string()),
                    ("normalized_value", pa.string()),
                    ("outcome", pa.string()),
                    ("rule", pa.string()),
                    ("reason_code", pa.string()),
                    ("n_rows", pa.int64()),
                    ("first_seen", pa.timestamp("us")),
                    ("last_seen", pa.timestamp("us")),
                ]
            )
            tbl = pa.Table.from_pylist(
                [dict(zip(schema.names, r, strict=True)) for r in fixed], schema=schema
            )
            con.register("_std_dx_out", tbl)
            con.execute(f"INSERT INTO {self.vo} SELECT * FROM _std_dx_out")
            con.unregister("_std_dx_out")
        types = {
            "seq": pa.int32(),
            "hypertension_grade": pa.int32(),
            "copd_grade": pa.int32(),
            "confidence": pa.float64(),
            "is_principal": pa.bool_(),
        }
        schema = pa.schema([(c, types.get(c, pa.string())) for c in rows])
        table = f"_std_dx_{entity}"
        con.register("_std_dx_rows", pa.table(rows, schema=schema))
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM _std_dx_rows")
        con.unregister("_std_dx_rows")
        return table

    # -- quarantine ------------------------------------------------------------------------------------

    def quarantine(self, entity: str, stage: str, elements: list[DataElement]) -> None:
        con = self.con
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
        rules = []
        if {"admission_datetime", "discharge_datetime"} <= names:
            rules.append(
                (
                    "discharge_datetime",
                    "DISCHARGE_BEFORE_ADMISSION",
                    "discharge_datetime < coalesce(admission_datetime, visit_datetime)",
                )
            )
        if {"sign_date", "end_date"} <= names:
            rules.append(("end_date", "END_BEFORE_START", "end_date < sign_date"))
        if {"reserved_slots", "total_slots"} <= names:
            rules.append(("reserved_slots", "RESERVED_EXCEEDS_TOTAL", "reserved_slots > total_slots"))
        rules += self.institution_rules(entity, names)
        for element, code, cond in rules:
            parts.append(
                f"SELECT source_id, file_id, row_number, {ql(element)}, {qi(element + '__raw')}, {ql(code)} "
                f"FROM {stage} WHERE {cond}"
            )
        problems = f"_std_problems_{entity}"
        con.execute(f"CREATE OR REPLACE TEMP TABLE {problems} AS " + " UNION ALL ".join(parts))
        # duplicate record keys among the rows without another problem: the newest file wins, and in it
        # the first row
        key = self.std.record_keys[entity]
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
        if self.scope:
            # a new row with the record key of a row already in std.<entity>: which one wins depends on
            # both files, so the entity is rebuilt in full
            match = " AND ".join(f"t.{qi(k)} IS NOT DISTINCT FROM s.{qi(k)}" for k in key)
            clash = con.execute(
                f"SELECT count(*) FROM {stage} s ANTI JOIN {problems} p ON s.source_id = p.source_id "
                "AND s.file_id = p.file_id AND s.row_number = p.row_number "
                f"WHERE EXISTS (SELECT 1 FROM std.{qi(entity)} t WHERE {match})"
            ).fetchall()[0][0]
            if clash:
                raise _NeedsFull(f"{clash} new rows repeat the record key of earlier files' rows")
            con.execute(
                f"DELETE FROM std.quarantine WHERE entity = ? AND file_id IN (SELECT file_id FROM {self.scope})",
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

    def institution_rules(self, entity: str, names: set[str]) -> list[tuple[str, str, str]]:
        """A source whose YAML lists its ``institutions`` may send only those: a row naming another
        registered institution is quarantined (INSTITUTION_NOT_IN_SOURCE). Referrals: the sending or
        the receiving institution must be one of them."""
        out = []
        for source_id, cfg in sorted(self.sources.items()):
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

    # -- std.<entity> ----------------------------------------------------------------------------------

    def write_std(self, entity: str, stage: str, elements: list[DataElement], dx: str | None) -> None:
        con = self.con
        out = [f"s.{qi(e.element)}" for e in elements if not e.pii]
        joins = []
        derived = {e.element: e for e in self.std.elements if e.entity == entity and e.layer == "derived"}
        if "person_key" in derived:
            pk = f"_std_pk_{entity}"
            # HMAC-SHA256 in SQL over the distinct IDs; the pads travel as parameters, never as SQL text
            con.execute("CREATE OR REPLACE TEMP TABLE _std_pads (ipad BLOB, opad BLOB)")
            con.execute("INSERT INTO _std_pads VALUES (?, ?)", list(hmac_pads(self.secret)))
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {pk} AS SELECT d.id, "
                "sha256(p.opad || unhex(sha256(p.ipad || encode(d.id)))) AS person_key "
                f"FROM (SELECT DISTINCT patient_id_number AS id FROM {stage} WHERE patient_id_number IS NOT NULL) d "
                "CROSS JOIN _std_pads p"
            )
            con.execute("DROP TABLE _std_pads")
            joins.append(f"LEFT JOIN {pk} pk ON pk.id = s.patient_id_number")
            out.append("pk.person_key")
        if "age_years" in derived:
            out.append(
                "CAST(year(s.visit_datetime) - year(s.birth_date) - CASE WHEN strftime(s.visit_datetime, '%m%d') "
                "< strftime(s.birth_date, '%m%d') THEN 1 ELSE 0 END AS INTEGER) AS age_years"
            )
        if "residence_county_basis" in derived:
            basis = (
                "CASE WHEN s._county_from_id THEN 'id_area_code' WHEN s.residence_county_code IS NOT NULL "
                "THEN 'reported' END"
                if "_county_from_id" in self.stage_columns(stage)
                else "CASE WHEN s.residence_county_code IS NOT NULL THEN 'reported' END"
            )
            out.append(f"{basis} AS residence_county_basis")
        if "length_of_stay_days" in derived:
            out.append(
                "CAST(date_diff('day', CAST(s.admission_datetime AS DATE), CAST(s.discharge_datetime AS DATE)) "
                "AS INTEGER) AS length_of_stay_days"
            )
        dx_cols = [c for c in DX_COLUMNS if c in derived]
        if dx_cols:
            if dx is not None:
                joins.append(
                    f"LEFT JOIN (SELECT * FROM {dx} WHERE is_principal) dx ON dx._dx_name IS NOT DISTINCT FROM s.diagnosis_name "
                    "AND dx._dx_code IS NOT DISTINCT FROM s.diagnosis_code"
                )
                out += [
                    f"CAST(dx.{qi(src)} AS {typ}) AS {qi(c)}"
                    for c, (src, typ) in DX_COLUMNS.items()
                    if c in derived
                ]
            else:
                out += [
                    f"CAST(NULL AS {typ}) AS {qi(c)}" for c, (src, typ) in DX_COLUMNS.items() if c in derived
                ]
        out += ["s.source_id", "s.file_id", "s.row_number"]
        problems = f"_std_problems_{entity}"
        verb = (
            f"INSERT INTO std.{qi(entity)} BY NAME"
            if self.scope
            else f"CREATE OR REPLACE TABLE std.{qi(entity)} AS"
        )
        con.execute(
            f"{verb} SELECT {', '.join(out)} FROM {stage} s "
            + " ".join(joins)
            + f" ANTI JOIN {problems} p ON s.source_id = p.source_id AND s.file_id = p.file_id "
            "AND s.row_number = p.row_number"
        )
        if entity == "visits":
            cols = ", ".join(f"CAST(NULL AS {t}) AS {qi(c)}" for c, t in VISIT_DX_COLUMNS)
            body = (
                "SELECT v.visit_id, v.institution_code, CAST(d.seq AS INTEGER) AS seq, "
                + ", ".join(f"CAST(d.{qi(c)} AS {t}) AS {qi(c)}" for c, t in VISIT_DX_COLUMNS)
                + f" FROM std.visits v JOIN {dx} d ON d._dx_name IS NOT DISTINCT FROM v.diagnosis_name "
                "AND d._dx_code IS NOT DISTINCT FROM v.diagnosis_code"
                if dx is not None
                else f"SELECT NULL::VARCHAR AS visit_id, NULL::VARCHAR AS institution_code, NULL::INTEGER AS seq, "
                f"{cols} WHERE false"
            )
            if self.scope and dx is not None:
                # the new visits' diagnoses (no clash with earlier rows' keys: checked in quarantine())
                con.execute(
                    f"INSERT INTO std.visit_diagnoses BY NAME {body} "
                    f"WHERE v.file_id IN (SELECT file_id FROM {self.scope})"
                )
            elif not self.scope:
                con.execute(f"CREATE OR REPLACE TABLE std.visit_diagnoses AS {body}")


def _reaggregate_outcomes(con, entity: str) -> None:
    """One row per outcome key in std.value_outcomes / std.row_outcomes (counts summed, first/last seen
    widened): the same table whether the rows came in one full run or in several incremental ones."""
    for table, keys in (
        (
            "std.value_outcomes",
            "entity, element, source_id, raw_value, normalized_value, outcome, rule, reason_code",
        ),
        ("std.row_outcomes", "entity, element, source_id, outcome, rule, reason_code"),
    ):
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _std_agg AS SELECT {keys}, CAST(sum(n_rows) AS BIGINT) AS n_rows, "
            f"min(first_seen) AS first_seen, max(last_seen) AS last_seen FROM {table} WHERE entity = ? "
            f"GROUP BY {keys}",
            [entity],
        )
        con.execute(f"DELETE FROM {table} WHERE entity = ?", [entity])
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _std_agg")
        con.execute("DROP TABLE _std_agg")


def _terminology_version(diagnosis: Any) -> str:
    pack = getattr(diagnosis, "pack", None) if diagnosis is not None else None
    if diagnosis is None:
        return "none"
    return f"{getattr(pack, 'pack_id', None)}@{getattr(pack, 'version', None)}"


def decide_mode(con, standard_version: str, terminology_version: str, full: bool) -> tuple[str, str]:
    """('full' | 'incremental', why): full on the first run, on request, or when the standard's, the
    terminology's or this engine's version differs from the last successful run's."""
    if full:
        return "full", "full rebuild requested"
    last = con.execute(
        "SELECT standard_version, terminology_version, engine_version FROM std.standardize_runs "
        "ORDER BY run_id DESC LIMIT 1"
    ).fetchall()
    if not last:
        return "full", "first run"
    sv, tv, ev = last[0]
    if sv != standard_version:
        return "full", f"standard version {sv} -> {standard_version}"
    if tv != terminology_version:
        return "full", f"terminology version {tv} -> {terminology_version}"
    if ev != ENGINE_VERSION:
        return "full", f"standardize engine version {ev} -> {ENGINE_VERSION}"
    return "incremental", "same standard, terminology and engine versions"


def load_terminology(con, diagnosis) -> int:
    """ref.terminology (code, name, icd10_category, code_system, pack_id, version) from the diagnosis
    standardizer's terminology pack; an empty, typed table when there is none."""
    from pipelines.standardize.terminology.pack import icd10_category

    pack = getattr(diagnosis, "pack", None)
    names = getattr(pack, "names", None) or {}
    codes = list(names)
    table = pa.table(
        {
            "code": pa.array(codes, pa.string()),
            "name": pa.array([names[c] for c in codes], pa.string()),
            "icd10_category": pa.array([icd10_category(c) or None for c in codes], pa.string()),
            "code_system": pa.array([getattr(pack, "code_system", None)] * len(codes), pa.string()),
            "pack_id": pa.array([getattr(pack, "pack_id", None)] * len(codes), pa.string()),
            "version": pa.array([getattr(pack, "version", None)] * len(codes), pa.string()),
        }
    )
    con.execute("CREATE SCHEMA IF NOT EXISTS ref")
    con.register("_std_terms", table)
    con.execute("CREATE OR REPLACE TABLE ref.terminology AS SELECT * FROM _std_terms")
    con.unregister("_std_terms")
    return len(codes)


def _default_diagnosis(log):
    try:
        from pipelines.standardize.diagnosis import DiagnosisStandardizer
    except ImportError as exc:  # the diagnosis module is another part of the project
        log(f"standardize: diagnosis standardizer unavailable ({exc}); diagnosis columns stay empty")
        return None
    return DiagnosisStandardizer.default()


def standardize_all(
    con,
    sources: dict[str, SourceConfig],
    secret: bytes,
    entities: Iterable[str] | None = None,
    log=print,
    standard: Standard | None = None,
    diagnosis: Any = None,
    full: bool = False,
) -> StandardizeReport:
    """(Re)build std.<entity> (for ``entities``, default all), std.visit_diagnoses, std.quarantine,
    std.value_outcomes, std.row_outcomes, std.unmapped_terms, ref.data_elements, ref.value_domains, ref.reason_codes,
    ref.terminology
    from the raw landing. ``diagnosis``: a DiagnosisStandardizer (default: the real one; False: skip
    diagnosis mapping, the derived diagnosis columns stay NULL).

    Incremental by file (``full`` False and the versions of the last successful run in
    std.standardize_runs unchanged): per entity only the files landed since that run are staged and
    appended; an entity without new or removed files is left as it is; an entity with a replaced or
    withdrawn file, or whose new rows repeat an earlier row's record key, is rebuilt in full. Each run
    is recorded in std.standardize_runs (mode, reason, per-entity detail)."""
    t0 = time.perf_counter()
    std = standard or default_standard()
    if diagnosis is None:
        diagnosis = _default_diagnosis(log)
    elif diagnosis is False:  # explicitly without diagnosis mapping
        diagnosis = None
    known = std.exported_entities
    wanted = list(entities) if entities is not None else list(known)
    unknown = [e for e in wanted if e not in known]
    if unknown:
        raise ValueError(f"unknown entities {unknown}; known: {list(known)}")
    load_ref_tables(con, std)
    n_terms = load_terminology(con, diagnosis)
    log(f"standardize: standard v{std.version} and {n_terms} terminology codes loaded into ref.*")
    con.execute("CREATE SCHEMA IF NOT EXISTS std")
    con.execute(QUARANTINE_DDL)
    con.execute(OUTCOMES_DDL)
    con.execute(ROW_OUTCOMES_DDL)
    con.execute(RUNS_DDL)
    con.execute(LEDGER_DDL)
    con.execute(CACHE_DDL)
    started = con.execute("SELECT current_timestamp::TIMESTAMP").fetchall()[0][0]
    term_version = _terminology_version(diagnosis)
    mode, reason = decide_mode(con, std.version, term_version, full)
    log(f"standardize: {mode} run ({reason})")
    run = _Run(con, sources, secret, std, log, diagnosis)
    if run.table_exists("raw", "files"):
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _std_files AS SELECT file_id, CAST(received_at AS TIMESTAMP) AS received_at, "
            "file_name FROM raw.files WHERE status = 'landed'"  # file_id is shared by duplicate records
        )
    else:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _std_files (file_id VARCHAR, received_at TIMESTAMP, file_name VARCHAR)"
        )
    report = StandardizeReport(std.version, diagnosis_available=diagnosis is not None)
    detail: list[str] = []
    n_new = n_removed = 0
    for entity in wanted:
        files = run.raw_files(entity)
        known = {
            (a, b)
            for a, b in con.execute(
                "SELECT source_id, file_id FROM std.standardized_files WHERE entity = ?", [entity]
            ).fetchall()
        }
        new, removed = files - known, known - files
        n_new, n_removed = n_new + len(new), n_removed + len(removed)
        if mode == "full" or not run.table_exists("std", entity):
            rep = run.run_entity_full(entity)
            detail.append(f"{entity}: full")
        elif not new and not removed:
            rep = run.unchanged_report(entity)
            detail.append(f"{entity}: unchanged")
        elif removed:
            rep = run.run_entity_full(entity)
            detail.append(f"{entity}: full ({len(removed)} replaced or withdrawn files)")
        else:
            try:
                rep = run.run_entity_incremental(entity, new)
                detail.append(f"{entity}: +{len(new)} files")
            except _NeedsFull as why:
                rep = run.run_entity_full(entity)
                detail.append(f"{entity}: full ({why})")
        con.execute("DELETE FROM std.standardized_files WHERE entity = ?", [entity])
        if files:
            con.executemany(
                "INSERT INTO std.standardized_files VALUES (?, ?, ?)",
                [(entity, a, b) for a, b in sorted(files)],
            )
        report.entities[entity] = rep
        log(
            f"standardize {entity}: landed {rep.landed} -> std {rep.std_rows} + quarantined {rep.quarantined_rows} "
            f"({rep.problems} problems) from {len(rep.sources)} sources in {rep.seconds:.2f}s"
        )
    con.execute(
        """CREATE OR REPLACE TABLE std.unmapped_terms AS
        SELECT element, raw_value, CAST(sum(n_rows) AS BIGINT) AS frequency,
               string_agg(DISTINCT source_id, ',' ORDER BY source_id) AS sources,
               min(first_seen) AS first_seen, max(last_seen) AS last_seen
        FROM std.value_outcomes WHERE outcome = 'unmapped' AND raw_value IS NOT NULL
        GROUP BY element, raw_value ORDER BY frequency DESC, element, raw_value"""
    )
    for t in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_name LIKE '\\_std\\_%' ESCAPE '\\' "
        "AND table_type = 'LOCAL TEMPORARY'"
    ).fetchall():
        con.execute(f"DROP TABLE IF EXISTS {qi(t[0])}")
    if not run.table_exists("std", "visit_diagnoses"):
        cols = ", ".join(f"{qi(c)} {t}" for c, t in VISIT_DX_COLUMNS)
        con.execute(
            f"CREATE TABLE std.visit_diagnoses (visit_id VARCHAR, institution_code VARCHAR, seq INTEGER, {cols})"
        )
    report.visit_diagnoses = con.execute("SELECT count(*) FROM std.visit_diagnoses").fetchall()[0][0]
    report.unmapped_terms = con.execute("SELECT count(*) FROM std.unmapped_terms").fetchall()[0][0]
    report.seconds = time.perf_counter() - t0
    report.mode, report.mode_reason, report.detail = mode, reason, detail
    con.execute(
        "INSERT INTO std.standardize_runs SELECT coalesce(max(run_id), 0) + 1, ?, current_timestamp::TIMESTAMP, "
        "?, ?, ?, ?, ?, ?, ?, ? FROM std.standardize_runs",
        [
            started,
            mode,
            reason,
            std.version,
            term_version,
            ENGINE_VERSION,
            n_new,
            n_removed,
            "; ".join(detail),
        ],
    )
    if not report.reconciles:
        log(f"standardize: ROW COUNTS DO NOT RECONCILE: {report}")
    return report
