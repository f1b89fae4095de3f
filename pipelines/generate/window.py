"""Every entity generated in one time window, in dependency order (visits first, then the
referrals they lead to, and the visits those lead to)."""

from __future__ import annotations

import numpy as np

from pipelines.generate.care_events import chronic_followups, contracts, slot_pools
from pipelines.generate.events import Ctx, background_visits, concat
from pipelines.generate.referral_events import down_referrals, up_referrals


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
