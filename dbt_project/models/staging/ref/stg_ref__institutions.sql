with

source as (

    select * from {{ source('ref', 'institutions') }}

),

renamed as (

    select
        cast(institution_code as {{ dbt.type_string() }}) as institution_code,
        cast(institution_name as {{ dbt.type_string() }}) as institution_name,
        cast(level_code as {{ dbt.type_string() }}) as level_code,
        cast(type_code as {{ dbt.type_string() }}) as type_code,
        cast(county_code as {{ dbt.type_string() }}) as county_code,
        cast(county_name as {{ dbt.type_string() }}) as county_name

    from source

)

select * from renamed
