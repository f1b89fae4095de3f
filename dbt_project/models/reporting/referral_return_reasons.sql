-- Returned up-referrals per return reason and filter combination (period, county scope, setting;
-- 'ALL' = any). A return without a reason counts under '99'. Read by the 转诊流向 page and the report.
with

referrals as (

    select
        period, setting, from_county_code, to_county_code,
        coalesce(return_reason_code, '99') as return_reason_code,
        return_reason_name
    from {{ ref('fct_referrals') }}
    where direction = 'up' and (returned_at is not null or return_reason_code is not null)

),

aggregated as (

    select
        {{ referral_filters() }},
        return_reason_code,
        max(return_reason_name) as return_reason_name,
        count(*) as n
    from ({{ referral_county_scopes('referrals') }}) as scoped
    {{ group_by_referral_filters(['return_reason_code']) }}

)

select
    period, county_code, setting, return_reason_code, return_reason_name,
    {{ suppress('n') }} as n,
    {{ any_suppressed(['n']) }} as suppressed
from aggregated
