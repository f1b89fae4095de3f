"""Events of one time window (a month, or one day): visits, referrals, follow-ups, contracts,
slot pools and bookings, all vectorized with numpy. Rows reference residents and institutions by
index (``_res``, ``_inst`` ...); person and institution columns are joined in when a window is
written (see ``exports.materialize``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipelines.generate.config import CONDITIONS, DxTable
from pipelines.generate.region import Region

S_PER_H = 3600
S_PER_D = 86400
NAT = np.datetime64("NaT", "s")


@dataclass
class Ctx:
    """Everything the event generators need, prepared once per run."""

    params: dict
    vocab: dict
    region: Region
    dx: DxTable
    period_start: np.datetime64
    counters: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        inst = self.region.institutions
        self.level = inst.level.to_numpy()
        self.itype = inst.type_code.to_numpy()
        self.icounty = inst.county.to_numpy()
        self.alliance = inst.alliance.to_numpy()
        self.ndoc = inst.n_doctors.to_numpy()
        self.codes = inst.institution_code.to_numpy().astype(object)
        self.tertiary = np.flatnonzero(self.itype == "tertiary_hospital")
        self.county_hosp = np.flatnonzero(self.itype == "county_hospital")
        n_c = len(self.region.counties)
        self.county_hosp_of = [self.county_hosp[self.icounty[self.county_hosp] == c] for c in range(n_c)]
        self.primary = np.flatnonzero(self.level == 1)
        dx = self.dx
        self.dx_cond_op = np.array([_dx_of(dx, c, False) for c in CONDITIONS])
        self.dx_cond_ip = np.array([_dx_of(dx, c, True) for c in CONDITIONS])
        self.dx_htn = np.array(
            [dx.index(dx.code[(dx.condition == "hypertension") & (dx.grade == str(g))][0]) for g in (1, 2, 3)]
        )
        acute = np.flatnonzero(dx.condition == "acute")
        self.acute = acute
        self.acute_op_p = dx.op_weight[acute] / dx.op_weight[acute].sum()
        self.acute_ip_p = dx.ip_weight[acute] / dx.ip_weight[acute].sum()
        serious = dx.green_channel | (dx.ip_weight > dx.op_weight) | (dx.grade == "3")
        self.dx_serious = serious
        self.county_res = self.region.county_residents()
        self.alliance_lead = {}
        for i in np.flatnonzero(inst.is_lead.to_numpy()):
            self.alliance_lead[int(self.alliance[i])] = int(i)
        self.alliance_primary = {
            a: self.primary[self.alliance[self.primary] == a] for a in sorted(self.alliance_lead)
        }

    def ids(self, prefix: str, wkey: str, n: int) -> np.ndarray:
        start = self.counters.get((prefix, wkey), 0)
        self.counters[(prefix, wkey)] = start + n
        if n == 0:
            return np.empty(0, dtype=object)
        seq = np.char.zfill((np.arange(start, start + n) + 1).astype("U7"), 7)
        return np.char.add(prefix + wkey, seq).astype(object)


def _dx_of(dx: DxTable, cond: str, ip: bool) -> int:
    alias = {
        ("copd", True): "copd_exacerbation",
        ("stroke", False): "stroke_sequela",
        ("hypertension", False): "hypertension",
        ("hypertension", True): "hypertension",
    }
    name = alias.get((cond, ip), cond)
    hits = np.flatnonzero(dx.condition == name)
    return int(hits[-1] if name == "hypertension" else hits[0])


def _cat(p: dict, rng: np.random.Generator, n: int) -> np.ndarray:
    keys = np.array(list(p.keys()), dtype=object)
    w = np.array(list(p.values()), dtype=float)
    return keys[rng.choice(len(keys), n, p=w / w.sum())]


def _pick_by(options: dict[str, list[str]], key: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per row a random text from ``options[key]`` (``options["general"]`` for other keys)."""
    out = np.empty(len(key), dtype=object)
    u = rng.random(len(key))
    for k in sorted(set(key.tolist())):
        texts = np.array(options.get(k, options["general"]), dtype=object)
        m = key == k
        out[m] = texts[(u[m] * len(texts)).astype(np.int64)]
    return out


