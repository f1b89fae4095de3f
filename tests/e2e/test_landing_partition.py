"""The ingestion assets materialize for ONE source partition through Dagster's API, with run
metadata on the materialization, and leave the other sources untouched."""

from __future__ import annotations

import dagster as dg
import duckdb

from pipelines.defs.ingest import build_raw_landing, institution_registry
from pipelines.defs.resources import WarehouseResource
from pipelines.ingest.registry import load_sources


def test_materialize_one_source_partition(tmp_path):
    from pipelines.generate import generate

    generate(tmp_path, scale="tiny", seed=3)
    result = dg.materialize(
        [build_raw_landing(sorted(load_sources())), institution_registry],
        partition_key="his_b",
        resources={"warehouse": WarehouseResource(data_dir=str(tmp_path))},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    mats = result.asset_materializations_for_node("raw__landing")
    assert len(mats) == 1
    meta = mats[0].metadata
    con = duckdb.connect(str(tmp_path / "warehouse" / "warehouse.duckdb"), read_only=True)
    files = con.execute(
        "select source_id, count(*), sum(rows_read), sum(rows_landed), sum(rows_quarantined) "
        "from raw.files group by source_id"
    ).fetchall()
    n_inbox = len(list((tmp_path / "inbox" / "his_b").iterdir()))
    con.close()
    # only his_b was landed: no other source, and no unknown-source rejection (that is a whole-inbox run)
    assert [f[0] for f in files] == ["his_b"]
    assert files[0][1] == n_inbox == meta["files_seen"].value
    assert files[0][2] == meta["rows_read"].value == files[0][3] + files[0][4]
    assert meta["rows_landed"].value == files[0][3]
    assert meta["files_rejected"].value == 0
