"""Every dialect of the generator's `tiny` region lands, reconciled file by file and row by row with the
generator's truth (truth/files.csv, truth/records/*.parquet); then the second delivery (later/) exercises
the corrected re-send and the duplicate file."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest import land_inbox, load_registry, load_sources

generate = pytest.importorskip("pipelines.generate").generate

PRIMARY_KEYS = {
    "visits": "visit_id",
    "referrals": "referral_id",
    "followups": "followup_id",
    "contracts": "contract_id",
    "slot_pools": "pool_id",
    "slot_bookings": "booking_id",
}


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    generate(out, scale="tiny", seed=7)
    con = duckdb.connect(str(out / "warehouse.duckdb"))
    sources = load_sources()
    registry_counts = load_registry(con, out / "registry")
    first = land_inbox(con, out / "inbox", sources, log=lambda _: None)
    yield out, con, sources, first, registry_counts
    con.close()


def _truth_files(out: Path, delivery: str) -> dict[str, dict]:
    with (out / "truth" / "files.csv").open(encoding="utf-8") as fh:
        return {r["path"].split("/", 1)[1]: r for r in csv.DictReader(fh) if r["delivery"] == delivery}


def test_registry_loads_every_institution(region):
    out, con, _, _, counts = region
    with (out / "registry" / "institutions.csv").open(encoding="utf-8") as fh:
        n_inst = sum(1 for _ in fh) - 1
    assert counts["institutions"] == n_inst
    assert (
        con.execute("SELECT count(DISTINCT institution_code) FROM ref.institutions").fetchone()[0] == n_inst
    )


def test_every_file_of_every_dialect_reconciles_with_the_truth(region):
    out, con, sources, first, _ = region
    truth = _truth_files(out, "inbox")
    got = {f.path.relative_to(out / "inbox").as_posix(): f for f in first.files}
    assert set(got) == set(truth)
    # the generator writes every dialect: csv utf-8, csv gb18030, xlsx, jsonl, canonical
    landed_sources = {f.source_id for f in first.files if f.status == "landed"}
    assert {sources[s].format for s in landed_sources} == {"csv", "xlsx", "jsonl", "canonical"}
    assert {sources[s].encoding for s in landed_sources if sources[s].format == "csv"} == {"utf-8", "gb18030"}
    records = {
        entity: dict(
            con.execute(
                "SELECT source_id || '/' || file_name, count(*) FILTER (WHERE dirt LIKE '%truncated_line%') "
                f"FROM read_parquet('{out / 'truth' / 'records' / entity}.parquet') WHERE delivery = 'inbox' GROUP BY 1"
            ).fetchall()
        )
        for entity in PRIMARY_KEYS
    }
    for rel, t in truth.items():
        f = got[rel]
        dirt = set(filter(None, t["dirt"].split(";")))
        if "unknown_source" in dirt:
            assert (f.status, f.reason_code, f.rows_read) == ("rejected", "unknown_source", 0), rel
            continue
        truncated = records[t["entity"]].get(rel, 0)
        assert f.status == "landed", (rel, f.reason)
        assert f.rows_read == int(t["rows"]) == f.rows_landed + f.rows_quarantined, rel
        assert f.rows_quarantined == truncated, rel
        assert f.rows_footer == (1 if "totals_row" in dirt else 0), rel
        assert (f.reason_code == "extra_columns") == ("unknown_column" in dirt), rel
        assert f.sha256 == t["sha256"] and f.size_bytes == int(t["size_bytes"]), rel
    assert sum(records[e].get(r, 0) for e in records for r in truth) == first.totals["rows_quarantined"] >= 1


def test_landed_rows_sit_at_the_truth_row_numbers(region):
    out, con, sources, first, _ = region
    checked = 0
    for cfg in sources.values():
        for spec in cfg.files:
            table = f"{cfg.source_id}__{spec.entity}"
            exists = con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'raw' AND table_name = ?",
                [table],
            ).fetchone()[0]
            if not exists:
                continue
            pk = PRIMARY_KEYS[spec.entity]
            key_col = (
                pk if cfg.is_canonical else next(c.source_column for c in spec.columns if c.element == pk)
            )
            landed, matched = con.execute(
                f'SELECT count(*), count(*) FILTER (WHERE trim(r."{key_col}") = trim(t.record_key)) '
                f"FROM raw.\"{table}\" r JOIN raw.files f ON f.file_id = r._file_id AND f.status = 'landed' "
                f"LEFT JOIN read_parquet('{out / 'truth' / 'records' / spec.entity}.parquet') t "
                "ON t.delivery = 'inbox' AND t.source_id = f.source_id AND t.file_name = f.file_name "
                "AND t.row_number = r._row_number"
            ).fetchone()
            assert landed == matched, table
            checked += landed
    assert checked == first.totals["rows_landed"]


def test_second_delivery_replaces_the_corrected_file_and_spots_the_duplicate(region):
    out, con, sources, first, _ = region
    later = _truth_files(out, "later")
    before = {
        r[0]: r[1]
        for r in con.execute("SELECT path, file_id FROM raw.files WHERE status = 'landed'").fetchall()
    }
    shutil.copytree(out / "later", out / "inbox", dirs_exist_ok=True)
    second = land_inbox(con, out / "inbox", sources, log=lambda _: None)
    got = {f.path.relative_to(out / "inbox").as_posix(): f for f in second.files}
    assert set(got) == set(later) | {"his_x/visits_202501.csv"}  # + the unknown source, retried
    for rel, t in later.items():
        f = got[rel]
        dirt = set(filter(None, t["dirt"].split(";")))
        if "corrected_resend" in dirt:
            assert (f.status, f.replaces_file_id) == ("landed", before[rel]), rel
            assert f.rows_read == int(t["rows"])
            old = con.execute("SELECT status FROM raw.files WHERE file_id = ?", [before[rel]]).fetchone()[0]
            assert old == "replaced"
            n_old = con.execute(
                f'SELECT count(*) FROM raw."{f.source_id}__{f.entity}" WHERE _file_id = ?', [before[rel]]
            ).fetchone()[0]
            assert n_old == 0
        elif "duplicate_file" in dirt:
            original = t["duplicate_of"].split("/", 1)[1]
            assert (f.status, f.file_id) == ("duplicate", before[original]), rel
            assert original in f.reason
        else:
            assert f.status == "landed" and f.rows_read == int(t["rows"]), rel
    recorded = {f.path.relative_to(out / "inbox").as_posix() for f in first.files if f.status != "rejected"}
    assert second.unchanged == len(recorded - set(later))  # everything not re-sent is skipped
