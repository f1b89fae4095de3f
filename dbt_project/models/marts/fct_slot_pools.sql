-- One row per slot pool (a hospital department's outpatient clinic day): total slots, slots
-- reserved for primary care (号源下沉) and how many of them primary care booked.
with

pools as (

    select * from {{ ref('stg_std__slot_pools') }}

),

bookings as (

    select * from {{ ref('stg_std__slot_bookings') }}

),

institutions as (

    select * from {{ ref('stg_ref__institutions') }}

),

alliance_periods as (

    select * from {{ ref('int_institutions__alliance_periods') }}

),

booking_counts as (

    select
        pool_id,
        cast(count(*) as {{ dbt.type_bigint() }}) as bookings,
        cast(sum(case when booking_status = 'attended' then 1 else 0 end) as {{ dbt.type_bigint() }}) as bookings_attended,
        cast(sum(case when booking_status = 'no_show' then 1 else 0 end) as {{ dbt.type_bigint() }}) as bookings_no_show,
        cast(sum(case when booking_status = 'cancelled' then 1 else 0 end) as {{ dbt.type_bigint() }}) as bookings_cancelled

    from bookings
    group by pool_id

),

final as (

    select
        pools.pool_id,
        pools.institution_code,
        institutions.level_code,
        institutions.county_code,
        alliance_periods.alliance_id,
        coalesce(alliance_periods.is_lead, false) as is_alliance_lead,
        pools.department_name,
        pools.clinic_date,
        pools.released_at,
        pools.total_slots,
        pools.reserved_slots,
        coalesce(booking_counts.bookings, 0) as bookings,
        coalesce(booking_counts.bookings_attended, 0) as bookings_attended,
        coalesce(booking_counts.bookings_no_show, 0) as bookings_no_show,
        coalesce(booking_counts.bookings_cancelled, 0) as bookings_cancelled,
        {{ to_period('pools.clinic_date') }} as period,
        pools.source_id,
        pools.file_id,
        pools.source_row_number

    from pools
    left join institutions
        on pools.institution_code = institutions.institution_code
    left join alliance_periods
        on pools.institution_code = alliance_periods.institution_code
        and pools.clinic_date >= alliance_periods.valid_from
        and (alliance_periods.valid_to is null or pools.clinic_date <= alliance_periods.valid_to)
    left join booking_counts
        on pools.pool_id = booking_counts.pool_id

)

select * from final
