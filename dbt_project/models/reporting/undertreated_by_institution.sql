-- 该转未转 cases per institution and filter combination (period, the institution's county; 'ALL' =
-- any), split by condition. Read by the 慢病管理 page.
with

aggregated as (

    select
        {{ all_member('period') }} as period,
        {{ all_member('county_code') }} as county_code,
        institution_code,
        count(*) as n_cases,
        count(case when condition = 'hypertension' then 1 end) as n_hypertension,
        count(case when condition = 'diabetes' then 1 end) as n_diabetes
    from ({{ undertreated_cases_in_county() }}) as cases
    group by {{ filter_grouping_sets(['institution_code'], ['period', 'county_code']) }}

)

select
    aggregated.period,
    aggregated.county_code,
    aggregated.institution_code,
    coalesce(institutions.institution_name, aggregated.institution_code) as institution_name,
    institutions.county_name,
    {{ suppress('aggregated.n_cases') }} as n_cases,
    {{ suppress('aggregated.n_hypertension') }} as n_hypertension,
    {{ suppress('aggregated.n_diabetes') }} as n_diabetes,
    {{ any_suppressed(['aggregated.n_cases', 'aggregated.n_hypertension', 'aggregated.n_diabetes']) }} as suppressed
from aggregated
left join {{ ref('dim_institutions') }} as institutions
    on institutions.institution_code = aggregated.institution_code
