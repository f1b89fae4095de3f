"""Events of one time window (a month, or one day), vectorized with numpy: the window's context,
diagnoses and visits (referrals: ``referral_events``; follow-ups, contracts and slots:
``care_events``; every entity of a window: ``window``). Rows reference residents and institutions by
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


def draw_category(p: dict, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` keys of ``p`` drawn with the weights of its values."""
    keys = np.array(list(p.keys()), dtype=object)
    w = np.array(list(p.values()), dtype=float)
    return keys[rng.choice(len(keys), n, p=w / w.sum())]


def pick_text_by(options: dict[str, list[str]], key: np.ndarray, rng: np.random.Generator) -> np.ndarray:
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


def blood_pressure(ctx: Ctx, rng, res, by_grade: tuple, other: tuple) -> tuple:
    """(hypertensive, diabetic, systolic, diastolic) of the residents ``res``: a hypertensive
    resident's systolic pressure around ``by_grade[grade]`` (sd 10), anyone else's around ``other``
    (mean, sd); diastolic from systolic. Draws from ``rng`` in one fixed order (reproducible)."""
    n = len(res)
    r = ctx.region.res
    htn = r["cond"][res, 0]
    dm = r["cond"][res, 1]
    grade = r["htn_grade"][res]
    sbp = np.where(htn, np.array(by_grade)[grade] + rng.normal(0, 10, n), rng.normal(*other, n))
    dbp = sbp * 0.6 + rng.normal(6, 6, n)
    return htn, dm, sbp, dbp


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
    disp_h = draw_category(cal["disposition_hospital"], rng, n)
    disp_p = draw_category(cal["disposition_primary"], rng, n)
    disp[is_ip] = np.where(lvl[is_ip] >= 2, disp_h[is_ip], disp_p[is_ip])
    # disposition 3 (to primary care) is not used by primary institutions themselves
    pay = draw_category(ctx.vocab["payment_types"], rng, n)
    base_fee = np.array([60.0, 220.0, 380.0])[lvl - 1]
    fee = base_fee * rng.lognormal(0, 0.6, n)
    fee = np.where(vtype == "2", fee * 2.5, fee)
    daily = np.array([600.0, 1100.0, 2000.0])[lvl - 1]
    fee = np.where(is_ip, los_days * daily * rng.lognormal(0, 0.3, n), fee)
    htn, dm, sbp, dbp = blood_pressure(ctx, rng, res, by_grade=(122.0, 146.0, 156.0, 166.0), other=(121, 11))
    bp_p = np.where(htn, np.where(lvl == 1, 0.85, 0.5), 0.2)
    has_bp = rng.random(n) < bp_p
    glu = np.where(dm, rng.normal(8.2, 2.0, n), rng.normal(5.2, 0.5, n))
    has_glu = rng.random(n) < np.where(dm, 0.7, 0.05)
    exam = draw_category(ctx.vocab["major_exams"], rng, n)
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


def draw_durations(rng, n, median, sigma=0.8):
    """``n`` log-normal durations (timedelta64[s]) around ``median`` hours."""
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
    ip_lvl = draw_category(ils, rng, n).astype(int)
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
