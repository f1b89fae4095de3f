"""A publish that fails leaves no temporary snapshot behind and does not move current.duckdb; the
held-back list travels into the snapshot."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.publish.snapshot import PublishError, publish


def _warehouse(path, with_marts: bool):
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts")
    con.execute("CREATE SCHEMA raw")
    con.execute(
        "CREATE TABLE raw.held_back AS SELECT 'his_a' AS source_id, '202506' AS period, 'x.csv' AS file_name"
    )
    if with_marts:
        con.execute("CREATE TABLE marts.indicator_values AS SELECT 1 AS v")
        con.execute("CREATE TABLE marts.indicator_registry AS SELECT 1 AS v")
    con.close()


def test_a_failed_publish_leaves_no_tmp_and_keeps_the_previous_snapshot(tmp_path):
    good, bad, pub = tmp_path / "good.duckdb", tmp_path / "bad.duckdb", tmp_path / "published"
    _warehouse(good, with_marts=True)
    _warehouse(bad, with_marts=False)
    first = publish(good, pub, "run1", log=lambda _m: None)
    with pytest.raises(PublishError):
        publish(bad, pub, "run2", log=lambda _m: None)
    assert sorted(p.name for p in pub.rglob("*") if p.is_file()) == ["current.duckdb", first.name]
    assert (pub / "current.duckdb").resolve() == first.resolve()
    con = duckdb.connect(str(pub / "current.duckdb"), read_only=True)
    assert con.execute("SELECT source_id, period FROM ingest.held_back").fetchall() == [("his_a", "202506")]
    con.close()
