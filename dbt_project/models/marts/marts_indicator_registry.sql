{{ config(alias='indicator_registry') }}
-- The indicator registry (seeds/indicator_registry.csv) published as marts.indicator_registry with
-- an enforced contract.
with

registry as (

    select * from {{ ref('indicator_registry') }}

),

final as (

    select
        indicator_id,
        name_zh,
        name_en,
        definition_zh,
        definition_en,
        numerator_zh,
        denominator_zh,
        unit,
        aggregation,
        grains,
        attribution,
        cast(target as {{ type_double() }}) as target,
        direction,
        source,
        cast(version as {{ dbt.type_int() }}) as version,
        cast(breakdowns as {{ dbt.type_string() }}) as breakdowns

    from registry

)

select * from final
