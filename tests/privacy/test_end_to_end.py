"""Must show (issue 15): resident IDs, phone numbers and the patient's own name typed into EVERY
free-text element of a real delivery never reach any column of the published snapshot nor any
dashboard page any role can open; the scrubs are counted; the files of the run are owner-only;
no table outside `restricted` carries a person key, visit id, referral id or quarantine row number,
nor is a row-level fact table; reporting people counts are never 1..4.

A tiny sample region is generated, a few rows of each free-text element are overwritten the way a
clinician would type them (the row's own ID, mobile in 3-4-4 groups and name; a landline with an
extension), the scheduled job runs headless, then the snapshot and the app are searched.
"""

from __future__ import annotations

import csv
import json
import os
import stat
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines.privacy import RESTRICTED_SCHEMA, is_resident_id, personal_data
from pipelines.standardize.standard import default_standard

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
ROWS_PER_FILE = 2
OTHER_ID = "330106198507152318"  # a person in a slot pool's department text (no patient on the row)
LANDLINE = "0571-87654321转806"
ROLE_PAGES = {
    "analyst": ["overview", "referrals", "institutions", "chronic", "slots"],
    "quality": ["overview", "referrals", "institutions", "chronic", "slots", "quality"],
    "engineer": ["overview", "referrals", "institutions", "chronic", "slots", "quality", "ingestion"],
}


def _usable(id_no: str, name: str, phone: str) -> bool:
    return bool(id_no) and is_resident_id(id_no) and len(name or "") >= 2 and len(phone or "") == 11


def _spaced(phone: str) -> str:
    return f"{phone[:3]} {phone[3:7]} {phone[7:]}"


def plant(inbox: Path) -> tuple[set[str], dict[tuple[str, str], int]]:
    """Overwrite free text in the first usable rows of each file; returns (planted strings, rows
    planted per (entity, element))."""
    planted: set[str] = {OTHER_ID, LANDLINE, "87654321"}
    counts: dict[tuple[str, str], int] = {}

    def bump(entity, element):
        counts[(entity, element)] = counts.get((entity, element), 0) + 1

    for f in sorted((inbox / "std_export").glob("visits_*.csv")):
        rows = list(csv.DictReader(f.open(encoding="utf-8", newline="")))
        n = 0
        for r in rows:
            if n == ROWS_PER_FILE or not _usable(r["patient_id_number"], r["patient_name"], r["phone"]):
                continue
            name, id_no, phone = r["patient_name"], r["patient_id_number"], r["phone"]
            r["diagnosis_name"] = f"{r['diagnosis_name']} 患者{name} 身份证{id_no} 电话{_spaced(phone)}"
            r["department_name"] = f"内科 {name} 手机{phone} 座机{LANDLINE}"
            planted |= {name, id_no, phone, _spaced(phone)}
            bump("visits", "diagnosis_name")
            bump("visits", "department_name")
            n += 1
        with f.open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]), quoting=csv.QUOTE_ALL)
            w.writeheader()
            w.writerows(rows)
    for f in sorted((inbox / "std_export").glob("slot_pools_*.csv")):
        rows = list(csv.DictReader(f.open(encoding="utf-8", newline="")))
        for r in rows[:ROWS_PER_FILE]:
            r["department_name"] = f"{r['department_name']} 咨询{LANDLINE} 联系人身份证{OTHER_ID}"
            bump("slot_pools", "department_name")
        with f.open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]), quoting=csv.QUOTE_ALL)
            w.writeheader()
            w.writerows(rows)
    for f in sorted((inbox / "referral_platform").glob("referrals_*.jsonl")):
        lines = [json.loads(x) for x in f.read_text(encoding="utf-8").splitlines() if x.strip()]
        n = 0
        for r in lines:
            p = r.get("patient") or {}
            if n == ROWS_PER_FILE or not _usable(p.get("id_no"), p.get("name"), p.get("mobile")):
                continue
            name, id_no, phone = p["name"], p["id_no"], p["mobile"]
            r["reason"] = (
                f"{r.get('reason') or ''}，患者{name}，身份证号{id_no}，家属电话+86 {_spaced(phone)}"
            )
            r["discharge_plan"] = f"回社区随访，{name}本人电话{phone}，社区座机{LANDLINE}"
            r["diagnosis"] = {**(r.get("diagnosis") or {}), "name": f"高血压 {name} {id_no}"}
            planted |= {name, id_no, phone, _spaced(phone)}
            for el in ("referral_reason", "discharge_plan", "diagnosis_name"):
                bump("referrals", el)
            n += 1
        f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in lines) + "\n", encoding="utf-8")
    return planted, counts


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from pipelines.defs.cli import run_pipeline
    from pipelines.generate import generate

    data = tmp_path_factory.mktemp("data")
    generate(data, scale="tiny", seed=7)
    planted, counts = plant(data / "inbox")
    saved = dict(os.environ)
    os.environ["RW_DATA_DIR"] = str(data)
    os.environ["DAGSTER_HOME"] = str(data / "dagster_home")
    os.environ["RW_APP_DIR"] = str(data / "app")
    try:
        assert run_pipeline(str(data)) is True
        yield data, planted, counts
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_every_free_text_element_was_planted(run):
    _, planted, counts = run
    free = {(e.entity, e.element) for e in default_standard().elements if e.pii_class == "free_text"}
    assert set(counts) == free
    assert all(n >= 1 for n in counts.values())
    assert len(planted) > 20


