"""The region: counties, institutions, alliances, residents, family-doctor contracts.

Built once from (scale, seed) with its own random stream, so the yearly run and a later
``generate_day`` see exactly the same institutions and residents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.generate import idcard
from pipelines.generate.config import CONDITIONS

LEVEL_OF_TYPE = {
    "village_clinic": 1,
    "township_hc": 1,
    "community_hc": 1,
    "community_station": 1,
    "county_hospital": 2,
    "tertiary_hospital": 3,
}
TYPE_DIGIT = {
    "tertiary_hospital": 9,
    "county_hospital": 8,
    "township_hc": 5,
    "community_hc": 4,
    "community_station": 3,
    "village_clinic": 1,
}


def rng_for(seed: int, *stream: int | str) -> np.random.Generator:
    """An independent, reproducible stream per purpose: PCG64 over SeedSequence(seed, *stream)."""
    words = [int(seed)]
    for s in stream:
        if isinstance(s, str):
            words.extend(s.encode("utf-8"))
        else:
            words.append(int(s))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(words)))


@dataclass
class Region:
    counties: pd.DataFrame  # county_code, county_name, kind
    institutions: pd.DataFrame  # see registry columns + internal columns
    alliances: pd.DataFrame  # alliance_memberships rows
    res: dict  # resident arrays
    n_res: int

    # derived lookups
    def county_residents(self) -> list[np.ndarray]:
        order = np.argsort(self.res["county"], kind="stable")
        counts = np.bincount(self.res["county"], minlength=len(self.counties))
        return np.split(order, np.cumsum(counts)[:-1])


def _names(rng: np.random.Generator, n: int, vocab: dict) -> np.ndarray:
    surnames = np.array(vocab["surnames"], dtype=object)
    chars = np.array(vocab["given_chars"], dtype=object)
    s = surnames[rng.integers(0, len(surnames), n)]
    g1 = chars[rng.integers(0, len(chars), n)]
    g2 = chars[rng.integers(0, len(chars), n)]
    two = rng.random(n) < 0.7
    given = np.where(two, g1 + g2, g1)
    return s + given


def build_region(params: dict, seed: int, vocab: dict) -> Region:
    rng = rng_for(seed, "region")
    period_start = np.datetime64(params["period"]["start"], "D")
    city = vocab["city"]["name"]
    prefix = vocab["city"]["area_prefix"]
    n_urban = int(params["counties"]["urban"])
    n_rural = int(params["counties"]["rural"])
    urban_defs = [c for c in vocab["counties"] if c["kind"] == "urban"][:n_urban]
    rural_defs = [c for c in vocab["counties"] if c["kind"] == "rural"][:n_rural]
    if len(urban_defs) < n_urban or len(rural_defs) < n_rural:
        raise ValueError("vocab.yaml has too few counties for this scale")
    # keep vocab order (urban/rural interleaved as listed)
    cdefs = [c for c in vocab["counties"] if c in urban_defs or c in rural_defs]
    counties = pd.DataFrame(
        {
            "county_code": [f"{prefix}{i + 1:02d}" for i in range(len(cdefs))],
            "county_name": [c["name"] for c in cdefs],
            "kind": [c["kind"] for c in cdefs],
        }
    )

    places = list(vocab["place_names"])
    villages = list(vocab["village_names"])
    names_cfg = vocab["institution_names"]
    rows: list[dict] = []

    def add(ci: int, typ: str, name: str, parent: int = -1) -> int:
        county_code = counties.county_code[ci]
        seq = sum(1 for r in rows if r["county"] == ci and r["type_code"] == typ) + 1
        rows.append(
            {
                "institution_code": f"{county_code}{TYPE_DIGIT[typ]}{seq:03d}",
                "institution_name": name,
                "level_code": str(LEVEL_OF_TYPE[typ]),
                "type_code": typ,
                "county": ci,
                "county_code": county_code,
                "county_name": counties.county_name[ci],
                "parent": parent,
            }
        )
        return len(rows) - 1

    for t in range(int(params["tertiary"])):
        ci = [i for i, k in enumerate(counties.kind) if k == "urban"][t % n_urban]
        add(ci, "tertiary_hospital", names_cfg["tertiary_hospital"][t].format(city=city))
    for ci, row in counties.iterrows():
        cname = row.county_name
        pl = iter(places[(ci * 7) % len(places) :] + places[: (ci * 7) % len(places)])
        if row.kind == "urban":
            cfg = params["urban"]
            for h in range(int(cfg["district_hospitals"])):
                nm = names_cfg["county_hospital"] if h == 0 else names_cfg["county_hospital_2"]
                add(ci, "county_hospital", nm.format(county=cname))
            for _ in range(int(cfg["community_hc"])):
                p = next(pl)
                hc = add(ci, "community_hc", names_cfg["community_hc"].format(county=cname, place=p))
                for _s in range(int(cfg["stations_per_hc"])):
                    add(
                        ci,
                        "community_station",
                        names_cfg["community_station"].format(county=cname, place=next(pl)),
                        hc,
                    )
        else:
            cfg = params["rural"]
            for h in range(int(cfg["county_hospitals"])):
                nm = names_cfg["county_hospital"] if h == 0 else names_cfg["county_hospital_2"]
                add(ci, "county_hospital", nm.format(county=cname))
            for _ in range(int(cfg["township_hc"])):
                p = next(pl)
                th = add(ci, "township_hc", names_cfg["township_hc"].format(county=cname, place=p))
                for v in range(int(cfg["villages_per_township"])):
                    vn = villages[v % len(villages)] + ("庄" if v < len(villages) else f"{v}庄")
                    add(
                        ci,
                        "village_clinic",
                        names_cfg["village_clinic"].format(county=cname, place=p, village=vn),
                        th,
                    )
    inst = pd.DataFrame(rows)
    inst["level"] = inst.level_code.astype(int)
    inst["n_doctors"] = np.select(
        [inst.type_code == "village_clinic", inst.type_code == "community_station", inst.level == 1],
        [1, 2, 6],
        20,
    )

    # --- sources: tertiary -> std_export; counties alternate his_a / his_b; a share of village
    # clinics and community stations on his_c (xlsx).
    src = np.where(((inst.county + 1) // 2) % 2 == 0, "his_a", "his_b").astype(object)
    src[inst.type_code.to_numpy() == "tertiary_hospital"] = "std_export"
    small_idx = np.flatnonzero(inst.type_code.isin(["village_clinic", "community_station"]).to_numpy())
    n_xlsx = max(1, int(round(len(small_idx) * float(params["sources"]["xlsx_share_of_small_primary"]))))
    src[np.sort(rng.choice(small_idx, n_xlsx, replace=False))] = "his_c"
    inst["source_id"] = src

    # --- alliances: rural county -> 县域医共体 led by its first county hospital; urban district ->
    # 医联体 led by a tertiary hospital (round robin). One institution switches alliance mid-period.
    tert = np.flatnonzero(inst.type_code == "tertiary_hospital")
    alliances_rows = []
    inst["alliance"] = -1
    alliance_lead: list[int] = []
    alliance_names: list[str] = []
    alliance_types: list[str] = []
    urban_i = 0
    for ci, row in counties.iterrows():
        members = np.flatnonzero(
            (inst.county == ci).to_numpy() & (inst.type_code != "tertiary_hospital").to_numpy()
        )
        if row.kind == "rural":
            lead = int(members[inst.type_code.to_numpy()[members] == "county_hospital"][0])
            alliance_names.append(f"{row.county_name}县域医共体")
            alliance_types.append("医共体")
        else:
            lead = int(tert[urban_i % len(tert)])
            urban_i += 1
            alliance_names.append(f"{inst.institution_name[lead]}{row.county_name}医联体")
            alliance_types.append("医联体")
            members = np.concatenate([[lead], members])
        alliance_lead.append(lead)
        a = len(alliance_lead) - 1
        for m in members:
            if inst.at[m, "alliance"] == -1:
                inst.at[m, "alliance"] = a
    start_years = rng.integers(2018, 2024, len(alliance_lead))
    for a, lead in enumerate(alliance_lead):
        start = date(int(start_years[a]), 1 + int(rng.integers(0, 12)), 1)
        for m in np.flatnonzero(inst.alliance.to_numpy() == a):
            alliances_rows.append(
                {
                    "alliance_id": f"A{a + 1:03d}",
                    "alliance_name": alliance_names[a],
                    "alliance_type": alliance_types[a],
                    "institution_code": inst.institution_code[m],
                    "is_lead": "1" if m == lead else "0",
                    "start_date": start.isoformat(),
                    "end_date": "",
                }
            )
    alliances = pd.DataFrame(alliances_rows)
    # mid-period switch: the last community health centre of the first urban district moves to the
    # next urban alliance on the first day of the period's 7th month.
    urban_alliances = [a for a, t in enumerate(alliance_types) if t == "医联体"]
    if len(urban_alliances) >= 2:
        a0, a1 = urban_alliances[0], urban_alliances[1]
        cands = np.flatnonzero(
            (inst.alliance.to_numpy() == a0) & (inst.type_code == "community_hc").to_numpy()
        )
        if len(cands):
            m = int(cands[-1])
            months = int(params["period"]["months"])
            switch = (period_start.astype("datetime64[M]") + min(6, months // 2)).astype("datetime64[D]")
            code = inst.institution_code[m]
            sel = alliances.institution_code == code
            alliances.loc[sel, "end_date"] = str(switch - 1)
            alliances = pd.concat(
                [
                    alliances,
                    pd.DataFrame(
                        [
                            {
                                "alliance_id": f"A{a1 + 1:03d}",
                                "alliance_name": alliance_names[a1],
                                "alliance_type": alliance_types[a1],
                                "institution_code": code,
                                "is_lead": "0",
                                "start_date": str(switch),
                                "end_date": "",
                            }
                        ]
                    ),
                ],
                ignore_index=True,
            )
    alliances = alliances.sort_values(
        ["alliance_id", "institution_code", "start_date"], kind="stable"
    ).reset_index(drop=True)
    inst["is_lead"] = False
    inst.loc[alliance_lead, "is_lead"] = True

    res = build_residents(params, rng, vocab, counties, inst, period_start)
    return Region(counties=counties, institutions=inst, alliances=alliances, res=res, n_res=len(res["sex"]))


def build_residents(
    params: dict,
    rng: np.random.Generator,
    vocab: dict,
    counties: pd.DataFrame,
    inst: pd.DataFrame,
    period_start,
) -> dict:
    cal = params["calibration"]
    n = max(50, int(round(params["visits"] / cal["visits_per_resident"])))
    n_c = len(counties)
    # county populations: urban districts larger
    w = np.where(counties.kind.to_numpy() == "urban", 1.6, 1.0) * rng.uniform(0.8, 1.2, n_c)
    county = np.sort(rng.choice(n_c, n, p=w / w.sum()))
    bands = np.array(cal["age_bands"], dtype=float)
    band = rng.choice(len(bands), n, p=bands[:, 2] / bands[:, 2].sum())
    age_days = (rng.uniform(bands[band, 0], bands[band, 1]) * 365.25).astype(np.int64)
    birth = period_start - age_days.astype("timedelta64[D]")
    sex = rng.integers(1, 3, n).astype(np.int8)  # 1 male 2 female
    # chronic conditions by age band
    cond = np.zeros((n, len(CONDITIONS)), dtype=bool)
    for j, c in enumerate(CONDITIONS):
        prev = np.array(cal["prevalence"][c], dtype=float)
        cond[:, j] = rng.random(n) < prev[band]
    g = cal["htn_grade_share"]
    grade = np.where(cond[:, 0], rng.choice([1, 2, 3], n, p=[g["1"], g["2"], g["3"]]), 0).astype(np.int8)
    # home primary institutions in the county: a small one (village clinic/station) and its centre
    types = inst.type_code.to_numpy()
    inst_county = inst.county.to_numpy()
    parent = inst.parent.to_numpy()
    home_small = np.full(n, -1, dtype=np.int64)
    home_centre = np.full(n, -1, dtype=np.int64)
    for ci in range(n_c):
        rows = np.flatnonzero(county == ci)
        smalls = np.flatnonzero((inst_county == ci) & np.isin(types, ["village_clinic", "community_station"]))
        centres = np.flatnonzero((inst_county == ci) & np.isin(types, ["township_hc", "community_hc"]))
        hs = smalls[rng.integers(0, len(smalls), len(rows))]
        home_small[rows] = hs
        home_centre[rows] = parent[hs]
        if len(centres) == 0:
            raise ValueError("a county without primary care centres")
    # id numbers: area = county code, unique sequence within (county, birth date)
    order = np.lexsort((birth, county))
    key = county[order].astype(np.int64) * 100000 + (birth[order] - np.datetime64("1900-01-01")).astype(
        np.int64
    )
    first = np.r_[True, key[1:] != key[:-1]]
    grp_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    rank = np.arange(n) - grp_start
    k = np.empty(n, dtype=np.int64)
    k[order] = rank
    grp_offset = rng.integers(0, 250, n)  # one random offset per (county, birth date) group
    offset = np.empty(n, dtype=np.int64)
    offset[order] = grp_offset[grp_start]
    seq = 2 * ((offset + k) % 500) + (sex == 1)
    area = counties.county_code.to_numpy().astype(np.int64)[county]
    id_number = idcard.build_ids(area, birth, seq)
    id_type = np.where(rng.random(n) < cal["passport_share"], "03", "01").astype(object)
    pp = id_type == "03"
    pp_no = (np.flatnonzero(pp) * 7919 + 12345) % 10**8  # a bijection: unique passport numbers
    id_number[pp] = np.char.add("E", np.char.zfill(pp_no.astype("U8"), 8)).astype(object)
    second = pa.array(rng.choice(list("3456789"), n).astype(object), pa.string())
    rest = pc.utf8_lpad(pc.cast(pa.array(rng.integers(0, 10**9, n)), pa.string()), 9, "0")
    phone_pa = pc.binary_join_element_wise("1", second, rest, "")
    names = _names(rng, n, vocab)
    has_chronic = cond.any(axis=1)
    signed = rng.random(n) < np.where(has_chronic, cal["signed_share_chronic"], cal["signed_share"])
    contract_inst = np.where(signed, np.where(rng.random(n) < 0.5, home_small, home_centre), -1)
    ndoc = inst.n_doctors.to_numpy()
    doc_no = np.where(signed, rng.integers(0, 1 << 30, n) % ndoc[np.maximum(contract_inst, 0)] + 1, 0)
    codes = inst.institution_code.to_numpy().astype(object)
    doctor_id = np.where(
        signed,
        codes[np.maximum(contract_inst, 0)] + "D" + np.char.zfill(doc_no.astype("U2"), 2).astype(object),
        "",
    )
    sign_offset = rng.integers(0, 365, n)  # day of the year the contract is (re)signed
    followup_offset = rng.integers(0, int(params["followups"]["interval_days"]), n)
    # visit propensity
    weight = (
        1.0 + cal["visit_weight_per_condition"] * cond.sum(axis=1) + cal["elderly_visit_weight"] * (band >= 3)
    )
    cdf = np.cumsum(weight)
    cdf /= cdf[-1]
    return {
        "county": county,
        "band": band,
        "birth": birth,
        "sex": sex,
        "cond": cond,
        "htn_grade": grade,
        "home_small": home_small,
        "home_centre": home_centre,
        "id_type": id_type,
        "id_number": id_number,
        "id_number_pa": pa.array(id_number, pa.string()),
        "name_pa": pa.array(names, pa.string()),
        "phone_pa": phone_pa,
        "birth_pa": pc.cast(pa.array(birth.astype("datetime64[s]")), pa.timestamp("s")),
        "signed": signed,
        "contract_inst": contract_inst,
        "doctor_id": doctor_id,
        "sign_offset": sign_offset,
        "followup_offset": followup_offset,
        "cdf": cdf,
    }