def choose_dx(ctx: Ctx, rng: np.random.Generator, res: np.ndarray, is_ip: np.ndarray) -> np.ndarray:
    n = len(res)
    cond = ctx.region.res["cond"][res]
    chronic = cond.any(axis=1) & (rng.random(n) < ctx.params["calibration"]["chronic_visit_share"])
    which = np.argmax(rng.random(cond.shape) * cond, axis=1)
    dx = np.where(is_ip, ctx.dx_cond_ip[which], ctx.dx_cond_op[which])
    grade = ctx.region.res["htn_grade"][res]
    htn = which == 0
    dx = np.where(htn & (grade > 0), ctx.dx_htn[np.maximum(grade, 1) - 1], dx)
    acute_op = ctx.acute[rng.choice(len(ctx.acute), n, p=ctx.acute_op_p)]
    acute_ip = ctx.acute[rng.choice(len(ctx.acute), n, p=ctx.acute_ip_p)]
    return np.where(chronic, dx, np.where(is_ip, acute_ip, acute_op)).astype(np.int64)


def secondary_dx(ctx: Ctx, rng: np.random.Generator, res: np.ndarray, dx1: np.ndarray) -> np.ndarray:
    dx2 = choose_dx(ctx, rng, res, np.zeros(len(res), dtype=bool))
    same = dx2 == dx1
    dx2[same] = ctx.acute[0]
    dx2[dx2 == dx1] = ctx.acute[1]
    return dx2


def make_visits(
    ctx: Ctx,
    rng: np.random.Generator,
    wkey: str,
    res: np.ndarray,
    inst: np.ndarray,
    vtype: np.ndarray,
    dt: np.ndarray,
    dx: np.ndarray | None = None,
    referral_id: np.ndarray | None = None,
) -> dict:
    """Complete visit rows for given resident, institution, type ('1','2','3') and time."""
    n = len(res)
    cal = ctx.params["calibration"]
    is_ip = vtype == "3"
    lvl = ctx.level[inst]
    if dx is None:
        dx = choose_dx(ctx, rng, res, is_ip)
    dx2 = secondary_dx(ctx, rng, res, dx)
    alos = np.array([cal["alos_days"][str(x)] for x in (1, 2, 3)])[lvl - 1]
    los_days = np.maximum(1, np.round(rng.gamma(2.5, alos / 2.5))).astype(np.int64)
    discharge = dt + (los_days * S_PER_D + rng.integers(-4, 6, n) * S_PER_H).astype("timedelta64[s]")
    admission = np.where(is_ip, dt, NAT)
    discharge = np.where(is_ip, discharge, NAT)
    dept = ctx.dx.department[dx].copy()
    dept[lvl == 1] = ctx.vocab["primary_department"]
    dept[vtype == "2"] = ctx.vocab["emergency_department"]
    disp = np.full(n, None, dtype=object)
    disp_h = _cat(cal["disposition_hospital"], rng, n)
    disp_p = _cat(cal["disposition_primary"], rng, n)
    disp[is_ip] = np.where(lvl[is_ip] >= 2, disp_h[is_ip], disp_p[is_ip])
    # disposition 3 (to primary care) is not used by primary institutions themselves
    pay = _cat(ctx.vocab["payment_types"], rng, n)
    base_fee = np.array([60.0, 220.0, 380.0])[lvl - 1]
    fee = base_fee * rng.lognormal(0, 0.6, n)
    fee = np.where(vtype == "2", fee * 2.5, fee)
    daily = np.array([600.0, 1100.0, 2000.0])[lvl - 1]
    fee = np.where(is_ip, los_days * daily * rng.lognormal(0, 0.3, n), fee)
    r = ctx.region.res
    htn = r["cond"][res, 0]
    dm = r["cond"][res, 1]
    grade = r["htn_grade"][res]
    sbp = np.where(
        htn, np.array([122.0, 146.0, 156.0, 166.0])[grade] + rng.normal(0, 10, n), rng.normal(121, 11, n)
    )
    dbp = sbp * 0.6 + rng.normal(6, 6, n)
    bp_p = np.where(htn, np.where(lvl == 1, 0.85, 0.5), 0.2)
    has_bp = rng.random(n) < bp_p
    glu = np.where(dm, rng.normal(8.2, 2.0, n), rng.normal(5.2, 0.5, n))
    has_glu = rng.random(n) < np.where(dm, 0.7, 0.05)
    exam = _cat(ctx.vocab["major_exams"], rng, n)
    exam[(lvl == 1) & (rng.random(n) < 0.9)] = "none"
    return {
        "visit_id": ctx.ids("V", wkey, n),
        "_inst": inst.astype(np.int64),
        "_res": res.astype(np.int64),
        "visit_type_code": vtype.astype(object),
        "visit_datetime": dt,
        "admission_datetime": admission,
        "discharge_datetime": discharge,
        "department_name": dept,
        "_dx": dx,
        "_dx2": dx2,
        "discharge_disposition_code": disp,
        "payment_type_code": pay,
        "total_fee": np.round(fee, 2),
        "systolic_bp": np.where(has_bp, np.round(sbp), np.nan),
        "diastolic_bp": np.where(has_bp, np.round(dbp), np.nan),
        "fasting_glucose": np.where(has_glu, np.round(np.clip(glu, 2.8, 30), 1), np.nan),
        "major_exam_code": exam,
        "_referral_id": referral_id if referral_id is not None else np.full(n, None, dtype=object),
    }


