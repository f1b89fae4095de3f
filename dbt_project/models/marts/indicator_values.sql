-- One long table of indicator values: indicator x period (YYYY-MM) x geography (region, county,
-- alliance, institution, level) [x breakdown]. Every dashboard and export reads it.
-- value by the registry's aggregation: count = numerator; ratio_pct = 100 * num / den;
-- ratio = num / den; growth_pct = 100 * (num / den - 1); median / p90 = percentile of the
-- observations (numerator = their count). Values rounded to 4 decimals. Geographies: those in the
-- registry's grains column.
-- Dense: every registry indicator x period (each month of marts.period_completeness) x geography of
-- its grains (every county, alliance and institution of the registry, every level) has a row, and
-- so has every breakdown the registry's breakdowns column lists (direction: up/down; return_reason:
-- every reason code). A count with no event is 0; a rate, average or percentile that cannot be
-- computed has value null and a null_reason (seeds/ref_null_reasons.csv).
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

    select indicator_id, aggregation, grains, breakdowns from {{ ref('indicator_registry') }}

),

institutions as (

    select * from {{ ref('stg_ref__institutions') }}

),

levels as (

    select * from {{ ref('stg_ref__institution_levels') }}

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

periods as (

    select period, month_start from {{ ref('period_completeness') }}

),

geographies as (

    select 'region' as geo_level, 'all' as geo_id, cast(null as date) as valid_from, cast(null as date) as valid_to
    union all
    select distinct 'county', county_code, cast(null as date), cast(null as date)
    from institutions where county_code is not null
    union all
    select 'alliance', alliance_id, min(valid_from), max(coalesce(valid_to, cast('{{ var("date_spine_end") }}' as date)))
    from {{ ref('int_institutions__alliance_periods') }}
    group by alliance_id
    union all
    select 'institution', institution_code, cast(null as date), cast(null as date) from institutions
    union all
    select 'level', level_code, cast(null as date), cast(null as date) from levels

),

breakdown_values as (

    select 'none' as breakdowns, cast(null as {{ dbt.type_string() }}) as breakdown
    union all
    select 'direction', 'up'
    union all
    select 'direction', 'down'
    union all
    select 'return_reason', return_reason_code from {{ ref('stg_ref__return_reasons') }}

),

spine as (

    -- every indicator x period x geography of its grains x breakdown (a breakdown-only indicator,
    -- e.g. 退回原因构成, has no total row; a direction-split one has the total and up / down)
    select
        registry.indicator_id,
        periods.period,
        breakdown_values.breakdown,
        geographies.geo_level,
        geographies.geo_id

    from registry
    cross join periods
    inner join geographies
        on {{ dbt.position('geographies.geo_level', 'registry.grains') }} > 0
        -- an alliance only in the months it existed
        and (geographies.valid_from is null
             or (geographies.valid_from < {{ dbt.dateadd('month', 1, 'periods.month_start') }}
                 and geographies.valid_to >= periods.month_start))
    inner join breakdown_values
        on breakdown_values.breakdowns = case
            when coalesce(registry.breakdowns, '') = 'return_reason' then 'return_reason'
            else 'none' end
        or (coalesce(registry.breakdowns, '') = 'direction' and breakdown_values.breakdowns = 'direction')

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

densified as (

    select
        coalesce(aggregated.indicator_id, spine.indicator_id) as indicator_id,
        coalesce(aggregated.period, spine.period) as period,
        coalesce(aggregated.breakdown, spine.breakdown) as breakdown,
        coalesce(aggregated.geo_level, spine.geo_level) as geo_level,
        coalesce(aggregated.geo_id, spine.geo_id) as geo_id,
        aggregated.numerator,
        aggregated.denominator,
        aggregated.measure_p50,
        aggregated.measure_p90

    from aggregated
    full outer join spine
        on aggregated.indicator_id = spine.indicator_id
        and aggregated.period = spine.period
        and aggregated.geo_level = spine.geo_level
        and aggregated.geo_id = spine.geo_id
        and coalesce(aggregated.breakdown, '') = coalesce(spine.breakdown, '')

),

-- the months the data holds (yoy growth needs the same month a year earlier in the data)
data_periods as (

    select period from periods

),

valued as (

    select
        aggregated.indicator_id,
        aggregated.period,
        aggregated.breakdown,
        aggregated.geo_level,
        aggregated.geo_id,
        coalesce(aggregated.numerator, 0) as numerator,
        case
            when registry.aggregation in ('count', 'median', 'p90') then aggregated.denominator
            else coalesce(aggregated.denominator, 0)
        end as denominator,
        case
            when registry.aggregation = 'count' then null
            when registry.aggregation in ('median', 'p90') and coalesce(aggregated.numerator, 0) = 0
                then 'no_observations'
            when registry.aggregation = 'growth_pct' and baseline.period is null then 'no_baseline_period'
            when registry.aggregation = 'growth_pct' and coalesce(aggregated.denominator, 0) = 0
                then 'zero_baseline'
            when registry.aggregation in ('ratio_pct', 'ratio') and coalesce(aggregated.denominator, 0) = 0
                then 'zero_denominator'
        end as null_reason,
        case registry.aggregation
            when 'count' then coalesce(aggregated.numerator, 0)
            when 'ratio_pct' then 100.0 * aggregated.numerator / nullif(aggregated.denominator, 0)
            when 'ratio' then aggregated.numerator / nullif(aggregated.denominator, 0)
            when 'growth_pct' then 100.0 * (aggregated.numerator / nullif(aggregated.denominator, 0) - 1)
            when 'median' then aggregated.measure_p50
            when 'p90' then aggregated.measure_p90
        end as raw_value

    from densified as aggregated
    inner join registry
        on aggregated.indicator_id = registry.indicator_id
    left join data_periods as baseline
        on baseline.period = {{ to_period(dbt.dateadd('month', -12,
            "cast(" ~ dbt.concat(["aggregated.period", "'-01'"]) ~ " as date)")) }}
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
        cast(round(valued.raw_value, 4) as {{ type_double() }}) as value,
        cast(case when valued.raw_value is null then coalesce(valued.null_reason, 'zero_denominator') end
             as {{ dbt.type_string() }}) as null_reason,
        null_reasons.reason_zh as null_reason_zh

    from valued
    left join county_names
        on valued.geo_level = 'county' and valued.geo_id = county_names.county_code
    left join alliance_names
        on valued.geo_level = 'alliance' and valued.geo_id = alliance_names.alliance_id
    left join institutions
        on valued.geo_level = 'institution' and valued.geo_id = institutions.institution_code
    left join levels
        on valued.geo_level = 'level' and valued.geo_id = levels.level_code
    left join {{ ref('ref_null_reasons') }} as null_reasons
        on null_reasons.null_reason = (case when valued.raw_value is null
                                            then coalesce(valued.null_reason, 'zero_denominator') end)

)

select * from final
