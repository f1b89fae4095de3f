-- Referrals from county to county per period ('ALL' = any) and direction, with county names.
-- Read by the monthly report.
with

referrals as (

    select period, direction, from_county_code, to_county_code from {{ ref('fct_referrals') }}

),

counties as (

    select county_code, max(county_name) as county_name
    from {{ ref('dim_institutions') }}
    group by county_code

),

aggregated as (

    select
        {{ all_member('period') }} as period,
        direction,
        from_county_code,
        to_county_code,
        count(*) as n
    from referrals
    group by {{ filter_grouping_sets(['direction', 'from_county_code', 'to_county_code'], ['period']) }}

)

select
    aggregated.period,
    aggregated.direction,
    aggregated.from_county_code,
    coalesce(from_county.county_name, aggregated.from_county_code) as from_county_name,
    aggregated.to_county_code,
    coalesce(to_county.county_name, aggregated.to_county_code) as to_county_name,
    {{ suppress('aggregated.n') }} as n,
    {{ any_suppressed(['aggregated.n']) }} as suppressed
from aggregated
left join counties as from_county on from_county.county_code = aggregated.from_county_code
left join counties as to_county on to_county.county_code = aggregated.to_county_code