def concat(parts: list[dict]) -> dict:
    parts = [p for p in parts if p and len(next(iter(p.values())))]
    if not parts:
        return {}
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _times(rng, n, start, n_days, lo_h, hi_h) -> np.ndarray:
    day = rng.integers(0, n_days, n)
    secs = rng.integers(int(lo_h * S_PER_H), int(hi_h * S_PER_H), n)
    return start.astype("datetime64[s]") + (day * S_PER_D + secs).astype("timedelta64[s]")


def _hours(rng, n, median, sigma=0.8):
    return (rng.lognormal(np.log(median), sigma, n) * S_PER_H).astype(np.int64).astype("timedelta64[s]")


def background_visits(ctx: Ctx, rng, wkey, start, n_days) -> dict:
    p = ctx.params
    cal = p["calibration"]
    r = ctx.region.res
    lv = cal["linked_visit_share"]
    n = int(round(p["visits"] * (1 - lv) * n_days / 365.0))
    res = np.searchsorted(r["cdf"], rng.random(n), side="right")
    res = np.minimum(res, ctx.region.n_res - 1)
    p_ip = (
        cal["admission_rate"] * (1 - cal["linked_admission_share"]) / (cal["visits_per_resident"] * (1 - lv))
    )
    ils = cal["inpatient_level_share"]
    primary_share = cal["primary_share"] / (1 - lv)  # linked visits are at hospitals
    p_primary_op = (primary_share - p_ip * ils["1"]) / (1 - p_ip)
    is_ip = rng.random(n) < p_ip
    u = rng.random(n)
    county = r["county"][res]
    # level of care
    lvl = np.where(
        u < p_primary_op, 1, np.where(rng.random(n) < cal["tertiary_share_of_hospital_outpatient"], 3, 2)
    )
    ip_lvl = _cat(ils, rng, n).astype(int)
    lvl = np.where(is_ip, ip_lvl, lvl)
    inst = np.empty(n, dtype=np.int64)
    small = rng.random(n) < cal["primary_small_share"]
    inst[:] = np.where(small & ~is_ip, r["home_small"][res], r["home_centre"][res])
    t = lvl == 3
    inst[t] = ctx.tertiary[rng.integers(0, len(ctx.tertiary), t.sum())]
    c = np.flatnonzero(lvl == 2)
    out = rng.random(len(c)) < cal["out_of_county_share"]
    pick = rng.random(len(c))
    own = np.array(
        [
            ctx.county_hosp_of[k][0] if len(ctx.county_hosp_of[k]) else ctx.county_hosp[0]
            for k in range(len(ctx.county_hosp_of))
        ]
    )
    second = np.array(
        [
            ctx.county_hosp_of[k][-1] if len(ctx.county_hosp_of[k]) else ctx.county_hosp[0]
            for k in range(len(ctx.county_hosp_of))
        ]
    )
    inst[c] = np.where(pick < 0.8, own[county[c]], second[county[c]])
    inst[c[out]] = ctx.county_hosp[rng.integers(0, len(ctx.county_hosp), out.sum())]
    vtype = np.where(is_ip, "3", "1").astype(object)
    er = (~is_ip) & (lvl >= 2) & (rng.random(n) < cal["emergency_share_hospital"])
    vtype[er] = "2"
    dt = _times(rng, n, start, n_days, 8, 17)
    dt[er] = _times(rng, int(er.sum()), start, n_days, 0, 24)
    dt[is_ip] = _times(rng, int(is_ip.sum()), start, n_days, 7, 21)
    order = np.argsort(dt, kind="stable")
    return make_visits(ctx, rng, wkey, res[order], inst[order], vtype[order], dt[order])


