-- Down-referrals per receiving institution and filter combination (period, county scope, setting;
-- 'ALL' = any): family-doctor contact within 24 hours and closed loops.
with

referrals as (

    select
        period, setting, from_county_code, to_county_code, to_institution_code,
        case when fd_contact_within_24h then 1 end as is_fd_24h,
        case when closed_loop then 1 end as is_closed_loop
    from {{ ref('fct_referrals') }}
    where direction = 'down'

),

aggregated as (

    select
        {{ referral_filters() }},
        to_institution_code as institution_code,
        count(*) as n_down,
        count(is_fd_24h) as n_fd_24h,
        count(is_closed_loop) as n_closed_loop
    from ({{ referral_county_scopes('referrals') }}) as scoped
    {{ group_by_referral_filters(['to_institution_code']) }}

)

select
    aggregated.period,
    aggregated.county_code,
    aggregated.setting,
    aggregated.institution_code,
    coalesce(institutions.institution_name, aggregated.institution_code) as institution_name,
    {{ suppress('aggregated.n_down') }} as n_down,
    {{ suppress('aggregated.n_fd_24h') }} as n_fd_24h,
    {{ suppress('aggregated.n_closed_loop') }} as n_closed_loop,
    {{ any_suppressed(['aggregated.n_down', 'aggregated.n_fd_24h', 'aggregated.n_closed_loop']) }} as suppressed
from aggregated
left join {{ ref('dim_institutions') }} as institutions
    on institutions.institution_code = aggregated.institution_code
