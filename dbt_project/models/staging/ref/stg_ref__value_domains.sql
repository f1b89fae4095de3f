-- The code lists of the data-element standard (standard/value_domains.csv, loaded into
-- ref.value_domains by the standardizer): the one copy dbt reads code names from.
with

source as (

    select * from {{ source('ref', 'value_domains') }}

),

renamed as (

    select
        cast(domain_id as {{ dbt.type_string() }}) as domain_id,
        cast(code as {{ dbt.type_string() }}) as code,
        cast(name_zh as {{ dbt.type_string() }}) as name_zh,
        cast(name_en as {{ dbt.type_string() }}) as name_en,
        cast(value_key as {{ dbt.type_string() }}) as value_key

    from source

)

select * from renamed
