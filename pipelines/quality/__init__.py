"""Data quality (issue 7): GX Core 1.x suites from ``expectations/``, persisted results, scorecards.

Public API (used by the Dagster asset checks in ``pipelines/defs``)::

    run_quality(con, run_id, stage="all", log=print) -> QualityReport
    checks_for_table(table) -> list[CheckSpec]
    violating_rows(con, check_id, limit=100) -> pandas.DataFrame   (masked)
    build_data_docs(out_dir) -> Path                                (index.html)
"""

from pipelines.quality.catalogue import CheckSpec, all_checks, checks_for_table, load_catalogue
from pipelines.quality.drill import violating_rows
from pipelines.quality.runner import ALL_SOURCES, CheckResult, QualityReport, build_data_docs, run_quality

__all__ = [
    "ALL_SOURCES",
    "CheckResult",
    "CheckSpec",
    "QualityReport",
    "all_checks",
    "build_data_docs",
    "checks_for_table",
    "load_catalogue",
    "run_quality",
    "violating_rows",
]
