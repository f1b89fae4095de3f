-- Per filter combination (period, county scope, setting; 'ALL' = any) and direction: referral
-- counts, returns, alliance, arrivals, closed loops, 24-hour family-doctor contact and the median
-- hours to acceptance / arrival. Read by the 转诊流向 page (KPIs, alliance table, monthly chart).
with

referrals as (

    select
        period, setting, direction, from_county_code, to_county_code,
        case when returned_at is not null or return_reason_code is not null then 1 end as is_returned,
        case when same_alliance then 1 end as is_same_alliance,
        case when not same_alliance then 1 end as is_cross_alliance,
        case when arrived_at is not null then 1 end as is_arrived,
        case when closed_loop then 1 end as is_closed_loop,
        case when fd_contact_within_24h then 1 end as is_fd_24h,
        hours_to_accept,
        hours_to_arrival
    from {{ ref('fct_referrals') }}

),

aggregated as (

    select
        {{ referral_filters() }},
        direction,
        count(*) as n,
        count(is_returned) as n_returned,
        count(is_same_alliance) as n_same_alliance,
        count(is_cross_alliance) as n_cross_alliance,
        count(is_arrived) as n_arrived,
        count(is_closed_loop) as n_closed_loop,
        count(is_fd_24h) as n_fd_24h,
        count(hours_to_accept) as n_accept_timed,
        count(hours_to_arrival) as n_arrival_timed,
        {{ percentile_cont('hours_to_accept', 0.5) }} as median_hours_to_accept,
        {{ percentile_cont('hours_to_arrival', 0.5) }} as median_hours_to_arrival
    from ({{ referral_county_scopes('referrals') }}) as scoped
    {{ group_by_referral_filters(['direction']) }}

)

select
    period,
    county_code,
    setting,
    direction,
    {{ suppress('n') }} as n,
    {{ suppress('n_returned') }} as n_returned,
    {{ suppress('n_same_alliance') }} as n_same_alliance,
    {{ suppress('n_cross_alliance') }} as n_cross_alliance,
    {{ suppress('n_arrived') }} as n_arrived,
    {{ suppress('n_closed_loop') }} as n_closed_loop,
    {{ suppress('n_fd_24h') }} as n_fd_24h,
    {{ suppress('n_accept_timed') }} as n_accept_timed,
    {{ suppress('n_arrival_timed') }} as n_arrival_timed,
    cast({{ unless_few('median_hours_to_accept', 'n_accept_timed') }} as {{ type_double() }}) as median_hours_to_accept,
    cast({{ unless_few('median_hours_to_arrival', 'n_arrival_timed') }} as {{ type_double() }}) as median_hours_to_arrival,
    {{ any_suppressed(['n', 'n_returned', 'n_same_alliance', 'n_cross_alliance', 'n_arrived',
                       'n_closed_loop', 'n_fd_24h', 'n_accept_timed', 'n_arrival_timed']) }} as suppressed
from aggregated
