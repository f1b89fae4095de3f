"""Daily volume band, GX Data Docs, and the ``quality`` command."""

from __future__ import annotations

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st
from tests_quality_helpers import AS_OF, SOURCES

from pipelines.cli import main
from pipelines.quality import build_data_docs, run_quality, violating_rows


def _volume_warehouse(con: duckdb.DuckDBPyConnection) -> None:
    """42 days from Monday 2024-04-01; 40 visits a day, except day 30 (5), day 35 (120), day 37 (22)."""
    con.execute("CREATE SCHEMA std")
    con.execute(
        """CREATE TABLE std.visits AS
           WITH days AS (SELECT i, DATE '2024-04-01' + CAST(i AS INTEGER) AS day,
                                CASE i WHEN 30 THEN 5 WHEN 35 THEN 120 WHEN 37 THEN 22 ELSE 40 END AS n FROM range(42) t(i))
           SELECT 'V' || i || '_' || k AS visit_id, 'his_t' AS source_id, 'A001' AS institution_code,
                  CAST(day AS TIMESTAMP) + INTERVAL 9 HOUR AS visit_datetime
           FROM days, LATERAL range(n) r(k)"""
    )


def test_daily_volume_flags_the_drop_and_the_spike(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    _volume_warehouse(con)
    report = run_quality(con, "vol", stage="std", as_of=AS_OF, sources=SOURCES, log=lambda _m: None)
    r = report.overall("std_visits_daily_volume")
    # days 14..41 have >= 2 earlier same-weekday days: 28 evaluated; 5 and 120 are outside [0.5x, 2x] the
    # median 40 and > 3 sqrt(40) = 19 away; 22 is 18 away (within noise) and not below 20 (not halved)
    assert (r.violating_rows, r.denominator, r.status, r.severity) == (2, 28, "fail", "warning")
    assert (r.gx_evaluated_rows, r.gx_unexpected_rows) == (28, 2)
    df = violating_rows(con, "std_visits_daily_volume", sources=SOURCES)
    assert df[["source_id", "n_rows", "baseline"]].values.tolist() == [
        ["his_t", 5, 40.0],
        ["his_t", 120, 40.0],
    ]
    assert [str(d)[:10] for d in df["day"]] == ["2024-05-01", "2024-05-06"]
    con.close()


def test_data_docs_site_lists_the_suites(bad_run, tmp_path):
    index = build_data_docs(tmp_path / "docs")
    assert index == (tmp_path / "docs" / "index.html").resolve()
    html = index.read_text(encoding="utf-8")
    for suite in ("raw.visits", "std.visits", "std.visits.identity", "std.visit_diagnoses", "std.referrals"):
        assert f"{suite}.html" in html or suite in html, suite
    pages = list((tmp_path / "docs" / "validations").rglob("*.html"))
    assert len(pages) >= 10  # one validation page per suite and table validated in this session


def test_cli_history_drill_and_list(tmp_path, capsys):
    from tests_quality_helpers import build_base

    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    build_base(con)
    run_quality(con, "r1", as_of=AS_OF, sources=SOURCES, log=lambda _m: None, use_gx=False)
    con.execute("UPDATE std.visits SET institution_code = 'B001' WHERE institution_code = 'Z999'")
    run_quality(con, "r2", as_of=AS_OF, sources=SOURCES, log=lambda _m: None, use_gx=False)
    con.close()
    assert main(["quality", "--warehouse", str(db), "history"]) == 0
    out = capsys.readouterr().out
    resolved = [
        ln.split() for ln in out.splitlines() if ln.strip().startswith("std_visits_institution_known")
    ]
    assert resolved == [
        ["std_visits_institution_known", "ALL", "blocking", "fail", "pass", "resolved", "1", "0", "-1"],
        ["std_visits_institution_known", "his_t", "blocking", "fail", "pass", "resolved", "1", "0", "-1"],
    ]
    assert main(["quality", "--warehouse", str(db), "drill", "std_visits_discharge_after_admission"]) == 0
    out = capsys.readouterr().out
    assert "V1" in out and "F1" in out and "aaaaaaaa…" in out and "a" * 9 not in out
    assert main(["quality", "list"]) == 0
    assert sum(ln.startswith(("raw_", "std_")) for ln in capsys.readouterr().out.split()) == 48


@settings(max_examples=25, deadline=None)
@given(
    per_day=st.integers(min_value=20, max_value=400),
    days=st.integers(min_value=16, max_value=60),
    offset=st.integers(min_value=0, max_value=10_000),
)
def test_volume_band_flags_only_a_missing_day(per_day, days, offset):
    """Constant volume never trips the band; one day without rows after two weeks always does."""
    from pipelines.quality.catalogue import load_catalogue
    from pipelines.quality.relations import relations_for_suite
    from pipelines.quality.rules import counts_sql, frame_sql

    # a gap inside the series (the spine spans first..last day) on a day with two earlier same weekdays
    missing_day = 14 + offset % (days - 15)
    con = duckdb.connect()
    con.execute("CREATE SCHEMA std")
    con.execute(
        f"""CREATE TABLE std.visits AS
            SELECT 'his_t' AS source_id, CAST(DATE '2024-04-01' + CAST(i AS INTEGER) AS TIMESTAMP) AS visit_datetime
            FROM range({days}) t(i), range({per_day}) r(k) WHERE i <> {missing_day}"""
    )
    cat = load_catalogue()
    check = cat.check("std_visits_daily_volume")
    (rel,) = relations_for_suite(con, cat, cat.suites[check.suite], {})
    frame = frame_sql(con, rel, [check], cat, "2030-01-01 00:00:00")
    ((_src, _inst, den, bad),) = con.execute(counts_sql(frame, [check])).fetchall()
    con.close()
    assert den == days - 14  # days 14.. have two earlier same-weekday days
    assert bad == 1
