"""Referral events of a window: up-referrals from primary care (with the receiving visit), down-referrals
after an inpatient stay (with the family doctor's contact), and each referral's lifecycle timestamps."""

from __future__ import annotations

import numpy as np

from pipelines.generate.care_events import followup_rows
from pipelines.generate.events import (
    NAT,
    S_PER_D,
    S_PER_H,
    Ctx,
    draw_category,
    draw_durations,
    make_visits,
    pick_text_by,
    secondary_dx,
)


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
    reason = pick_text_by(ctx.vocab["up_referral_reasons"], key, rng)
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
    accept_dt = request + draw_durations(rng, n, rp["accept_hours_median"])
    late = rng.random(n) < rp["late_accept_share"]
    accept_dt = np.where(
        late, request + rng.integers(48 * S_PER_H, 120 * S_PER_H, n).astype("timedelta64[s]"), accept_dt
    )
    accept_dt = np.where(
        green, request + rng.integers(5 * 60, 30 * 60, n).astype("timedelta64[s]"), accept_dt
    )
    return_dt = request + draw_durations(rng, n, rp["return_hours_median"])
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
    rr = draw_category(ctx.vocab["return_reasons"], rng, n)
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
        "discharge_plan": pick_text_by(ctx.vocab["discharge_plans"], ctx.dx.condition[d], rng),
        "_origin_visit_id": visits["visit_id"][sel],
    }
    # family-doctor contact after an accepted down-referral to primary care
    acc = ~np.isnat(ref["accept_datetime"]) & (ctx.level[to] == 1)
    fd = rp["fd_contact"]
    kind = draw_category(fd, rng, n)
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
