-- One long table of indicator values: indicator x period (YYYY-MM) x geography (region, county,
-- alliance, institution, level) [x breakdown]. Every dashboard and export reads it.
-- value by the registry's aggregation: count = numerator; ratio_pct = 100 * num / den;
-- ratio = num / den; growth_pct = 100 * (num / den - 1); median / p90 = percentile of the
-- observations (numerator = their count). Values rounded to 4 decimals. Geographies: those in the
-- registry's grains column.
with

events as (

    {% for events_model in [
        'int_indicator_events__visits',
        'int_indicator_events__referral_volumes',
        'int_indicator_events__referral_process',
        'int_indicator_events__referral_outcomes',
        'int_indicator_events__undertreatment',
        'int_indicator_events__slots',
        'int_indicator_events__chronic_care',
    ] %}
    select * from {{ ref(events_model) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

registry as (

    select indicator_id, aggregation, grains from {{ ref('indicator_registry') }}

),

institutions as (

    select * from {{ ref('stg_ref__institutions') }}

),

levels as (

    select * from {{ ref('ref_institution_levels') }}

),

alliance_names as (

    select alliance_id, min(alliance_name) as alliance_name
    from {{ ref('int_institutions__alliance_periods') }}
    group by alliance_id

),

county_names as (

    select county_code, min(county_name) as county_name
    from institutions
    group by county_code

),

geo_events as (

    {% for geo_level, geo_column in [
        ('region', none),
        ('county', 'county_code'),
        ('alliance', 'alliance_id'),
        ('institution', 'institution_code'),
        ('level', 'level_code'),
    ] %}
    select
        indicator_id,
        period,
        breakdown,
        '{{ geo_level }}' as geo_level,
        {% if geo_column %}{{ geo_column }}{% else %}'all'{% endif %} as geo_id,
        numerator,
        denominator,
        measure
    from events
    where period is not null
    {% if geo_column %}and {{ geo_column }} is not null{% endif %}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

aggregated as (

    select
        indicator_id,
        period,
        breakdown,
        geo_level,
        geo_id,
        sum(numerator) as numerator,
        sum(denominator) as denominator,
        {{ percentile_cont('measure', 0.5) }} as measure_p50,
        {{ percentile_cont('measure', 0.9) }} as measure_p90

    from geo_events
    group by indicator_id, period, breakdown, geo_level, geo_id

),

valued as (

    select
        aggregated.*,
        case registry.aggregation
            when 'count' then aggregated.numerator
            when 'ratio_pct' then 100.0 * aggregated.numerator / nullif(aggregated.denominator, 0)
            when 'ratio' then aggregated.numerator / nullif(aggregated.denominator, 0)
            when 'growth_pct' then 100.0 * (aggregated.numerator / nullif(aggregated.denominator, 0) - 1)
            when 'median' then aggregated.measure_p50
            when 'p90' then aggregated.measure_p90
        end as raw_value

    from aggregated
    inner join registry
        on aggregated.indicator_id = registry.indicator_id
    -- only the geographies the registry lists for the indicator (e.g. no per-level 基层诊疗量占比,
    -- which would be 100 % or 0 % by definition)
    where {{ dbt.position('aggregated.geo_level', 'registry.grains') }} > 0

),

final as (

    select
        {{ dbt.concat(["valued.indicator_id", "'|'", "valued.period", "'|'", "valued.geo_level", "'|'",
                       "valued.geo_id", "'|'", "coalesce(valued.breakdown, '')"]) }} as value_key,
        valued.indicator_id,
        valued.period,
        valued.geo_level,
        valued.geo_id,
        case valued.geo_level
            when 'region' then '{{ var("region_name", "全市") }}'
            when 'county' then county_names.county_name
            when 'alliance' then alliance_names.alliance_name
            when 'institution' then institutions.institution_name
            when 'level' then levels.level_name
        end as geo_name,
        valued.breakdown,
        cast(valued.numerator as {{ type_double() }}) as numerator,
        cast(valued.denominator as {{ type_double() }}) as denominator,
        cast(round(valued.raw_value, 4) as {{ type_double() }}) as value

    from valued
    left join county_names
        on valued.geo_level = 'county' and valued.geo_id = county_names.county_code
    left join alliance_names
        on valued.geo_level = 'alliance' and valued.geo_id = alliance_names.alliance_id
    left join institutions
        on valued.geo_level = 'institution' and valued.geo_id = institutions.institution_code
    left join levels
        on valued.geo_level = 'level' and valued.geo_id = levels.level_code

)

select * from final
