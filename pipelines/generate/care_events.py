"""Care events of a window besides visits and referrals: chronic-disease follow-ups, family-doctor
contracts, and the specialist slot pools reserved for primary care with their bookings."""

from __future__ import annotations

import numpy as np

from pipelines.generate.events import S_PER_D, S_PER_H, Ctx, blood_pressure, draw_category, make_visits


def followup_rows(ctx, rng, wkey, res, inst, dt, ftype, doctor, referral_id) -> dict:
    n = len(res)
    # treated at follow-up: lower than at a visit
    _htn, dm, sbp, dbp = blood_pressure(ctx, rng, res, by_grade=(122.0, 140.0, 148.0, 156.0), other=(122, 10))
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
    followups = ctx.params["followups"]
    r = ctx.region.res
    managed = np.flatnonzero(r["signed"] & (r["cond"][:, 0] | r["cond"][:, 1]))
    interval = int(followups["interval_days"])
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
    done = rng.random(len(res)) < followups["done_share"]
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
    status = draw_category(sp["booking_status"], rng, m)
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
