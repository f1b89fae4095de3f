with

source as (

    select * from {{ source('std', 'slot_pools') }}

),

renamed as (

    select
        cast(pool_id as {{ dbt.type_string() }}) as pool_id,
        cast(institution_code as {{ dbt.type_string() }}) as institution_code,
        cast(department_name as {{ dbt.type_string() }}) as department_name,
        cast(clinic_date as date) as clinic_date,
        cast(total_slots as {{ dbt.type_int() }}) as total_slots,
        cast(reserved_slots as {{ dbt.type_int() }}) as reserved_slots,
        cast(release_datetime as {{ dbt.type_timestamp() }}) as released_at,
        cast(source_id as {{ dbt.type_string() }}) as source_id,
        cast(file_id as {{ dbt.type_string() }}) as file_id,
        cast(row_number as {{ dbt.type_int() }}) as source_row_number

    from source

)

select * from renamed