def up_referrals(ctx: Ctx, rng, wkey, visits: dict) -> tuple[dict, dict]:
    """Up-referral requests from primary / county outpatient visits, their lifecycle, and the
    receiving visits of those that arrived."""
    rp = ctx.params["referrals"]
    inst = visits["_inst"]
    lvl = ctx.level[inst]
    op = visits["visit_type_code"] == "1"
    dx = visits["_dx"]
    chronic = ctx.dx.condition[dx] != "acute"
    p_primary = np.where(
        ctx.dx_serious[dx],
        rp["up_rate_primary_serious"],
        np.where(chronic, rp["up_rate_primary_visit"], rp["up_rate_primary_minor"]),
    )
    p = np.where(lvl == 1, p_primary, 0.0)
    p = np.where(lvl == 2, rp["up_rate_county_visit"], p)
    sel = np.flatnonzero(op & (rng.random(len(inst)) < p))
    n = len(sel)
    if n == 0:
        return {}, {}
    frm = inst[sel]
    res = visits["_res"][sel]
    d = dx[sel]
    # target: the alliance lead when it is of higher level, else a tertiary / another hospital
    all_of = ctx.alliance[frm]
    lead = np.array([ctx.alliance_lead.get(int(a), -1) for a in all_of])
    within = (rng.random(n) < rp["within_alliance_share"]) & (lead >= 0)
    within &= ctx.level[np.maximum(lead, 0)] > ctx.level[frm]
    to = ctx.tertiary[rng.integers(0, len(ctx.tertiary), n)]
    # primary -> county hospital of another county sometimes (cross alliance, level 2)
    alt = (~within) & (ctx.level[frm] == 1) & (rng.random(n) < 0.3)
    to = np.where(alt, ctx.county_hosp[rng.integers(0, len(ctx.county_hosp), n)], to)
    to = np.where(within, lead, to)
    green = ctx.dx.green_channel[d] & (rng.random(n) < rp["green_channel_share"])
    setting = np.where(green | (rng.random(n) < rp["inpatient_setting_share"]), "2", "1").astype(object)
    request = visits["visit_datetime"][sel] + rng.integers(600, 2 * S_PER_H, n).astype("timedelta64[s]")
    lc = _lifecycle(ctx, rng, n, request, setting, green, rp["up_outcome"])
    key = ctx.dx.condition[d].copy()
    key[ctx.dx_serious[d]] = "serious"
    reason = _pick_by(ctx.vocab["up_referral_reasons"], key, rng)
    reason[green] = ctx.vocab["up_referral_reasons"]["serious"][0]
    ref = {
        "referral_id": ctx.ids("R", wkey, n),
        "_res": res,
        "_from": frm,
        "_to": to.astype(np.int64),
        "direction_code": np.full(n, "1", dtype=object),
        "setting_code": setting,
        "green_channel_flag": np.where(green, "1", "0").astype(object),
        "referral_reason": reason,
        "_dx": d,
        "_dx2": secondary_dx(ctx, rng, res, d),
        "request_datetime": request,
        **lc,
        "discharge_plan": np.full(n, None, dtype=object),
        "_origin_visit_id": visits["visit_id"][sel],
        "_fd_contact": np.full(n, None, dtype=object),
    }
    # receiving visits
    arrived = np.flatnonzero(ref["status_code"] == "4")
    vtype = np.where(setting[arrived] == "2", "3", "1").astype(object)
    vtype[green[arrived]] = "2"
    # green-channel emergencies are admitted after the ER visit: keep type 2 (急诊) at arrival
    rv = make_visits(
        ctx,
        rng,
        wkey,
        res[arrived],
        ref["_to"][arrived],
        vtype,
        ref["arrival_datetime"][arrived],
        d[arrived],
        ref["referral_id"][arrived],
    )
    recv = np.full(n, None, dtype=object)
    recv[arrived] = rv["visit_id"]
    ref["_receiving_visit_id"] = recv
    return ref, rv


