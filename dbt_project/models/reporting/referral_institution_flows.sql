-- The largest institution-to-institution flows (var institution_flow_top per filter combination:
-- period, county scope, setting; 'ALL' = any), with institution names. A city has ~10^5 pairs.
with

referrals as (

    select
        period, setting, direction, from_county_code, to_county_code,
        from_institution_code, to_institution_code, same_alliance
    from {{ ref('fct_referrals') }}

),

aggregated as (

    select
        {{ referral_filters() }},
        direction,
        from_institution_code,
        to_institution_code,
        same_alliance,
        count(*) as n
    from ({{ referral_county_scopes('referrals') }}) as scoped
    {{ group_by_referral_filters(['direction', 'from_institution_code', 'to_institution_code', 'same_alliance']) }}

),

ranked as (

    select
        aggregated.*,
        row_number() over (
            partition by period, county_code, setting
            order by n desc, from_institution_code, to_institution_code, direction
        ) as flow_rank
    from aggregated

),

institutions as (

    select institution_code, institution_name from {{ ref('dim_institutions') }}

)

select
    ranked.period,
    ranked.county_code,
    ranked.setting,
    ranked.direction,
    ranked.from_institution_code,
    coalesce(from_inst.institution_name, ranked.from_institution_code) as from_name,
    ranked.to_institution_code,
    coalesce(to_inst.institution_name, ranked.to_institution_code) as to_name,
    ranked.same_alliance,
    cast(ranked.flow_rank as integer) as flow_rank,
    {{ suppress('ranked.n') }} as n,
    {{ any_suppressed(['ranked.n']) }} as suppressed
from ranked
left join institutions as from_inst on from_inst.institution_code = ranked.from_institution_code
left join institutions as to_inst on to_inst.institution_code = ranked.to_institution_code
where ranked.flow_rank <= {{ var('institution_flow_top') }}
