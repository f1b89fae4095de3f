-- One row per booking of a reserved (号源下沉) slot, with its pool's hospital and clinic date.
with

bookings as (

    select * from {{ ref('stg_std__slot_bookings') }}

),

pools as (

    select * from {{ ref('stg_std__slot_pools') }}

),

institutions as (

    select * from {{ ref('stg_ref__institutions') }}

),

final as (

    select
        bookings.booking_id,
        bookings.pool_id,
        pools.institution_code,
        pools.institution_code as pool_institution_code,
        pools.department_name,
        pools.clinic_date,
        bookings.booking_institution_code,
        booking_institution.level_code as booking_level_code,
        booking_institution.county_code as booking_county_code,
        bookings.person_key,
        bookings.booked_at,
        bookings.booking_status_code,
        bookings.booking_status,
        case
            when bookings.booked_at is not null and pools.clinic_date is not null
                then {{ dbt.datediff('cast(bookings.booked_at as date)', 'pools.clinic_date', 'day') }}
        end as days_booked_ahead,
        {{ to_period('pools.clinic_date') }} as period,
        bookings.source_id,
        bookings.file_id,
        bookings.source_row_number

    from bookings
    left join pools
        on bookings.pool_id = pools.pool_id
    left join institutions as booking_institution
        on bookings.booking_institution_code = booking_institution.institution_code

)

select * from final
