with

source as (

    select * from {{ source('std', 'contracts') }}

),

renamed as (

    select
        cast(contract_id as {{ dbt.type_string() }}) as contract_id,
        cast(person_key as {{ dbt.type_string() }}) as person_key,
        cast(institution_code as {{ dbt.type_string() }}) as institution_code,
        cast(doctor_id as {{ dbt.type_string() }}) as doctor_id,
        cast(sign_date as date) as sign_date,
        cast(end_date as date) as end_date,
        cast(source_id as {{ dbt.type_string() }}) as source_id,
        cast(file_id as {{ dbt.type_string() }}) as file_id,
        cast(row_number as {{ dbt.type_int() }}) as source_row_number

    from source

)

select * from renamed
