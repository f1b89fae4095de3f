with

source as (

    select * from {{ source('ref', 'alliance_memberships') }}

),

renamed as (

    select
        cast(alliance_id as {{ dbt.type_string() }}) as alliance_id,
        cast(alliance_name as {{ dbt.type_string() }}) as alliance_name,
        cast(alliance_type as {{ dbt.type_string() }}) as alliance_type,
        cast(institution_code as {{ dbt.type_string() }}) as institution_code,
        cast(is_lead as {{ dbt.type_int() }}) as is_lead,
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date

    from source

)

select * from renamed