def _lifecycle(ctx, rng, n, request, setting, green, outcome) -> dict:
    rp = ctx.params["referrals"]
    u = rng.random(n)
    ret = u < outcome["returned"]
    can = (~ret) & (u < outcome["returned"] + outcome["cancelled"])
    pend = (~ret) & (~can) & (u < outcome["returned"] + outcome["cancelled"] + outcome["pending"])
    ret &= ~green
    can &= ~green
    pend &= ~green
    acc = ~(ret | can | pend)
    accept_dt = request + _hours(rng, n, rp["accept_hours_median"])
    late = rng.random(n) < rp["late_accept_share"]
    accept_dt = np.where(
        late, request + rng.integers(48 * S_PER_H, 120 * S_PER_H, n).astype("timedelta64[s]"), accept_dt
    )
    accept_dt = np.where(
        green, request + rng.integers(5 * 60, 30 * 60, n).astype("timedelta64[s]"), accept_dt
    )
    return_dt = request + _hours(rng, n, rp["return_hours_median"])
    arr_delay = np.where(
        setting == "2", rng.integers(2 * S_PER_H, 48 * S_PER_H, n), rng.integers(20 * S_PER_H, 7 * S_PER_D, n)
    )
    arr_delay = np.where(green, rng.integers(10 * 60, 90 * 60, n), arr_delay)
    arrival_dt = accept_dt + arr_delay.astype("timedelta64[s]")
    v = rng.random(n)
    noshow = acc & (v < rp["no_show_share"]) & ~green
    missing = acc & ~noshow & (v > 1 - rp["arrival_missing_share"]) & ~green
    arrived = acc & ~noshow & ~missing
    status = np.full(n, "2", dtype=object)
    status[ret] = "3"
    status[can] = "6"
    status[pend] = "1"
    status[noshow] = "5"
    status[arrived] = "4"
    rr = _cat(ctx.vocab["return_reasons"], rng, n)
    return {
        "status_code": status,
        "accept_datetime": np.where(acc, accept_dt, NAT),
        "return_datetime": np.where(ret, return_dt, NAT),
        "return_reason_code": np.where(ret, rr, None),
        "arrival_datetime": np.where(arrived, arrival_dt, NAT),
    }


