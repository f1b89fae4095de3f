with

source as (

    select * from {{ source('std', 'slot_bookings') }}

),

renamed as (

    select
        cast(booking_id as {{ dbt.type_string() }}) as booking_id,
        cast(pool_id as {{ dbt.type_string() }}) as pool_id,
        cast(booking_institution_code as {{ dbt.type_string() }}) as booking_institution_code,
        cast(person_key as {{ dbt.type_string() }}) as person_key,
        cast(booking_datetime as {{ dbt.type_timestamp() }}) as booked_at,
        cast(booking_status_code as {{ dbt.type_string() }}) as booking_status_code,
        booking_statuses.value_key as booking_status,
        cast(source_id as {{ dbt.type_string() }}) as source_id,
        cast(file_id as {{ dbt.type_string() }}) as file_id,
        cast(row_number as {{ dbt.type_int() }}) as source_row_number

    from source
    {{ join_value_key('LCV.BOOKING_STATUS', 'source.booking_status_code', 'booking_statuses') }}

)

select * from renamed
