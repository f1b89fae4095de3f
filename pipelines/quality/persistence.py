"""The ``quality`` schema: check results (every run kept), run-to-run changes, scorecards, mart fitness.

Tables (appended per run, rows of a re-used ``run_id`` replaced):
  quality.check_results               one row per run, check and source (+ an ``ALL`` row per check)
  quality.check_results_by_institution the same counts split by institution (scorecards, drill-down)
  quality.violation_samples           masked violating rows of each failing check and source (JSON)
  quality.scorecards                  per source, element, source x element and institution
  quality.mart_fitness                fit-for-use verdict per mart
Views:
  quality.check_history   every result with the previous run's status and the change
  quality.check_changes   the latest result per check and source: new / resolved / still_failing / still_passing
  quality.runs            one row per run with its totals
"""

from __future__ import annotations

import duckdb
import pandas as pd

from pipelines.quality.catalogue import Catalogue
from pipelines.quality.relations import table_exists

DDL = """
CREATE SCHEMA IF NOT EXISTS quality;
CREATE TABLE IF NOT EXISTS quality.check_results (
    run_id VARCHAR NOT NULL, run_at TIMESTAMP NOT NULL, stage VARCHAR, check_id VARCHAR NOT NULL,
    suite VARCHAR, table_name VARCHAR, category VARCHAR, source_id VARCHAR NOT NULL, entity VARCHAR,
    element VARCHAR, violating_rows BIGINT, denominator BIGINT, rate DOUBLE, threshold DOUBLE,
    severity VARCHAR, status VARCHAR, reason VARCHAR, description VARCHAR,
    gx_evaluated_rows BIGINT, gx_unexpected_rows BIGINT, gx_success BOOLEAN
);
CREATE TABLE IF NOT EXISTS quality.check_results_by_institution (
    run_id VARCHAR NOT NULL, check_id VARCHAR NOT NULL, source_id VARCHAR, institution_code VARCHAR,
    violating_rows BIGINT, denominator BIGINT
);
CREATE TABLE IF NOT EXISTS quality.violation_samples (
    run_id VARCHAR NOT NULL, check_id VARCHAR NOT NULL, source_id VARCHAR, sample_no INTEGER,
    file_id VARCHAR, row_number BIGINT,
    record VARCHAR          -- JSON of the masked row (pipelines.quality.drill.violating_rows)
);
CREATE TABLE IF NOT EXISTS quality.scorecards (
    run_id VARCHAR NOT NULL, run_at TIMESTAMP NOT NULL,
    grain VARCHAR NOT NULL,            -- source | element | source_element | institution
    source_id VARCHAR, institution_code VARCHAR, entity VARCHAR, element VARCHAR,
    values_total BIGINT,               -- rows in std.value_outcomes (before standardization)
    values_valid_as_received BIGINT,   -- outcome = valid
    values_valid_after BIGINT,         -- outcome in (valid, corrected)
    conformance_before DOUBLE,         -- valid_as_received / total
    conformance_after DOUBLE,          -- valid_after / total
    checks_evaluated BIGINT, checks_failed BIGINT, blocking_failed BIGINT,
    check_rows_evaluated BIGINT, check_rows_violating BIGINT,
    check_pass_rate DOUBLE             -- 1 - violating / evaluated
);
CREATE TABLE IF NOT EXISTS quality.mart_fitness (
    run_id VARCHAR NOT NULL, run_at TIMESTAMP NOT NULL, mart VARCHAR NOT NULL, input_entities VARCHAR,
    verdict VARCHAR,        -- fit | fit_with_warnings | unfit | not_checked
    verdict_zh VARCHAR,     -- 可用 | 可用（有警告） | 不可用 | 未检查
    blocking_failed BIGINT, warnings_failed BIGINT, failing_checks VARCHAR, reason VARCHAR
);
"""

