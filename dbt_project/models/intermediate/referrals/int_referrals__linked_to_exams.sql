{{ linking_config() }}
-- depends_on: {{ ref('int_referrals__touched_persons') }}
-- 检查结果互认 proxy: for each referral, the major exam (CT/MR/DR/US) the person had at the sending
-- institution in [request - repeat_exam_window_days, request], and whether the same exam type was
-- done again at the receiving institution in [arrival, arrival + repeat_exam_window_days].
-- Arrival = recorded arrival, else the linked receiving visit.
with

referrals as (

    select * from {{ ref('int_referrals__unioned') }}
    where 1 = 1 {{ touched_persons_only('person_key') }}

),

receiving as (

    select * from {{ ref('int_referrals__linked_to_visits') }}

),

exams as (

    select person_key, institution_code, event_at, major_exam_code
    from {{ ref('int_visits__attributed') }}
    where major_exam_code is not null and person_key is not null

),

located as (

    select
        referrals.referral_id,
        referrals.person_key,
        referrals.from_institution_code,
        coalesce(referrals.to_institution_code, receiving.receiving_institution_code) as to_institution_code,
        referrals.requested_at,
        coalesce(referrals.arrived_at, receiving.receiving_visit_at) as arrival_at

    from referrals
    left join receiving
        on referrals.referral_id = receiving.referral_id

),

prior_exams as (

    select distinct
        located.referral_id,
        exams.major_exam_code

    from located
    inner join exams
        on exams.person_key = located.person_key
        and exams.institution_code = located.from_institution_code
        and exams.event_at >= {{ dbt.dateadd('day', -var('repeat_exam_window_days'), 'located.requested_at') }}
        and exams.event_at <= located.requested_at

),

repeated as (

    select distinct
        prior_exams.referral_id,
        prior_exams.major_exam_code

    from prior_exams
    inner join located
        on prior_exams.referral_id = located.referral_id
    inner join exams
        on exams.person_key = located.person_key
        and exams.institution_code = located.to_institution_code
        and exams.major_exam_code = prior_exams.major_exam_code
        and exams.event_at >= located.arrival_at
        and exams.event_at <= {{ dbt.dateadd('day', var('repeat_exam_window_days'), 'located.arrival_at') }}

),

final as (

    select
        located.referral_id,
        cast(coalesce(located.person_key, '-') as {{ dbt.type_string() }}) as person_scope,
        count(distinct prior_exams.major_exam_code) > 0 as had_prior_major_exam,
        count(distinct repeated.major_exam_code) > 0 as repeated_major_exam

    from located
    left join prior_exams
        on located.referral_id = prior_exams.referral_id
    left join repeated
        on located.referral_id = repeated.referral_id
    group by located.referral_id, located.person_key

)

select * from final