def down_referrals(ctx: Ctx, rng, wkey, visits: dict) -> tuple[dict, dict, dict]:
    """Down-referrals: inpatient discharges with disposition 3 (to primary care) or 2 from a
    tertiary hospital (to the county hospital), and chronic tertiary outpatients; then the
    family-doctor contact and the arrival visit at primary care."""
    rp = ctx.params["referrals"]
    r = ctx.region.res
    inst = visits["_inst"]
    lvl = ctx.level[inst]
    ip = visits["visit_type_code"] == "3"
    disp = visits["discharge_disposition_code"]
    d3 = ip & (lvl >= 2) & (disp == "3")
    d2 = ip & (lvl == 3) & (disp == "2")
    chronic = r["cond"][visits["_res"]].any(axis=1)
    dop = (visits["visit_type_code"] == "1") & (lvl == 3) & chronic
    n_all = len(inst)
    rec = rng.random(n_all) < rp["down_recorded_share"]
    sel = np.flatnonzero(((d3 | d2) & rec) | (dop & (rng.random(n_all) < rp["down_outpatient_rate"])))
    n = len(sel)
    if n == 0:
        return {}, {}, {}
    res = visits["_res"][sel]
    frm = inst[sel]
    is_ip = ip[sel]
    to_primary = np.where(r["contract_inst"][res] >= 0, r["contract_inst"][res], r["home_centre"][res])
    county = r["county"][res]
    own = np.array(
        [
            ctx.county_hosp_of[k][0] if len(ctx.county_hosp_of[k]) else ctx.county_hosp[0]
            for k in range(len(ctx.county_hosp_of))
        ]
    )
    to = np.where(d2[sel], own[county], to_primary).astype(np.int64)
    base = np.where(is_ip, visits["discharge_datetime"][sel], visits["visit_datetime"][sel])
    request = np.where(
        is_ip,
        base - rng.integers(2 * S_PER_H, 24 * S_PER_H, n).astype("timedelta64[s]"),
        base + rng.integers(600, 3 * S_PER_H, n).astype("timedelta64[s]"),
    )
    setting = np.where(is_ip, "2", "1").astype(object)
    lc = _lifecycle(ctx, rng, n, request, setting, np.zeros(n, dtype=bool), rp["down_outcome"])
    # arrival at primary care: days after the discharge
    arr = lc["arrival_datetime"]
    has_arr = ~np.isnat(arr)
    arr2 = np.maximum(base, lc["accept_datetime"]) + rng.integers(4 * S_PER_H, 5 * S_PER_D, n).astype(
        "timedelta64[s]"
    )
    lc["arrival_datetime"] = np.where(has_arr, arr2, NAT)
    reasons = np.array(ctx.vocab["down_referral_reasons"], dtype=object)
    d = visits["_dx"][sel]
    ref = {
        "referral_id": ctx.ids("R", wkey, n),
        "_res": res,
        "_from": frm,
        "_to": to,
        "direction_code": np.full(n, "2", dtype=object),
        "setting_code": setting,
        "green_channel_flag": np.full(n, "0", dtype=object),
        "referral_reason": reasons[rng.integers(0, len(reasons), n)],
        "_dx": d,
        "_dx2": secondary_dx(ctx, rng, res, d),
        "request_datetime": request,
        **lc,
        "discharge_plan": _pick_by(ctx.vocab["discharge_plans"], ctx.dx.condition[d], rng),
        "_origin_visit_id": visits["visit_id"][sel],
    }
    # family-doctor contact after an accepted down-referral to primary care
    acc = ~np.isnat(ref["accept_datetime"]) & (ctx.level[to] == 1)
    fd = rp["fd_contact"]
    kind = _cat(fd, rng, n)
    kind[~acc] = None
    ref["_fd_contact"] = kind
    within = acc & (kind == "within_24h")
    late = acc & (kind == "late")
    contact = np.where(
        within,
        ref["accept_datetime"] + rng.integers(1800, 23 * S_PER_H + 1800, n).astype("timedelta64[s]"),
        ref["accept_datetime"] + rng.integers(25 * S_PER_H, 10 * S_PER_D, n).astype("timedelta64[s]"),
    )
    fsel = np.flatnonzero(within | late)
    own_doc = r["contract_inst"][res[fsel]] == to[fsel]
    doc = np.where(own_doc, r["doctor_id"][res[fsel]], ctx.codes[to[fsel]] + "D01")
    fu = followup_rows(ctx, rng, wkey, res[fsel], to[fsel], contact[fsel], "1", doc, ref["referral_id"][fsel])
    # arrival visit at primary care for part of the arrived down-referrals
    av = np.flatnonzero(has_arr & (ctx.level[to] == 1) & (rng.random(n) < rp["down_arrival_visit_share"]))
    av_h = np.flatnonzero(has_arr & (ctx.level[to] == 2))
    av = np.sort(np.concatenate([av, av_h]))
    vt = np.where(ctx.level[to[av]] == 2, "3", "1").astype(object)
    vt[(ctx.level[to[av]] == 2) & (setting[av] == "1")] = "1"
    rv = make_visits(
        ctx, rng, wkey, res[av], to[av], vt, ref["arrival_datetime"][av], d[av], ref["referral_id"][av]
    )
    recv = np.full(n, None, dtype=object)
    recv[av] = rv["visit_id"]
    ref["_receiving_visit_id"] = recv
    return ref, rv, fu