VIEWS = """
CREATE OR REPLACE VIEW quality.runs AS
SELECT run_id, max(run_at) AS run_at,
       count(DISTINCT check_id) FILTER (WHERE status <> 'skipped') AS checks,
       count(DISTINCT check_id) FILTER (WHERE status = 'fail') AS checks_failed,
       count(DISTINCT check_id) FILTER (WHERE status = 'fail' AND severity = 'blocking') AS blocking_failed,
       CAST(sum(violating_rows) FILTER (WHERE source_id = 'ALL') AS BIGINT) AS violating_rows
FROM quality.check_results GROUP BY run_id;

CREATE OR REPLACE VIEW quality.check_history AS
WITH h AS (
    SELECT r.*,
           lag(r.run_id) OVER w AS previous_run_id,
           lag(r.status) OVER w AS previous_status,
           lag(r.violating_rows) OVER w AS previous_violating_rows,
           lag(r.rate) OVER w AS previous_rate,
           row_number() OVER (PARTITION BY r.check_id, r.source_id ORDER BY r.run_at DESC, r.run_id DESC) AS recency
    FROM quality.check_results r
    WHERE r.status <> 'skipped'
    WINDOW w AS (PARTITION BY r.check_id, r.source_id ORDER BY r.run_at, r.run_id)
)
SELECT *,
       violating_rows - coalesce(previous_violating_rows, 0) AS violating_rows_delta,
       CASE WHEN status = 'fail' AND coalesce(previous_status, 'pass') <> 'fail' THEN 'new'
            WHEN status = 'fail' THEN 'still_failing'
            WHEN previous_status = 'fail' THEN 'resolved'
            ELSE 'still_passing' END AS change
FROM h;

CREATE OR REPLACE VIEW quality.check_changes AS
SELECT run_id, previous_run_id, check_id, source_id, category, element, severity, status, previous_status,
       change, violating_rows, previous_violating_rows, violating_rows_delta, denominator, rate, previous_rate,
       threshold, description, reason
FROM quality.check_history WHERE recency = 1;
"""


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DDL)
    con.execute(VIEWS)


def _insert(con: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame) -> None:
    if df.empty:
        return
    name = f"_quality_insert_{table.replace('.', '_')}"
    con.register(name, df)
    try:
        cols = ", ".join(f'"{c}"' for c in df.columns)
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {name}")
    finally:
        con.unregister(name)


