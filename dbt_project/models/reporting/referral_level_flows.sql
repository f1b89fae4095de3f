-- Referrals from level to level per filter combination (period, county scope, setting; 'ALL' =
-- any) and direction. Read by the 转诊流向 page and the monthly report.
with

referrals as (

    select period, setting, direction, from_county_code, to_county_code, from_level_code, to_level_code
    from {{ ref('fct_referrals') }}

),

aggregated as (

    select
        {{ referral_filters() }},
        direction,
        from_level_code,
        to_level_code,
        count(*) as n
    from ({{ referral_county_scopes('referrals') }}) as scoped
    {{ group_by_referral_filters(['direction', 'from_level_code', 'to_level_code']) }}

)

select
    period, county_code, setting, direction, from_level_code, to_level_code,
    {{ suppress('n') }} as n,
    {{ any_suppressed(['n']) }} as suppressed
from aggregated