def followup_rows(ctx, rng, wkey, res, inst, dt, ftype, doctor, referral_id) -> dict:
    n = len(res)
    r = ctx.region.res
    htn = r["cond"][res, 0]
    dm = r["cond"][res, 1]
    grade = r["htn_grade"][res]
    sbp = np.where(
        htn, np.array([122.0, 140.0, 148.0, 156.0])[grade] + rng.normal(0, 10, n), rng.normal(122, 10, n)
    )
    dbp = sbp * 0.6 + rng.normal(6, 6, n)
    glu = np.where(dm, rng.normal(7.6, 1.8, n), rng.normal(5.2, 0.5, n))
    return {
        "followup_id": ctx.ids("F", wkey, n),
        "_inst": inst.astype(np.int64),
        "_res": res.astype(np.int64),
        "followup_datetime": dt,
        "followup_type_code": np.full(n, ftype, dtype=object),
        "doctor_id": doctor.astype(object),
        "referral_id": referral_id,
        "systolic_bp": np.round(sbp),
        "diastolic_bp": np.round(dbp),
        "fasting_glucose": np.where(dm, np.round(np.clip(glu, 2.8, 30), 1), np.nan),
    }


def chronic_followups(ctx: Ctx, rng, wkey, start, n_days) -> dict:
    fp = ctx.params["followups"]
    r = ctx.region.res
    managed = np.flatnonzero(r["signed"] & (r["cond"][:, 0] | r["cond"][:, 1]))
    interval = int(fp["interval_days"])
    day0 = int((start - ctx.period_start).astype(np.int64))
    off = r["followup_offset"][managed]
    parts_res, parts_day = [], []
    for k in range(n_days // interval + 2):
        # absolute day index (from the period start) of cycle k around the window
        absd = (day0 // interval) * interval + off + k * interval
        m = (absd >= day0) & (absd < day0 + n_days)
        parts_res.append(managed[m])
        parts_day.append(absd[m] - day0)
    res = np.concatenate(parts_res)
    day = np.concatenate(parts_day)
    done = rng.random(len(res)) < fp["done_share"]
    res, day = res[done], day[done]
    order = np.lexsort((res, day))
    res, day = res[order], day[order]
    dt = start.astype("datetime64[s]") + (
        day * S_PER_D + rng.integers(8 * S_PER_H, 17 * S_PER_H, len(res))
    ).astype("timedelta64[s]")
    return followup_rows(
        ctx,
        rng,
        wkey,
        res,
        r["contract_inst"][res],
        dt,
        "2",
        r["doctor_id"][res],
        np.full(len(res), None, dtype=object),
    )


def contracts(ctx: Ctx, rng, wkey, start, n_days) -> dict:
    r = ctx.region.res
    year_start = start.astype("datetime64[Y]").astype("datetime64[D]")
    sign = year_start + r["sign_offset"].astype("timedelta64[D]")
    m = r["signed"] & (sign >= start) & (sign < start + n_days)
    res = np.flatnonzero(m)
    res = res[np.argsort(sign[res], kind="stable")]
    s = sign[res]
    end = (
        (s.astype("datetime64[Y]") + 1).astype("datetime64[D]")
        + (s - s.astype("datetime64[Y]").astype("datetime64[D]"))
        - 1
    )
    return {
        "contract_id": ctx.ids("C", wkey, len(res)),
        "_res": res,
        "_inst": r["contract_inst"][res],
        "doctor_id": r["doctor_id"][res],
        "sign_date": s.astype("datetime64[s]"),
        "end_date": end.astype("datetime64[s]"),
    }


def slot_pools(ctx: Ctx, rng, wkey, start, n_days) -> tuple[dict, dict, dict]:
    sp = ctx.params["slots"]
    leads = np.array(sorted(set(ctx.alliance_lead.values())), dtype=np.int64)
    depts = np.array(ctx.vocab["slot_departments"][: int(sp["departments"])], dtype=object)
    ahead = int(sp["release_days_ahead"])
    release_days = start + np.arange(n_days)
    clinic = release_days + ahead
    dow = (clinic.astype("datetime64[D]").astype(np.int64) + 3) % 7  # Monday = 0 (1970-01-01 was a Thursday)
    weekday = np.isin(dow, np.array(sp["clinic_weekdays"], dtype=np.int64))
    clinic = clinic[weekday]
    if len(clinic) == 0:
        return {}, {}, {}
    L, C, D = np.meshgrid(np.arange(len(leads)), np.arange(len(clinic)), np.arange(len(depts)), indexing="ij")
    L, C, D = L.ravel(), C.ravel(), D.ravel()
    order = np.lexsort((D, L, C))
    L, C, D = L[order], C[order], D[order]
    n = len(L)
    inst = leads[L]
    cd = clinic[C]
    total = np.maximum(5, rng.poisson(sp["slots_per_pool_mean"], n) * np.where(ctx.level[inst] == 3, 2, 1))
    share = np.clip(rng.normal(sp["reserved_share_mean"], sp["reserved_share_sd"], n), 0.02, 0.5)
    reserved = np.maximum(1, np.round(total * share)).astype(np.int64)
    release = (cd - ahead).astype("datetime64[s]") + np.timedelta64(8 * S_PER_H, "s")
    ymd = np.char.replace(cd.astype(str), "-", "")
    pool_id = np.char.add(
        np.char.add(np.char.add("P", ctx.codes[inst].astype(str)), ymd), np.char.zfill(D.astype("U2"), 2)
    )
    pools = {
        "pool_id": pool_id.astype(object),
        "_inst": inst,
        "department_name": depts[D],
        "clinic_date": cd.astype("datetime64[s]"),
        "total_slots": total.astype(np.int64),
        "reserved_slots": reserved,
        "release_datetime": release,
    }
    nb = rng.binomial(reserved, sp["booking_usage"])
    pi = np.repeat(np.arange(n), nb)
    m = len(pi)
    lead_all = ctx.alliance[inst[pi]]
    book_inst = np.empty(m, dtype=np.int64)
    for a in np.unique(lead_all):
        rows = np.flatnonzero(lead_all == a)
        cand = ctx.alliance_primary.get(int(a))
        if cand is None or len(cand) == 0:
            cand = ctx.primary
        book_inst[rows] = cand[rng.integers(0, len(cand), len(rows))]
    res = np.empty(m, dtype=np.int64)
    bc = ctx.icounty[book_inst]
    for c in np.unique(bc):
        rows = np.flatnonzero(bc == c)
        cand = ctx.county_res[c]
        res[rows] = cand[rng.integers(0, len(cand), len(rows))]
    window = ahead * S_PER_D - 9 * S_PER_H
    bdt = release[pi] + rng.integers(0, window, m).astype("timedelta64[s]")
    status = _cat(sp["booking_status"], rng, m)
    order = np.argsort(bdt, kind="stable")
    pi, book_inst, res, bdt, status = pi[order], book_inst[order], res[order], bdt[order], status[order]
    bookings = {
        "booking_id": ctx.ids("B", wkey, m),
        "pool_id": pools["pool_id"][pi],
        "_inst": book_inst,
        "_res": res,
        "booking_datetime": bdt,
        "booking_status_code": status,
    }
    came = np.flatnonzero(status == "1")
    vdt = cd[pi[came]].astype("datetime64[s]") + rng.integers(8 * S_PER_H, 12 * S_PER_H, len(came)).astype(
        "timedelta64[s]"
    )
    sv = make_visits(ctx, rng, wkey, res[came], inst[pi[came]], np.full(len(came), "1", dtype=object), vdt)
    return pools, bookings, sv


def window_events(ctx: Ctx, rng: np.random.Generator, wkey: str, start: np.datetime64, n_days: int) -> dict:
    """All entities generated in a window (their event dates are at or after ``start``)."""
    bg = background_visits(ctx, rng, wkey, start, n_days)
    up, up_visits = up_referrals(ctx, rng, wkey, bg)
    pools, bookings, slot_visits = slot_pools(ctx, rng, wkey, start, n_days)
    visits = concat([bg, up_visits, slot_visits])
    down, down_visits, fd = down_referrals(ctx, rng, wkey, visits)
    # a receiving inpatient visit of an up-referral may itself end with a down-referral (chain)
    visits = concat([visits, down_visits])
    return {
        "visits": visits,
        "referrals": concat([up, down]),
        "followups": concat([fd, chronic_followups(ctx, rng, wkey, start, n_days)]),
        "contracts": contracts(ctx, rng, wkey, start, n_days),
        "slot_pools": pools,
        "slot_bookings": bookings,
    }
