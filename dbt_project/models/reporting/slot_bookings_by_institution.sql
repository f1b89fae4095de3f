-- Bookings of reserved slots per period ('ALL' = any) and institution, once per pool-owning
-- hospital (grouped_by = 'pool') and once per booking primary institution (grouped_by = 'booking').
-- Read by the 号源下沉 page.
with

bookings as (

    select
        period, 'pool' as grouped_by, pool_institution_code as institution_code, booking_status
    from {{ ref('fct_slot_bookings') }}
    union all
    select
        period, 'booking' as grouped_by, booking_institution_code as institution_code, booking_status
    from {{ ref('fct_slot_bookings') }}

),

aggregated as (

    select
        {{ all_member('period') }} as period,
        grouped_by,
        institution_code,
        count(*) as n_bookings,
        count(case when booking_status = 'attended' then 1 end) as n_attended,
        count(case when booking_status = 'no_show' then 1 end) as n_no_show,
        count(case when booking_status = 'cancelled' then 1 end) as n_cancelled
    from bookings
    group by {{ filter_grouping_sets(['grouped_by', 'institution_code'], ['period']) }}

)

select
    aggregated.period,
    aggregated.grouped_by,
    aggregated.institution_code,
    coalesce(institutions.institution_name, aggregated.institution_code) as institution_name,
    {{ suppress('aggregated.n_bookings') }} as n_bookings,
    {{ suppress('aggregated.n_attended') }} as n_attended,
    {{ suppress('aggregated.n_no_show') }} as n_no_show,
    {{ suppress('aggregated.n_cancelled') }} as n_cancelled,
    {{ any_suppressed(['aggregated.n_bookings', 'aggregated.n_attended', 'aggregated.n_no_show', 'aggregated.n_cancelled']) }} as suppressed
from aggregated
left join {{ ref('dim_institutions') }} as institutions
    on institutions.institution_code = aggregated.institution_code
