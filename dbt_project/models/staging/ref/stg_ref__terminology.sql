with

source as (

    select * from {{ source('ref', 'terminology') }}

),

renamed as (

    select
        cast(code as {{ dbt.type_string() }}) as diagnosis_code,
        cast(name as {{ dbt.type_string() }}) as diagnosis_name,
        cast(icd10_category as {{ dbt.type_string() }}) as icd10_category

    from source

)

select * from renamed
