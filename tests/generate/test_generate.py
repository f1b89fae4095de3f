"""Generator outputs: determinism, truth validity, event ordering, dirt rates, file-level dirt."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from pipelines.cli import main as cli_main
from pipelines.generate import generate_day, idcard
from pipelines.generate.config import DATA_DIR
from pipelines.ingest.registry import load_sources
from pipelines.settings import SOURCES_DIR

ENTITIES = ["visits", "referrals", "followups", "contracts", "slot_pools", "slot_bookings"]


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _truth(out: Path, entity: str) -> pd.DataFrame:
    return pd.read_parquet(out / "truth" / "records" / f"{entity}.parquet")


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    from pipelines.generate import generate

    out = tmp_path_factory.mktemp("gen_small")
    return out, generate(out, scale="small", seed=3)


def test_same_seed_same_bytes_via_cli(tiny, tmp_path, capsys):
    out, _ = tiny
    assert cli_main(["generate", "--scale", "tiny", "--seed", "42", "--out", str(tmp_path)]) == 0
    assert "generated scale=tiny seed=42" in capsys.readouterr().out
    a, b = _hashes(out), _hashes(tmp_path)
    assert len(a) > 150
    assert a == b


def test_other_seed_other_bytes(tiny, tmp_path):
    from pipelines.generate import generate

    out, _ = tiny
    generate(tmp_path, scale="tiny", seed=43)
    a = (out / "inbox/his_a/visits_202501.csv").read_bytes()
    assert a != (tmp_path / "inbox/his_a/visits_202501.csv").read_bytes()


def test_layout_of_the_output(tiny):
    out, manifest = tiny
    assert sorted(p.name for p in (out / "inbox").iterdir()) == [
        "his_a",
        "his_b",
        "his_c",
        "his_x",
        "referral_platform",
        "std_export",
    ]
    assert sorted(p.name for p in (out / "registry").iterdir()) == [
        "alliance_memberships.csv",
        "institutions.csv",
    ]
    for e in ENTITIES:
        assert (out / "truth/records" / f"{e}.parquet").exists()
    names = {p.name for p in (out / "inbox/his_a").iterdir()}
    assert {f"visits_2025{m:02d}.csv" for m in range(1, 13)} <= names
    assert manifest["scale"] == "tiny" and manifest["seed"] == 42
    assert manifest["region"]["residents"] == 294
    assert (
        json.loads((out / "truth/manifest.json").read_text(encoding="utf-8"))["params"]["dirt"]
        == manifest["params"]["dirt"]
    )
    inst = pd.read_csv(out / "registry/institutions.csv", dtype=str)
    assert len(inst) == 26 and inst.county_code.nunique() == 4
    assert set(inst.type_code) == {
        "village_clinic",
        "township_hc",
        "community_hc",
        "community_station",
        "county_hospital",
        "tertiary_hospital",
    }
    al = pd.read_csv(out / "registry/alliance_memberships.csv", dtype=str, keep_default_na=False)
    assert set(al.alliance_type) == {"医共体", "医联体"}
    # one institution switches alliance on 2025-07-01, never in two at once
    moved = al[al.end_date != ""]
    assert len(moved) == 1 and moved.end_date.iloc[0] == "2025-06-30"
    again = al[(al.institution_code == moved.institution_code.iloc[0]) & (al.start_date == "2025-07-01")]
    assert len(again) == 1 and again.alliance_id.iloc[0] != moved.alliance_id.iloc[0]


def test_ids_in_truth_are_valid_and_consistent(tiny):
    out, _ = tiny
    persons = pd.read_parquet(out / "truth/persons.parquet")
    res = persons[persons.patient_id_type == "01"]
    assert len(res) == len(persons) - (persons.patient_id_type == "03").sum()
    assert res.patient_id_number.map(idcard.is_valid).all()
    assert persons.patient_id_number.is_unique
    # birth date and sex encoded in the number
    assert (res.patient_id_number.str[6:14] == res.birth_date.str.replace("-", "")).all()
    odd = res.patient_id_number.str[16].astype(int) % 2 == 1
    assert ((res.sex_code == "1") == odd).all()
    for e in ("visits", "referrals", "followups", "contracts", "slot_bookings"):
        t = _truth(out, e)
        ids = t[t.patient_id_type == "01"].patient_id_number
        assert ids.map(idcard.is_valid).all(), e
        assert set(t.patient_id_number) <= set(persons.patient_id_number), e


def _ts(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, format="%Y-%m-%d %H:%M:%S")


def test_referral_events_are_ordered_in_truth(small):
    out, _ = small
    r = _truth(out, "referrals").drop_duplicates("referral_id")
    req, acc, ret, arr = (
        _ts(r[c]) for c in ("request_datetime", "accept_datetime", "return_datetime", "arrival_datetime")
    )
    assert (acc.dropna() >= req[acc.notna()]).all()
    assert (ret.dropna() >= req[ret.notna()]).all()
    assert (arr.dropna() >= acc[arr.notna()]).all()
    st = r.status_code
    assert (arr.notna() == (st == "4")).all()
    assert (ret.notna() == (st == "3")).all() and r[st == "3"].return_reason_code.notna().all()
    assert acc[st.isin(["1", "3", "6"])].isna().all()
    assert acc[st.isin(["2", "4", "5"])].notna().all()
    # family-doctor contact after the accepted down-referral
    f = _truth(out, "followups").drop_duplicates("followup_id")
    fd = f[f.followup_type_code == "1"].merge(r, on="referral_id", suffixes=("", "_r"))
    assert len(fd) > 0
    assert (_ts(fd.followup_datetime) > _ts(fd.accept_datetime)).all()
    assert set(fd.direction_code) == {"2"}
    # a receiving visit at the target institution at the arrival time
    v = _truth(out, "visits").drop_duplicates("visit_id")
    rv = r[r.truth_receiving_visit_id.notna()].merge(
        v, left_on="truth_receiving_visit_id", right_on="visit_id"
    )
    assert len(rv) > 0
    assert (rv.visit_datetime == rv.arrival_datetime).all()
    assert (rv.institution_code == rv.to_institution_code).all()
    # visits: admission <= discharge
    ip = v[v.visit_type_code == "3"]
    assert (_ts(ip.discharge_datetime) > _ts(ip.admission_datetime)).all()


def test_referral_variety_and_calibration(small):
    out, m = small
    r = _truth(out, "referrals").drop_duplicates("referral_id")
    assert set(r.direction_code) == {"1", "2"} and set(r.setting_code) == {"1", "2"}
    assert set(r.status_code) == {"1", "2", "3", "4", "5", "6"}
    assert (r.green_channel_flag == "1").sum() > 0
    inst = pd.read_csv(out / "registry/institutions.csv", dtype=str)
    lvl = dict(zip(inst.institution_code, inst.level_code, strict=True))
    up = r[r.direction_code == "1"]
    assert (up.to_institution_code.map(lvl) > up.from_institution_code.map(lvl)).all()
    al = pd.read_csv(out / "registry/alliance_memberships.csv", dtype=str, keep_default_na=False)
    al = al[al.end_date == ""]
    a_of = dict(zip(al.institution_code, al.alliance_id, strict=True))
    same = r.from_institution_code.map(a_of) == r.to_institution_code.map(a_of)
    assert 0 < same.sum() < len(r)  # within and across alliances
    v = _truth(out, "visits")
    v = v[(v.delivery == "inbox") & (v.source_id != "his_x")].drop_duplicates("visit_id")
    residents = m["region"]["residents"]
    assert 6.3 < len(v) / residents < 7.5  # ~6.8 visits per resident per year
    primary = v.institution_code.map(lvl) == "1"
    assert 0.47 < primary.mean() < 0.57  # about half at primary care
    ip = v[v.visit_type_code == "3"]
    assert 0.14 < len(ip) / residents < 0.21  # hospitalisation ~17.5% a year
    los = (_ts(ip.discharge_datetime) - _ts(ip.admission_datetime)).dt.total_seconds() / 86400
    assert 7.5 < los.mean() < 10.5  # average stay ~9 days
    pools = _truth(out, "slot_pools")
    share = pools.reserved_slots.astype(int).sum() / pools.total_slots.astype(int).sum()
    assert 0.17 < share < 0.25
    rel = pd.to_datetime(pools.clinic_date) - _ts(pools.release_datetime).dt.normalize()
    assert (rel.dt.days == 14).all()


def _within(applied: int, eligible: int, rate: float) -> bool:
    sd = math.sqrt(eligible * rate * (1 - rate))
    return abs(applied - eligible * rate) <= 4 * sd + 2


def test_dirt_rates_in_the_small_run(small):
    _, m = small
    assert m["params"]["dirt"]["id_check_digit"] == 0.01  # the unmultiplied defaults
    for kind, d in m["dirt"].items():
        assert d["eligible"] > 300 and d["applied"] > 0, kind
        assert _within(d["applied"], d["eligible"], d["rate"]), (kind, d)


def test_every_dirt_kind_at_its_configured_rate(tiny):
    out, m = tiny
    assert set(m["dirt"]) == set(m["params"]["dirt"])
    for kind, d in m["dirt"].items():
        assert d["applied"] > 0, kind
        assert d["rate"] == m["params"]["dirt"][kind]
        assert _within(d["applied"], d["eligible"], d["rate"]), (kind, d)
    # the labels in the truth agree with the manifest (first delivery, original rows; the
    # corrected file holds back at most `held_back_rows` labelled rows)
    held = m["params"]["files"]["held_back_rows"]
    counts: dict[str, int] = {}
    dups = 0
    for e in ENTITIES:
        t = _truth(out, e)
        t = t[(t.delivery == "inbox") & (t.source_id != "his_x")]
        for labels in t.dirt:
            kinds = [k for k in labels.split(";") if k]
            if "duplicate_row" in kinds:
                dups += 1
                continue
            for k in kinds:
                counts[k] = counts.get(k, 0) + 1
    for kind, d in m["dirt"].items():
        if kind == "duplicate_row":
            assert d["applied"] - held <= dups <= d["applied"]
        else:
            assert d["applied"] - held <= counts.get(kind, 0) <= d["applied"], kind


def test_dirt_is_really_in_the_files(tiny):
    """Read his_a visits back and compare each row with its truth row."""
    out, _ = tiny
    src = load_sources(SOURCES_DIR)["his_a"]
    spec = src.files[0]
    to_el = {c.source_column: c for c in spec.columns}
    t = _truth(out, "visits")
    t = t[(t.delivery == "inbox") & (t.source_id == "his_a")]
    with (DATA_DIR / "diagnoses.csv").open(encoding="utf-8") as fh:
        foreign = {r["code"]: r["foreign_code"] for r in csv.DictReader(fh)}
    seen: dict[str, int] = {}
    for f in sorted((out / "inbox/his_a").glob("visits_*.csv")):
        rows = list(csv.DictReader(io.StringIO(f.read_text(encoding="utf-8"))))
        tt = t[t.file_name == f.name].sort_values("row_number")
        assert len(tt) == len(rows), f.name
        for row, (_, tr) in zip(rows, tt.iterrows(), strict=True):
            dirt = set(filter(None, tr.dirt.split(";")))
            if "truncated_line" in dirt:
                continue
            assert row["visit_no"] == tr.visit_id
            for kind in dirt:
                seen[kind] = seen.get(kind, 0) + 1
            if not dirt - {"duplicate_row"}:  # clean row: every field equals the truth
                for col, v in row.items():
                    if col not in to_el:
                        continue
                    c = to_el[col]
                    exp = None if pd.isna(tr[c.element]) else tr[c.element]
                    got = c.value_map.get(v, v) if v != "" else None
                    assert got == exp, (f.name, col, v, exp)
            if "id_check_digit" in dirt and "missing_required" not in dirt:
                assert row["id_card_no"][:17] == tr.patient_id_number[:17]
                assert not idcard.is_valid(row["id_card_no"])
            if "sex_spelling" in dirt:
                assert row["gender"] not in ("M", "F")
            if "future_date" in dirt and "missing_required" not in dirt:
                assert int(row["visit_time"][:4]) >= 2052
            if "discharge_before_admission" in dirt:
                assert row["discharge_time"] < row["admit_time"]
            if "whitespace" in dirt:
                assert row["patient_name"] != tr.patient_name
                assert row["patient_name"].replace(" ", "").strip() == tr.patient_name
            if "dx_code_foreign" in dirt and not dirt & {"dx_multi", "dx_fullwidth"}:
                assert row["diag_code"] == foreign[tr.diagnosis_code_std]
            if "dx_multi" in dirt:
                assert ";" in tr.diagnosis_codes_all and row["diag_name"] != tr.diagnosis_name
            if "dx_traditional" in dirt:
                assert row["diag_name"] != tr.diagnosis_name
    assert {"id_check_digit", "sex_spelling", "whitespace", "dx_code_foreign", "dx_multi"} <= set(seen)


def test_his_b_dates_parse_with_the_yaml_formats(tiny):
    out, _ = tiny
    spec = load_sources(SOURCES_DIR)["his_b"].files[0]
    fmts = {c.source_column: c.date_formats for c in spec.columns if c.date_formats}
    t = _truth(out, "visits")
    t = t[(t.delivery == "inbox") & (t.source_id == "his_b") & (t.file_name == "visits_202501.csv")]
    rows = list(
        csv.DictReader(io.StringIO((out / "inbox/his_b/visits_202501.csv").read_text(encoding="gb18030")))
    )
    used = set()
    for row, (_, tr) in zip(rows, t.sort_values("row_number").iterrows(), strict=True):
        if tr.dirt:
            continue
        for col, formats in fmts.items():
            if not row[col]:
                continue
            for fmt in formats:
                try:
                    d = datetime.strptime(row[col], fmt)
                except ValueError:
                    continue
                used.add(fmt)
                el = next(c.element for c in spec.columns if c.source_column == col)
                iso = d.strftime("%Y-%m-%d" if el == "birth_date" else "%Y-%m-%d %H:%M:%S")
                assert iso == tr[el]
                break
            else:
                raise AssertionError((col, row[col]))
        assert row["性别"] in ("男", "女")
    assert {"%Y年%m月%d日", "%Y/%m/%d", "%Y%m%d"} <= used


def test_file_level_dirt(tiny):
    out, _ = tiny
    files = pd.read_csv(out / "truth/files.csv", dtype=str, keep_default_na=False)
    by = {r.path: r for r in files.itertuples()}
    # truncated last line
    trunc = out / "inbox/his_a/visits_202512.csv"
    assert "truncated" in by["inbox/his_a/visits_202512.csv"].dirt
    data = trunc.read_bytes()
    assert not data.endswith(b"\n") and data.rsplit(b"\n", 1)[1].count(b",") == 3
    # unknown extra column
    assert "unknown_column" in by["inbox/his_a/visits_202502.csv"].dirt
    header = (out / "inbox/his_a/visits_202502.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.endswith(',"remark"')
    # the same file sent twice under another name
    dup = by["later/his_b/visits_202502_resend.csv"]
    assert dup.dirt == "duplicate_file" and dup.duplicate_of == "inbox/his_b/visits_202502.csv"
    assert (out / dup.path).read_bytes() == (out / dup.duplicate_of).read_bytes()
    # corrected re-send: same name, different bytes, 5 more rows, the correctable dirt gone
    first, second = by["inbox/his_a/visits_202503.csv"], by["later/his_a/visits_202503.csv"]
    assert first.sha256 != second.sha256 and second.dirt == "corrected_resend"
    assert int(second.rows) == int(first.rows) + 5
    t = _truth(out, "visits")
    later = t[(t.delivery == "later") & (t.file_name == "visits_202503.csv")]
    assert not later.dirt.str.contains("id_check_digit|missing_required|sex_spelling").any()
    # unknown source folder (no YAML) and xlsx title/totals rows
    assert by["inbox/his_x/visits_202501.csv"].dirt == "unknown_source"
    assert not (SOURCES_DIR / "his_x.yaml").exists()
    xl = files[files.path.str.endswith(".xlsx")]
    assert len(xl) > 0 and (xl.dirt == "title_row;totals_row").all()
    # every file on disk is listed, with its sha256
    on_disk = {
        str(p.relative_to(out)) for p in out.glob("*/*/*") if p.parent.parent.name in ("inbox", "later")
    }
    assert on_disk == set(files.path)
    for r in files.itertuples():
        assert hashlib.sha256((out / r.path).read_bytes()).hexdigest() == r.sha256


def test_generate_day_uses_the_same_region(small, tmp_path):
    out, m = small
    md = generate_day(tmp_path, "2026-01-05", scale="small", seed=3)
    names = sorted(p.name for p in (tmp_path / "inbox/his_a").iterdir())
    assert names == ["contracts_20260105.csv", "followups_20260105.csv", "visits_20260105.csv"]
    v = pd.read_parquet(tmp_path / "truth/days/20260105/records/visits.parquet")
    assert 100 < len(v) < 250  # ~50,000 / 365
    persons = pd.read_parquet(out / "truth/persons.parquet")
    assert set(v.patient_id_number) <= set(persons.patient_id_number)
    assert set(v.visit_datetime.str[:10]) == {"2026-01-05"}
    assert md["day"] == "2026-01-05" and m["next_day"] == "2026-01-02"
