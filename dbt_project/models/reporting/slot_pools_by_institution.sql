-- Per hospital and period ('ALL' = any): outpatient slots, the slots reserved for primary care
-- (号位, not people: shown as they are) and the bookings of the reserve (people: small cells
-- suppressed). Read by the 号源下沉 page.
with

aggregated as (

    select
        {{ all_member('period') }} as period,
        institution_code,
        cast(sum(total_slots) as bigint) as total_slots,
        cast(sum(reserved_slots) as bigint) as reserved_slots,
        cast(sum(bookings) as bigint) as n_bookings,
        cast(sum(bookings - bookings_cancelled) as bigint) as n_bookings_used,
        cast(sum(bookings_attended) as bigint) as n_bookings_attended
    from {{ ref('fct_slot_pools') }}
    group by {{ filter_grouping_sets(['institution_code'], ['period']) }}

)

select
    aggregated.period,
    aggregated.institution_code,
    coalesce(institutions.institution_name, aggregated.institution_code) as institution_name,
    aggregated.total_slots,
    aggregated.reserved_slots,
    {{ suppress('aggregated.n_bookings') }} as n_bookings,
    {{ suppress('aggregated.n_bookings_used') }} as n_bookings_used,
    {{ suppress('aggregated.n_bookings_attended') }} as n_bookings_attended,
    {{ any_suppressed(['aggregated.n_bookings', 'aggregated.n_bookings_used', 'aggregated.n_bookings_attended']) }} as suppressed
from aggregated
left join {{ ref('dim_institutions') }} as institutions
    on institutions.institution_code = aggregated.institution_code