def test_no_planted_string_in_any_column_of_the_published_snapshot(run):
    data, planted, _ = run
    con = duckdb.connect(str(data / "published" / "current.duckdb"), read_only=True)
    hits = []
    cols = con.execute(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "WHERE data_type = 'VARCHAR' OR data_type LIKE '%[]' OR data_type LIKE 'STRUCT%' OR data_type = 'JSON'"
    ).fetchall()
    assert len(cols) > 50
    for schema, table, column in cols:
        for s in planted:
            n = con.execute(
                f'SELECT count(*) FROM {schema}."{table}" WHERE contains(CAST("{column}" AS VARCHAR), ?)', [s]
            ).fetchone()[0]
            if n:
                hits.append((schema, table, column, s, n))
    con.close()
    assert hits == []


def test_no_table_outside_restricted_carries_a_person_or_record_key(run):
    data, _, _ = run
    pd_ = personal_data()
    con = duckdb.connect(str(data / "published" / "current.duckdb"), read_only=True)
    cols = con.execute(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns"
    ).fetchall()
    con.close()
    outside = [
        (s, t, c)
        for s, t, c in cols
        if s != RESTRICTED_SCHEMA
        and (pd_.column_class(c) in ("pseudonym", "record_id", "direct_identifier") or c == "row_number")
    ]
    assert outside == []
    restricted = {t for s, t, _ in cols if s == RESTRICTED_SCHEMA}
    assert {"fct_visits", "fct_referrals", "dim_persons", "violation_samples", "quarantine"} <= restricted
    # row-level facts only in restricted; outside it the aggregates (reporting), indicators, dimensions
    outside_tables = {(s, t) for s, t, _ in cols if s != RESTRICTED_SCHEMA}
    assert [st for st in outside_tables if st[1].startswith("fct_")] == []
    assert ("ingest", "quarantine") not in outside_tables and (
        "ingest",
        "quarantine_summary",
    ) in outside_tables
    assert {("marts", "indicator_values"), ("marts", "dim_institutions"), ("reporting", "referral_summary"),
            ("reporting", "referral_level_flows"), ("reporting", "undertreated_by_institution")} <= outside_tables  # fmt: skip
    assert ("marts", "dim_persons") not in outside_tables
    # the person key is cut in restricted (8 hex characters and an ellipsis), never whole
    con = duckdb.connect(str(data / "published" / "current.duckdb"), read_only=True)
    keys = con.execute(f"SELECT DISTINCT length(person_key) FROM {RESTRICTED_SCHEMA}.dim_persons").fetchall()
    con.close()
    assert keys == [(9,)]


def test_reporting_people_counts_are_never_1_to_4(run):
    """The small-cell rule in the data: every people count (n, n_*) of every reporting table of a real
    run is NULL (suppressed) or 0 or at least 5, and a NULL count is flagged."""
    data, _, _ = run
    con = duckdb.connect(str(data / "published" / "current.duckdb"), read_only=True)
    cols = con.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'reporting' "
        "AND (column_name = 'n' OR column_name LIKE 'n\\_%' ESCAPE '\\')"
    ).fetchall()
    assert len({t for t, _ in cols}) >= 10
    small, unflagged = [], []
    for table, col in cols:
        small += con.execute(
            f"SELECT '{table}', '{col}', {col} FROM reporting.{table} WHERE {col} BETWEEN 1 AND 4"
        ).fetchall()
        unflagged += con.execute(
            f"SELECT '{table}', '{col}' FROM reporting.{table} WHERE {col} IS NULL AND NOT suppressed"
        ).fetchall()
    con.close()
    assert small == [] and unflagged == []