def persist(con: duckdb.DuckDBPyConnection, report, cat: Catalogue) -> None:
    """Write one run's results, then rebuild its scorecards and mart verdicts (one transaction)."""
    ensure_schema(con)
    rows = report.to_frame()
    if not rows.empty:
        rows = rows.rename(columns={"table": "table_name"})
        rows.insert(0, "run_at", pd.Timestamp(report.run_at))
        rows.insert(0, "run_id", report.run_id)
    con.execute("BEGIN TRANSACTION")
    try:
        for t in (
            "check_results",
            "check_results_by_institution",
            "violation_samples",
            "scorecards",
            "mart_fitness",
        ):
            con.execute(f"DELETE FROM quality.{t} WHERE run_id = ?", [report.run_id])
        _insert(con, "quality.check_results", rows)
        by_inst = pd.DataFrame(report.by_institution)
        if not by_inst.empty:
            by_inst.insert(0, "run_id", report.run_id)
            _insert(con, "quality.check_results_by_institution", by_inst)
        samples = pd.DataFrame(report.samples)
        if not samples.empty:
            samples.insert(0, "run_id", report.run_id)
            _insert(con, "quality.violation_samples", samples)
        build_scorecards(con, report.run_id)
        build_mart_fitness(con, report.run_id, cat)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def build_scorecards(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Rebuild ``quality.scorecards`` for ``run_id``.

    Conformance before/after standardization comes from ``std.value_outcomes`` (values valid as
    received vs valid after normalization); check columns come from this run's check results.
    """
    con.execute("DELETE FROM quality.scorecards WHERE run_id = ?", [run_id])
    has_vo = table_exists(con, "std.value_outcomes")
    vo = (
        """SELECT entity, element, source_id, sum(n_rows) AS total,
                  coalesce(sum(n_rows) FILTER (WHERE outcome = 'valid'), 0) AS valid_before,
                  coalesce(sum(n_rows) FILTER (WHERE outcome IN ('valid', 'corrected')), 0) AS valid_after
           FROM std.value_outcomes GROUP BY ALL"""
        if has_vo
        else """SELECT CAST(NULL AS VARCHAR) AS entity, CAST(NULL AS VARCHAR) AS element,
                  CAST(NULL AS VARCHAR) AS source_id, 0::HUGEINT AS total, 0::HUGEINT AS valid_before,
                  0::HUGEINT AS valid_after WHERE false"""
    )
    checks = """SELECT entity, element, source_id, check_id, severity, status, violating_rows, denominator
                FROM quality.check_results WHERE run_id = ? AND source_id <> 'ALL' AND status <> 'skipped'"""
    sets = "GROUPING SETS ((source_id, entity, element), (source_id), (entity, element))"
    grain = """CASE WHEN GROUPING(source_id) = 0 AND GROUPING(element) = 0 THEN 'source_element'
                    WHEN GROUPING(source_id) = 0 THEN 'source' ELSE 'element' END"""
    con.execute(
        f"""
        INSERT INTO quality.scorecards
        WITH vo AS ({vo}), ck AS ({checks}),
        vo_g AS (
            SELECT {grain} AS grain, source_id, entity, element, sum(total) AS total,
                   sum(valid_before) AS valid_before, sum(valid_after) AS valid_after
            FROM vo GROUP BY {sets}),
        ck_g AS (
            SELECT {grain} AS grain, source_id, entity, element,
                   count(DISTINCT check_id) AS checks_evaluated,
                   count(DISTINCT check_id) FILTER (WHERE status = 'fail') AS checks_failed,
                   count(DISTINCT check_id) FILTER (WHERE status = 'fail' AND severity = 'blocking') AS blocking_failed,
                   sum(denominator) AS rows_eval, sum(violating_rows) AS rows_bad
            FROM ck GROUP BY {sets})
        SELECT ?, (SELECT max(run_at) FROM quality.check_results WHERE run_id = ?),
               coalesce(v.grain, c.grain), coalesce(v.source_id, c.source_id), NULL,
               coalesce(v.entity, c.entity), coalesce(v.element, c.element),
               v.total, v.valid_before, v.valid_after,
               v.valid_before / NULLIF(v.total, 0), v.valid_after / NULLIF(v.total, 0),
               coalesce(c.checks_evaluated, 0), coalesce(c.checks_failed, 0), coalesce(c.blocking_failed, 0),
               c.rows_eval, c.rows_bad, 1 - c.rows_bad / NULLIF(c.rows_eval, 0)
        FROM vo_g v FULL OUTER JOIN ck_g c
          ON v.grain = c.grain AND v.source_id IS NOT DISTINCT FROM c.source_id
         AND v.entity IS NOT DISTINCT FROM c.entity AND v.element IS NOT DISTINCT FROM c.element
        """,
        [run_id, run_id, run_id],
    )
    con.execute(
        """
        INSERT INTO quality.scorecards
        SELECT b.run_id, (SELECT max(run_at) FROM quality.check_results WHERE run_id = b.run_id),
               'institution', NULL, b.institution_code, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
               count(DISTINCT b.check_id),
               count(DISTINCT b.check_id) FILTER (WHERE b.violating_rows > r.threshold * b.denominator),
               count(DISTINCT b.check_id) FILTER (WHERE b.violating_rows > r.threshold * b.denominator
                                                  AND r.severity = 'blocking'),
               sum(b.denominator), sum(b.violating_rows),
               1 - sum(b.violating_rows) / NULLIF(sum(b.denominator), 0)
        FROM quality.check_results_by_institution b
        JOIN (SELECT DISTINCT check_id, threshold, severity FROM quality.check_results WHERE run_id = ?) r
          USING (check_id)
        WHERE b.run_id = ? AND b.institution_code IS NOT NULL
        GROUP BY b.run_id, b.institution_code
        """,
        [run_id, run_id],
    )


def build_mart_fitness(con: duckdb.DuckDBPyConnection, run_id: str, cat: Catalogue) -> None:
    """A fit-for-use verdict per mart from the failing checks on the entities feeding it."""
    con.execute("DELETE FROM quality.mart_fitness WHERE run_id = ?", [run_id])
    rows_ = con.execute(
        """SELECT DISTINCT entity, check_id, severity, status FROM quality.check_results
           WHERE run_id = ? ORDER BY check_id""",
        [run_id],
    ).fetchall()
    fails = [(e, c, s) for e, c, s, st in rows_ if st == "fail"]
    evaluated = {e for e, _c, _s, st in rows_ if st != "skipped"}
    run_at = con.execute(
        "SELECT max(run_at) FROM quality.check_results WHERE run_id = ?", [run_id]
    ).fetchall()[0][0]
    rows = []
    for mart, entities in cat.marts.items():
        blocking = sorted({c for e, c, s in fails if e in entities and s == "blocking"})
        warn = sorted({c for e, c, s in fails if e in entities and s == "warning"})
        if blocking:
            verdict, zh = "unfit", "不可用"
            reason = "blocking checks failed: " + ", ".join(blocking)
        elif [e for e in entities if e not in evaluated]:
            verdict, zh = "not_checked", "未检查"
            reason = "no check could run on: " + ", ".join(e for e in entities if e not in evaluated)
        elif warn:
            verdict, zh = "fit_with_warnings", "可用（有警告）"
            reason = "warnings: " + ", ".join(warn)
        else:
            verdict, zh = "fit", "可用"
            reason = "all checks on its inputs passed" if entities else "no checked inputs (registry data)"
        rows.append(
            {"run_id": run_id, "run_at": run_at, "mart": mart, "input_entities": ",".join(entities),
             "verdict": verdict, "verdict_zh": zh, "blocking_failed": len(blocking), "warnings_failed": len(warn),
             "failing_checks": ",".join(blocking + warn), "reason": reason}
        )  # fmt: skip
    _insert(con, "quality.mart_fitness", pd.DataFrame(rows))
