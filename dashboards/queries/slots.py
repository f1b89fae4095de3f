"""Queries of the 号源下沉 page's pool and booking tables: ``reporting.slot_*_by_institution`` (one
row per period, 'ALL' = any). Slot numbers are places, not people, and are shown as they are;
booking counts are people, withheld below the small-cell threshold in the data. Its indicator
cards read queries/indicators.py."""

from __future__ import annotations

import pandas as pd

from data import Missing, filter_values, reporting

BOOKING_GROUPINGS = {"pool_institution_code": "pool", "booking_institution_code": "booking"}


def slot_pools(period=None) -> pd.DataFrame | Missing:
    """Per hospital: outpatient slots, the share reserved for primary care, and how the reserve was used."""
    return reporting(
        """
        select institution_name, total_slots, reserved_slots, n_bookings as bookings,
               n_bookings_used as bookings_used, n_bookings_attended as bookings_attended
        from reporting.slot_pools_by_institution where period = ?
        order by reserved_slots desc, institution_name
        """,
        filter_values(period),
        ("bookings", "bookings_used", "bookings_attended"),
    )


def slot_bookings(period=None, by: str = "pool_institution_code") -> pd.DataFrame | Missing:
    """Bookings of reserved slots per pool-owning hospital or per booking primary institution."""
    if by not in BOOKING_GROUPINGS:
        raise ValueError(by)
    return reporting(
        """
        select institution_name, n_bookings, n_attended, n_no_show, n_cancelled
        from reporting.slot_bookings_by_institution where period = ? and grouped_by = ?
        order by n_bookings desc nulls last, institution_name
        """,
        (*filter_values(period), BOOKING_GROUPINGS[by]),
        ("n_bookings", "n_attended", "n_no_show", "n_cancelled"),
    )
