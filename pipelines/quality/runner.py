"""Run the check catalogue against the warehouse, persist the results, rebuild scorecards.

``run_quality(con, run_id)`` is what the Dagster asset checks call. For each suite it builds the
computed frame in DuckDB (exact counts per source and institution), validates the frame with GX
(a deterministic sample above ``sample_rows``), and appends one row per check and source -- plus
an ``ALL`` row per check -- to ``quality.check_results``.

Status: ``fail`` when ``violating_rows / denominator > threshold``; ``pass`` otherwise (also when
no row applied); ``skipped`` when the table the check reads does not exist.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from pipelines.ingest.registry import SourceConfig, load_sources
from pipelines.quality.catalogue import Catalogue, CheckSpec, load_catalogue
from pipelines.quality.file_counts import FileCounts
from pipelines.quality.relations import relations_for_suite
from pipelines.quality.rules import counts_sql, frame_sql, q

ALL_SOURCES = "ALL"
DEFAULT_SAMPLE_ROWS = 20_000


@dataclass(frozen=True)
class CheckResult:
    check_id: str
    suite: str
    table: str
    category: str
    source_id: str  # a source id, or "ALL" for the check over every source
    element: str
    violating_rows: int
    denominator: int
    rate: float | None  # violating_rows / denominator, None when no row applied
    threshold: float
    severity: str  # blocking | warning
    status: str  # pass | fail | skipped
    reason: str  # why the threshold is what it is
    description: str
    stage: str = "std"
    entity: str = ""
    gx_evaluated_rows: int | None = None  # rows GX saw where the rule applied (sample when large)
    gx_unexpected_rows: int | None = None
    gx_success: bool | None = None

    @property
    def is_blocking_failure(self) -> bool:
        return self.status == "fail" and self.severity == "blocking"

    def message(self) -> str:
        rate = "n/a" if self.rate is None else f"{self.rate:.2%}"
        return (
            f"{self.check_id} [{self.source_id}] {self.status.upper()} ({self.severity}): "
            f"{self.violating_rows}/{self.denominator} rows violate ({rate}, threshold {self.threshold:.2%}) "
            f"- {self.description}. Threshold reason: {self.reason}"
        )


@dataclass
class QualityReport:
    run_id: str
    run_at: dt.datetime
    stage: str
    results: list[CheckResult] = field(default_factory=list)
    by_institution: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    samples: list[dict] = field(default_factory=list)  # masked violating rows of failing checks
    seconds_total: float = 0.0
    seconds_gx: float = 0.0

    @property
    def blocking_failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.is_blocking_failure]

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "fail" and r.severity == "warning"]

    @property
    def passed(self) -> bool:
        """True when no blocking check failed: the marts may be published."""
        return not self.blocking_failures

    def for_check(self, check_id: str) -> list[CheckResult]:
        return [r for r in self.results if r.check_id == check_id]

    def overall(self, check_id: str) -> CheckResult | None:
        """The ``ALL`` row of a check (what a Dagster asset check reports)."""
        for r in self.results:
            if r.check_id == check_id and r.source_id == ALL_SOURCES:
                return r
        return None

    def check_passed(self, check_id: str) -> bool:
        """A check passes when none of its rows (ALL and per source) fails."""
        return all(r.status != "fail" for r in self.for_check(check_id))

    def summary(self) -> str:
        failed = [r for r in self.results if r.status == "fail"]
        lines = [
            f"quality run {self.run_id}: {len({r.check_id for r in self.results})} checks, "
            f"{len(self.blocking_failures)} blocking failures, {len(self.warnings)} warnings"
        ]
        lines += [f"  {r.message()}" for r in failed]
        return "\n".join(lines)

    def figures(self) -> list[tuple]:
        """(check, source, violating rows, denominator, status) of every result, sorted: what two
        runs on the same data must agree on."""
        return sorted(
            (r.check_id, r.source_id, r.violating_rows, r.denominator, r.status) for r in self.results
        )

    def institution_figures(self) -> list[tuple]:
        """(check, source, institution, violating rows, denominator), sorted."""
        return sorted(
            (d["check_id"], d["source_id"], str(d["institution_code"]), d["violating_rows"], d["denominator"])
            for d in self.by_institution
        )

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(r) for r in self.results])


def _status(violating: int, denominator: int, threshold: float) -> tuple[float | None, str]:
    if denominator == 0:
        return None, "pass"
    rate = violating / denominator
    return rate, ("fail" if rate > threshold + 1e-12 else "pass")


def _result(check: CheckSpec, source_id: str, bad: int, den: int, gx=None, skipped=False) -> CheckResult:
    rate, status = _status(bad, den, check.threshold)
    return CheckResult(
        check_id=check.check_id,
        suite=check.suite,
        table=check.table,
        category=check.category,
        source_id=source_id,
        element=check.element,
        violating_rows=int(bad),
        denominator=int(den),
        rate=rate,
        threshold=check.threshold,
        severity=check.severity,
        status="skipped" if skipped else status,
        reason=check.reason,
        description=check.description,
        stage=check.stage,
        entity=check.entity,
        gx_evaluated_rows=None if gx is None else gx[0],
        gx_unexpected_rows=None if gx is None else gx[1],
        gx_success=None if gx is None else gx[2],
    )


def run_quality(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    stage: str = "all",
    log: Callable[[str], object] = print,
    *,
    as_of: dt.datetime | None = None,
    sources: dict[str, SourceConfig] | None = None,
    catalogue: Catalogue | None = None,
    sample_rows: int = DEFAULT_SAMPLE_ROWS,
    persist: bool = True,
    use_gx: bool = True,
    drill_samples: int = 20,
    incremental: bool = True,
) -> QualityReport:
    """Run every check of ``stage`` (``raw``, ``std`` or ``all``) and persist the results.

    Appends to ``quality.check_results`` (rows of an earlier run with the same ``run_id`` are
    replaced), then rebuilds ``quality.scorecards`` and ``quality.mart_fitness`` for the run.
    ``as_of`` is the "now" of the not-in-the-future checks (default: the current local time).
    ``drill_samples``: up to this many masked violating rows per failing check and source are kept
    in ``quality.violation_samples`` (so the published snapshot can show them; 0 = none).
    ``incremental`` (with ``persist``): a file relation counts only the files not counted yet and
    adds the kept counts of the others (pipelines.quality.file_counts); GX then validates a sample
    of the newly counted rows. ``incremental=False`` recounts every row (the cache is left as is).
    """
    from pipelines.quality import gx_session, persistence

    t0 = time.perf_counter()
    if stage not in ("all", "raw", "std"):
        raise ValueError(f"stage must be all, raw or std, not {stage!r}")
    cat = catalogue or load_catalogue()
    srcs = load_sources() if sources is None else sources
    run_at = dt.datetime.now().replace(microsecond=0)
    as_of_s = (as_of or run_at).strftime("%Y-%m-%d %H:%M:%S")
    report = QualityReport(run_id=run_id, run_at=run_at, stage=stage)
    gx = gx_session.session() if use_gx else None
    counter = FileCounts(con, run_id, cat) if (persist and incremental) else None

    for suite in cat.suites.values():
        if stage != "all" and suite.stage != stage:
            continue
        checks = cat.checks_in_suite(suite.name)
        if not checks:
            continue
        relations = relations_for_suite(con, cat, suite, srcs)
        if not relations:
            note = f"suite {suite.name}: table {suite.table} not present, {len(checks)} checks skipped"
            report.notes.append(note)
            log(note)
            for c in checks:
                report.results.append(_result(c, ALL_SOURCES, 0, 0, skipped=True))
            continue
        # per check: source -> [bad, den]; gx outcome summed over the relations
        per_source: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
        gx_sum: dict[str, list] = {}
        scoped_relations: list | None = None
        for position, rel in enumerate(relations):
            report.notes.extend(f"suite {suite.name} @ {rel.table}: {n}" for n in rel.notes)
            frame = frame_sql(con, rel, checks, cat, as_of_s)
            sample_frame: str | None = frame
            new_files = None
            if counter is not None and rel.files_sql is not None:
                key = counter.scope_key(rel, checks)
                new_files = counter.files_to_count(suite.name, rel, key)
            if new_files is None:
                rows = con.sql(counts_sql(frame, checks)).fetchall()
            else:
                sample_frame = None
                if new_files:
                    if scoped_relations is None:
                        scoped_relations = relations_for_suite(con, cat, suite, srcs, scoped=True)
                    sample_frame = frame_sql(con, scoped_relations[position], checks, cat, as_of_s)
                    counter.record(suite.name, rel, key, checks, sample_frame)
                rows = counter.totals(suite.name, rel, checks)
            for row in rows:
                src, inst = row[0] if row[0] is not None else "(unknown)", row[1]
                for i, c in enumerate(checks):
                    den, bad = int(row[2 + 2 * i]), int(row[3 + 2 * i])
                    acc = per_source[c.check_id][src]
                    acc[0] += bad
                    acc[1] += den
                    if den:
                        report.by_institution.append(
                            {"check_id": c.check_id, "source_id": src, "institution_code": inst,
                             "violating_rows": bad, "denominator": den}
                        )  # fmt: skip
            if gx is not None and sample_frame is not None:
                g0 = time.perf_counter()
                cols = ", ".join(q(c.flag_column) for c in checks)
                df = con.sql(
                    f"SELECT {cols} FROM ({sample_frame}) ORDER BY hash(_source_id, _order), _order LIMIT {int(sample_rows)}"
                ).df()
                if len(df):
                    for cid, o in gx.validate(suite.name, rel.table, checks, df, run_id).items():
                        s = gx_sum.setdefault(cid, [0, 0, True])
                        s[0] += o.evaluated_rows
                        s[1] += o.unexpected_rows
                        s[2] = s[2] and o.success
                report.seconds_gx += time.perf_counter() - g0
        for c in checks:
            sources_for_check = per_source.get(c.check_id, {})
            total_bad = sum(v[0] for v in sources_for_check.values())
            total_den = sum(v[1] for v in sources_for_check.values())
            g = gx_sum.get(c.check_id)
            report.results.append(_result(c, ALL_SOURCES, total_bad, total_den, gx=tuple(g) if g else None))
            for src in sorted(sources_for_check):
                bad, den = sources_for_check[src]
                report.results.append(_result(c, src, bad, den))

    if drill_samples > 0:
        _collect_samples(con, report, cat, srcs, as_of or run_at, drill_samples)
    report.seconds_total = time.perf_counter() - t0
    if persist:
        persistence.persist(con, report, cat)
        report.seconds_total = time.perf_counter() - t0
    n_checks = len({r.check_id for r in report.results})
    if counter is not None:
        log(
            f"quality {run_id}: per-file counts: {counter.files_counted} file(s) counted, "
            f"{counter.files_reused} reused from earlier runs (quality.file_check_counts)"
        )
    log(
        f"quality {run_id} ({stage}): {n_checks} checks, {len(report.blocking_failures)} blocking failures, "
        f"{len(report.warnings)} warnings in {report.seconds_total:.1f}s (GX {report.seconds_gx:.1f}s)"
    )
    for r in report.results:
        if r.status == "fail":
            log(f"  {r.message()}")
    return report


def _is_missing(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists, arrays: present
        return False


def _collect_samples(
    con, report: QualityReport, cat: Catalogue, srcs, as_of: dt.datetime, limit: int
) -> None:
    """Masked violating rows of every failing check, per failing source (drill-down for the snapshot).

    One pass over the check's table per failing check (up to ``limit`` rows for each source).
    """
    from pipelines.quality.drill import violating_rows

    failing: dict[str, set[str]] = defaultdict(set)
    for r in report.results:
        if r.status == "fail" and r.source_id != ALL_SOURCES:
            failing[r.check_id].add(r.source_id)
    for check_id in sorted(failing):
        df = violating_rows(
            con, check_id, limit=limit, as_of=as_of, sources=srcs, catalogue=cat, per_source=True
        )
        if df.empty or "source_id" not in df.columns:
            continue
        counter: dict[str, int] = defaultdict(int)
        for raw_rec in df.to_dict(orient="records"):
            rec = {k: (None if _is_missing(v) else v) for k, v in raw_rec.items()}
            src = rec.get("source_id")
            if src not in failing[check_id]:
                continue
            counter[src] += 1
            report.samples.append(
                {"check_id": check_id, "source_id": src, "sample_no": counter[src],
                 "file_id": None if rec.get("file_id") is None else str(rec.get("file_id")),
                 "row_number": None if rec.get("row_number") is None else int(rec["row_number"]),
                 "record": json.dumps(rec, ensure_ascii=False, default=str)}
            )  # fmt: skip


def build_data_docs(out_dir: str | Path, con: duckdb.DuckDBPyConnection | None = None) -> Path:
    """Build the GX Data Docs site (suites + the validations run in this process) into ``out_dir``.

    When nothing was validated in this process yet and ``con`` is given, the suites are validated
    first (without persisting results). Returns the path of ``index.html``.
    """
    from pipelines.quality import gx_session

    if con is not None and (not gx_session.has_session() or gx_session.session().validations_run == 0):
        run_quality(con, run_id=f"docs-{dt.datetime.now():%Y%m%dT%H%M%S}", persist=False, log=lambda _m: None)
    return gx_session.session().build_data_docs(Path(out_dir))
