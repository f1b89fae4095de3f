{{ linking_config() }}
-- depends_on: {{ ref('int_referrals__touched_persons') }}
-- Each referral linked to the visit or admission it led to at the receiving side: the first visit of
-- the same person (person_key) starting in [request, request + receiving_visit_window_days] at
-- the referral's receiving institution. An inpatient referral prefers an admission. For a referral
-- recognised from a discharge disposition (no receiving institution on record) the receiving side
-- is any other institution of the expected level: level 1 after disposition 3 (转社区/乡镇卫生院),
-- a lower level for another down-referral, a higher level for an up-referral. A referral the
-- receiver returned, or the patient cancelled, has no receiving visit (a later visit there is a
-- visit of its own).
with

referrals as (

    select * from {{ ref('int_referrals__unioned') }}
    where coalesce(final_status, 'requested') not in ('returned', 'cancelled')
    {{ touched_persons_only('person_key') }}

),

visits as (

    select * from {{ ref('int_visits__attributed') }}
    where person_key is not null

),

institutions as (

    select * from {{ ref('stg_ref__institutions') }}

),

candidates as (

    select
        referrals.referral_id,
        referrals.person_key,
        visits.visit_key,
        visits.visit_id,
        visits.institution_code,
        visits.event_at,
        row_number() over (
            partition by referrals.referral_id
            order by
                case when referrals.setting = 'inpatient' and visits.setting = 'inpatient' then 0 else 1 end,
                visits.event_at,
                visits.visit_key
        ) as candidate_rank

    from referrals
    inner join visits
        on referrals.person_key = visits.person_key
        and visits.event_at >= referrals.requested_at
        and visits.event_at <= {{ dbt.dateadd('day', var('receiving_visit_window_days'), 'referrals.requested_at') }}
    left join institutions as from_institution
        on referrals.from_institution_code = from_institution.institution_code
    {{ join_value_key('LCV.DISCHARGE', 'referrals.origin_disposition_code', 'origin_disposition') }}
    where
        (referrals.to_institution_code is not null and visits.institution_code = referrals.to_institution_code)
        or (
            referrals.to_institution_code is null
            and visits.institution_code <> referrals.from_institution_code
            and (
                (referrals.direction = 'down' and origin_disposition.value_key = 'transfer_primary_care' and visits.level_code = '1')
                or (referrals.direction = 'down' and coalesce(origin_disposition.value_key, '') <> 'transfer_primary_care'
                    and visits.level_code < from_institution.level_code)
                or (referrals.direction = 'up' and visits.level_code > from_institution.level_code)
            )
        )

),

final as (

    select
        referral_id,
        cast(coalesce(person_key, '-') as {{ dbt.type_string() }}) as person_scope,
        visit_key as receiving_visit_key,
        visit_id as receiving_visit_id,
        institution_code as receiving_institution_code,
        event_at as receiving_visit_at

    from candidates
    where candidate_rank = 1

)

select * from final
