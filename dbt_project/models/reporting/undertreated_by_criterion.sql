-- 该转未转 cases per referral criterion and filter combination (period, the institution's county;
-- 'ALL' = any). Read by the 慢病管理 page.
with

aggregated as (

    select
        {{ all_member('period') }} as period,
        {{ all_member('county_code') }} as county_code,
        condition,
        criterion_zh,
        count(*) as n_cases
    from ({{ undertreated_cases_in_county() }}) as cases
    group by {{ filter_grouping_sets(['condition', 'criterion_zh'], ['period', 'county_code']) }}

)

select
    period, county_code, condition, criterion_zh,
    {{ suppress('n_cases') }} as n_cases,
    {{ any_suppressed(['n_cases']) }} as suppressed
from aggregated
