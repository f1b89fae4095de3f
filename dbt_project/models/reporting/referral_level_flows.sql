-- Referrals from level to level per filter combination (period, county scope, setting; 'ALL' =
-- any) and direction. Read by the 转诊流向 page and the monthly report.
with

referrals as (

    select period, setting, direction, from_county_code, to_county_code, from_level_code, to_level_code
    from {{ ref('fct_referrals') }}

),

scoped as (

    {{ referral_county_scopes('referrals') }}

),

aggregated as (

    select
        {{ all_member('period') }} as period,
        county_code,
        {{ all_member('setting') }} as setting,
        direction,
        from_level_code,
        to_level_code,
        count(*) as n
    from scoped
    group by {{ filter_grouping_sets(['county_code', 'direction', 'from_level_code', 'to_level_code'], ['period', 'setting']) }}

)

select
    period, county_code, setting, direction, from_level_code, to_level_code,
    {{ suppress('n') }} as n,
    {{ any_suppressed(['n']) }} as suppressed
from aggregated
