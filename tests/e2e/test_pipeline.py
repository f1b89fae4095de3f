"""End to end through Dagster: generate a tiny region, run the scheduled job headless, deliver a
second batch (corrected re-send, duplicate), run again. Published indicators are non-empty, rows
reconcile, both runs are in the persistent instance, and the quality history shows a delta."""

from __future__ import annotations

import os
import shutil

import duckdb
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    from pipelines.generate import generate

    data = tmp_path_factory.mktemp("data")
    generate(data, scale="tiny", seed=7)

    def environ() -> dict:
        return {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}

    before = environ()
    yield data
    assert environ() == before  # the run takes its data dir as an argument, never the environment


@pytest.fixture(scope="module")
def first_run(region):
    from pipelines.defs.cli import run_pipeline

    assert run_pipeline(str(region)) is True
    return region


def test_first_run_publishes_indicators(first_run):
    con = duckdb.connect(str(first_run / "published" / "current.duckdb"), read_only=True)
    n = con.execute("select count(*) from marts.indicator_values").fetchone()[0]
    ids = {r[0] for r in con.execute("select distinct indicator_id from marts.indicator_values").fetchall()}
    con.close()
    assert n > 0
    assert len(ids) >= 10


def test_monthly_report_of_the_sample_region(first_run, tmp_path):
    """月度分级诊疗运行报告 for the generated region: the default month is complete, the workbook has
    its sheets and native charts and no people count below 5; the PDF is printed."""
    import zipfile

    import openpyxl

    from pipelines.publish.report import ReportError, generate, small_people_cells

    published = first_run / "published" / "current.duckdb"
    con = duckdb.connect(str(published), read_only=True)
    complete = [r[0] for r in con.execute(
        "select period from marts.period_completeness where is_complete order by period").fetchall()]  # fmt: skip
    con.close()
    try:
        files = generate(published, tmp_path)
    except ReportError as exc:  # no Chromium on this machine: the workbook alone
        assert "Chromium" in str(exc)
        files = generate(published, tmp_path, pdf=False)
    xlsx = files["xlsx"]
    assert xlsx.name == f"月度分级诊疗运行报告_{complete[-1]}.xlsx"
    wb = openpyxl.load_workbook(xlsx)
    assert wb.sheetnames == ["核心指标", "区县排名", "转诊流向", "退回原因", "数据质量", "数据完整性"]
    assert wb["核心指标"]["A2"].value == "数据完整"
    with zipfile.ZipFile(xlsx) as z:
        assert len([n for n in z.namelist() if n.startswith("xl/charts/chart")]) >= 4
    assert small_people_cells(xlsx) == []
    if "pdf" in files:
        assert files["pdf"].read_bytes()[:5] == b"%PDF-"


def test_rows_reconcile_per_file(first_run):
    con = duckdb.connect(str(first_run / "warehouse" / "warehouse.duckdb"), read_only=True)
    bad = con.execute(
        "select file_name, rows_read, rows_landed, rows_quarantined from raw.files "
        "where status = 'landed' and rows_read <> rows_landed + rows_quarantined"
    ).fetchall()
    rejected = con.execute("select count(*) from raw.files where status = 'rejected'").fetchone()[0]
    con.close()
    assert bad == []
    assert rejected >= 1  # the generator's unknown-source folder


def test_second_delivery_and_quality_history(first_run):
    import dagster as dg

    from pipelines.defs.cli import run_pipeline

    later = first_run / "later"
    for src in later.iterdir():
        for f in src.iterdir():
            (first_run / "inbox" / src.name).mkdir(exist_ok=True)
            shutil.copy2(f, first_run / "inbox" / src.name / f.name)
    assert run_pipeline(str(first_run)) is True
    con = duckdb.connect(str(first_run / "warehouse" / "warehouse.duckdb"), read_only=True)
    statuses = dict(con.execute("select status, count(*) from raw.files group by all").fetchall())
    runs = con.execute("select count(distinct run_id) from quality.check_results").fetchone()[0]
    con.close()
    assert statuses.get("replaced", 0) >= 1
    assert statuses.get("duplicate", 0) >= 1
    assert runs == 2
    with dg.DagsterInstance.from_config(str(first_run / "dagster_home")) as instance:
        records = instance.get_run_records(filters=dg.RunsFilter(job_name="warehouse_job"))
    assert len(records) == 2
    assert all(r.dagster_run.is_success for r in records)
    # the second run's dbt started from the first run's parse state (same data dir, same profile):
    # no "Unable to do partial parsing" (the project's own state, parsed under the default
    # warehouse path, is always refused: "profile has changed")
    second = max(records, key=lambda r: r.create_timestamp)
    dbt_log = (first_run / "dbt_target" / second.dagster_run.run_id[:8] / "dbt.log").read_text()
    assert '"name": "MainReportVersion"' in dbt_log
    assert "UnableToPartialParse" not in dbt_log
