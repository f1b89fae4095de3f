"""The standardizer: raw.<source_id>__<entity> landing tables -> std.* tables on the standard.

Per entity and source: every mapped raw column is reduced to its DISTINCT values in DuckDB; each
distinct value is normalized once (a DuckDB fast path for the well-shaped ones, the Python
normalizer for the rest) into a mapping table; ONE ``CREATE TABLE AS SELECT ... LEFT JOIN map ...``
per entity joins the mappings back. Row rules (ID cross-checks, date order, duplicate keys,
required elements) run in SQL on that stage; rows with a problem go to std.quarantine (one row per
problem), all others to std.<entity>. Nothing is dropped: landed = std rows + quarantined rows.

This module orchestrates (full or incremental per entity, std.standardize_runs); each step is its own
module: staging (+ value_maps, element_types, row_resolution), outcomes, coded_diagnoses,
quarantine, writer (docs/design.md "Standardize and contracts").

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

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.contracts.sql import quote_identifier as qi
from pipelines.contracts.standard import Standard, default_standard, record_keys
from pipelines.ingest.registry import SourceConfig
from pipelines.standardize.coded_diagnoses import (
    default_diagnosis,
    load_terminology,
    map_diagnoses,
    terminology_version,
    visit_diagnosis_columns,
)
from pipelines.standardize.outcomes import (
    ROW_OUTCOMES_DDL,
    VALUE_OUTCOMES_DDL,
    reaggregate_outcomes,
    record_row_outcomes,
)
from pipelines.standardize.quarantine import QUARANTINE_DDL, quarantine_rows
from pipelines.standardize.run_context import (
    ENGINE_VERSION,
    ROW_OUTCOMES,
    VALUE_OUTCOMES,
    NeedsFullRebuild,
    StandardizeRun,
)
from pipelines.standardize.staging import build_stage
from pipelines.standardize.standard import load_ref_tables
from pipelines.standardize.writer import write_std

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


def __getattr__(name: str):
    if name == "ENTITIES":  # the exported entities (standard/entity_keys.csv), read on first use
        return tuple(record_keys())
    raise AttributeError(name)


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


def run_entity(run: StandardizeRun, entity: str) -> EntityReport:
    t0 = time.perf_counter()
    con = run.con
    rep = EntityReport(entity)
    stage = build_stage(run, entity, rep)
    elements = run.std.entity_elements(entity, ("canonical",))
    record_row_outcomes(run, entity, stage, elements)
    has_diagnosis = any(e.element == "diagnosis_name" for e in elements)
    dx = map_diagnoses(run, entity, stage) if has_diagnosis else None
    quarantine_rows(run, entity, stage, elements)
    write_std(run, entity, stage, elements, dx)
    rep.std_rows = con.execute(f"SELECT count(*) FROM std.{qi(entity)}").fetchall()[0][0]
    rep.quarantined_rows, rep.problems = con.execute(
        "SELECT count(DISTINCT (source_id, file_id, row_number)), count(*) FROM std.quarantine WHERE entity = ?",
        [entity],
    ).fetchall()[0]
    con.execute(f"DROP TABLE {stage}")
    rep.seconds = time.perf_counter() - t0
    return rep


def raw_files(run: StandardizeRun, entity: str) -> set[tuple[str, str]]:
    """(source_id, file_id) of every file with rows in the entity's raw tables."""
    out: set[tuple[str, str]] = set()
    for source_id in sorted(run.sources):
        if run.table_exists("raw", f"{source_id}__{entity}"):
            raw_name = f"raw.{qi(source_id + '__' + entity)}"
            out |= {
                (source_id, f)
                for (f,) in run.con.execute(f"SELECT DISTINCT _file_id FROM {raw_name}").fetchall()
            }
    return out


def unchanged_report(run: StandardizeRun, entity: str) -> EntityReport:
    """The report of an entity no new or removed file touched: its std rows stay as they are."""
    rep = EntityReport(entity)
    for source_id in sorted(run.sources):
        if run.table_exists("raw", f"{source_id}__{entity}"):
            rep.sources.append(source_id)
            rep.landed += run.con.execute(
                f"SELECT count(*) FROM raw.{qi(source_id + '__' + entity)}"
            ).fetchall()[0][0]
    rep.std_rows = run.con.execute(f"SELECT count(*) FROM std.{qi(entity)}").fetchall()[0][0]
    rep.quarantined_rows, rep.problems = run.con.execute(
        "SELECT count(DISTINCT (source_id, file_id, row_number)), count(*) FROM std.quarantine WHERE entity = ?",
        [entity],
    ).fetchall()[0]
    return rep


