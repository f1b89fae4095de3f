-- 号源下沉: share of outpatient slots reserved for primary care, and use of the reserved slots.
-- Attributed to the hospital offering the slots, by clinic month.
with

pools as (

    select * from {{ ref('fct_slot_pools') }}

),

final as (

    {{ sum_events('slot_reserved_share', 'pools', 'reserved_slots', 'total_slots') }}

    union all

    {{ sum_events('slot_reserved_use_rate', 'pools', 'bookings_attended + bookings_no_show', 'reserved_slots',
                  where='reserved_slots > 0') }}

)

select * from final