def test_scrub_counts_are_reported_per_element(run):
    from pipelines.standardize.scrub import scrub_counts

    data, _, counts = run
    con = duckdb.connect(str(data / "warehouse" / "warehouse.duckdb"), read_only=True)
    got = scrub_counts(con)
    con.close()
    per: dict[tuple[str, str, str], int] = {}
    for entity, element, _source, kind, n in got:
        per[(entity, element, kind)] = per.get((entity, element, kind), 0) + n
    kinds = {  # what plant() typed into each element
        ("visits", "diagnosis_name"): ("id_number", "phone", "name"),
        ("visits", "department_name"): ("phone", "name"),
        ("slot_pools", "department_name"): ("id_number", "phone"),
        ("referrals", "referral_reason"): ("id_number", "phone", "name"),
        ("referrals", "discharge_plan"): ("phone", "name"),
        ("referrals", "diagnosis_name"): ("id_number", "name"),
    }
    short = [
        (key, kind, per.get((*key, kind), 0), counts[key])
        for key, ks in kinds.items()
        for kind in ks
        if per.get((*key, kind), 0) < counts[key]
    ]
    assert short == []
    # and they are published with the value outcomes (the quality team sees them)
    con = duckdb.connect(str(data / "published" / "current.duckdb"), read_only=True)
    published = con.execute(
        "SELECT count(*) FROM ingest.value_outcomes WHERE rule LIKE '%scrub_%'"
    ).fetchone()[0]
    con.close()
    assert published > 0


def test_files_are_owner_only_after_a_run(run):
    from pipelines.settings import paths

    data, _, _ = run
    p = paths(data)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    checked = 0
    for d in (p.inbox, p.warehouse.parent, p.published_dir, p.secrets_dir):
        for f in [d, *d.rglob("*")]:
            if f.is_symlink():
                continue
            want = 0o700 if f.is_dir() else 0o600
            assert stat.S_IMODE(f.stat().st_mode) == want, f
            checked += 1
    assert checked > 100
    assert stat.S_IMODE(p.warehouse.stat().st_mode) == 0o600
    assert [stat.S_IMODE(f.stat().st_mode) for f in p.secrets_dir.iterdir()] == [0o600]


def test_a_loose_mode_is_fixed_by_the_next_check(run):
    from pipelines.settings import paths, secure_tree

    data, _, _ = run
    p = paths(data)
    os.chmod(p.warehouse, 0o644)
    os.chmod(p.warehouse.parent, 0o755)
    fixed = secure_tree(p)
    assert f"{p.warehouse}: 0644 -> 0600" in fixed and f"{p.warehouse.parent}: 0755 -> 0700" in fixed
    assert stat.S_IMODE(p.warehouse.stat().st_mode) == 0o600


@pytest.mark.parametrize("role", list(ROLE_PAGES))
def test_no_planted_string_on_any_page_a_role_can_open(run, role, monkeypatch):
    from streamlit.testing.v1 import AppTest

    data, planted, _ = run
    monkeypatch.setenv("RW_DATA_DIR", str(data))
    monkeypatch.setenv("RW_APP_DIR", str(data / "app"))
    monkeypatch.delenv("RW_PUBLISHED", raising=False)
    sys.path.insert(0, str(REPO / "dashboards"))
    leaks = []
    for page in ROLE_PAGES[role]:
        at = AppTest.from_file(str(REPO / "dashboards" / "app.py"), default_timeout=60)
        at.session_state["rw_user"] = {"name": f"e2e_{role}", "role": role}
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception, (page, [e.message for e in at.exception])
        # the page read the run's snapshot, and no section lost a table or column to the restricted
        # split ("已发布的快照中没有…"); an empty selection ("所选条件下没有…") is a legitimate state of
        # the default (latest complete) month of a tiny region
        notes = [w.value for w in at.warning] + [i.value for i in at.info if i.value.startswith("暂无数据")]
        broken = ("尚未发布数据", "已发布的快照中没有", "缺少")
        assert not any(b in n for n in notes for b in broken), (page, notes)
        if page == "overview":
            assert len(at.metric) >= 5
        parts = [e.value for kind in ("markdown", "caption", "info", "warning", "error", "title", "subheader")
                 for e in getattr(at, kind)]  # fmt: skip
        parts += [d.value.to_csv() for d in at.dataframe]
        parts += [f"{m.label} {m.value} {m.delta}" for m in at.metric]
        text = "\n".join(str(x) for x in parts)
        assert len(text) > 100, page
        leaks += [(page, s) for s in planted if s in text]
    assert leaks == []