def run_entity_full(run: StandardizeRun, entity: str) -> EntityReport:
    run.scope, run.value_outcomes, run.row_outcomes = None, VALUE_OUTCOMES, ROW_OUTCOMES
    run.con.execute("DELETE FROM std.value_outcomes WHERE entity = ?", [entity])
    run.con.execute("DELETE FROM std.row_outcomes WHERE entity = ?", [entity])
    rep = run_entity(run, entity)
    reaggregate_outcomes(run.con, entity)
    return rep


def run_entity_incremental(run: StandardizeRun, entity: str, new_files: set[tuple[str, str]]) -> EntityReport:
    """Stage only the rows of ``new_files``; append them to std.<entity>, std.quarantine and the
    outcome tables. Raises NeedsFullRebuild (nothing written) when a new row repeats an earlier key."""
    con = run.con
    con.execute("CREATE OR REPLACE TEMP TABLE _std_scope (source_id VARCHAR, file_id VARCHAR)")
    con.executemany("INSERT INTO _std_scope VALUES (?, ?)", sorted(new_files))
    con.execute("CREATE OR REPLACE TEMP TABLE _std_vo_new AS SELECT * FROM std.value_outcomes WHERE false")
    con.execute("CREATE OR REPLACE TEMP TABLE _std_ro_new AS SELECT * FROM std.row_outcomes WHERE false")
    run.scope, run.value_outcomes, run.row_outcomes = "_std_scope", "_std_vo_new", "_std_ro_new"
    try:
        rep = run_entity(run, entity)
    finally:
        run.scope, run.value_outcomes, run.row_outcomes = None, VALUE_OUTCOMES, ROW_OUTCOMES
        for t in ("_std_stage_" + entity, "_std_stage0_" + entity):
            con.execute(f"DROP TABLE IF EXISTS {t}")
    con.execute("INSERT INTO std.value_outcomes SELECT * FROM _std_vo_new")
    con.execute("INSERT INTO std.row_outcomes SELECT * FROM _std_ro_new")
    reaggregate_outcomes(con, entity)
    return rep


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


def standardize_all(
    con,
    sources: dict[str, SourceConfig],
    secret: bytes,
    entities: Iterable[str] | None = None,
    log=print,
    standard: Standard | None = None,
    diagnosis: Any = None,
    full: bool = False,
    cache_dir: Path | None = None,
) -> StandardizeReport:
    """(Re)build std.<entity> (for ``entities``, default all), std.visit_diagnoses, std.quarantine,
    std.value_outcomes, std.row_outcomes, std.unmapped_terms, ref.data_elements, ref.value_domains, ref.reason_codes,
    ref.terminology
    from the raw landing. ``diagnosis``: a DiagnosisStandardizer (default: the real one; False: skip
    diagnosis mapping, the derived diagnosis columns stay NULL); ``cache_dir``: where the default one keeps
    its results across runs (the run's ``<data dir>/cache``; None: no cache).

    Incremental by file (``full`` False and the versions of the last successful run in
    std.standardize_runs unchanged): per entity only the files landed since that run are staged and
    appended; an entity without new or removed files is left as it is; an entity with a replaced or
    withdrawn file, or whose new rows repeat an earlier row's record key, is rebuilt in full. Each run
    is recorded in std.standardize_runs (mode, reason, per-entity detail)."""
    t0 = time.perf_counter()
    std = standard or default_standard()
    if diagnosis is None:
        diagnosis = default_diagnosis(log, cache_dir)
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
    for ddl in (QUARANTINE_DDL, VALUE_OUTCOMES_DDL, ROW_OUTCOMES_DDL, RUNS_DDL, LEDGER_DDL, CACHE_DDL):
        con.execute(ddl)
    started = con.execute("SELECT current_timestamp::TIMESTAMP").fetchall()[0][0]
    term_version = terminology_version(diagnosis)
    mode, reason = decide_mode(con, std.version, term_version, full)
    log(f"standardize: {mode} run ({reason})")
    run = StandardizeRun(con, sources, secret, std, log, diagnosis)
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
        files = raw_files(run, entity)
        known = {
            (a, b)
            for a, b in con.execute(
                "SELECT source_id, file_id FROM std.standardized_files WHERE entity = ?", [entity]
            ).fetchall()
        }
        new, removed = files - known, known - files
        n_new, n_removed = n_new + len(new), n_removed + len(removed)
        if mode == "full" or not run.table_exists("std", entity):
            rep = run_entity_full(run, entity)
            detail.append(f"{entity}: full")
        elif not new and not removed:
            rep = unchanged_report(run, entity)
            detail.append(f"{entity}: unchanged")
        elif removed:
            rep = run_entity_full(run, entity)
            detail.append(f"{entity}: full ({len(removed)} replaced or withdrawn files)")
        else:
            try:
                rep = run_entity_incremental(run, entity, new)
                detail.append(f"{entity}: +{len(new)} files")
            except NeedsFullRebuild as why:
                rep = run_entity_full(run, entity)
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
        cols = ", ".join(f"{qi(c)} {t}" for c, t in visit_diagnosis_columns(std))
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
